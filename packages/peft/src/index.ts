// @leanformer/peft: parameter-efficient fine-tuning on the leanformer IR — LoRA (inject, merge,
// unmerge, several adapters, weighted combination, hot-swap, PEFT files), PaCA, WeLore, GaLore.
export * from './naming.js';
export * from './lora.js';
export * from './hotswap.js';
export * from './peft-format.js';
