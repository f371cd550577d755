// Schemas and reference decompositions of leanformer-domain ops. One file per op, added by the module that needs it.
export {};
export { QMATMUL_SCHEMA, ensureQMatMulSchema, decomposeQMatMul, qmatmulReference, buildDequantizedWeight, qmatmulAttrs, unpackCodes } from './qmatmul.js';
export { QGATHER_SCHEMA, ensureQGatherSchema, decomposeQGather, qgatherReference, qgatherAttrs } from './gather-quantized.js';
export { ATTENTION_SCHEMA, ATTENTION_PATTERNS, ensureAttentionSchema, attentionAttrs, attentionHasRope, decomposeAttention, expandAttentionRope, rotaryHalf, canBlockAttention, type AttentionAttrs, type AttentionPatternName, type AttentionDecomposition } from './attention.js';
export { PACA_LINEAR_SCHEMA, ensurePaCALinearSchema, pacaLinearReference } from './lora.js';
