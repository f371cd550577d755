// Browser-safe entry: no node:* imports here (file I/O lives in './node').
export { decodeModel, encodeModel, decodeTensor, encodeTensor } from './model.js';
export type { DecodeOptions, EncodeOptions, ExternalDataInfo, ExternalDataPlacer, ExternalDataResolver } from './model.js';
export { lowerToOnnx, registerOnnxLowering, getOnnxLowering, nodesOutsideEp, epsForNode, ONNX_LOWERINGS } from './lower.js';
export type { LowerFn, OnnxLowering } from './lower.js';
export * from './lowerings/index.js';
