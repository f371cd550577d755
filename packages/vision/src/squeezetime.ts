import { LeanformerError, type GraphBuilder, type Value } from '@leanformer/core';
import type { ModelOptions, VisionModel } from './model.js';
import { batchNorm, child, conv2d, dimOf, finishModel, linear, modelRng, normalParam, visionBuilder, type VisionBlockInit } from './timm-layers.js';

/**
 * SqueezeTime (Zhai et al. 2024, "No Time to Train"-style mobile video): the time axis is
 * squeezed into channels — a clip [B, T, C, H, W] becomes [B, T·C, H, W] (a free reshape,
 * channel index t·C + c) — and the network is 2-D. Its Channel-Time Learning (CTL) block has
 * two branches over the time-in-channel features:
 * - temporal focus: an importance weight per channel (i.e. per time-slot × feature) from global
 *   pooling → 1×1 → ReLU → 1×1 → sigmoid, which re-weights the input of a 3×3 conv;
 * - inter-temporal object interaction: a learned temporal-position embedding is added back
 *   (restoring the order lost by squeezing), then a depthwise 3×3 and a 1×1 conv.
 * The branch outputs (C/2 each) are concatenated, batch-normalised, passed through ReLU and
 * added to the input. This follows the paper's description; there is no timm model to match.
 */

/** SqueezeTime settings. */
export interface SqueezeTimeConfig {
  /** Frames per clip (T). */
  readonly frames: number;
  readonly inChans?: number;
  readonly imgSize?: number;
  /** Stage widths; every width must be even (the two CTL branches take half each). */
  readonly widths: readonly number[];
  readonly depths: readonly number[];
  /** Squeeze ratio of the temporal-focus gate (default 4). */
  readonly reduction?: number;
}

/** A small default configuration (16 frames, 112×112, four stages). */
export const SQUEEZETIME_DEFAULT: SqueezeTimeConfig = Object.freeze({ frames: 16, inChans: 3, imgSize: 112, widths: [64, 128, 256, 512], depths: [1, 1, 2, 1] });

/**
 * The Channel-Time Learning block on x [B, C, H, W] (C = time × features); `reduction` is the
 * squeeze ratio of the temporal-focus gate (default 4).
 *
 * @example
 * ```ts
 * x = channelTimeBlock(b, x, { prefix: 'stages.0.blocks.0', rng: rng(0) });
 * ```
 */
export function channelTimeBlock(b: GraphBuilder, x: Value, cfg: { readonly reduction?: number } & VisionBlockInit): Value {
  const c = dimOf(x, 1);
  if (c % 2 !== 0) throw new LeanformerError('INVALID_ARGUMENT', `${cfg.prefix}: CTL needs an even channel count, got ${c}`);
  // Temporal focus: channel (time-slot) importance gates the 3×3 conv's input.
  const rd = Math.max(8, Math.floor(c / (cfg.reduction ?? 4)));
  let g = b.relu(conv2d(b, b.globalAvgPool(x), child(cfg, 'tfc.fc1'), { out: rd, kernel: 1, bias: true }));
  g = b.sigmoid(conv2d(b, g, child(cfg, 'tfc.fc2'), { out: c, kernel: 1, bias: true }));
  const focus = conv2d(b, b.mul(x, g), child(cfg, 'tfc.conv'), { out: c / 2, kernel: 3, pad: 1 });
  // Inter-temporal object interaction with temporal-position restoring.
  const pos = normalParam(b, cfg, `${cfg.prefix}.ioi.pos_embed`, [1, c, 1, 1], 0.02);
  let o = conv2d(b, b.add(x, pos), child(cfg, 'ioi.dw'), { out: c, kernel: 3, pad: 1, groups: c });
  o = conv2d(b, o, child(cfg, 'ioi.pw'), { out: c / 2, kernel: 1 });
  const y = b.relu(batchNorm(b, b.concat([focus, o], 1), child(cfg, 'norm')));
  return b.add(x, y);
}

function validate(cfg: SqueezeTimeConfig, who: string): { img: number; inChans: number } {
  const img = cfg.imgSize ?? 112;
  const inChans = cfg.inChans ?? 3;
  const stride = 4 * 2 ** (cfg.widths.length - 1);
  if (!Number.isInteger(cfg.frames) || cfg.frames < 1) throw new LeanformerError('INVALID_ARGUMENT', `${who}: frames must be a positive integer, got ${cfg.frames}`);
  if (cfg.widths.length !== cfg.depths.length || cfg.widths.length < 1) throw new LeanformerError('INVALID_ARGUMENT', `${who}: widths and depths must be non-empty and of equal length`);
  if (!Number.isInteger(img) || img < stride) throw new LeanformerError('INVALID_ARGUMENT', `${who}: imgSize must be an integer of at least ${stride} (the total stride), got ${img}`);
  return { img, inChans };
}

/**
 * Builds a SqueezeTime video classifier over clips [B, T, C, H, W].
 *
 * @example
 * ```ts
 * const m = squeezetime({ ...SQUEEZETIME_DEFAULT, frames: 8 }, { numClasses: 400 });
 * ```
 */
export function squeezetime(cfg: SqueezeTimeConfig = SQUEEZETIME_DEFAULT, options: ModelOptions = {}): VisionModel {
  const { img, inChans } = validate(cfg, 'squeezetime');
  const numClasses = options.numClasses ?? 400;
  const b = visionBuilder('squeezetime');
  const r = modelRng(options);
  const at = (prefix: string): VisionBlockInit => ({ prefix, rng: r });
  const batch = options.batch ?? 'batch';
  const T = cfg.frames;
  const input = b.input('input', 'float32', [batch, T, inChans, img, img]);
  let x = b.reshape(input, [0, T * inChans, img, img]);
  x = b.relu(batchNorm(b, conv2d(b, x, at('stem.conv1'), { out: cfg.widths[0]!, kernel: 3, stride: 2, pad: 1 }), at('stem.bn1')));
  x = b.relu(batchNorm(b, conv2d(b, x, at('stem.conv2'), { out: cfg.widths[0]!, kernel: 3, stride: 2, pad: 1 }), at('stem.bn2')));
  for (let i = 0; i < cfg.widths.length; i++) {
    if (i > 0) x = b.relu(batchNorm(b, conv2d(b, x, at(`stages.${i}.down.conv`), { out: cfg.widths[i]!, kernel: 3, stride: 2, pad: 1 }), at(`stages.${i}.down.bn`)));
    for (let d = 0; d < cfg.depths[i]!; d++) x = channelTimeBlock(b, x, { ...at(`stages.${i}.blocks.${d}`), reduction: cfg.reduction ?? 4 });
  }
  let y = b.flatten(b.globalAvgPool(x), 1);
  if (numClasses > 0) y = linear(b, y, at('head'), numClasses);
  return finishModel(b, y, { name: 'squeezetime', inputName: 'input', inputShape: [batch, T, inChans, img, img], numClasses });
}

/** 3-D conv + BN on x [B, C, T, H, W] with a cubic kernel `k`, spatial stride `s` (time stride 1). */
function conv3dBn(b: GraphBuilder, x: Value, init: VisionBlockInit, out: number, k: number, s: number): Value {
  const c = dimOf(x, 1);
  const p = Math.floor(k / 2);
  const wt = normalParam(b, init, `${init.prefix}.weight`, [out, c, k, k, k], Math.sqrt(2 / (c * k ** 3)));
  const y = b.conv(x, wt, null, { kernelShape: [k, k, k], strides: [1, s, s], pads: [p, p, p, p, p, p] });
  return batchNorm(b, y, child(init, 'bn'));
}

/**
 * The 3-D convolution baseline of the same widths and depths: clip → [B, C, T, H, W], the same
 * stem and downsampling strides in space (time kept), and per block a residual 3×3×3 conv + BN + ReLU.
 * Used to report SqueezeTime's FLOP saving against a video network that keeps the time axis.
 */
export function conv3dBaseline(cfg: SqueezeTimeConfig = SQUEEZETIME_DEFAULT, options: ModelOptions = {}): VisionModel {
  const { img, inChans } = validate(cfg, 'conv3dBaseline');
  const numClasses = options.numClasses ?? 400;
  const b = visionBuilder('conv3d_baseline');
  const r = modelRng(options);
  const at = (prefix: string): VisionBlockInit => ({ prefix, rng: r });
  const batch = options.batch ?? 'batch';
  const T = cfg.frames;
  const input = b.input('input', 'float32', [batch, T, inChans, img, img]);
  let x = b.transpose(input, [0, 2, 1, 3, 4]);
  x = b.relu(conv3dBn(b, x, at('stem.conv1'), cfg.widths[0]!, 3, 2));
  x = b.relu(conv3dBn(b, x, at('stem.conv2'), cfg.widths[0]!, 3, 2));
  for (let i = 0; i < cfg.widths.length; i++) {
    if (i > 0) x = b.relu(conv3dBn(b, x, at(`stages.${i}.down`), cfg.widths[i]!, 3, 2));
    for (let d = 0; d < cfg.depths[i]!; d++) x = b.add(x, b.relu(conv3dBn(b, x, at(`stages.${i}.blocks.${d}`), cfg.widths[i]!, 3, 1)));
  }
  let y = b.flatten(b.globalAvgPool(x), 1);
  if (numClasses > 0) y = linear(b, y, at('head'), numClasses);
  return finishModel(b, y, { name: 'conv3d_baseline', inputName: 'input', inputShape: [batch, T, inChans, img, img], numClasses });
}
