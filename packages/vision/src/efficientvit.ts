import { LeanformerError, Tensor, type GraphBuilder, type Value } from '@leanformer/core';
import type { ModelOptions, VisionModel } from './model.js';
import {
  batchNorm, child, concatAll, convNorm, dimOf, finishModel, linear, makeDivisible, modelRng, mulDim, normalParam, pointwiseConvNorm1d, reshapeTo,
  shapeOf, splitSizes, squeezeExcite, visionBuilder, type VisionBlockInit,
} from './timm-layers.js';

/**
 * EfficientViT (MSRA, Liu et al. 2023): memory-efficient sandwich blocks
 * (DWConv + FFN, cascaded group attention, DWConv + FFN), built with timm's
 * `efficientvit_msra` module layout so parameter names are timm's state-dict keys.
 */

/** Per-stage settings of an EfficientViT variant (three stages). */
export interface EfficientVitConfig {
  readonly embedDim: readonly [number, number, number];
  readonly keyDim: readonly [number, number, number];
  readonly depth: readonly [number, number, number];
  readonly numHeads: readonly [number, number, number];
  readonly windowSize: readonly [number, number, number];
  /** Kernel of the depthwise conv on Q, per head index. */
  readonly kernels: readonly number[];
}

/** The M0–M5 configurations of the paper (Table 1) and timm. */
export const EFFICIENTVIT_CONFIGS: Readonly<Record<'m0' | 'm1' | 'm2' | 'm3' | 'm4' | 'm5', EfficientVitConfig>> = Object.freeze({
  m0: { embedDim: [64, 128, 192], keyDim: [16, 16, 16], depth: [1, 2, 3], numHeads: [4, 4, 4], windowSize: [7, 7, 7], kernels: [5, 5, 5, 5] },
  m1: { embedDim: [128, 144, 192], keyDim: [16, 16, 16], depth: [1, 2, 3], numHeads: [2, 3, 3], windowSize: [7, 7, 7], kernels: [7, 5, 3, 3] },
  m2: { embedDim: [128, 192, 224], keyDim: [16, 16, 16], depth: [1, 2, 3], numHeads: [4, 3, 2], windowSize: [7, 7, 7], kernels: [7, 5, 3, 3] },
  m3: { embedDim: [128, 240, 320], keyDim: [16, 16, 16], depth: [1, 2, 3], numHeads: [4, 3, 4], windowSize: [7, 7, 7], kernels: [5, 5, 5, 5] },
  m4: { embedDim: [128, 256, 384], keyDim: [16, 16, 16], depth: [1, 2, 3], numHeads: [4, 4, 4], windowSize: [7, 7, 7], kernels: [7, 5, 3, 3] },
  m5: { embedDim: [192, 288, 384], keyDim: [16, 16, 16], depth: [1, 3, 4], numHeads: [3, 3, 4], windowSize: [7, 7, 7], kernels: [7, 5, 3, 3] },
});

/** EfficientViT variant names. */
export type EfficientVitVariant = keyof typeof EFFICIENTVIT_CONFIGS;

/** Settings of one cascaded group attention. */
export interface CascadedGroupAttentionConfig {
  readonly dim: number;
  readonly keyDim: number;
  readonly numHeads: number;
  /** Value dim per head = attnRatio · keyDim. */
  readonly attnRatio: number;
  /** Side of the (square) token grid it attends over; sets the relative-position bias table. */
  readonly resolution: number;
  readonly kernels: readonly number[];
}

/** timm's relative-offset index table: offset (|dy|, |dx|) numbered by first appearance over point pairs. */
export function attentionBiasIndex(resolution: number): { index: BigInt64Array; offsets: number } {
  const pts: [number, number][] = [];
  for (let i = 0; i < resolution; i++) for (let j = 0; j < resolution; j++) pts.push([i, j]);
  const seen = new Map<number, number>();
  const n = pts.length;
  const index = new BigInt64Array(n * n);
  let k = 0;
  for (const p1 of pts) {
    for (const p2 of pts) {
      const key = Math.abs(p1[0] - p2[0]) * 100003 + Math.abs(p1[1] - p2[1]);
      let id = seen.get(key);
      if (id === undefined) { id = seen.size; seen.set(key, id); }
      index[k++] = BigInt(id);
    }
  }
  return { index, offsets: seen.size };
}

/**
 * Cascaded group attention on x [B, C, r, r]: channels are split across heads; head j sees
 * its split plus head j−1's output; Q goes through a depthwise conv; each head adds a learned
 * relative-position bias; outputs are concatenated, passed through ReLU and a 1×1 ConvNorm.
 *
 * @example
 * ```ts
 * const y = cascadedGroupAttention(b, x, { prefix: 'stages.0.blocks.0.mixer.m.attn', rng: rng(0),
 *   dim: 64, keyDim: 16, numHeads: 4, attnRatio: 1, resolution: 7, kernels: [5, 5, 5, 5] });
 * ```
 */
export function cascadedGroupAttention(b: GraphBuilder, x: Value, cfg: CascadedGroupAttentionConfig & VisionBlockInit): Value {
  const [, c, h, w] = shapeOf(x);
  if (c !== cfg.dim || h !== cfg.resolution || w !== cfg.resolution) {
    throw new LeanformerError('SHAPE_MISMATCH', `${cfg.prefix}: expected [B, ${cfg.dim}, ${cfg.resolution}, ${cfg.resolution}], got [${shapeOf(x).join(', ')}]`);
  }
  const r = cfg.resolution;
  const heads = cascadedHeads(b, b.reshape(x, [0, cfg.dim, r * r]), cfg);
  const hd = dimOf(heads, 1);
  return attentionProjection(b, b.reshape(heads, [0, hd, r, r]), cfg, cfg.dim);
}

/** The projection closing a cascaded group attention: 1×1 ConvNorm (BN weight init 0), timm's `proj.1`. */
function attentionProjection(b: GraphBuilder, heads: Value, init: VisionBlockInit, dim: number): Value {
  return convNorm(b, heads, child(init, 'proj.1'), { out: dim, kernel: 1, bnWeightInit: 0 });
}

/**
 * The heads of a cascaded group attention on tokens x [B, C, r·r] (the map flattened row-major):
 * returns ReLU of the concatenated head outputs [B, vd·heads, r·r], before the projection.
 * Heads work on tokens: the 1×1 qkv convs run as 1-D convs and only Q's depthwise conv sees the
 * spatial map, which saves reshapes and layout reorders per head on ORT.
 */
function cascadedHeads(b: GraphBuilder, tokens: Value, cfg: CascadedGroupAttentionConfig & VisionBlockInit): Value {
  const [, c, nn] = shapeOf(tokens);
  const r = cfg.resolution;
  const n = r * r;
  const prefix = cfg.prefix;
  if (c !== cfg.dim || nn !== n) throw new LeanformerError('SHAPE_MISMATCH', `${prefix}: expected tokens [B, ${cfg.dim}, ${n}], got [${shapeOf(tokens).join(', ')}]`);
  if (cfg.dim % cfg.numHeads !== 0) throw new LeanformerError('INVALID_ARGUMENT', `${prefix}: dim ${cfg.dim} is not divisible by numHeads ${cfg.numHeads}`);
  if (cfg.kernels.length < cfg.numHeads) throw new LeanformerError('INVALID_ARGUMENT', `${prefix}: ${cfg.kernels.length} kernels for ${cfg.numHeads} heads`);
  const kd = cfg.keyDim;
  const vd = Math.trunc(cfg.attnRatio * kd);
  const { index, offsets } = attentionBiasIndex(r);
  const biases = normalParam(b, cfg, `${prefix}.attention_biases`, [cfg.numHeads, offsets], 0.02);
  const idx = b.constant(new Tensor('int64', [n, n], index), undefined, `${prefix.replace(/\W/g, '_')}_bias_idx`);
  // All-constant inputs: ORT folds the Gather and Split at session start.
  const headBias = splitSizes(b, b.gather(biases, idx, 1), 0, Array(cfg.numHeads).fill(1));
  const chunks = splitSizes(b, tokens, 1, Array(cfg.numHeads).fill(cfg.dim / cfg.numHeads));
  const outs: Value[] = [];
  let feat = chunks[0]!;
  for (let i = 0; i < cfg.numHeads; i++) {
    if (i > 0) feat = b.add(feat, chunks[i]!);
    const qkv = pointwiseConvNorm1d(b, feat, child(cfg, `qkvs.${i}`), 2 * kd + vd);
    let [q, k, v] = splitSizes(b, qkv, 1, [kd, kd, vd]) as [Value, Value, Value];
    const kq = cfg.kernels[i]!;
    q = b.reshape(q, [0, kd, r, r]);
    q = convNorm(b, q, child(cfg, `dws.${i}`), { out: kd, kernel: kq, pad: Math.floor(kq / 2), groups: kd });
    // Scaling right after the conv + BN (not after the reshape) lets ORT fold it into the conv.
    q = b.mul(q, kd ** -0.5);
    q = b.reshape(q, [0, kd, n]);
    let attn = b.matmul(b.transpose(q, [0, 2, 1]), k); // [B, N, N]
    attn = b.softmax(b.add(attn, headBias[i]!), -1);
    feat = b.matmul(v, b.transpose(attn, [0, 2, 1])); // [B, vd, N]
    outs.push(feat);
  }
  return b.relu(concatAll(b, outs, 1));
}

/**
 * Local window attention: partitions [B, C, H, W] into `window`×`window` windows (zero-padding
 * the bottom/right edge when H or W is not a multiple), runs cascaded group attention per window
 * and reverses the partition. Feature maps no larger than the window are attended whole.
 * Parameters live under `${prefix}.attn`.
 *
 * The 1×1 projection (and the ReLU before it) act per pixel, so they run once on the reassembled
 * map rather than per window — the same values, and on ORT the projection's conv then takes the
 * block's residual add and keeps the stream in its blocked (NCHWc) layout, as in later stages.
 */
export function localWindowAttention(b: GraphBuilder, x: Value, cfg: Omit<CascadedGroupAttentionConfig, 'resolution'> & { readonly window: number } & VisionBlockInit): Value {
  const [batch, c, hh, ww] = shapeOf(x);
  const H = hh as number;
  const W = ww as number;
  const C = c as number;
  const win = cfg.window;
  const attn = child(cfg, 'attn');
  if (H <= win && W <= win) {
    if (H !== W) throw new LeanformerError('NOT_SUPPORTED', `${cfg.prefix}: non-square ${H}×${W} maps smaller than the window are not supported`);
    return cascadedGroupAttention(b, x, { ...cfg, ...attn, resolution: H });
  }
  const bd = batch ?? null;
  const pb = (win - (H % win)) % win;
  const pr = (win - (W % win)) % win;
  const pH = H + pb;
  const pW = W + pr;
  let t = x;
  if (pb || pr) t = b.pad(x, [0, 0, 0, 0, 0, 0, pb, pr]);
  const nH = pH / win;
  const nW = pW / win;
  t = reshapeTo(b, t, [-1, C, nH, win, nW, win], [bd, C, nH, win, nW, win]);
  t = b.transpose(t, [0, 2, 4, 1, 3, 5]);
  // Windows straight to tokens [B·nH·nW, C, win·win].
  t = reshapeTo(b, t, [-1, C, win * win], [mulDim(bd, nH * nW), C, win * win]);
  t = cascadedHeads(b, t, { ...cfg, ...attn, resolution: win });
  const hd = dimOf(t, 1);
  t = reshapeTo(b, t, [-1, nH, nW, hd, win, win], [bd, nH, nW, hd, win, win]);
  t = b.transpose(t, [0, 3, 1, 4, 2, 5]);
  t = reshapeTo(b, t, [-1, hd, pH, pW], [bd, hd, pH, pW]);
  if (pb || pr) t = b.slice(t, [0, 0], [H, W], [2, 3]);
  return attentionProjection(b, t, attn, C);
}

/** timm's ConvMlp: 1×1 ConvNorm → ReLU → 1×1 ConvNorm (BN weight init 0). */
function convMlp(b: GraphBuilder, x: Value, init: VisionBlockInit, hidden: number): Value {
  const c = dimOf(x, 1);
  const h = b.relu(convNorm(b, x, child(init, 'pw1'), { out: hidden, kernel: 1 }));
  return convNorm(b, h, child(init, 'pw2'), { out: c, kernel: 1, bnWeightInit: 0 });
}

/** Residual depthwise 3×3 ConvNorm (token interaction). */
function dwResidual(b: GraphBuilder, x: Value, init: VisionBlockInit, bnWeightInit: number): Value {
  const c = dimOf(x, 1);
  return b.add(x, convNorm(b, x, init, { out: c, kernel: 3, pad: 1, groups: c, bnWeightInit }));
}

/** Settings of one EfficientViT block. */
export interface EfficientVitBlockConfig extends Omit<CascadedGroupAttentionConfig, 'resolution' | 'dim'> {
  readonly window: number;
}

/**
 * One sandwich block: DWConv → FFN → cascaded group attention → DWConv → FFN, each residual.
 *
 * @example
 * ```ts
 * x = efficientVitBlock(b, x, { prefix: 'stages.0.blocks.0', rng: rng(0), keyDim: 16, numHeads: 4, attnRatio: 1, window: 7, kernels: [5, 5, 5, 5] });
 * ```
 */
export function efficientVitBlock(b: GraphBuilder, x: Value, cfg: EfficientVitBlockConfig & VisionBlockInit): Value {
  const dim = dimOf(x, 1);
  x = dwResidual(b, x, child(cfg, 'dw0.m'), 0);
  x = b.add(x, convMlp(b, x, child(cfg, 'ffn0.m'), dim * 2));
  x = b.add(x, localWindowAttention(b, x, { ...cfg, ...child(cfg, 'mixer.m'), dim }));
  x = dwResidual(b, x, child(cfg, 'dw1.m'), 0);
  return b.add(x, convMlp(b, x, child(cfg, 'ffn1.m'), dim * 2));
}

/** Stage downsampling: residual DW + FFN, PatchMerging (1×1 → DW 3×3 s2 → SE → 1×1), residual DW + FFN. */
function subsample(b: GraphBuilder, x: Value, init: VisionBlockInit, outDim: number): Value {
  const inDim = dimOf(x, 1);
  x = dwResidual(b, x, child(init, 'res1.0.m'), 1);
  x = b.add(x, convMlp(b, x, child(init, 'res1.1.m'), inDim * 2));
  const hid = inDim * 4;
  let t = b.relu(convNorm(b, x, child(init, 'patchmerge.conv1'), { out: hid, kernel: 1 }));
  t = b.relu(convNorm(b, t, child(init, 'patchmerge.conv2'), { out: hid, kernel: 3, stride: 2, pad: 1, groups: hid }));
  t = squeezeExcite(b, t, child(init, 'patchmerge.se'), makeDivisible(hid * 0.25, 8, 0));
  x = convNorm(b, t, child(init, 'patchmerge.conv3'), { out: outDim, kernel: 1 });
  x = dwResidual(b, x, child(init, 'res2.0.m'), 1);
  return b.add(x, convMlp(b, x, child(init, 'res2.1.m'), outDim * 2));
}

/** Options of {@link efficientvit}. */
export interface EfficientVitOptions extends ModelOptions {
  /** Square input side (default 224; a multiple of 16). */
  readonly imgSize?: number;
  readonly inChans?: number;
  /** Override the variant's configuration. */
  readonly config?: EfficientVitConfig;
}

/**
 * Builds EfficientViT-M0…M5 with a BN + linear classifier head, matching timm's
 * `efficientvit_m*` structure and parameter names.
 *
 * @example
 * ```ts
 * const m = efficientvit('m0', { numClasses: 1000, seed: 1 });
 * modelCost(m); // { params: 2.16e6…, flops: ~79e6 MACs }
 * ```
 */
export function efficientvit(variant: EfficientVitVariant, options: EfficientVitOptions = {}): VisionModel {
  const cfg = options.config ?? EFFICIENTVIT_CONFIGS[variant];
  if (!cfg) throw new LeanformerError('INVALID_ARGUMENT', `efficientvit: unknown variant '${String(variant)}'; expected one of ${Object.keys(EFFICIENTVIT_CONFIGS).join(', ')}`);
  const img = options.imgSize ?? 224;
  const inChans = options.inChans ?? 3;
  const numClasses = options.numClasses ?? 1000;
  if (!Number.isInteger(img) || img < 16 || img % 16 !== 0) throw new LeanformerError('INVALID_ARGUMENT', `efficientvit: imgSize must be a positive multiple of 16, got ${img}`);
  if (!Number.isInteger(numClasses) || numClasses < 0) throw new LeanformerError('INVALID_ARGUMENT', `efficientvit: numClasses must be a non-negative integer, got ${numClasses}`);
  const name = `efficientvit_${variant}`;
  const b = visionBuilder(name);
  const r = modelRng(options);
  const at = (prefix: string): VisionBlockInit => ({ prefix, rng: r });
  const batch = options.batch ?? 'batch';
  const input = b.input('input', 'float32', [batch, inChans, img, img]);
  const e0 = cfg.embedDim[0];
  let x = b.relu(convNorm(b, input, at('patch_embed.conv1'), { out: e0 / 8, kernel: 3, stride: 2, pad: 1 }));
  x = b.relu(convNorm(b, x, at('patch_embed.conv2'), { out: e0 / 4, kernel: 3, stride: 2, pad: 1 }));
  x = b.relu(convNorm(b, x, at('patch_embed.conv3'), { out: e0 / 2, kernel: 3, stride: 2, pad: 1 }));
  x = convNorm(b, x, at('patch_embed.conv4'), { out: e0, kernel: 3, stride: 2, pad: 1 });
  for (let i = 0; i < 3; i++) {
    const ed = cfg.embedDim[i]!;
    if (i > 0) x = subsample(b, x, at(`stages.${i}.downsample`), ed);
    const attnRatio = ed / (cfg.keyDim[i]! * cfg.numHeads[i]!);
    for (let d = 0; d < cfg.depth[i]!; d++) {
      x = efficientVitBlock(b, x, {
        ...at(`stages.${i}.blocks.${d}`), keyDim: cfg.keyDim[i]!, numHeads: cfg.numHeads[i]!, attnRatio, window: cfg.windowSize[i]!, kernels: cfg.kernels,
      });
    }
  }
  let y = b.flatten(b.globalAvgPool(x), 1);
  if (numClasses > 0) y = linear(b, batchNorm(b, y, at('head.bn')), at('head.linear'), numClasses, { std: 0.02 });
  return finishModel(b, y, { name, inputName: 'input', inputShape: [batch, inChans, img, img], numClasses });
}
