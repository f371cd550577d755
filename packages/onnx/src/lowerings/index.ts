// Per-op ONNX lowerings: one file per op, each exporting its capability-table entry (ordered forms per
// target), listed once in BUILTIN_ONNX_LOWERINGS below. The table is data that lower.ts registers
// when it loads (not an import side effect, which a bundler honouring `"sideEffects": false` could
// drop). Core's reference decomposition ends every list, so an op listed nowhere still lowers.
import type { OnnxLowering } from '../lowering-registry.js';
import { ATTENTION_LOWERING } from './attention.js';
import { QGATHER_LOWERING } from './gather-quantized.js';
import { QMATMUL_LOWERING } from './qmatmul.js';

/** The capability-table entries of the built-in leanformer ops (QMatMul, QGather, Attention); lowerToOnnx consults them. */
export const BUILTIN_ONNX_LOWERINGS: readonly OnnxLowering[] = [QMATMUL_LOWERING, QGATHER_LOWERING, ATTENTION_LOWERING];

export * from './attention.js';
export * from './gather-quantized.js';
export * from './qmatmul.js';
export * from './qmatmul-codebook.js';
