// Browser-safe entry: no node:* imports here (file I/O lives in './node').
export { decodeModel, encodeModel, decodeTensor, encodeTensor } from './model.js';
export type { DecodeOptions, EncodeOptions, ExternalDataInfo, ExternalDataPlacer, ExternalDataResolver } from './model.js';
export {
  lowerToOnnx, explainLowering, registerOnnxLowering, getOnnxLowering, formsFor, chooseForm, lowerWithForm, loweringContext,
  nodesOutsideEp, epsForNode, ONNX_LOWERINGS, REFERENCE_FORM_NAME,
} from './lower.js';
export type { FormChoice, LoweringContext, LoweringForm, NodeLowering, OnnxLowering, SkippedForm } from './lower.js';
export * from './lowerings/index.js';
export { importModel } from './import.js';
export type { ImportModelOptions, ExternalDataSourceResolver } from './import.js';
