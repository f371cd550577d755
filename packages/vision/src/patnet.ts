import { LeanformerError, type GraphBuilder, type Value } from '@leanformer/core';
import { FASTERNET_CONFIGS } from './fasternet.js';
import type { ModelOptions, VisionModel } from './model.js';
import { activation, batchNorm, child, conv2d, dimOf, finishModel, linear, modelRng, shapeOf, splitSizes, visionBuilder, type VisionBlockInit } from './timm-layers.js';
import { multiHeadSelfAttention } from './vit.js';

/**
 * PATNet (partial visual attention on a FasterNet skeleton). Each block splits its channels:
 * - PAT_ch: a 3×3 conv on the first `C/nDiv` channels (PConv) and Gaussian channel attention on
 *   the rest — per-channel mean and variance over H×W, a 1×1 conv over [mean; variance] and a
 *   sigmoid gate on those channels;
 * - PAT_sp: inside the MLP, a 1×1 conv → sigmoid spatial map computed from the first
 *   `hidden/nDiv` hidden channels, which gates them;
 * - PAT_sf: in the last stage the PConv is replaced by multi-head self-attention over the first
 *   `C/nDiv` channels (tokens = pixels).
 * This is our reading of the method as summarised in METHODS.md; there is no timm reference
 * to match, so parameter names follow the FasterNet layout plus `channel_attn`, `spatial_attn`
 * and `attn` modules.
 */

/** PATNet block kinds. */
export type PatMixer = 'pat_ch' | 'pat_sf';

/** Settings of one PATNet block. */
export interface PatBlockConfig {
  readonly nDiv: number;
  readonly mlpRatio: number;
  readonly act: 'gelu' | 'relu';
  readonly mixer: PatMixer;
  /** Heads of PAT_sf (default 2). */
  readonly numHeads?: number;
}

/**
 * Gaussian channel attention on x [B, C, H, W]: sigmoid(conv1×1([mean; var])) ⊙ x, with the
 * 1×1 conv at `${prefix}.channel_attn`.
 */
export function gaussianChannelAttention(b: GraphBuilder, x: Value, init: VisionBlockInit): Value {
  const C = dimOf(x, 1);
  const mean = b.reduceMean(x, [2, 3]);
  const centered = b.sub(x, mean);
  const variance = b.reduceMean(b.mul(centered, centered), [2, 3]);
  const stats = b.concat([mean, variance], 1);
  const gate = b.sigmoid(conv2d(b, stats, child(init, 'channel_attn'), { out: C, kernel: 1, bias: true, std: 0.02 }));
  return b.mul(x, gate);
}

/** PAT_ch mixer: PConv on the first C/nDiv channels, Gaussian channel attention on the rest. */
export function patChannelMixer(b: GraphBuilder, x: Value, cfg: { readonly nDiv: number } & VisionBlockInit): Value {
  const c = dimOf(x, 1);
  const cp = Math.floor(c / cfg.nDiv);
  if (cp < 1 || cp >= c) throw new LeanformerError('INVALID_ARGUMENT', `${cfg.prefix}: nDiv ${cfg.nDiv} leaves no channels for one of the two branches of ${c}`);
  const [x1, x2] = splitSizes(b, x, 1, [cp, c - cp]) as [Value, Value];
  const y1 = conv2d(b, x1, child(cfg, 'partial_conv3'), { out: cp, kernel: 3, pad: 1 });
  return b.concat([y1, gaussianChannelAttention(b, x2, cfg)], 1);
}

/** PAT_sf mixer: self-attention over pixels on the first C/nDiv channels, the rest untouched. */
export function patSelfAttentionMixer(b: GraphBuilder, x: Value, cfg: { readonly nDiv: number; readonly numHeads: number } & VisionBlockInit): Value {
  const [, c, h, w] = shapeOf(x);
  const C = c as number;
  const cp = Math.floor(C / cfg.nDiv);
  const n = (h as number) * (w as number);
  const [x1, x2] = splitSizes(b, x, 1, [cp, C - cp]) as [Value, Value];
  const tokens = b.transpose(b.reshape(x1, [0, cp, n]), [0, 2, 1]);
  const { out } = multiHeadSelfAttention(b, tokens, { ...child(cfg, 'attn'), numHeads: cfg.numHeads });
  const back = b.reshape(b.transpose(out, [0, 2, 1]), [0, cp, h as number, w as number]);
  return b.concat([back, x2], 1);
}

/** PAT_sp MLP: 1×1 → BN → act → spatial gate on the first hidden/nDiv channels → 1×1. */
export function patSpatialMlp(b: GraphBuilder, x: Value, cfg: { readonly nDiv: number; readonly mlpRatio: number; readonly act: 'gelu' | 'relu' } & VisionBlockInit): Value {
  const c = dimOf(x, 1);
  const hidden = Math.trunc(c * cfg.mlpRatio);
  let h = conv2d(b, x, child(cfg, 'mlp.0'), { out: hidden, kernel: 1 });
  h = activation(b, batchNorm(b, h, child(cfg, 'mlp.1')), cfg.act);
  const hp = Math.max(1, Math.floor(hidden / cfg.nDiv));
  const [h1, h2] = splitSizes(b, h, 1, [hp, hidden - hp]) as [Value, Value];
  const map = b.sigmoid(conv2d(b, h1, child(cfg, 'spatial_attn'), { out: 1, kernel: 1, bias: true, std: 0.02 }));
  h = b.concat([b.mul(h1, map), h2], 1);
  return conv2d(b, h, child(cfg, 'mlp.3'), { out: c, kernel: 1, std: Math.sqrt(1 / hidden) });
}

/**
 * One PATNet block: `x + PAT_sp-MLP(mixer(x))`.
 *
 * @example
 * ```ts
 * x = patBlock(b, x, { prefix: 'stages.0.blocks.0', rng: rng(0), nDiv: 4, mlpRatio: 2, act: 'gelu', mixer: 'pat_ch' });
 * ```
 */
export function patBlock(b: GraphBuilder, x: Value, cfg: PatBlockConfig & VisionBlockInit): Value {
  const mixing = child(cfg, 'spatial_mixing');
  const mixed = cfg.mixer === 'pat_sf'
    ? patSelfAttentionMixer(b, x, { ...mixing, nDiv: cfg.nDiv, numHeads: cfg.numHeads ?? 2 })
    : patChannelMixer(b, x, { ...mixing, nDiv: cfg.nDiv });
  return b.add(x, patSpatialMlp(b, mixed, cfg));
}

/** PATNet variants (FasterNet T0–T2 widths and depths). */
export type PatNetVariant = 't0' | 't1' | 't2';

/**
 * Builds a PATNet classifier: FasterNet's stem, merges and head, PAT_ch blocks in stages 1–3 and
 * PAT_sf blocks in the last stage, every MLP with PAT_sp.
 *
 * @example
 * ```ts
 * const m = patnet('t0', { numClasses: 10, imgSize: 224 });
 * ```
 */
export function patnet(variant: PatNetVariant, options: ModelOptions & { imgSize?: number; inChans?: number } = {}): VisionModel {
  const cfg = FASTERNET_CONFIGS[variant];
  if (!cfg || !['t0', 't1', 't2'].includes(variant)) throw new LeanformerError('INVALID_ARGUMENT', `patnet: unknown variant '${String(variant)}'; expected t0, t1 or t2`);
  const img = options.imgSize ?? 224;
  const numClasses = options.numClasses ?? 1000;
  const inChans = options.inChans ?? 3;
  if (!Number.isInteger(img) || img % 32 !== 0) throw new LeanformerError('INVALID_ARGUMENT', `patnet: imgSize must be a multiple of 32, got ${img}`);
  const name = `patnet_${variant}`;
  const b = visionBuilder(name);
  const r = modelRng(options);
  const at = (prefix: string): VisionBlockInit => ({ prefix, rng: r });
  const batch = options.batch ?? 'batch';
  const input = b.input('input', 'float32', [batch, inChans, img, img]);
  let x = batchNorm(b, conv2d(b, input, at('patch_embed.proj'), { out: cfg.embedDim, kernel: cfg.patchSize, stride: cfg.patchSize }), at('patch_embed.norm'));
  const last = cfg.depths.length - 1;
  for (let i = 0; i <= last; i++) {
    const dim = cfg.embedDim * 2 ** i;
    if (i > 0) x = batchNorm(b, conv2d(b, x, at(`stages.${i}.downsample.reduction`), { out: dim, kernel: cfg.mergeSize, stride: cfg.mergeSize }), at(`stages.${i}.downsample.norm`));
    for (let d = 0; d < cfg.depths[i]!; d++) {
      x = patBlock(b, x, { ...at(`stages.${i}.blocks.${d}`), nDiv: cfg.nDiv, mlpRatio: cfg.mlpRatio, act: cfg.act, mixer: i === last ? 'pat_sf' : 'pat_ch', numHeads: 2 });
    }
  }
  x = activation(b, conv2d(b, b.globalAvgPool(x), at('conv_head'), { out: cfg.featureDim, kernel: 1 }), cfg.act);
  let y = b.flatten(x, 1);
  if (numClasses > 0) y = linear(b, y, at('classifier'), numClasses);
  return finishModel(b, y, { name, inputName: 'input', inputShape: [batch, inChans, img, img], numClasses });
}
