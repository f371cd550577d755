import { LeanformerError, rng } from '@leanformer/core';
import {
  argmaxAnswer, decodeStep, prefill, type KVProvider, type PrefillResult, type RetrievalExample, type TinyDecoder,
} from '@leanformer/attention';
import { AlisaSequence, type AlisaConfig } from './alisa.js';
import { compressedProvider, h2oKeep, selectTokens, snapkvKeep, streamingKeep, type CompressedLayer } from './eviction.js';
import { accumulatedAttention, buildNosaLayer, nosaProvider, type NosaConfig, type NosaLayer } from './nosa.js';
import { dequantizeKV, kvBytesPerToken, quantizeKV } from './quant.js';
import { buildShadowLayer, shadowDeviceBytes, shadowProvider, type ShadowKVConfig } from './shadowkv.js';

/** A KV-cache method evaluated by {@link evaluateKVMethod}. Budgets are tokens kept per kv head. */
export type KVMethod =
  | { readonly kind: 'full' }
  | { readonly kind: 'streaming'; readonly budget: number; readonly sinks?: number }
  | { readonly kind: 'h2o'; readonly budget: number; readonly recent?: number }
  | { readonly kind: 'snapkv'; readonly budget: number; readonly window?: number; readonly kernel?: number }
  | { readonly kind: 'quant'; readonly bits: 4 | 8; readonly groupSize?: number }
  | ({ readonly kind: 'shadowkv' } & ShadowKVConfig)
  | ({ readonly kind: 'alisa' } & AlisaConfig)
  | ({ readonly kind: 'nosa' } & NosaConfig);

/** Accuracy and memory of one method on the retrieval task. */
export interface KVMethodResult {
  readonly method: string;
  readonly accuracy: number;
  /** KV bytes the method keeps on the device ÷ fp16 full KV bytes (mean over examples, all layers). */
  readonly bytesRatio: number;
}

/**
 * Compresses the prompt's KV cache with `method` right after prefill, then asks the question again
 * (feeds the prompt's last token, the key, as a decode step) and checks the answer over the
 * compressed cache. The prefill itself is exact, so only the cache method decides the answer.
 *
 * @example
 * ```ts
 * const r = evaluateKVMethod(model, examples, { kind: 'snapkv', budget: 64 });
 * ```
 */
export function evaluateKVMethod(model: TinyDecoder, examples: readonly RetrievalExample[], method: KVMethod): KVMethodResult {
  const { method: label, accuracy, bytesRatio } = evaluateKVDecode(model, examples, method, { questions: 1 });
  return { method: label, accuracy, bytesRatio };
}

/** {@link evaluateKVDecode}'s result: accuracy over every question, and per-step figures of ALISA / NOSA. */
export interface KVDecodeResult extends KVMethodResult {
  /** Decode steps (questions) per example. */
  readonly steps: number;
  /** Accuracy on the first question only (the prompt's own, as {@link evaluateKVMethod} asks it). */
  readonly firstAccuracy: number;
  /**
   * ALISA: `selectedPerStep`, `recomputedPerStep` (tokens, summed over layers), `recomputeFraction`
   * (recomputed ÷ selected), `storeRatio` (recompute store bytes ÷ fp16 full KV).
   * NOSA: `transferTokensPerStep` (host→device tokens per layer and kv head, mean), `transferTokensMax`,
   * `fetchedBlocksMax`, `wantedBlocksPerStep`, `transferBytesPerStep` (whole model, fp16 K+V).
   */
  readonly extra: Record<string, number>;
}

/**
 * The questions a multi-step decode asks of one retrieval prompt: first the prompt's own question
 * (its last token, asked again as in {@link evaluateKVMethod}), then up to `count - 1` other planted
 * keys in a seeded random order, each fed as the next decode token. Keys are asked once each, so the
 * only earlier position whose previous token is the asked key is its planted value.
 */
export function retrievalQuestions(model: TinyDecoder, ex: RetrievalExample, count: number): { token: number; answer: number }[] {
  const N = ex.tokens.length, numKeys = model.answerIds[0];
  const out = [{ token: ex.tokens[N - 1]!, answer: ex.answer }];
  const others: { token: number; answer: number }[] = [];
  for (let i = 0; i < N - 2; i++) {
    const t = ex.tokens[i]!;
    if (t < numKeys && t !== out[0]!.token) others.push({ token: t, answer: ex.tokens[i + 1]! });
  }
  const seeded = rng(N * 7919 + ex.needlePos), r = (): number => seeded.uniform();
  for (let i = others.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [others[i], others[j]] = [others[j]!, others[i]!]; }
  return [...out, ...others].slice(0, count);
}

/**
 * Multi-step version of {@link evaluateKVMethod} for several methods over one prefill per prompt:
 * after the exact prefill and compression, asks `questions` questions (see {@link retrievalQuestions})
 * as consecutive decode steps over each method's cache and scores every answer. Methods whose
 * selection is fixed at prefill (StreamingLLM, H2O, SnapKV) can only answer later questions whose
 * needle they happened to keep; ALISA re-ranks by recent attention; NOSA's query-aware blocks follow
 * the question within its transfer bound. ALISA methods share one prefill per `observe` value
 * ({@link AlisaSequence.fork}).
 *
 * @example
 * ```ts
 * const [nosa, alisa] = evaluateKVMethods(model, examples, [
 *   { kind: 'nosa', agnosticBlocks: 2, awareBlocks: 4, maxFetchBlocks: 1 },
 *   { kind: 'alisa', window: 16, topK: 48, cacheTokens: 32 },
 * ], { questions: 8 });
 * nosa.extra.transferTokensPerStep; alisa.extra.recomputeFraction;
 * ```
 */
export function evaluateKVMethods(model: TinyDecoder, examples: readonly RetrievalExample[], methods: readonly KVMethod[], o: { questions?: number } = {}): KVDecodeResult[] {
  const Q = o.questions ?? 1;
  if (examples.length === 0) throw new LeanformerError('INVALID_ARGUMENT', 'evaluateKVMethods: no examples');
  if (!Number.isInteger(Q) || Q < 1) throw new LeanformerError('INVALID_ARGUMENT', `evaluateKVMethods: 'questions' must be a positive integer, got ${Q}`);
  const acc = methods.map(() => ({ ok: 0, first: 0, asked: 0, ratio: 0, ratioN: 0, steps: 0, sums: {} as Record<string, number> }));
  const full = (len: number): number => model.layers.reduce((s, L) => s + kvBytesPerToken(L.headDim, 'float16') * L.kvHeads * len, 0);
  for (const ex of examples) {
    const N = ex.tokens.length;
    const qs = retrievalQuestions(model, ex, Q);
    const others = methods.filter((m) => m.kind !== 'alisa');
    const pre = others.length ? prefill(model, ex.tokens, { probs: others.some((m) => m.kind === 'h2o' || m.kind === 'nosa') }) : undefined;
    const alisaBase = new Map<number, AlisaSequence>();
    methods.forEach((method, mi) => {
      const a = acc[mi]!;
      const add = (k: string, v: number): void => { a.sums[k] = (a.sums[k] ?? 0) + v; };
      const max = (k: string, v: number): void => { a.sums[k] = Math.max(a.sums[k] ?? 0, v); };
      const score = (logits: Float32Array, i: number): void => {
        const right = argmaxAnswer(model, logits) === qs[i]!.answer;
        if (right) a.ok++;
        if (right && i === 0) a.first++;
        a.asked++; a.steps++;
      };
      if (method.kind === 'alisa') {
        const obs = method.observe ?? method.window;
        if (!alisaBase.has(obs)) { const b = new AlisaSequence(model, { ...method, cacheTokens: 0, cacheBytes: undefined }); b.prefill(ex.tokens); alisaBase.set(obs, b); }
        const seq = alisaBase.get(obs)!.fork(method);
        qs.forEach((q, i) => {
          score(seq.step([q.token], N + i), i);
          const b = seq.bytes();
          a.ratio += b.cached / b.fullFp16; a.ratioN++;
          const st = seq.stepStats.at(-1)!;
          add('selected', st.reduce((s, x) => s + x.selected, 0));
          add('recomputed', st.reduce((s, x) => s + x.recomputed, 0));
        });
        const b = seq.bytes();
        add('storeRatio', b.store / b.fullFp16);
        return;
      }
      const { provider, bytes, nosa } = compress(model, pre!, N, method);
      if (!nosa) { a.ratio += bytes / full(N); a.ratioN++; }
      qs.forEach((q, i) => {
        score(decodeStep(model, q.token, N + i, provider), i);
        if (!nosa) return;
        a.ratio += nosa.reduce((s, L) => s + L.deviceBytes().device, 0) / full(N + i + 1); a.ratioN++;
        let tok = 0, cnt = 0, moved = 0;
        for (const L of nosa) {
          const h = L.history.at(-1)!;
          h.fetchedTokens.forEach((t, g) => {
            tok += t; cnt++; moved += t * kvBytesPerToken(L.D, 'float16');
            max('transferTokensMax', t); max('fetchedBlocksMax', h.fetchedBlocks[g]!);
            add('wanted', h.wantedBlocks[g]!);
          });
        }
        add('transferTokens', tok / cnt); add('transferBytes', moved); add('heads', cnt);
      });
    });
  }
  return methods.map((method, mi) => {
    const { ok, first, asked, ratio, ratioN, steps, sums } = acc[mi]!;
    const extra: Record<string, number> = {};
    if (method.kind === 'alisa') {
      extra.selectedPerStep = sums.selected! / steps;
      extra.recomputedPerStep = sums.recomputed! / steps;
      extra.recomputeFraction = sums.recomputed! / sums.selected!;
      extra.storeRatio = sums.storeRatio! / examples.length;
    } else if (method.kind === 'nosa') {
      extra.transferTokensPerStep = sums.transferTokens! / steps;
      extra.transferTokensMax = sums.transferTokensMax!;
      extra.fetchedBlocksMax = sums.fetchedBlocksMax!;
      extra.wantedBlocksPerStep = sums.wanted! / sums.heads!;
      extra.transferBytesPerStep = sums.transferBytes! / steps;
    }
    return { method: describeMethod(method), accuracy: ok / asked, firstAccuracy: first / examples.length, bytesRatio: ratio / ratioN, steps: Q, extra };
  });
}

/** {@link evaluateKVMethods} for one method. */
export function evaluateKVDecode(model: TinyDecoder, examples: readonly RetrievalExample[], method: KVMethod, o: { questions?: number } = {}): KVDecodeResult {
  return evaluateKVMethods(model, examples, [method], o)[0]!;
}

/** A short label, e.g. `snapkv(budget=64)`. */
export function describeMethod(m: KVMethod): string {
  const { kind, ...rest } = m as KVMethod & Record<string, unknown>;
  const args = Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`).join(',');
  return args ? `${kind}(${args})` : kind;
}

function compress(model: TinyDecoder, pre: PrefillResult, N: number, method: Exclude<KVMethod, { kind: 'alisa' }>): { provider: KVProvider; bytes: number; nosa?: NosaLayer[] } {
  const fp16Tok = (l: number): number => kvBytesPerToken(model.layers[l]!.headDim, 'float16') * model.layers[l]!.kvHeads;
  switch (method.kind) {
    case 'full': {
      const layers = pre.kv.map((kv, l) => selectTokens(kv, model.layers[l]!.kvHeads, model.layers[l]!.headDim, [...Array(N).keys()]));
      return { provider: compressedProvider(layers), bytes: layers.reduce((s, _, l) => s + fp16Tok(l) * N, 0) };
    }
    case 'streaming': case 'h2o': case 'snapkv': {
      const layers: CompressedLayer[] = pre.kv.map((kv, l) => {
        const L = model.layers[l]!;
        const keep = method.kind === 'streaming'
          ? streamingKeep(N, method.budget, method.sinks)
          : method.kind === 'h2o'
            ? h2oKeep(pre.probs![l]!, L.numHeads, L.kvHeads, N, method.budget, method.recent)
            : snapkvKeep(pre.queries[l]!, kv.k, { numHeads: L.numHeads, kvHeads: L.kvHeads, headDim: L.headDim, len: N, budget: method.budget, ...(method.window !== undefined ? { window: method.window } : {}), ...(method.kernel !== undefined ? { kernel: method.kernel } : {}) });
        return selectTokens(kv, L.kvHeads, L.headDim, keep);
      });
      return { provider: compressedProvider(layers), bytes: layers.reduce((s, c, l) => s + fp16Tok(l) * c.kLen, 0) };
    }
    case 'quant': {
      let bytes = 0;
      const layers = pre.kv.map((kv, l) => {
        const L = model.layers[l]!;
        const rows = L.kvHeads * N;
        const kq = dequantizeKV(quantizeKV(kv.k, rows, L.headDim, method));
        const vq = dequantizeKV(quantizeKV(kv.v, rows, L.headDim, method));
        bytes += kvBytesPerToken(L.headDim, method) * L.kvHeads * N;
        return selectTokens({ ...kv, k: kq, v: vq }, L.kvHeads, L.headDim, [...Array(N).keys()]);
      });
      return { provider: compressedProvider(layers), bytes };
    }
    case 'shadowkv': {
      const layers = pre.kv.map((kv, l) => buildShadowLayer(kv, model.layers[l]!.kvHeads, model.layers[l]!.headDim, method, model.layers[l]!.ropeInvFreq));
      const bytes = layers.reduce((s, L) => s + shadowDeviceBytes(L).device, 0);
      return { provider: shadowProvider(layers, model.layers.map((L) => L.numHeads)), bytes };
    }
    case 'nosa': {
      // Query-agnostic scores: the prefill's accumulated attention (a stand-in for NOSA's trained eviction head).
      const { kind: _, ...cfg } = method;
      const layers = pre.kv.map((kv, l) => {
        const L = model.layers[l]!;
        return buildNosaLayer(kv, L, accumulatedAttention(pre.probs![l]!, L.numHeads, L.kvHeads, N), cfg);
      });
      return { provider: nosaProvider(layers), bytes: layers.reduce((s, L) => s + L.deviceBytes().device, 0), nosa: layers };
    }
  }
}
