// Browser-safe entry: no runtime import here. `./node` binds onnxruntime-node, `./web` binds onnxruntime-web.
export { OrtBackend, OrtExecutor, ORT_EPS } from './backend.js';
export type { OrtInputInfo, OrtBackendOptions, OrtProfiler, OrtEpSpec, OrtExecutorInfo, OrtFallback, OrtExternalData } from './backend.js';
export { toOrtTensor, fromOrtTensor } from './tensors.js';
export type { OrtModule } from './ort-types.js';
export { placementFromProfile, ORT_PROVIDER_NAMES } from './placement.js';
export type { NodePlacement, OrtPlacement } from './placement.js';
