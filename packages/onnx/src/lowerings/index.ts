// Per-op ONNX lowerings: one file per op, and one entry per op in BUILTIN_ONNX_LOWERINGS below.
// The table is data that lower.ts registers when it loads (not an import side effect, which a
// bundler honouring `"sideEffects": false` could drop). Give `targets` to pick a function per ORT
// EP, or `lower` for one function that chooses the form itself; a lowering that leaves its node
// in place falls back to core's reference decomposition.
import type { OnnxLowering } from '../lowering-registry.js';
import { lowerAttention } from './attention.js';
import { lowerQGather } from './gather-quantized.js';
import { lowerQMatMul } from './qmatmul.js';

/** The lowerings of the built-in leanformer ops (QMatMul, QGather, Attention), as data; lowerToOnnx consults them. */
export const BUILTIN_ONNX_LOWERINGS: readonly OnnxLowering[] = [
  { domain: 'leanformer', op: 'QMatMul', lower: (node, target) => lowerQMatMul(node, target) },
  { domain: 'leanformer', op: 'QGather', lower: (node, target) => lowerQGather(node, target) },
  { domain: 'leanformer', op: 'Attention', lower: (node, target) => { lowerAttention(node, target); } },
];

export * from './attention.js';
export * from './gather-quantized.js';
export * from './qmatmul.js';
export * from './qmatmul-codebook.js';
