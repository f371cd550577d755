// @leanformer/kv-cache: KV-cache managers, compression, scheduling and the decode loop.
export * from './quant.js';
export * from './managers.js';
export * from './eviction.js';
export * from './shadowkv.js';
export * from './alisa.js';
export * from './nosa.js';
export * from './harness.js';
export * from './prefix.js';
export * from './scheduler.js';
export * from './decode.js';
export * from './policy.js';
export * from './acrosskv.js';
export * from './device-loop.js';
