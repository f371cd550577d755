import { LeanformerError } from '@leanformer/core';
import {
  argmaxAnswer, decodeStep, prefill, type KVProvider, type PrefillResult, type RetrievalExample, type TinyDecoder,
} from '@leanformer/attention';
import { compressedProvider, h2oKeep, selectTokens, snapkvKeep, streamingKeep, type CompressedLayer } from './eviction.js';
import { dequantizeKV, kvBytesPerToken, quantizeKV } from './quant.js';
import { buildShadowLayer, shadowDeviceBytes, shadowProvider, type ShadowKVConfig } from './shadowkv.js';

/** A KV-cache method evaluated by {@link evaluateKVMethod}. Budgets are tokens kept per kv head. */
export type KVMethod =
  | { readonly kind: 'full' }
  | { readonly kind: 'streaming'; readonly budget: number; readonly sinks?: number }
  | { readonly kind: 'h2o'; readonly budget: number; readonly recent?: number }
  | { readonly kind: 'snapkv'; readonly budget: number; readonly window?: number; readonly kernel?: number }
  | { readonly kind: 'quant'; readonly bits: 4 | 8; readonly groupSize?: number }
  | ({ readonly kind: 'shadowkv' } & ShadowKVConfig);

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
  if (examples.length === 0) throw new LeanformerError('INVALID_ARGUMENT', 'evaluateKVMethod: no examples');
  let ok = 0, ratio = 0;
  for (const ex of examples) {
    const N = ex.tokens.length;
    const pre = prefill(model, ex.tokens, { probs: method.kind === 'h2o' });
    const { provider, bytes } = compress(model, pre, N, method);
    const logits = decodeStep(model, ex.tokens[N - 1]!, N, provider);
    if (argmaxAnswer(model, logits) === ex.answer) ok++;
    const full = model.layers.reduce((s, L) => s + kvBytesPerToken(L.headDim, 'float16') * L.kvHeads * N, 0);
    ratio += bytes / full;
  }
  return { method: describeMethod(method), accuracy: ok / examples.length, bytesRatio: ratio / examples.length };
}

/** A short label, e.g. `snapkv(budget=64)`. */
export function describeMethod(m: KVMethod): string {
  const { kind, ...rest } = m as KVMethod & Record<string, unknown>;
  const args = Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`).join(',');
  return args ? `${kind}(${args})` : kind;
}

function compress(model: TinyDecoder, pre: PrefillResult, N: number, method: KVMethod): { provider: KVProvider; bytes: number } {
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
  }
}
