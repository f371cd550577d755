// Op schemas (ONNX and com.microsoft domains), shape inference and reference kernels.
export { inferNode, type InferNodeOptions } from './infer.js';
export { evaluateNode, evaluableOps, type EvaluateOptions } from './evaluate.js';
