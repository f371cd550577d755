// The browser-safe side of parallel RTN: what quantizeModel and runQuantBench accept as a
// worker pool. The Node implementation (worker_threads) is createQuantWorkerPool in
// '@leanformer/quant/node'; nothing here imports node:*.
import type { BlockQuantOptions, MatMulNBitsTensors, QuantizedWeight } from '../blockwise.js';

/** One RTN job for a {@link QuantWorkerPool}: a row-major [K, N] weight and quantizeRtn's options. */
export interface RtnJob {
  /** Row-major [K, N] weight. A SharedArrayBuffer-backed array is read in place; any other is copied once into shared memory. */
  readonly w: Float32Array;
  readonly K: number;
  readonly N: number;
  readonly options: BlockQuantOptions;
  /**
   * What comes back: 'weight' (quantizeRtn's QuantizedWeight), 'packed' (packMatMulNBits of it,
   * the weight's unpacked codes never leave the workers) or 'both' (default).
   */
  readonly output?: 'weight' | 'packed' | 'both';
  /** packMatMulNBits's `forceUint8ZeroPoints` (RTN zero points are integers: it changes nothing for RTN). */
  readonly forceUint8ZeroPoints?: boolean;
}

/** Result of {@link QuantWorkerPool.quantizeRtn}: byte-identical to the single-thread functions. */
export interface RtnJobResult {
  /** Equal to `quantizeRtn(w, K, N, options)`; null when `output` is 'packed'. */
  readonly weight: QuantizedWeight | null;
  /** Equal to `packMatMulNBits(weight, { forceUint8ZeroPoints })`; null when `output` is 'weight'. */
  readonly packed: MatMulNBitsTensors | null;
}

/**
 * Runs RTN quantization off the calling thread. Pass one as `pool` to quantizeModel or
 * runQuantBench; the Node implementation is `createQuantWorkerPool` from '@leanformer/quant/node'.
 * Errors are quantizeRtn's own (same LeanformerError code, message and details).
 *
 * @example
 * ```ts
 * import { createQuantWorkerPool } from '@leanformer/quant/node';
 * const pool = createQuantWorkerPool();
 * try {
 *   const { packed } = await pool.quantizeRtn({ w, K, N, options: { bits: 4, blockSize: 32 }, output: 'packed' });
 * } finally { await pool.dispose(); }
 * ```
 */
export interface QuantWorkerPool {
  /** Worker threads the pool runs. */
  readonly threads: number;
  /** quantizeRtn (+ packMatMulNBits) of one weight; large weights are split by output channels over all threads. */
  quantizeRtn(job: RtnJob): Promise<RtnJobResult>;
  /**
   * Starts every worker and runs its code once on a small job: the pool's one-time start-up, so a
   * timed run afterwards measures quantization only (as a Python peer's clock starts after its import).
   */
  warmUp(): Promise<void>;
  /** Stops the workers; jobs still running reject. Idempotent. */
  dispose(): Promise<void>;
}
