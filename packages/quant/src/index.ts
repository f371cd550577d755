// @leanformer/quant: weight quantization (RTN, HQQ, GPTQ, AWQ, SmoothQuant+, QServe W4A8),
// 2:4 sparsity, and lossless DFloat11-style packing.
export * from './blockwise.js';
export * from './methods.js';
export * from './dfloat11.js';
// The synthetic-data generators; their Rng stays internal (core's `rng` is the public seeded PRNG).
export { syntheticWeight, syntheticActivations, syntheticBf16Weights, matmulStack } from './synthetic.js';
export * from './calibration.js';
export {
  initializerBytes, quantizeModel, sparsifyModel, SPARSITY_NOTE, QUANT_METHOD_ENTRIES, QUANT_METHODS, quantMethod,
} from './quantize-model.js';
export type {
  QuantizeOptions, QuantizeReport, QuantizeResult, SparsifyOptions, SparsifyReport, QuantWorkerPool, RtnJob, RtnJobResult,
  GroupJob, LayerJob, LayerQuantOptions, LayerResult, ModelSearch, PackedLayer, QuantMethod, QuantMethodEntry,
} from './quantize-model.js';
export { quantReportHtml, weightError, bytesByDtype } from './report.js';
export type { QuantLayerStat, QuantReportData } from './report.js';
export * from './lfpack.js';
export * from './reference-backend.js';
export * from './demo.js';
export * from './passes.js';
