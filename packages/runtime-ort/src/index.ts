// Browser-safe entry: no runtime import here. `./node` binds onnxruntime-node, `./web` binds onnxruntime-web.
export { OrtBackend, OrtExecutor, ORT_EPS } from './backend.js';
export type { OrtInputInfo, OrtBackendOptions, OrtEpSpec, OrtExecutorInfo, OrtFallback, OrtExternalData } from './backend.js';
export { toOrtTensor, fromOrtTensor } from './tensors.js';
export type { OrtModule } from './ort-types.js';
