// Schemas and reference decompositions of leanformer-domain ops. One file per op, added by the module that needs it.
export {};
export { QMATMUL_SCHEMA, ensureQMatMulSchema, decomposeQMatMul, buildDequantizedWeight, qmatmulAttrs, unpackCodes } from './qmatmul.js';
export { QGATHER_SCHEMA, ensureQGatherSchema, decomposeQGather, qgatherAttrs } from './gather-quantized.js';
