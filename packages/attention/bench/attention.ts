// `leanformer bench attention`: sliding window vs dense attention speed at an 8K prefill on ORT CPU
// (the forms table's choice), and MoA vs a uniform window of the same density on the retrieval decoder.
import { Tensor, benchInt, median, rng, type Backend, type BenchResult, type BenchSuite, type Graph } from '@leanformer/core';
import {
  attentionLayerGraph, buildRetrievalDecoder, makeRetrievalExamples, patternDensity, profileMoA, referenceEvaluator, retrievalAccuracy, windowForDensity,
  type AttentionPattern, type HeadSpan,
} from '@leanformer/attention';
import { createOrtBackend } from '@leanformer/runtime-ort/node';


function gaussian(n: number, seed: number): Float32Array {
  return rng(seed).normalTensor([n]).data as Float32Array;
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
    const med = median;
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
 * The `bench attention` figures. `backend` runs the speed measurement (ORT CPU for `swa_speedup_8k`;
 * without it that metric is null); quick mode lowers repetitions and retrieval sizes.
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



export const attentionSuite: BenchSuite = {
  name: 'attention',
  summary: 'sliding window 512 vs dense attention at an 8K prefill on ORT CPU; MoA vs a uniform window at equal density',
  params: { seq: { description: 'prefill length', default: '8192' } },
  async run(o) {
    const backend = createOrtBackend({ eps: ['cpu'], ...(o.threads ? { intraOpNumThreads: o.threads } : {}) });
    return runAttentionBench({ quick: o.quick, backend, seq: benchInt(o.params, 'seq', 8192) });
  },
};
