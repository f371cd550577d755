// Suites that time or check the ORT CPU lowering forms of a sliding window one by one (the forms
// table's order in @leanformer/onnx comes from these measurements; packages/attention/README.md).
import { loadavg } from 'node:os';
import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { attr, benchInt, DTypes, GraphBuilder, median, rng, Tensor, type BenchSuite, type Executor, type Value } from '@leanformer/core';
import { attentionLayerGraph, attentionReference } from '@leanformer/attention';
import { encodeModel, lowerAttention, type AttentionForm } from '@leanformer/onnx';
import { ortCpuBackend } from './ort-lite.js';
import { timeGraph } from './attention.js';

const HEADS = 8, HEAD_DIM = 64, WINDOW = 512, HID = HEADS * HEAD_DIM;
const r1 = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
/** Seeded standard-normal q/k/v feeds of one 8-head layer. */
function qkv(seq: number): Record<string, Tensor> {
  const f = (seed: number) => { const r = rng(seed); return new Tensor('float32', [1, seq, HID], Float32Array.from({ length: seq * HID }, () => r.normal())); };
  return { q: f(1), k: f(2), v: f(3) };
}
/** `form:chunk,form:chunk` → pairs. */
function formPairs(spec: string): [AttentionForm, number][] {
  return spec.split(',').map((p) => { const [f, c] = p.split(':'); return [f as AttentionForm, Number(c ?? 0)]; });
}
const ALL_PAIRS = 'chunked_gqa:64,chunked_gqa:128,chunked_gqa:256,chunked_gqa:512,blocked:64,blocked:128,blocked:256,blocked_mha:64,blocked_mha:128,blocked_mha:256';

/** Window 512 vs dense at an 8K prefill, per lowering form (one warm-up, then `reps` runs each). */
export const swaSuite: BenchSuite = {
  name: 'attention-swa',
  summary: 'window 512 vs dense GQA at an 8K prefill on ORT CPU, per lowering form and chunk size',
  params: {
    seq: { description: 'prefill length', default: '8192' }, reps: { description: 'timed runs per form', default: '3' },
    forms: { description: 'form:chunk pairs to time', default: ALL_PAIRS }, masked: { description: '1 also times the masked form', default: '0' },
  },
  async run(o) {
    const seq = benchInt(o.params, 'seq', o.quick ? 2048 : 8192), reps = benchInt(o.params, 'reps', 3);
    const feeds = qkv(seq);
    const metrics: Record<string, number | string> = {};
    const time = async (label: string, window: boolean, form: AttentionForm, chunkSize?: number): Promise<Float32Array> => {
      const g = attentionLayerGraph({ seq, heads: HEADS, headDim: HEAD_DIM, pattern: window ? { kind: 'window', window: WINDOW } : { kind: 'dense' } });
      const r = await timeGraph(ortCpuBackend({ form, ...(chunkSize ? { chunkSize } : {}), ...(o.threads ? { threads: o.threads } : {}) }), g, feeds, reps);
      metrics[`${label}_ms`] = r1(r.medianMs);
      metrics[`${label}_first_ms`] = r1(r.firstMs);
      return r.output;
    };
    await time('gqa_dense', false, 'gqa');
    const gqaWin = await time('gqa_window', true, 'gqa');
    let best = Infinity, bestChunk = 0, bestForm = '', diff = 0;
    for (const [form, c] of formPairs(o.params['forms'] ?? ALL_PAIRS)) {
      const out = await time(`${form}_window_c${c}`, true, form, c);
      const ms = metrics[`${form}_window_c${c}_ms`] as number;
      if (ms < best) { best = ms; bestChunk = c; bestForm = form; }
      for (let i = 0; i < out.length; i++) diff = Math.max(diff, Math.abs(out[i]! - gqaWin[i]!));
    }
    if (benchInt(o.params, 'masked', 0) === 1) await time('masked_window', true, 'masked');
    metrics['gqa_window_vs_dense'] = r1((metrics['gqa_dense_ms'] as number) / (metrics['gqa_window_ms'] as number), 2);
    metrics['swa_speedup'] = r1((metrics['gqa_dense_ms'] as number) / best, 2);
    metrics['best_chunk'] = bestChunk;
    metrics['best_form'] = bestForm;
    metrics['max_abs_diff_blocked_vs_gqa_window'] = diff;
    metrics['load_average'] = loadavg()[0]!;
    return { suite: 'attention-swa', metrics, seq, heads: HEADS, head_dim: HEAD_DIM, window: WINDOW, reps };
  },
};

/** Dense GQA vs window forms, runs interleaved round-robin (robust to other load on a shared box). */
export const interleaveSuite: BenchSuite = {
  name: 'attention-interleave',
  summary: 'dense GQA vs chosen window forms on ORT CPU, interleaved rounds: min/median ms and speed-ups',
  params: {
    forms: { description: "form:chunk pairs; a form prefixed 'dense/' runs the dense pattern (e.g. dense/mha)", default: 'chunked_gqa:128' },
    rounds: { description: 'interleaved rounds', default: '7' }, seq: { description: 'prefill length', default: '8192' },
    ftz: { description: '1 sets session.set_denormal_as_zero for every session', default: '0' },
  },
  async run(o) {
    const seq = benchInt(o.params, 'seq', o.quick ? 2048 : 8192), rounds = benchInt(o.params, 'rounds', o.quick ? 3 : 7);
    const ftz = benchInt(o.params, 'ftz', 0) === 1, threads = o.threads;
    const feeds = qkv(seq);
    const exes: [string, Executor][] = [];
    const backend = (form: AttentionForm, c = 0) => ortCpuBackend({ form, ...(c ? { chunkSize: c } : {}), ...(threads ? { threads } : {}), ftz });
    exes.push(['gqa_dense', await backend('gqa').compile(attentionLayerGraph({ seq, heads: HEADS, headDim: HEAD_DIM, pattern: { kind: 'dense' } }))]);
    let ref: Float32Array | null = null;
    const diffs: Record<string, number> = {};
    for (const [label, c] of formPairs(o.params['forms'] ?? 'chunked_gqa:128')) {
      const dense = label.startsWith('dense/');
      const form = (dense ? label.slice(6) : label) as AttentionForm;
      const exe = await backend(form, c).compile(attentionLayerGraph({ seq, heads: HEADS, headDim: HEAD_DIM, pattern: dense ? { kind: 'dense' } : { kind: 'window', window: WINDOW } }));
      if (dense) { exes.push([label, exe]); continue; }
      const y = (await exe.run(feeds)).y!.toFloat32();
      let d = 0;
      if (ref) for (let i = 0; i < y.length; i++) d = Math.max(d, Math.abs(y[i]! - ref[i]!)); else ref = y;
      diffs[`${label}:${c}`] = d;
      exes.push([`${label}:${c}`, exe]);
    }
    try {
      await exes[0]![1].run(feeds);
      const t: Record<string, number[]> = Object.fromEntries(exes.map(([k]) => [k, []]));
      const loads: number[] = [];
      for (let r = 0; r < rounds; r++) {
        for (const [k, exe] of exes) { const s = performance.now(); await exe.run(feeds); t[k]!.push(performance.now() - s); }
        loads.push(loadavg()[0]!);
      }
      const dMin = Math.min(...t['gqa_dense']!), dMed = median(t['gqa_dense']!);
      const metrics: Record<string, number> = {};
      for (const [k] of exes) {
        const mn = Math.min(...t[k]!), md = median(t[k]!);
        Object.assign(metrics, { [`${k}_min_ms`]: r1(mn), [`${k}_median_ms`]: r1(md), [`${k}_speedup_min`]: r1(dMin / mn, 2), [`${k}_speedup_median`]: r1(dMed / md, 2) });
      }
      return { suite: 'attention-interleave', metrics, max_abs_diff_vs_first_window_form: diffs, load: loads.map((l) => r1(l)) };
    } finally { for (const [, e] of exes) await e.dispose(); }
  },
};

/** Single ORT CPU kernels at the shapes the window forms use (8K, window 512). */
export const microSuite: BenchSuite = {
  name: 'attention-micro',
  summary: 'single ORT CPU kernels (GQA with past, MatMul/Softmax chains, ONNX Attention) at the window forms\' shapes',
  params: { only: { description: 'comma-separated kernel labels to time (default all)' } },
  async run(o) {
    const only = o.params['only']?.split(',') ?? null;
    const metrics: Record<string, number> = {};
    const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
    const time = async (label: string, build: (b: GraphBuilder) => Value[], feeds: Record<string, number[]>, opset?: number): Promise<void> => {
      if (only && !only.includes(label)) return;
      const b = new GraphBuilder(label, opset ? { opset } : {});
      build(b).forEach((v, i) => b.output(v, `y${i}`));
      const s = await ort.InferenceSession.create(encodeModel(b.build()), { executionProviders: ['cpu'], ...(o.threads ? { intraOpNumThreads: o.threads } : {}) });
      const f: Record<string, ort.Tensor> = {};
      for (const [k, shape] of Object.entries(feeds)) f[k] = new ort.Tensor('float32', fill(shape.reduce((x, y) => x * y, 1)), shape);
      await s.run(f);
      const ts: number[] = [];
      for (let i = 0; i < 3; i++) { const t = performance.now(); await s.run(f); ts.push(performance.now() - t); }
      metrics[`${label}_ms`] = r1(median(ts));
      o.log(`${label.padEnd(28)} ${median(ts).toFixed(1)} ms\n`);
      await s.release();
    };
    const gqa = (b: GraphBuilder, ins: (Value | null)[], N: number, lw: number) => {
      b.graph.opsets.set('com.microsoft', 1);
      return b.op('GroupQueryAttention', ins, { num_heads: attr.int(N), kv_num_heads: attr.int(N), scale: attr.float(0.125), ...(lw > 0 ? { local_window_size: attr.int(lw) } : {}) }, { domain: 'com.microsoft', outputs: 3 })[0]!;
    };
    const i32 = DTypes.int32;
    const input = (b: GraphBuilder, name: string, shape: number[]) => b.input(name, 'float32', shape);
    for (const [C, P] of [[128, 512], [256, 512], [512, 512]] as const) {
      const N = ((8192 - P) / C) * 8;
      await time(`gqa_past_c${C}`, (b) => [gqa(b, [input(b, 'q', [1, C, N * 64]), input(b, 'k', [1, C, N * 64]), input(b, 'v', [1, C, N * 64]), input(b, 'pk', [1, N, P, 64]), input(b, 'pv', [1, N, P, 64]), b.constant([P + C - 1], i32), b.constant(P + C, i32)], N, 512)],
        { q: [1, C, N * 64], k: [1, C, N * 64], v: [1, C, N * 64], pk: [1, N, P, 64], pv: [1, N, P, 64] });
      await time(`matmul_qk_sm_v_c${C}`, (b) => [b.matmul(b.softmax(b.matmul(input(b, 'q', [N, C, 64]), input(b, 'k', [N, 64, P + C]))), input(b, 'v', [N, P + C, 64]))],
        { q: [N, C, 64], k: [N, 64, P + C], v: [N, P + C, 64] });
      await time(`matmul_qk_c${C}`, (b) => [b.matmul(input(b, 'q', [N, C, 64]), input(b, 'k', [N, 64, P + C]))], { q: [N, C, 64], k: [N, 64, P + C] });
    }
    const dense = (S: number, N: number, lw: number) => (b: GraphBuilder) => [gqa(b, [input(b, 'q', [1, S, N * 64]), input(b, 'k', [1, S, N * 64]), input(b, 'v', [1, S, N * 64]), null, null, b.constant([S - 1], i32), b.constant(S, i32)], N, lw)];
    const qkvShapes = (S: number, N: number) => ({ q: [1, S, N * 64], k: [1, S, N * 64], v: [1, S, N * 64] });
    await time('gqa_dense_8k', dense(8192, 8, 0), qkvShapes(8192, 8));
    await time('gqa_first_s640_n96', dense(640, 96, 512), qkvShapes(640, 96));
    for (const [S, N] of [[640, 96], [2048, 8], [4096, 8], [128, 480], [64, 960]] as const) await time(`gqa_first_s${S}_n${N}`, dense(S, N, 0), qkvShapes(S, N));
    // Dense baseline check: ONNX Attention (opset 23), is_causal, 8 heads, 8K.
    await time('onnx_attention23_causal_8k', (b) => [b.op('Attention', [input(b, 'q', [1, 8192, 512]), input(b, 'k', [1, 8192, 512]), input(b, 'v', [1, 8192, 512])], { is_causal: attr.int(1), q_num_heads: attr.int(8), kv_num_heads: attr.int(8) })], qkvShapes(8192, 8), 23);
    // MLAS GEMM rate on one large product (2·1024³ flops) and on the window's small batched shapes.
    await time('matmul_1024cubed', (b) => [b.matmul(input(b, 'a', [1024, 1024]), input(b, 'w', [1024, 1024]))], { a: [1024, 1024], w: [1024, 1024] });
    await time('matmul_8x64x64x576_x64', (b) => [b.reduceSum(b.matmul(input(b, 'q', [64, 8, 64, 64]), input(b, 'k', [64, 8, 64, 576])), [0, 1, 2, 3], false)], { q: [64, 8, 64, 64], k: [64, 8, 64, 576] });
    metrics['load_average'] = loadavg()[0]!;
    return { suite: 'attention-micro', metrics };
  },
};

/** ORT's per-node profile of one attention form: the 15 most expensive nodes. */
export const profileSuite: BenchSuite = {
  name: 'attention-profile',
  summary: "ORT CPU profiler on one window form: the 15 most expensive nodes (ms per run)",
  params: {
    seq: { description: 'prefill length', default: '8192' }, chunk: { description: 'chunk size', default: '128' },
    form: { description: 'lowering form', default: 'blocked' }, dense: { description: '1 profiles the dense pattern (with form gqa)', default: '0' },
  },
  async run(o) {
    const seq = benchInt(o.params, 'seq', 8192), chunk = benchInt(o.params, 'chunk', 128);
    const form = (o.params['form'] ?? 'blocked') as AttentionForm;
    const dense = form === 'gqa' && benchInt(o.params, 'dense', 0) === 1;
    const g = attentionLayerGraph({ seq, heads: HEADS, headDim: HEAD_DIM, pattern: dense ? { kind: 'dense' } : { kind: 'window', window: WINDOW } });
    for (const n of [...g.nodes]) if (n.op === 'Attention') lowerAttention(n, { runtime: 'ort', ep: 'cpu' }, { form, chunkSize: chunk });
    const prefix = join(tmpdir(), `lfprof-${process.pid}`);
    const s = await ort.InferenceSession.create(encodeModel(g), { executionProviders: ['cpu'], enableProfiling: true, profileFilePrefix: prefix, ...(o.threads ? { intraOpNumThreads: o.threads } : {}) });
    const feeds = Object.fromEntries(Object.entries(qkv(seq)).map(([k, t]) => [k, new ort.Tensor('float32', t.data as Float32Array, [...t.shape])]));
    await s.run(feeds);
    const runs = 3;
    for (let i = 0; i < runs; i++) await s.run(feeds);
    s.endProfiling();
    const base = `lfprof-${process.pid}`;
    const file = join(tmpdir(), readdirSync(tmpdir()).filter((f) => f.startsWith(base)).sort().pop()!);
    const ev = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
    unlinkSync(file);
    await s.release();
    const agg = new Map<string, number>();
    for (const e of ev) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const k = `${e.args?.op_name}:${e.name.replace('_kernel_time', '')}`;
      agg.set(k, (agg.get(k) ?? 0) + e.dur / 1000 / (runs + 1));
    }
    const top = [...agg].sort((a, b) => b[1] - a[1]).slice(0, 15);
    return { suite: 'attention-profile', metrics: Object.fromEntries(top.map(([k, v]) => [k, r1(v)])), seq, form, chunk };
  },
};

/** Which GroupQueryAttention local_window_size equals our window semantics (q − k < w), per form. */
export const gqaCheckSuite: BenchSuite = {
  name: 'attention-gqa-check',
  summary: 'each ORT CPU window form vs the float reference on a small layer (max |Δ|) and the local_window_size it uses',
  async run() {
    const S = 40, H = 2, D = 8, w = 6;
    const r = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + s * 3.1) * 2);
    const q = r(S * H * D, 1), k = r(S * H * D, 2), v = r(S * H * D, 3);
    const toHeads = (x: Float32Array) => { const y = new Float32Array(x.length); for (let t = 0; t < S; t++) for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) y[(h * S + t) * D + d] = x[(t * H + h) * D + d]!; return y; };
    const ref = attentionReference({ q: toHeads(q), k: toHeads(k), v: toHeads(v), numHeads: H, kvHeads: H, headDim: D, qLen: S, kLen: S, pattern: { kind: 'window', window: w } }).out;
    const metrics: Record<string, number | null> = {};
    for (const form of ['gqa', 'blocked', 'masked', 'blocked_mha'] as const) {
      const g = attentionLayerGraph({ seq: S, heads: H, headDim: D, pattern: { kind: 'window', window: w } });
      const exe = await ortCpuBackend({ form, chunkSize: 4 }).compile(g);
      const { y } = await exe.run({ q: new Tensor('float32', [1, S, H * D], q), k: new Tensor('float32', [1, S, H * D], k), v: new Tensor('float32', [1, S, H * D], v) });
      await exe.dispose();
      const got = toHeads(y!.toFloat32());
      let m = 0;
      for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i]! - ref[i]!));
      const lws = g.nodes.find((n) => n.op === 'GroupQueryAttention')?.attr('local_window_size');
      metrics[`${form}_max_abs_diff`] = m;
      metrics[`${form}_local_window_size`] = typeof lws === 'number' ? lws : null;
    }
    return { suite: 'attention-gqa-check', metrics };
  },
};
