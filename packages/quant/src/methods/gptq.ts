// GPTQ: Hessian-guided rounding with error feedback (quantizeGptq in ../methods.ts).
import { LeanformerError } from '@leanformer/core';
import { quantizeGptq } from '../methods.js';
import type { QuantMethodEntry } from './registry.js';

/** GPTQ over the layer input's Hessian. */
export const gptq: QuantMethodEntry<'gptq'> = {
  name: 'gptq', summary: 'Hessian-guided rounding with error feedback', calibration: 'hessian', bits: [4, 8], defaultBlockSize: 32,
  zeroPoints: 'optional', streams: true,
  quantizeLayer({ name, w, K, N, options, stats }) {
    const h = stats?.hessian;
    if (!h) throw new LeanformerError('EXECUTION_FAILED', `gptq: no calibration Hessian for layer '${name}'`);
    return { weight: quantizeGptq(w, K, N, h.hessian(), { bits: options.bits, blockSize: options.blockSize, symmetric: options.symmetric, clip: options.clip, actOrder: options.actOrder, damp: options.damp }) };
  },
};
