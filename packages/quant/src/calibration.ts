// Calibration: runs a graph through any Backend with the values of interest added as graph
// outputs (observers), and keeps per-channel statistics plus a bounded sample of rows.
import { cloneGraph, constantOf, DTypes, LeanformerError, Tensor, type Backend, type Graph, type ProgressCallback, type Value } from '@leanformer/core';
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
 * returns their statistics. The graph itself is not changed (a clone is compiled). `onProgress`
 * gets `{ phase: 'calibrate', done, total: feeds, unit: 'runs' }` (done 0 first).
 *
 * @example
 * ```ts
 * const stats = await collectActivationStats(graph, ['h1', 'h2'], { backend, feeds });
 * stats.get('h1')!.absMax; // per-channel max |x|
 * ```
 */
export async function collectActivationStats(graph: Graph, valueNames: readonly string[], calib: CalibrationData, options: { hessianFor?: ReadonlySet<string>; onProgress?: ProgressCallback | undefined } = {}): Promise<Map<string, ActivationStats>> {
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
  const progress = (done: number): void => { options.onProgress?.({ phase: 'calibrate', done, total: calib.feeds.length, unit: 'runs' }); };
  progress(0);
  try {
    for (const [i, feed] of calib.feeds.entries()) {
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
      progress(i + 1);
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

/** Ops that pass integer ids through unchanged in value (only type or shape changes). */
const ID_PASSTHROUGH: ReadonlySet<string> = new Set(['Cast', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten', 'Identity', 'Expand']);

/**
 * The embedding tables an integer input indexes: Gathers (axis 0) whose indices are `v`, directly
 * or through ops in {@link ID_PASSTHROUGH}, with a constant 2-D table (initializer or Constant node).
 */
function embeddingsIndexedBy(v: Value): { name: string; rows: number }[] {
  const out: { name: string; rows: number }[] = [];
  const seen = new Set<Value>();
  const walk = (x: Value): void => {
    if (seen.has(x)) return;
    seen.add(x);
    for (const u of x.uses) {
      const n = u.node;
      if (n.domain !== '') continue;
      if (n.op === 'Gather' && u.index === 1 && Number(n.attr('axis', 0)) === 0) {
        const t = constantOf(n.inputs[0]);
        if (t && t.shape.length === 2 && t.shape[0]! > 0) out.push({ name: n.inputs[0]!.name, rows: t.shape[0]! });
      } else if (ID_PASSTHROUGH.has(n.op) && u.index === 0 && n.outputs[0]) walk(n.outputs[0]);
    }
  };
  walk(v);
  return out;
}

/**
 * Random calibration feeds from the graph's declared inputs. Floats are drawn from N(0, 1).
 * Integer inputs that index embedding tables (a Gather on axis 0 of a constant table, directly
 * or through Cast/Reshape/(Un)Squeeze/Flatten/Identity/Expand) are token ids, drawn uniformly
 * from [0, rows) of the smallest such table, so they cover the whole vocabulary. Other integer
 * inputs (attention masks, lengths, flags) are all 1: a mask of ones attends to every token,
 * while random values would be outside such an input's domain. Booleans are random. `notes`,
 * when given, receives one line per integer input saying which range was used and why.
 *
 * @example
 * ```ts
 * const notes: string[] = [];
 * const feeds = randomCalibrationFeeds(graph, 8, 0, notes);
 * // notes: ["input_ids: ids drawn from [0, 30522) (rows of embedding 'word_embeddings')"]
 * ```
 */
export function randomCalibrationFeeds(graph: Graph, count: number, seed = 0, notes?: string[]): Record<string, Tensor>[] {
  const rng = new Rng(seed + 1);
  const inputs = graph.inputs.filter((v) => !v.isInitializer);
  const ranges = new Map<Value, number>();
  for (const v of inputs) {
    const dt = v.dtype;
    if (!dt || !v.shape) throw new LeanformerError('NOT_SUPPORTED', `--calib-random cannot generate input '${v.name}' (unknown dtype or rank); pass --calib <dir>`);
    if (dt.isFloat || dt === DTypes.bool) continue;
    const tables = embeddingsIndexedBy(v);
    if (tables.length > 0) {
      const t = tables.reduce((a, b) => (b.rows < a.rows ? b : a));
      ranges.set(v, t.rows);
      notes?.push(`${v.name}: ids drawn from [0, ${t.rows}) (rows of embedding '${t.name}')`);
    } else {
      ranges.set(v, 1);
      notes?.push(`${v.name}: indexes no embedding table; all 1 (a mask of ones attends to every token)`);
    }
  }
  const feeds: Record<string, Tensor>[] = [];
  for (let i = 0; i < count; i++) {
    const feed: Record<string, Tensor> = {};
    for (const v of inputs) {
      const dt = v.dtype!;
      const shape = v.shape!.map((d) => (typeof d === 'number' ? d : dimSize(d)));
      const n = shape.reduce((a, b) => a * b, 1);
      const rows = ranges.get(v);
      if (dt.isFloat) feed[v.name] = Tensor.from(dt, shape, Array.from({ length: n }, () => rng.normal()));
      else if (dt === DTypes.bool) feed[v.name] = Tensor.from(dt, shape, Array.from({ length: n }, () => (rng.next() < 0.5 ? 0 : 1)));
      else if (rows === 1) feed[v.name] = Tensor.from(dt, shape, Array.from({ length: n }, () => (dt === DTypes.int64 ? 1n : 1)));
      else feed[v.name] = Tensor.from(dt, shape, Array.from({ length: n }, () => { const x = Math.floor(rng.next() * rows!); return dt === DTypes.int64 ? BigInt(x) : x; }));
    }
    feeds.push(feed);
  }
  return feeds;
}
