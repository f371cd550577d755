// RTN: round to nearest per block (ONNX Runtime's quantizer, bit for bit); packs straight from
// the float weight, on the worker pool when one is given.
import { quantizeRtnPacked } from '../blockwise.js';
import type { QuantMethodEntry } from './registry.js';

/** Round-to-nearest, calibration-free. */
export const rtn: QuantMethodEntry<'rtn'> = {
  name: 'rtn', summary: 'round to nearest per block (ONNX Runtime\'s quantizer)', calibration: 'none', bits: [4, 8], defaultBlockSize: 32,
  zeroPoints: 'optional', streams: true,
  async quantizeLayer({ w, K, N, options, pool }) {
    const o = { bits: options.bits, blockSize: options.blockSize, symmetric: options.symmetric, clip: options.clip };
    const packed = pool
      ? (await pool.quantizeRtn({ w, K, N, options: o, output: 'packed', forceUint8ZeroPoints: options.forceUint8ZeroPoints })).packed!
      : quantizeRtnPacked(w, K, N, o);
    return { weight: { bits: o.bits, blockSize: o.blockSize, packed } };
  },
};
