// @leanformer/peft: parameter-efficient fine-tuning on the leanformer IR — LoRA (inject, merge,
// unmerge, several adapters, weighted combination, hot-swap, PEFT files), PaCA, WeLore, GaLore.
export * from './naming.js';
export * from './lora.js';
export * from './hotswap.js';
export * from './peft-format.js';
export * from './linalg.js';
export * from './paca.js';
export * from './welore.js';
export * from './galore.js';
export * from './task.js';
export * from './finetune.js';
export { registerPeftKernels } from './tfjs-kernels.js';
