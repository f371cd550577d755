import { GraphBuilder, LeanformerError, Tensor, decomposeAttention, type Backend, type Graph } from '@leanformer/core';
import { attentionOp } from './builder.js';
import { profileMoA, referenceEvaluator, windowForDensity } from './moa.js';
import { patternDensity, type AttentionPattern, type HeadSpan } from './pattern.js';
import { buildRetrievalDecoder, makeRetrievalExamples, retrievalAccuracy } from './retrieval.js';

/** A benchmark suite's result, as `leanformer bench … --json` prints it. */
export interface BenchResult {
  readonly suite: string;
  readonly metrics: Record<string, number | string | null>;
}

/** One attention layer graph: inputs `q [1,N,H·D]`, `k`/`v [1,N,G·D]`, output `y`. */
export function attentionLayerGraph(o: { seq: number; heads: number; kvHeads?: number; headDim: number; pattern: AttentionPattern; form?: 'op' | 'masked' | 'blocked'; chunkSize?: number }): Graph {
  const G = o.kvHeads ?? o.heads;
  const b = new GraphBuilder('attention_layer');
  const q = b.input('q', 'float32', [1, o.seq, o.heads * o.headDim]);
  const k = b.input('k', 'float32', [1, o.seq, G * o.headDim]);
  const v = b.input('v', 'float32', [1, o.seq, G * o.headDim]);
  const r = attentionOp(b, q, k, v, { numHeads: o.heads, kvHeads: G, pattern: o.pattern });
  b.output(r.output, 'y');
  const g = b.build();
  if (o.form && o.form !== 'op') decomposeAttention(g.nodes.find((n) => n.op === 'Attention')!, { form: o.form, ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}) });
  return g;
}

function gaussian(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const r = (): number => { a = (Math.imul(a, 1664525) + 1013904223) >>> 0; return (a + 0.5) / 4294967296; };
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r()));
}

/** Median and min wall time (ms) of `reps` runs after one warm-up run (reported apart). */
export async function timeGraph(backend: Backend, graph: Graph, feeds: Record<string, Tensor>, reps: number): Promise<{ firstMs: number; medianMs: number; minMs: number; output: Float32Array }> {
  const exe = await backend.compile(graph);
  try {
    let t = performance.now();
    const first = await exe.run(feeds);
    const firstMs = performance.now() - t;
    const times: number[] = [];
    for (let i = 0; i < reps; i++) { t = performance.now(); await exe.run(feeds); times.push(performance.now() - t); }
    times.sort((x, y) => x - y);
    return { firstMs, medianMs: times[Math.floor(times.length / 2)]!, minMs: times[0]!, output: first.y!.toFloat32() };
  } finally {
    await exe.dispose();
  }
}

/**
 * Sliding window vs dense attention speed on one layer through `backend`: both ops are lowered by the
 * backend's per-target table (ORT CPU: GroupQueryAttention for dense, the table's window form), one
 * warm-up run each, then `reps` rounds that run dense and window alternately, so load from other
 * processes hits both alike. Reports medians (and mins) and the speed-up of the medians.
 */
export async function measureWindowSpeedup(backend: Backend, o: { seq?: number; heads?: number; headDim?: number; window?: number; reps?: number; chunkSize?: number; forceBlocked?: boolean } = {}): Promise<Record<string, number>> {
  const seq = o.seq ?? 8192, heads = o.heads ?? 8, headDim = o.headDim ?? 64, window = o.window ?? 512, reps = o.reps ?? 3;
  const hid = heads * headDim;
  const feeds = {
    q: new Tensor('float32', [1, seq, hid], gaussian(seq * hid, 1)),
    k: new Tensor('float32', [1, seq, hid], gaussian(seq * hid, 2)),
    v: new Tensor('float32', [1, seq, hid], gaussian(seq * hid, 3)),
  };
  // The window op is left to the backend's lowering (ORT CPU: see ATTENTION_LOWERING in @leanformer/onnx;
  // tfjs: the blocked decomposition), unless `forceBlocked` forces core's blocked decomposition.
  const dense = await backend.compile(attentionLayerGraph({ seq, heads, headDim, pattern: { kind: 'dense' } }));
  const win = await backend.compile(attentionLayerGraph({ seq, heads, headDim, pattern: { kind: 'window', window }, form: o.forceBlocked ? 'blocked' : 'op', ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}) }));
  try {
    await dense.run(feeds);
    await win.run(feeds);
    const td: number[] = [], tw: number[] = [];
    for (let i = 0; i < reps; i++) {
      let t = performance.now();
      await dense.run(feeds);
      td.push(performance.now() - t);
      t = performance.now();
      await win.run(feeds);
      tw.push(performance.now() - t);
    }
    const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    return {
      seq, heads, head_dim: headDim, window,
      dense_ms: round(med(td)), window_ms: round(med(tw)),
      dense_min_ms: round(Math.min(...td)), window_min_ms: round(Math.min(...tw)),
      swa_speedup: round(med(td) / med(tw), 2),
    };
  } finally {
    await dense.dispose();
    await win.dispose();
  }
}

function round(x: number, d = 1): number { const f = 10 ** d; return Math.round(x * f) / f; }

/** Candidate elastic spans the MoA profiler chooses from (fractions of the length plus fixed local spans). */
export const MOA_CANDIDATES: readonly HeadSpan[] = [
  { alpha: 4, beta: 0 }, { alpha: 16, beta: 0 }, { alpha: 32, beta: 0.125 }, { alpha: 32, beta: 0.25 }, { alpha: 16, beta: 0.5 }, { alpha: 0, beta: 1 },
];

/**
 * MoA vs a uniform window of the same density vs dense, on the constructed retrieval decoder: the
 * profiler sees calibration lengths only; accuracy is measured at a longer length.
 */
export async function measureMoA(o: { quick?: boolean; density?: number } = {}): Promise<Record<string, number>> {
  const quick = !!o.quick;
  const lengths = quick ? [64, 128] : [128, 256];
  const evalLen = quick ? 256 : 512;
  const count = quick ? 16 : 32;
  const density = o.density ?? 0.5;
  const model = buildRetrievalDecoder({ maxLen: evalLen });
  const calib = new Map(lengths.map((L) => [L, makeRetrievalExamples({ length: L, count: quick ? 4 : 8, seed: 1000 + L })] as const));
  const prof = await profileMoA({ heads: model.layers.map((l) => l.numHeads), candidates: MOA_CANDIDATES, lengths, density, evaluate: referenceEvaluator(model, calib) });
  const test = makeRetrievalExamples({ length: evalLen, count, seed: 7 });
  const moaPatterns: AttentionPattern[] = prof.spans.map((spans) => ({ kind: 'moa', spans }));
  const heads = prof.spans.flat();
  const moaDensity = heads.reduce((s, sp) => s + patternDensity({ kind: 'moa', spans: [sp] }, evalLen, 1), 0) / heads.length;
  const w = windowForDensity(moaDensity, [evalLen]);
  const uniform: AttentionPattern = { kind: 'window', window: w };
  return {
    moa_density: round(moaDensity, 3),
    moa_retrieval_acc: retrievalAccuracy(model, test, moaPatterns),
    uniform_window_retrieval_acc: retrievalAccuracy(model, test, model.layers.map(() => uniform)),
    uniform_window: w,
    dense_retrieval_acc: retrievalAccuracy(model, test),
    moa_eval_length: evalLen,
    moa_density_budget: density,
  };
}

/**
 * The `bench attention` suite. `backend` runs the speed measurement (pass ORT CPU for
 * `swa_speedup_8k`; without it that metric is null); quick mode lowers repetitions and retrieval sizes.
 *
 * @example
 * ```ts
 * const r = await runAttentionBench({ quick: true, backend: createOrtBackend({ eps: ['cpu'] }) });
 * console.log(JSON.stringify(r));
 * ```
 */
export async function runAttentionBench(o: { quick?: boolean; backend?: Backend; seq?: number } = {}): Promise<BenchResult> {
  const metrics: Record<string, number | string | null> = {};
  const backend = o.backend;
  if (backend) {
    const seq = o.seq ?? 8192;
    const s = await measureWindowSpeedup(backend, { seq, reps: o.quick ? 3 : 7 });
    metrics[seq === 8192 ? 'swa_speedup_8k' : `swa_speedup_${seq}`] = s.swa_speedup!;
    metrics.swa_dense_ms = s.dense_ms!;
    metrics.swa_window_ms = s.window_ms!;
    metrics.swa_dense_min_ms = s.dense_min_ms!;
    metrics.swa_window_min_ms = s.window_min_ms!;
    metrics.swa_backend = backend.name;
  } else {
    metrics.swa_speedup_8k = null;
    metrics.swa_backend = 'none (pass an ORT CPU backend)';
  }
  Object.assign(metrics, await measureMoA({ quick: !!o.quick }));
  return { suite: 'attention', metrics };
}


