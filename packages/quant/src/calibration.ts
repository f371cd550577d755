// Calibration: runs a graph through any Backend with the values of interest added as graph
// outputs (observers), and keeps per-channel statistics plus a bounded sample of rows.
import { cloneGraph, DTypes, LeanformerError, Tensor, type Backend, type Graph } from '@leanformer/core';
import { Rng } from './synthetic.js';
import { HessianAccumulator } from './methods.js';

/** Calibration inputs: a backend to run the float model and the feeds to run it on. */
export interface CalibrationData {
  readonly backend: Backend;
  /** One feed dictionary per batch, keyed by graph input name. */
  readonly feeds: readonly Readonly<Record<string, Tensor>>[];
  /** Rows (tokens) kept per observed value for the scale searches. Default 1024. */
  readonly maxRows?: number;
}

/** Statistics of one activation, seen as rows of its last dimension K. */
export interface ActivationStats {
  readonly K: number;
  /** Rows seen in total. */
  readonly count: number;
  /** max |x| per channel over all rows. */
  readonly absMax: Float32Array;
  /** mean |x| per channel over all rows. */
  readonly meanAbs: Float32Array;
  /** A sample of rows (evenly taken from every batch), row-major [rows, K]. */
  readonly rows: Float32Array;
  /** GPTQ Hessian over all rows, when asked for. */
  readonly hessian?: HessianAccumulator;
}

/**
 * Accumulates one activation's statistics batch by batch (what collectActivationStats keeps per
 * observed value; the streaming pass feeds it the same rows, so both see identical statistics).
 */
export class ActivationObserver {
  count = 0;
  readonly absMax: Float32Array;
  readonly sumAbs: Float64Array;
  readonly kept: Float32Array[] = [];
  keptRows = 0;
  /** K channels; at most `perBatch` rows kept per batch and `maxRows` in all; a Hessian when given. */
  constructor(readonly K: number, readonly perBatch: number, readonly maxRows: number, readonly hessian?: HessianAccumulator) {
    this.absMax = new Float32Array(K);
    this.sumAbs = new Float64Array(K);
  }
  /** Adds a batch of rows (row-major [M, K]). */
  add(x: Float32Array): void {
    const K = this.K;
    const M = x.length / K;
    for (let m = 0; m < M; m++) {
      for (let k = 0; k < K; k++) {
        const a = Math.abs(x[m * K + k]!);
        if (a > this.absMax[k]!) this.absMax[k] = a;
        this.sumAbs[k]! += a;
      }
    }
    this.count += M;
    this.hessian?.add(x);
    const take = Math.min(M, this.perBatch, this.maxRows - this.keptRows);
    for (let i = 0; i < take; i++) {
      const m = Math.floor((i * M) / take);
      this.kept.push(x.slice(m * K, m * K + K));
    }
    this.keptRows += Math.max(0, take);
  }
  /** The statistics so far. */
  stats(): ActivationStats {
    const rows = new Float32Array(this.keptRows * this.K);
    this.kept.forEach((r, i) => rows.set(r, i * this.K));
    return {
      K: this.K, count: this.count, absMax: this.absMax, meanAbs: Float32Array.from(this.sumAbs, (s) => s / Math.max(1, this.count)),
      rows, ...(this.hessian ? { hessian: this.hessian } : {}),
    };
  }
}

/**
 * Runs `graph` on every calibration feed with the named values exposed as extra outputs, and
 * returns their statistics. The graph itself is not changed (a clone is compiled).
 *
 * @example
 * ```ts
 * const stats = await collectActivationStats(graph, ['h1', 'h2'], { backend, feeds });
 * stats.get('h1')!.absMax; // per-channel max |x|
 * ```
 */
export async function collectActivationStats(graph: Graph, valueNames: readonly string[], calib: CalibrationData, options: { hessianFor?: ReadonlySet<string> } = {}): Promise<Map<string, ActivationStats>> {
  if (calib.feeds.length === 0) throw new LeanformerError('INVALID_ARGUMENT', 'calibration needs at least one feed (batch of inputs)');
  const g = cloneGraph(graph);
  const names = [...new Set(valueNames)];
  for (const n of names) {
    const v = g.lookup(n);
    if (!v) throw new LeanformerError('INVALID_ARGUMENT', `calibration: graph has no value named '${n}'`);
    if (!v.isGraphOutput) g.addOutput(v);
  }
  const exe = await calib.backend.compile(g, { fetches: names });
  const maxRows = calib.maxRows ?? 1024;
  const perBatch = Math.max(1, Math.ceil(maxRows / calib.feeds.length));
  const obs = new Map<string, ActivationObserver>();
  try {
    for (const feed of calib.feeds) {
      const out = await exe.run(feed, { fetches: names });
      for (const n of names) {
        const t = out[n];
        if (!t) throw new LeanformerError('EXECUTION_FAILED', `calibration: backend '${calib.backend.name}' returned no value for '${n}'`);
        const K = t.shape[t.shape.length - 1] ?? 1;
        let o = obs.get(n);
        if (!o) { o = new ActivationObserver(K, perBatch, maxRows, options.hessianFor?.has(n) ? new HessianAccumulator(K) : undefined); obs.set(n, o); }
        if (o.K !== K) throw new LeanformerError('SHAPE_MISMATCH', `calibration: '${n}' changed its last dimension between batches (${o.K} → ${K})`);
        o.add(t.toFloat32());
      }
    }
  } finally {
    await exe.dispose();
  }
  return new Map([...obs].map(([n, o]) => [n, o.stats()]));
}

/** Sizes for symbolic dims when generating calibration inputs: batch-like 1, others 32 tokens. */
function dimSize(name: string | null): number {
  return name !== null && /batch|^n$|^b$/i.test(name) ? 1 : 32;
}

/**
 * Random calibration feeds from the graph's declared inputs: floats ~ N(0, 1); integer inputs
 * that index an embedding table are drawn from [0, rows) of that table, others from [0, 10).
 */
export function randomCalibrationFeeds(graph: Graph, count: number, seed = 0): Record<string, Tensor>[] {
  const rng = new Rng(seed + 1);
  const feeds: Record<string, Tensor>[] = [];
  for (let i = 0; i < count; i++) {
    const feed: Record<string, Tensor> = {};
    for (const v of graph.inputs) {
      if (v.isInitializer) continue;
      const dt = v.dtype;
      if (!dt || !v.shape) throw new LeanformerError('NOT_SUPPORTED', `--calib-random cannot generate input '${v.name}' (unknown dtype or rank); pass --calib <dir>`);
      const shape = v.shape.map((d) => (typeof d === 'number' ? d : dimSize(d)));
      const n = shape.reduce((a, b) => a * b, 1);
      let hi = 10;
      for (const u of v.uses) if (u.node.op === 'Gather' && u.index === 1 && u.node.inputs[0]?.const) hi = u.node.inputs[0].const.shape[0] ?? hi;
      if (dt.isFloat) feed[v.name] = Tensor.from(dt, shape, Array.from({ length: n }, () => rng.normal()));
      else if (dt === DTypes.bool) feed[v.name] = Tensor.from(dt, shape, Array.from({ length: n }, () => (rng.next() < 0.5 ? 0 : 1)));
      else feed[v.name] = Tensor.from(dt, shape, Array.from({ length: n }, () => { const x = Math.floor(rng.next() * hi); return dt === DTypes.int64 ? BigInt(x) : x; }));
    }
    feeds.push(feed);
  }
  return feeds;
}

