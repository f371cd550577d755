// fp16 / bf16: weights cast to a 16-bit float (Cast before the MatMul), nothing quantized.
import type { QuantMethodEntry } from './registry.js';

/** Weights stored as float16. */
export const fp16: QuantMethodEntry<'fp16'> = {
  name: 'fp16', summary: 'cast weights to float16', calibration: 'none', bits: [], defaultBlockSize: 0, zeroPoints: 'none', streams: false, cast: 'float16',
};
/** Weights stored as bfloat16. */
export const bf16: QuantMethodEntry<'bf16'> = {
  name: 'bf16', summary: 'cast weights to bfloat16', calibration: 'none', bits: [], defaultBlockSize: 0, zeroPoints: 'none', streams: false, cast: 'bfloat16',
};
