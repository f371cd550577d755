// @leanformer/runtime-tfjs: IR graphs as TensorFlow.js functions, for inference and training.
export { TfjsBackend, TfjsExecutor, createTfjsBackend, feedsToTf, readValue, type TfjsBackendOptions } from './backend.js';
export { CompiledGraph, unsupportedOps, unsupportedTypes, lowerForTfjs, type CompileGraphOptions } from './compile.js';
export { registerBuiltinKernels } from "./kernels/index.js";
export { tfDTypeOf, toTfTensor, fromTfData, type TfDType } from './dtypes.js';
export { HostValue, HOST_MAX_ELEMENTS } from './host.js';
export { KernelContext, registerKernel, registerHostKernel, getKernel, supportedOps, isHost, type Kernel, type HostKernel, type RValue } from './kernel.js';
export { useTfjsBackend, type TfjsSetupOptions } from './setup.js';
export { registerTfjsGradients, tfjsGradientKernels } from './gradients/index.js';
export { Trainer, train, crossEntropyLoss, defaultTrainable, type TrainOptions, type TrainerOptions, type TrainResult, type TrainProgress, type TrainBatch, type LossSpec, type DataSource } from './train/train.js';
export { createOptimizer, type Optimizer, type OptimizerConfig, type AdamWConfig, type SgdConfig } from './train/optimizers.js';
export { learningRate, type LrSchedule } from './train/schedule.js';
export { syntheticSequenceTask, type SyntheticSequenceOptions } from './train/synthetic.js';
export { runConformanceCases, type TfjsConformanceCase, type DataSets, type TfjsCaseResult, type ConformanceSummary } from './conformance.js';
