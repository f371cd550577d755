// Node-only entry: streaming passes over models stored with external data (they read and write files).
export * from './stream/index.js';
// RTN quantization on worker_threads: pass the pool to quantizeModel / runQuantBench.
export { createQuantWorkerPool } from './workers/pool.js';
export type { QuantWorkerPoolOptions } from './workers/pool.js';
export type { QuantWorkerPool, RtnJob, RtnJobResult } from './workers/types.js';
