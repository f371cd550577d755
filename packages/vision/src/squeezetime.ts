import { LeanformerError, type Value } from '@leanformer/core';
import { add, batchNorm, concat, conv2d, flatten, globalAvgPool, linear, mul, relu, reshape, sigmoid } from './layers.js';
import type { ModelOptions, VisionModel } from './model.js';
import { attr, dimOf, Net, shapeOf } from './net.js';

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

/** The Channel-Time Learning block on x [B, C, H, W] (C = time × features). */
export function channelTimeBlock(net: Net, x: Value, prefix: string, reduction = 4): Value {
  const c = dimOf(x, 1);
  if (c % 2 !== 0) throw new LeanformerError('INVALID_ARGUMENT', `${prefix}: CTL needs an even channel count, got ${c}`);
  // Temporal focus: channel (time-slot) importance gates the 3×3 conv's input.
  const rd = Math.max(8, Math.floor(c / reduction));
  let g = relu(net, conv2d(net, globalAvgPool(net, x), `${prefix}.tfc.fc1`, { out: rd, kernel: 1, bias: true }));
  g = sigmoid(net, conv2d(net, g, `${prefix}.tfc.fc2`, { out: c, kernel: 1, bias: true }));
  const focus = conv2d(net, mul(net, x, g), `${prefix}.tfc.conv`, { out: c / 2, kernel: 3, pad: 1 });
  // Inter-temporal object interaction with temporal-position restoring.
  const pos = net.param(`${prefix}.ioi.pos_embed`, [1, c, 1, 1], { kind: 'normal', std: 0.02 });
  let o = conv2d(net, add(net, x, pos), `${prefix}.ioi.dw`, { out: c, kernel: 3, pad: 1, groups: c });
  o = conv2d(net, o, `${prefix}.ioi.pw`, { out: c / 2, kernel: 1 });
  const y = relu(net, batchNorm(net, concat(net, [focus, o], 1), `${prefix}.norm`));
  return add(net, x, y);
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
  const net = new Net('squeezetime', options.seed ?? 0, 17, options.weights !== 'zeros');
  const batch = options.batch ?? 'batch';
  const T = cfg.frames;
  const input = net.input('input', [batch, T, inChans, img, img]);
  let x = reshape(net, input, [0, T * inChans, img, img], [batch, T * inChans, img, img]);
  x = relu(net, batchNorm(net, conv2d(net, x, 'stem.conv1', { out: cfg.widths[0]!, kernel: 3, stride: 2, pad: 1 }), 'stem.bn1'));
  x = relu(net, batchNorm(net, conv2d(net, x, 'stem.conv2', { out: cfg.widths[0]!, kernel: 3, stride: 2, pad: 1 }), 'stem.bn2'));
  for (let i = 0; i < cfg.widths.length; i++) {
    if (i > 0) x = relu(net, batchNorm(net, conv2d(net, x, `stages.${i}.down.conv`, { out: cfg.widths[i]!, kernel: 3, stride: 2, pad: 1 }), `stages.${i}.down.bn`));
    for (let d = 0; d < cfg.depths[i]!; d++) x = channelTimeBlock(net, x, `stages.${i}.blocks.${d}`, cfg.reduction ?? 4);
  }
  let y = flatten(net, globalAvgPool(net, x));
  let outputName = 'features';
  if (numClasses > 0) { y = linear(net, y, 'head', numClasses); outputName = 'logits'; }
  net.output(y, outputName);
  return { name: 'squeezetime', graph: net.graph, inputName: 'input', inputShape: [batch, T, inChans, img, img], outputName };
}

/** 3-D conv + BN on x [B, C, T, H, W] with a cubic kernel `k`, spatial stride `s` (time stride 1). */
function conv3dBn(net: Net, x: Value, prefix: string, out: number, k: number, s: number): Value {
  const [b, c, t, h, w] = shapeOf(x) as [string | number, number, number, number, number];
  const p = Math.floor(k / 2);
  const wt = net.param(`${prefix}.weight`, [out, c, k, k, k], { kind: 'normal', std: Math.sqrt(2 / (c * k ** 3)) });
  const o = (n: number, st: number) => Math.floor((n + 2 * p - k) / st) + 1;
  const y = net.op('Conv', [x, wt], { kernel_shape: attr.ints([k, k, k]), strides: attr.ints([1, s, s]), pads: attr.ints([p, p, p, p, p, p]) }, [b, out, o(t, 1), o(h, s), o(w, s)]);
  return batchNorm(net, y, `${prefix}.bn`);
}

/**
 * The 3-D convolution baseline of the same widths and depths: clip → [B, C, T, H, W], the same
 * stem and downsampling strides in space (time kept), and per block a residual 3×3×3 conv + BN + ReLU.
 * Used to report SqueezeTime's FLOP saving against a video network that keeps the time axis.
 */
export function conv3dBaseline(cfg: SqueezeTimeConfig = SQUEEZETIME_DEFAULT, options: ModelOptions = {}): VisionModel {
  const { img, inChans } = validate(cfg, 'conv3dBaseline');
  const numClasses = options.numClasses ?? 400;
  const net = new Net('conv3d_baseline', options.seed ?? 0, 17, options.weights !== 'zeros');
  const batch = options.batch ?? 'batch';
  const T = cfg.frames;
  const input = net.input('input', [batch, T, inChans, img, img]);
  let x = net.op('Transpose', [input], { perm: attr.ints([0, 2, 1, 3, 4]) }, [batch, inChans, T, img, img]);
  x = relu(net, conv3dBn(net, x, 'stem.conv1', cfg.widths[0]!, 3, 2));
  x = relu(net, conv3dBn(net, x, 'stem.conv2', cfg.widths[0]!, 3, 2));
  for (let i = 0; i < cfg.widths.length; i++) {
    if (i > 0) x = relu(net, conv3dBn(net, x, `stages.${i}.down`, cfg.widths[i]!, 3, 2));
    for (let d = 0; d < cfg.depths[i]!; d++) x = add(net, x, relu(net, conv3dBn(net, x, `stages.${i}.blocks.${d}`, cfg.widths[i]!, 3, 1)));
  }
  const [b, c] = shapeOf(x);
  x = net.op('GlobalAveragePool', [x], {}, [b ?? null, c ?? null, 1, 1, 1]);
  let y = flatten(net, x);
  let outputName = 'features';
  if (numClasses > 0) { y = linear(net, y, 'head', numClasses); outputName = 'logits'; }
  net.output(y, outputName);
  return { name: 'conv3d_baseline', graph: net.graph, inputName: 'input', inputShape: [batch, T, inChans, img, img], outputName };
}
