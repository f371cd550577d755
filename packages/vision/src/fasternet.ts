import { LeanformerError, type GraphBuilder, type Value } from '@leanformer/core';
import type { ModelOptions, VisionModel } from './model.js';
import { activation, batchNorm, child, conv2d, dimOf, finishModel, linear, modelRng, splitSizes, visionBuilder, type VisionBlockInit } from './timm-layers.js';

/**
 * FasterNet (Chen et al., CVPR 2023, "Run, Don't Walk"): partial convolution (PConv) — a 3×3
 * conv over `1/nDiv` of the channels, identity on the rest — followed by a 1×1–BN–act–1×1 MLP,
 * in timm's `fasternet` module layout (parameter names are timm's state-dict keys).
 */

/** A FasterNet variant's settings. */
export interface FasterNetConfig {
  readonly embedDim: number;
  readonly depths: readonly number[];
  readonly mlpRatio: number;
  readonly nDiv: number;
  readonly patchSize: number;
  readonly mergeSize: number;
  /** Width of the 1×1 conv head before the classifier. */
  readonly featureDim: number;
  readonly act: 'gelu' | 'relu';
}

const base = { mlpRatio: 2, nDiv: 4, patchSize: 4, mergeSize: 2, featureDim: 1280 } as const;

/** T0–L configurations of the paper and timm. */
export const FASTERNET_CONFIGS: Readonly<Record<'t0' | 't1' | 't2' | 's' | 'm' | 'l', FasterNetConfig>> = Object.freeze({
  t0: { ...base, embedDim: 40, depths: [1, 2, 8, 2], act: 'gelu' },
  t1: { ...base, embedDim: 64, depths: [1, 2, 8, 2], act: 'gelu' },
  t2: { ...base, embedDim: 96, depths: [1, 2, 8, 2], act: 'relu' },
  s: { ...base, embedDim: 128, depths: [1, 2, 13, 2], act: 'relu' },
  m: { ...base, embedDim: 144, depths: [3, 4, 18, 3], act: 'relu' },
  l: { ...base, embedDim: 192, depths: [3, 4, 18, 3], act: 'relu' },
});

/** FasterNet variant names. */
export type FasterNetVariant = keyof typeof FASTERNET_CONFIGS;

/**
 * Partial convolution: 3×3 conv (no bias) on the first `floor(C / nDiv)` channels, the rest
 * passed through untouched (timm's `split_cat` form). Parameter: `${prefix}.partial_conv3.weight`.
 *
 * @example
 * ```ts
 * const y = partialConv(b, x, { prefix: 'stages.0.blocks.0.spatial_mixing', rng: rng(0), nDiv: 4 });
 * ```
 */
export function partialConv(b: GraphBuilder, x: Value, cfg: { readonly nDiv: number } & VisionBlockInit): Value {
  const c = dimOf(x, 1);
  const nDiv = cfg.nDiv;
  if (!Number.isInteger(nDiv) || nDiv < 1 || nDiv > c) throw new LeanformerError('INVALID_ARGUMENT', `${cfg.prefix}: nDiv must be an integer in [1, ${c}], got ${nDiv}`);
  const cp = Math.floor(c / nDiv);
  const conv = child(cfg, 'partial_conv3');
  if (cp === c) return conv2d(b, x, conv, { out: c, kernel: 3, pad: 1 });
  const [x1, x2] = splitSizes(b, x, 1, [cp, c - cp]) as [Value, Value];
  return b.concat([conv2d(b, x1, conv, { out: cp, kernel: 3, pad: 1 }), x2], 1);
}

/** Settings of a FasterNet block. */
export interface FasterNetBlockConfig {
  readonly nDiv: number;
  readonly mlpRatio: number;
  readonly act: 'gelu' | 'relu';
}

/**
 * FasterNet block: `x + MLP(PConv(x))`, MLP = 1×1 conv → BN → act → 1×1 conv (`mlp.0`, `mlp.1`, `mlp.3`).
 *
 * @example
 * ```ts
 * x = fasterNetBlock(b, x, { prefix: 'stages.0.blocks.0', rng: rng(0), nDiv: 4, mlpRatio: 2, act: 'gelu' });
 * ```
 */
export function fasterNetBlock(b: GraphBuilder, x: Value, cfg: FasterNetBlockConfig & VisionBlockInit): Value {
  const c = dimOf(x, 1);
  const hidden = Math.trunc(c * cfg.mlpRatio);
  const t = partialConv(b, x, { ...child(cfg, 'spatial_mixing'), nDiv: cfg.nDiv });
  let h = conv2d(b, t, child(cfg, 'mlp.0'), { out: hidden, kernel: 1 });
  h = activation(b, batchNorm(b, h, child(cfg, 'mlp.1')), cfg.act);
  h = conv2d(b, h, child(cfg, 'mlp.3'), { out: c, kernel: 1, std: Math.sqrt(1 / hidden) });
  return b.add(x, h);
}

/** Options of {@link fasternet}. */
export interface FasterNetOptions extends ModelOptions {
  readonly imgSize?: number;
  readonly inChans?: number;
  readonly config?: FasterNetConfig;
}

/**
 * Builds FasterNet-T0…L with timm's head (global pool → 1×1 conv to 1280 → act → linear).
 *
 * @example
 * ```ts
 * const m = fasternet('t0', { numClasses: 1000 });
 * modelCost(m); // ≈ 3.9M params, 0.34 G MACs
 * ```
 */
export function fasternet(variant: FasterNetVariant, options: FasterNetOptions = {}): VisionModel {
  const cfg = options.config ?? FASTERNET_CONFIGS[variant];
  if (!cfg) throw new LeanformerError('INVALID_ARGUMENT', `fasternet: unknown variant '${String(variant)}'; expected one of ${Object.keys(FASTERNET_CONFIGS).join(', ')}`);
  const img = options.imgSize ?? 224;
  const inChans = options.inChans ?? 3;
  const numClasses = options.numClasses ?? 1000;
  const stride = cfg.patchSize * cfg.mergeSize ** (cfg.depths.length - 1);
  if (!Number.isInteger(img) || img < stride || img % stride !== 0) throw new LeanformerError('INVALID_ARGUMENT', `fasternet: imgSize must be a positive multiple of ${stride}, got ${img}`);
  if (!Number.isInteger(numClasses) || numClasses < 0) throw new LeanformerError('INVALID_ARGUMENT', `fasternet: numClasses must be a non-negative integer, got ${numClasses}`);
  const name = `fasternet_${variant}`;
  const b = visionBuilder(name);
  const r = modelRng(options);
  const at = (prefix: string): VisionBlockInit => ({ prefix, rng: r });
  const batch = options.batch ?? 'batch';
  const input = b.input('input', 'float32', [batch, inChans, img, img]);
  let x = conv2d(b, input, at('patch_embed.proj'), { out: cfg.embedDim, kernel: cfg.patchSize, stride: cfg.patchSize });
  x = batchNorm(b, x, at('patch_embed.norm'));
  for (let i = 0; i < cfg.depths.length; i++) {
    const dim = cfg.embedDim * 2 ** i;
    if (i > 0) {
      x = conv2d(b, x, at(`stages.${i}.downsample.reduction`), { out: dim, kernel: cfg.mergeSize, stride: cfg.mergeSize });
      x = batchNorm(b, x, at(`stages.${i}.downsample.norm`));
    }
    for (let d = 0; d < cfg.depths[i]!; d++) x = fasterNetBlock(b, x, { ...at(`stages.${i}.blocks.${d}`), nDiv: cfg.nDiv, mlpRatio: cfg.mlpRatio, act: cfg.act });
  }
  x = b.globalAvgPool(x);
  x = activation(b, conv2d(b, x, at('conv_head'), { out: cfg.featureDim, kernel: 1 }), cfg.act);
  let y = b.flatten(x, 1);
  if (numClasses > 0) y = linear(b, y, at('classifier'), numClasses);
  return finishModel(b, y, { name, inputName: 'input', inputShape: [batch, inChans, img, img], numClasses });
}
