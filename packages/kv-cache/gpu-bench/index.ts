// The `./gpu-bench` entry (the CLI's `gpu` prefix: `leanformer bench gpu`), apart from `./bench` because
// its suite needs @leanformer/runtime-ort, which runtime-ort's own bench cannot take from kv-cache.
export { benches, gpuSuite } from '../bench/gpu.js';
