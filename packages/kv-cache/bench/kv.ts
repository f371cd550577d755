import { cosine, LeanformerError, rng, Tensor, type Backend, type BenchSuite, type Rng } from '@leanformer/core';
import {
  attentionDecompositionPass, attentionReference, buildDecoderGraph, buildRetrievalDecoder, makeRetrievalExamples,
  type RetrievalExample, type TinyDecoder,
} from '@leanformer/attention';
import { acrossKVPass, kvCacheBytes, evaluateKVMethods, type KVMethod, PagedKVCache, prefillWithPrefixSharing, prefixSharingCost, dequantizeKeysPerChannel, dequantizeKV, hadamardRotate, quantizeKeysPerChannel, quantizeKV, smoothKeys, serve, type ServeRequest } from '@leanformer/kv-cache';

/** A benchmark suite's result, as `leanformer bench … --json` prints it. */
export interface KvBenchResult {
  readonly suite: string;
  readonly metrics: Record<string, number | string | null>;
}

function round(x: number, d = 3): number { const f = 10 ** d; return Math.round(x * f) / f; }

function gaussian(n: number, r: Rng, scale: ArrayLike<number> | null = null, dim = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (scale ? scale[i % dim]! : 1) * r.normal());
}

/**
 * int4 KV (per-token, per-head scales) vs float32 KV on Llama-like statistics: keys with per-channel
 * scales spread log-normally (outlier channels), Gaussian values and queries; 8 kv heads × 64,
 * `tokens` keys. Returns the bytes ratio (codes + fp16 scales and minimums ÷ fp16 K+V, from the
 * actual buffers) and the mean cosine of attention outputs.
 */
export function measureInt4KV(o: { tokens?: number; heads?: number; headDim?: number; queries?: number; groupSize?: number; seed?: number; smooth?: boolean; keyAxis?: 'token' | 'channel'; rotate?: boolean; clipSearch?: readonly number[]; keyGroup?: number } = {}): { bytesRatio: number; attnCosine: number; minCosine: number } {
  const N = o.tokens ?? 1024, G = o.heads ?? 8, D = o.headDim ?? 64, Q = o.queries ?? 16;
  const r = rng(o.seed ?? 11);
  const chan = Float32Array.from({ length: D }, () => Math.exp(0.6 * r.normal()));
  const k = gaussian(G * N * D, r, chan, D), v = gaussian(G * N * D, r), q = gaussian(G * Q * D, r, chan, D);
  const cfg = { bits: 4 as const, ...(o.groupSize ? { groupSize: o.groupSize } : {}), ...(o.clipSearch ? { clipSearch: o.clipSearch } : {}) };
  // SmoothAttention: store K/λ, multiply queries by λ (scores unchanged); λ costs headDim fp16 per head, once.
  const sm = o.smooth ? smoothKeys(k, G, N, D) : null;
  let kStore = sm ? sm.smoothed : k;
  let qUse = sm ? q.map((x, i) => x * sm.lambda[Math.floor(i / (Q * D)) * D + (i % D)]!) : q;
  // Hadamard rotation of queries and keys: scores unchanged, outliers spread (folds into W_q/W_k offline).
  if (o.rotate) { kStore = hadamardRotate(kStore.slice(), D); qUse = hadamardRotate(qUse.slice(), D); }
  // keyGroup: tokens per scale group for per-channel keys, channels per group for per-token keys.
  const kq = o.keyAxis === 'channel' ? quantizeKeysPerChannel(kStore, G, N, D, o.keyGroup ?? 64) : quantizeKV(kStore, G * N, D, { ...cfg, ...(o.keyGroup ? { groupSize: o.keyGroup } : {}) });
  const vq = quantizeKV(v, G * N, D, cfg);
  const bytes = [kq, vq].reduce((s, x) => s + x.codes.byteLength + x.scales.byteLength + x.mins.byteLength, 0) + (sm ? 2 * G * D : 0);
  const fp16 = 2 * G * N * D * 2;
  const ref = attentionReference({ q, k, v, numHeads: G, kvHeads: G, headDim: D, qLen: Q, kLen: N, qOffset: N - Q }).out;
  const got = attentionReference({ q: qUse, k: o.keyAxis === 'channel' ? dequantizeKeysPerChannel(kq, G, N, D) : dequantizeKV(kq), v: dequantizeKV(vq), numHeads: G, kvHeads: G, headDim: D, qLen: Q, kLen: N, qOffset: N - Q }).out;
  let sum = 0, min = 1;
  for (let i = 0; i < G * Q; i++) { const c = cosine(ref.subarray(i * D, (i + 1) * D), got.subarray(i * D, (i + 1) * D)); sum += c; min = Math.min(min, c); }
  return { bytesRatio: bytes / fp16, attnCosine: sum / (G * Q), minCosine: min };
}

/** Mixed serving workload: long-running decodes while long prompts arrive. */
export function mixedWorkload(o: { quick?: boolean } = {}): ServeRequest[] {
  const decodes = o.quick ? 3 : 4, prompts = o.quick ? 3 : 4, promptLen = o.quick ? 256 : 384;
  const reqs: ServeRequest[] = [];
  for (let i = 0; i < decodes; i++) reqs.push({ prompt: makeRetrievalExamples({ length: 48, count: 1, seed: 500 + i, pairs: 8 })[0]!.tokens, maxNewTokens: o.quick ? 48 : 96, arrival: 0 });
  for (let i = 0; i < prompts; i++) reqs.push({ prompt: makeRetrievalExamples({ length: promptLen, count: 1, seed: 600 + i })[0]!.tokens, maxNewTokens: 8, arrival: 4 + 10 * i });
  return reqs;
}

/**
 * The `bench kv` suite: int4 KV bytes and attention fidelity; StreamingLLM / H2O / SnapKV / ShadowKV
 * retrieval accuracy at a stated budget on the constructed retrieval decoder; ALISA (cache vs
 * recompute) and NOSA (bounded host→device transfer) over a multi-question decode; AcrossKV cache bytes;
 * chunked prefill p99 inter-token latency and throughput vs prefill-first on a mixed workload;
 * prefix-sharing prefill tokens. With a `backend`, AcrossKV's retrieval accuracy (no distillation) is
 * measured too.
 *
 * @example
 * ```ts
 * console.log(JSON.stringify(await runKvBench({ quick: true })));
 * ```
 */
export async function runKvBench(o: { quick?: boolean; backend?: Backend } = {}): Promise<KvBenchResult> {
  const quick = !!o.quick;
  const m: Record<string, number | string | null> = {};
  // 1. int4 KV.
  // int4 KV: values per token (fp16 scale + min per head vector), keys per channel over 32-token groups
  // after a Hadamard rotation of queries and keys (folds into W_q/W_k). This configuration was chosen
  // among 4 variants on draws 1–5 of the synthetic K/V; it is reported on held-out draws 6–10.
  // Plain per-token int4 and SmoothAttention beside it, on the same draws.
  const seeds = [6, 7, 8, 9, 10];
  const meanCos = (opt: Parameters<typeof measureInt4KV>[0]) => seeds.map((seed) => measureInt4KV({ ...opt, seed })).reduce((acc, r, _, all) => ({ bytesRatio: r.bytesRatio, attnCosine: acc.attnCosine + r.attnCosine / all.length, minCosine: Math.min(acc.minCosine, r.minCosine) }), { bytesRatio: 0, attnCosine: 0, minCosine: 1 });
  const q4 = meanCos({ rotate: true, keyAxis: 'channel', keyGroup: 32 });
  m.kv_int4_bytes_ratio = round(q4.bytesRatio, 4);
  m.kv_int4_attn_cosine = round(q4.attnCosine, 4);
  m.kv_int4_attn_cosine_min = round(q4.minCosine, 4);
  m.kv_int4_plain_attn_cosine = round(meanCos({}).attnCosine, 4);
  m.kv_int4_plain_bytes_ratio = round(meanCos({}).bytesRatio, 4);
  m.kv_int4_smoothattention_attn_cosine = round(meanCos({ smooth: true }).attnCosine, 4);
  // 2. Retrieval under cache compression, over a multi-question decode: the prompt's own question,
  // then 7 more planted keys asked as decode steps; one prefill per prompt serves every method.
  // `*_retrieval_acc` is the first question (the single-question harness, `evaluateKVMethod`),
  // `*_multi_retrieval_acc` all 8 — methods that fix their selection at prefill keep only what the
  // first question's observation pointed at.
  const len = quick ? 512 : 1024;
  const count = quick ? 16 : 32;
  const budget = len / 8;
  const questions = 8;
  const model = buildRetrievalDecoder({ maxLen: len + questions });
  const ex: RetrievalExample[] = makeRetrievalExamples({ length: len, count, seed: 42 });
  // ALISA: 16-token window + top (budget - 16) by the recent queries' attention = the same 1/8 of the
  // context attended; the device cache holds budget / budget/2 / budget/4 fp16 tokens, or budget/2
  // fp16 tokens' bytes in int8.
  const alisa = (o: { cacheTokens?: number; cacheBytes?: number; kv?: 'int8' }): KVMethod => ({ kind: 'alisa', window: 16, topK: budget - 16, ...o });
  const fp16Tok = 2 * 2 * 2 * 64; // one token's fp16 K+V over the 2 kv heads of a layer
  // NOSA: 4 sinks + 12 recent + (2 query-agnostic + budget/16 - 2 query-aware) blocks of 8 = budget
  // tokens per kv head; at most 1 block (8 tokens) moved host→device per step and kv head; the same
  // ranking without the bound beside it.
  const nosa = (maxFetchBlocks: number): KVMethod => ({ kind: 'nosa', blockSize: 8, sinks: 4, local: 12, agnosticBlocks: 2, awareBlocks: (budget - 16) / 8 - 2, maxFetchBlocks });
  const names = ['full', 'streaming', 'h2o', 'snapkv', 'kv_int4', 'shadowkv'] as const;
  const results = evaluateKVMethods(model, ex, [
    { kind: 'full' },
    { kind: 'streaming', budget, sinks: 4 },
    { kind: 'h2o', budget },
    { kind: 'snapkv', budget, window: 16 },
    { kind: 'quant', bits: 4 },
    { kind: 'shadowkv', rank: 64, energy: 0.9999, topChunks: 8, chunkSize: 8, local: 32, sinks: 4 },
    alisa({ cacheTokens: budget / 2 }), alisa({ cacheTokens: budget }), alisa({ cacheTokens: budget / 4 }), alisa({ cacheBytes: (budget / 2) * fp16Tok, kv: 'int8' }),
    nosa(1), nosa(Infinity),
  ], { questions });
  m.kv_context_length = len;
  m.kv_budget_tokens = budget;
  m.kv_decode_questions = questions;
  names.forEach((name, i) => {
    const r = results[i]!;
    m[`${name}_retrieval_acc`] = r.firstAccuracy;
    if (name !== 'full' && name !== 'kv_int4') m[`${name}_bytes_ratio`] = round(r.bytesRatio);
    m[`${name}_multi_retrieval_acc`] = round(r.accuracy);
  });
  const [a32, a64, a16, a8int, nosaB, nosaU] = results.slice(names.length);
  m.alisa_retrieval_acc = a32!.firstAccuracy;
  m.alisa_multi_retrieval_acc = round(a32!.accuracy);
  m.alisa_bytes_ratio = round(a32!.bytesRatio, 4);
  m.alisa_recompute_fraction = round(a32!.extra.recomputeFraction!);
  m.alisa_recomputed_per_step = round(a32!.extra.recomputedPerStep!, 1);
  m.alisa_selected_per_step = round(a32!.extra.selectedPerStep!, 1);
  m.alisa_store_ratio = round(a32!.extra.storeRatio!);
  for (const [name, r] of [['cache_full', a64], ['cache_quarter', a16], ['int8', a8int]] as const) {
    m[`alisa_${name}_retrieval_acc`] = r!.firstAccuracy;
    m[`alisa_${name}_bytes_ratio`] = round(r!.bytesRatio, 4);
    m[`alisa_${name}_recompute_fraction`] = round(r!.extra.recomputeFraction!);
  }
  m.nosa_retrieval_acc = nosaB!.firstAccuracy;
  m.nosa_multi_retrieval_acc = round(nosaB!.accuracy);
  m.nosa_bytes_ratio = round(nosaB!.bytesRatio);
  m.nosa_transfer_per_step = round(nosaB!.extra.transferTokensPerStep!, 2);
  m.nosa_transfer_max_per_step = nosaB!.extra.transferTokensMax!;
  m.nosa_transfer_bound = 8;
  m.nosa_transfer_bytes_per_step = Math.round(nosaB!.extra.transferBytesPerStep!);
  m.nosa_unbounded_transfer_per_step = round(nosaU!.extra.transferTokensPerStep!, 2);
  m.nosa_unbounded_transfer_max_per_step = nosaU!.extra.transferTokensMax!;
  m.nosa_unbounded_multi_retrieval_acc = round(nosaU!.accuracy);
  // 3. AcrossKV: bytes from the rewritten graph; accuracy only with a backend.
  const g = buildDecoderGraph(model, { kvCache: true, maxLen: len + questions });
  const before = kvCacheBytes(g, len);
  acrossKVPass({ group: 2 }).run(g, {});
  m.acrosskv_bytes_ratio = kvCacheBytes(g, len) / before;
  m.acrosskv_retrieval_acc = o.backend ? await acrossKVAccuracy(o.backend, model, ex.slice(0, quick ? 4 : 8)) : null;
  // 4. Chunked prefill vs prefill-first.
  const shape = { layers: 2, kvHeads: 2, headDim: 64 };
  const reqs = mixedWorkload({ quick });
  const mk = () => new PagedKVCache(shape, { blockSize: 16, numBlocks: 1024 });
  const base = serve(model, mk, reqs, { kind: 'prefill-first' });
  const chunk = serve(model, mk, reqs, { kind: 'chunked', chunkTokens: 32 });
  if (JSON.stringify(base.outputs) !== JSON.stringify(chunk.outputs)) throw new LeanformerError('EXECUTION_FAILED', 'bench kv: chunked prefill changed the generated tokens');
  m.chunked_prefill_p99_itl_ratio = round(chunk.p99ItlMs / base.p99ItlMs);
  m.chunked_prefill_throughput_ratio = round(chunk.tokensPerSecond / base.tokensPerSecond);
  m.chunked_prefill_p99_itl_ms = round(chunk.p99ItlMs, 1);
  m.prefill_first_p99_itl_ms = round(base.p99ItlMs, 1);
  m.chunk_tokens = 32;
  // 5. Prefix sharing: 8 requests = a shared 256-token system prompt + distinct questions; two share a sub-prefix.
  const sys = makeRetrievalExamples({ length: quick ? 128 : 256, count: 1, seed: 77 })[0]!.tokens;
  const prompts = Array.from({ length: 8 }, (_, i) => {
    const q = makeRetrievalExamples({ length: 40, count: 1, seed: 80 + (i === 7 ? 6 : i), pairs: 8 })[0]!.tokens;
    return Int32Array.from([...sys, ...(i === 7 ? q.subarray(0, 20) : q)]);
  });
  const cost = prefixSharingCost(prompts);
  const shared = prefillWithPrefixSharing(model, new PagedKVCache(shape, { blockSize: 16, numBlocks: 1024 }), prompts);
  if (shared.computedTokens !== cost.shared) throw new LeanformerError('EXECUTION_FAILED', 'bench kv: prefix-shared prefill computed an unexpected token count');
  m.prefix_sharing_prefill_ratio = round(cost.ratio);
  return { suite: 'kv', metrics: m };
}

async function acrossKVAccuracy(backend: Backend, model: TinyDecoder, ex: readonly RetrievalExample[]): Promise<number> {
  const len = ex[0]!.tokens.length;
  const g = buildDecoderGraph(model, { seqLen: len, maxLen: len + 8, batch: ex.length });
  acrossKVPass().run(g, {});
  attentionDecompositionPass().run(g, {});
  const exe = await backend.compile(g);
  try {
    const tokens = new BigInt64Array(ex.length * len);
    ex.forEach((e, i) => e.tokens.forEach((t, j) => { tokens[i * len + j] = BigInt(t); }));
    const { logits } = await exe.run({ tokens: new Tensor('int64', [ex.length, len], tokens) });
    const lg = logits!.toFloat32();
    let ok = 0;
    ex.forEach((e, i) => {
      const off = (i * len + len - 1) * model.vocab;
      let best = model.answerIds[0];
      for (let t = model.answerIds[0]; t < model.answerIds[1]; t++) if (lg[off + t]! > lg[off + best]!) best = t;
      if (best === e.answer) ok++;
    });
    return ok / ex.length;
  } finally {
    await exe.dispose();
  }
}


export const kvSuite: BenchSuite = {
  name: 'kv',
  summary: 'int4/int8 KV bytes and attention cosine, eviction and ALISA/NOSA retrieval, AcrossKV, paged prefix sharing, scheduling',
  async run(o) {
    return runKvBench({ quick: o.quick });
  },
};
