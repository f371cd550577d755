import { LeanformerError, type GraphBuilder, type Value } from '@leanformer/core';
import type { ModelOptions, VisionModel } from './model.js';
import { child, conv2d, dimOf, finishModel, layerNorm, linear, modelRng, normalParam, shapeOf, splitSizes, visionBuilder, type VisionBlockInit } from './timm-layers.js';

/**
 * A plain ViT classifier in timm's layout ({@link timmVit}; core's `vit` is the Hugging Face-named one)
 * (timm `vision_transformer` names: `cls_token`, `pos_embed`,
 * `patch_embed.proj`, `blocks.i.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}`, `norm`, `head`)
 * with attention written as MatMul/Softmax so its CLS-attention rows can be read (HiRED) and
 * every op lowers to ORT (including TensorRT) and tfjs.
 */

/** Settings of {@link timmVit}. */
export interface TimmVitConfig {
  readonly imgSize: number;
  readonly patchSize: number;
  readonly embedDim: number;
  readonly depth: number;
  readonly numHeads: number;
  readonly mlpRatio: number;
  readonly inChans?: number;
}

/** Named ViT sizes (timm's tiny/small/base at 224, patch 16) plus a test-sized one. */
export const TIMM_VIT_CONFIGS: Readonly<Record<'micro' | 'tiny' | 'small' | 'base', TimmVitConfig>> = Object.freeze({
  micro: { imgSize: 64, patchSize: 8, embedDim: 64, depth: 4, numHeads: 4, mlpRatio: 4 },
  tiny: { imgSize: 224, patchSize: 16, embedDim: 192, depth: 12, numHeads: 3, mlpRatio: 4 },
  small: { imgSize: 224, patchSize: 16, embedDim: 384, depth: 12, numHeads: 6, mlpRatio: 4 },
  base: { imgSize: 224, patchSize: 16, embedDim: 768, depth: 12, numHeads: 12, mlpRatio: 4 },
});

/** Early token dropping inside the encoder (HiRED-style, one image): keep the top-`keep` patch tokens by CLS attention. */
export interface TokenDrop {
  /** Drop after this block (0-based); its CLS-attention row scores the tokens. */
  readonly afterLayer: number;
  /** Patch tokens kept (the CLS token is always kept). */
  readonly keep: number;
}

/** Options of {@link timmVit}. */
export interface TimmVitOptions extends ModelOptions {
  readonly config?: TimmVitConfig;
  /** Blocks whose head-averaged CLS-attention row over patch tokens becomes an output `cls_attn.<i>` [B, N]. */
  readonly exposeClsAttention?: readonly number[];
  /** Also output the final patch tokens `tokens` [B, N, D] (after the final norm). */
  readonly exposeTokens?: boolean;
  readonly tokenDrop?: TokenDrop;
}

/**
 * Multi-head self-attention (timm `Attention`, parameters `${prefix}.qkv`, `${prefix}.proj`) on
 * tokens x [B, N, D]: returns the output and the attention probabilities [B, h, N, N].
 *
 * @example
 * ```ts
 * const { out, probs } = multiHeadSelfAttention(b, x, { prefix: 'blocks.0.attn', rng: rng(0), numHeads: 4 });
 * ```
 */
export function multiHeadSelfAttention(b: GraphBuilder, x: Value, cfg: { readonly numHeads: number; readonly qkvBias?: boolean } & VisionBlockInit): { out: Value; probs: Value } {
  const D = dimOf(x, 2);
  const numHeads = cfg.numHeads;
  if (D % numHeads !== 0) throw new LeanformerError('INVALID_ARGUMENT', `${cfg.prefix}: dim ${D} is not divisible by ${numHeads} heads`);
  const hd = D / numHeads;
  const qkv = linear(b, x, child(cfg, 'qkv'), 3 * D, { bias: cfg.qkvBias ?? true });
  const t = b.transpose(b.reshape(qkv, [0, 0, 3, numHeads, hd]), [2, 0, 3, 1, 4]); // [3, B, h, N, hd]
  const [q, k, v] = splitSizes(b, t, 0, [1, 1, 1]).map((p) => b.squeeze(p, [0])) as [Value, Value, Value];
  const scores = b.mul(b.matmul(q, b.transpose(k, [0, 1, 3, 2])), hd ** -0.5);
  const probs = b.softmax(scores, -1);
  const ctx = b.transpose(b.matmul(probs, v), [0, 2, 1, 3]); // [B, N, h, hd]
  return { out: linear(b, b.reshape(ctx, [0, 0, D]), child(cfg, 'proj'), D), probs };
}

/** Head-averaged attention of the CLS query (token 0) over the patch tokens: [B, h, N, N] → [B, N−1]. */
export function clsAttention(b: GraphBuilder, probs: Value): Value {
  const N = dimOf(probs, 2);
  const mean = b.reduceMean(b.gather(probs, 0, 2), [1], false);
  return b.slice(mean, [1], [N], [1]);
}

/** Keeps the CLS token and the `keep` patch tokens with the highest `scores` [B, N−1], in score order. */
export function keepTopTokens(b: GraphBuilder, x: Value, scores: Value, keep: number): Value {
  const [, n, d] = shapeOf(x);
  const N = (n as number) - 1;
  if (!Number.isInteger(keep) || keep < 1 || keep > N) throw new LeanformerError('INVALID_ARGUMENT', `keepTopTokens: keep must be an integer in [1, ${N}], got ${keep}`);
  const [cls, patches] = splitSizes(b, x, 1, [1, N]) as [Value, Value];
  const idx3 = b.unsqueeze(b.topK(scores, keep, { axis: 1 }).indices, [2]);
  // [B, keep, 1] → [B, keep, D] for GatherElements: expand to (B from the indices' shape, keep, D).
  const target = b.concat([b.shape(idx3, undefined, 2), b.int64([d as number])], 0);
  const idxD = b.refine(b.expand(idx3, target), [shapeOf(idx3)[0] ?? null, keep, d ?? null]);
  const kept = b.gatherElements(patches, idxD, 1);
  return b.concat([cls, kept], 1);
}

/**
 * Builds a ViT classifier with timm's parameter names (`logits` from the CLS token after the
 * final norm; `features` with `numClasses: 0`). Optional outputs: `cls_attn.<i>` and `tokens`;
 * optional early token drop.
 *
 * @example
 * ```ts
 * const m = timmVit('micro', { numClasses: 10, exposeClsAttention: [0, 3], tokenDrop: { afterLayer: 1, keep: 13 } });
 * ```
 */
export function timmVit(size: keyof typeof TIMM_VIT_CONFIGS | 'custom', options: TimmVitOptions = {}): VisionModel {
  const cfg = options.config ?? TIMM_VIT_CONFIGS[size as keyof typeof TIMM_VIT_CONFIGS];
  if (!cfg) throw new LeanformerError('INVALID_ARGUMENT', `timmVit: unknown size '${size}'; expected one of ${Object.keys(TIMM_VIT_CONFIGS).join(', ')} or 'custom' with a config`);
  if (cfg.imgSize % cfg.patchSize !== 0) throw new LeanformerError('INVALID_ARGUMENT', `timmVit: imgSize ${cfg.imgSize} is not a multiple of patchSize ${cfg.patchSize}`);
  const numClasses = options.numClasses ?? 1000;
  const drop = options.tokenDrop;
  if (drop && (!Number.isInteger(drop.afterLayer) || drop.afterLayer < 0 || drop.afterLayer >= cfg.depth - 1)) {
    throw new LeanformerError('INVALID_ARGUMENT', `timmVit: tokenDrop.afterLayer must be in [0, ${cfg.depth - 2}], got ${drop.afterLayer}`);
  }
  for (const l of options.exposeClsAttention ?? []) {
    if (!Number.isInteger(l) || l < 0 || l >= cfg.depth) throw new LeanformerError('INVALID_ARGUMENT', `timmVit: exposeClsAttention entry ${l} is not a block index in [0, ${cfg.depth - 1}]`);
  }
  const name = `vit_${size}`;
  const b = visionBuilder(name);
  const r = modelRng(options);
  const at = (prefix: string): VisionBlockInit => ({ prefix, rng: r });
  const batch = options.batch ?? 'batch';
  const inChans = cfg.inChans ?? 3;
  const D = cfg.embedDim;
  const g = cfg.imgSize / cfg.patchSize;
  const input = b.input('input', 'float32', [batch, inChans, cfg.imgSize, cfg.imgSize]);
  let x = conv2d(b, input, at('patch_embed.proj'), { out: D, kernel: cfg.patchSize, stride: cfg.patchSize, bias: true, std: 0.02 });
  x = b.transpose(b.reshape(x, [0, D, g * g]), [0, 2, 1]); // [B, N, D]
  const clsTok = normalParam(b, at('cls_token'), 'cls_token', [1, 1, D], 0.02);
  // Broadcast the CLS token over the batch: Expand to [B, 1, D] using x's leading dim.
  const clsShape = b.concat([b.shape(x, 0, 1), b.int64([1, D])], 0);
  const cls = b.refine(b.expand(clsTok, clsShape), [batch, 1, D]);
  x = b.concat([cls, x], 1);
  x = b.add(x, normalParam(b, at('pos_embed'), 'pos_embed', [1, g * g + 1, D], 0.02));
  const outputs: { v: Value; name: string }[] = [];
  for (let i = 0; i < cfg.depth; i++) {
    const p = `blocks.${i}`;
    const { out, probs } = multiHeadSelfAttention(b, layerNorm(b, x, at(`${p}.norm1`)), { ...at(`${p}.attn`), numHeads: cfg.numHeads });
    x = b.add(x, out);
    const hidden = Math.trunc(D * cfg.mlpRatio);
    const h = linear(b, b.gelu(linear(b, layerNorm(b, x, at(`${p}.norm2`)), at(`${p}.mlp.fc1`), hidden)), at(`${p}.mlp.fc2`), D);
    x = b.add(x, h);
    const needScores = options.exposeClsAttention?.includes(i) || drop?.afterLayer === i;
    if (needScores) {
      const scores = clsAttention(b, probs);
      if (options.exposeClsAttention?.includes(i)) outputs.push({ v: scores, name: `cls_attn.${i}` });
      if (drop?.afterLayer === i) x = keepTopTokens(b, x, scores, drop.keep);
    }
  }
  x = layerNorm(b, x, at('norm'));
  const n = dimOf(x, 1);
  const [clsOut, patchOut] = splitSizes(b, x, 1, [1, n - 1]) as [Value, Value];
  let y = b.squeeze(clsOut, [1]);
  if (numClasses > 0) y = linear(b, y, at('head'), numClasses);
  const model = finishModel(b, y, { name, inputName: 'input', inputShape: [batch, inChans, cfg.imgSize, cfg.imgSize], numClasses });
  if (options.exposeTokens) b.output(patchOut, 'tokens');
  for (const o of outputs) b.output(o.v, o.name);
  return model;
}
