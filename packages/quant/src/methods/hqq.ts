// HQQ: calibration-free, optimises fractional zero points (the math is quantizeHqq in ../methods.ts).
import { quantizeHqq } from '../methods.js';
import type { QuantMethodEntry } from './registry.js';

/** Half-quadratic quantization. */
export const hqq: QuantMethodEntry<'hqq'> = {
  name: 'hqq', summary: 'half-quadratic zero-point optimisation, calibration-free', calibration: 'none', bits: [4, 8], defaultBlockSize: 32,
  zeroPoints: 'never', floatZeroPoints: true, asymmetricReason: 'hqq optimises zero points; it cannot be symmetric', streams: true,
  // Where zero points are stored as uint8 (8-bit layers, ort-webgpu), HQQ optimises integer zero points
  // instead of rounding fractional ones after choosing the codes.
  quantizeLayer: ({ w, K, N, options }) => ({ weight: quantizeHqq(w, K, N, { bits: options.bits, blockSize: options.blockSize, integerZeroPoints: options.forceUint8ZeroPoints }) }),
  quantizeEmbedding: (w, K, N, o) => quantizeHqq(w, K, N, { bits: o.bits, blockSize: o.blockSize, integerZeroPoints: true }), // gathers store uint8 zero points
  targetNote: (t) => (t === 'ort-webgpu' ? 'ort-webgpu takes uint8 zero points only: HQQ optimises integer zero points' : undefined),
};
