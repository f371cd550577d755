// QServe: progressive W4A8 group quantization; 8-bit edge layers fall back to RTN.
import { quantizeRtn } from '../blockwise.js';
import { quantizeQServe } from '../methods.js';
import type { QuantMethodEntry } from './registry.js';

/** QServe-style W4A8. */
export const qserve: QuantMethodEntry<'qserve'> = {
  name: 'qserve', summary: 'progressive W4A8 (int8 activations on ORT CPU)', calibration: 'none', bits: [4], defaultBlockSize: 128,
  zeroPoints: 'never', asymmetricReason: 'qserve uses asymmetric uint4 groups; it cannot be symmetric', streams: true,
  quantizeLayer({ w, K, N, options }) {
    if (options.bits === 8) return { weight: quantizeRtn(w, K, N, { bits: 8, blockSize: options.blockSize, symmetric: false, clip: options.clip }) };
    // W4A8: int8 activations (MatMulNBits accuracy_level 4 on CPU)
    return { weight: quantizeQServe(w, K, N, { blockSize: options.blockSize }).weight, accuracyLevel: 4 };
  },
};
