import { LeanformerError, type Value } from '@leanformer/core';
import { add, batchNorm, binary, concat, conv2d, flatten, globalAvgPool, linear, mul, reshape, sigmoid, split, transpose } from './layers.js';
import { activation, FASTERNET_CONFIGS } from './fasternet.js';
import type { ModelOptions, VisionModel } from './model.js';
import { attr, dimOf, Net, shapeOf } from './net.js';
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

/** Gaussian channel attention on x [B, C, H, W]: sigmoid(conv1×1([mean; var])) ⊙ x. */
export function gaussianChannelAttention(net: Net, x: Value, prefix: string): Value {
  const [b, c] = shapeOf(x);
  const C = c as number;
  const mean = net.op('ReduceMean', [x], { axes: attr.ints([2, 3]), keepdims: attr.int(1) }, [b ?? null, C, 1, 1]);
  const centered = binary(net, 'Sub', x, mean);
  const variance = net.op('ReduceMean', [mul(net, centered, centered)], { axes: attr.ints([2, 3]), keepdims: attr.int(1) }, [b ?? null, C, 1, 1]);
  const stats = concat(net, [mean, variance], 1);
  const gate = sigmoid(net, conv2d(net, stats, `${prefix}.channel_attn`, { out: C, kernel: 1, bias: true, std: 0.02 }));
  return mul(net, x, gate);
}

/** PAT_ch mixer: PConv on the first C/nDiv channels, Gaussian channel attention on the rest. */
export function patChannelMixer(net: Net, x: Value, prefix: string, nDiv: number): Value {
  const c = dimOf(x, 1);
  const cp = Math.floor(c / nDiv);
  if (cp < 1 || cp >= c) throw new LeanformerError('INVALID_ARGUMENT', `${prefix}: nDiv ${nDiv} leaves no channels for one of the two branches of ${c}`);
  const [x1, x2] = split(net, x, 1, [cp, c - cp]) as [Value, Value];
  const y1 = conv2d(net, x1, `${prefix}.partial_conv3`, { out: cp, kernel: 3, pad: 1 });
  return concat(net, [y1, gaussianChannelAttention(net, x2, prefix)], 1);
}

/** PAT_sf mixer: self-attention over pixels on the first C/nDiv channels, the rest untouched. */
export function patSelfAttentionMixer(net: Net, x: Value, prefix: string, nDiv: number, numHeads: number): Value {
  const [b, c, h, w] = shapeOf(x);
  const C = c as number;
  const cp = Math.floor(C / nDiv);
  const n = (h as number) * (w as number);
  const [x1, x2] = split(net, x, 1, [cp, C - cp]) as [Value, Value];
  const tokens = transpose(net, reshape(net, x1, [0, cp, n], [b ?? null, cp, n]), [0, 2, 1]);
  const { out } = multiHeadSelfAttention(net, tokens, `${prefix}.attn`, numHeads);
  const back = reshape(net, transpose(net, out, [0, 2, 1]), [0, cp, h as number, w as number], [b ?? null, cp, h ?? null, w ?? null]);
  return concat(net, [back, x2], 1);
}

/** PAT_sp MLP: 1×1 → BN → act → spatial gate on the first hidden/nDiv channels → 1×1. */
export function patSpatialMlp(net: Net, x: Value, prefix: string, cfg: { nDiv: number; mlpRatio: number; act: 'gelu' | 'relu' }): Value {
  const c = dimOf(x, 1);
  const hidden = Math.trunc(c * cfg.mlpRatio);
  let h = conv2d(net, x, `${prefix}.mlp.0`, { out: hidden, kernel: 1 });
  h = activation(net, batchNorm(net, h, `${prefix}.mlp.1`), cfg.act);
  const hp = Math.max(1, Math.floor(hidden / cfg.nDiv));
  const [h1, h2] = split(net, h, 1, [hp, hidden - hp]) as [Value, Value];
  const map = sigmoid(net, conv2d(net, h1, `${prefix}.spatial_attn`, { out: 1, kernel: 1, bias: true, std: 0.02 }));
  h = concat(net, [mul(net, h1, map), h2], 1);
  return conv2d(net, h, `${prefix}.mlp.3`, { out: c, kernel: 1, std: Math.sqrt(1 / hidden) });
}

/** One PATNet block: `x + PAT_sp-MLP(mixer(x))`. */
export function patBlock(net: Net, x: Value, prefix: string, cfg: PatBlockConfig): Value {
  const mixed = cfg.mixer === 'pat_sf'
    ? patSelfAttentionMixer(net, x, `${prefix}.spatial_mixing`, cfg.nDiv, cfg.numHeads ?? 2)
    : patChannelMixer(net, x, `${prefix}.spatial_mixing`, cfg.nDiv);
  return add(net, x, patSpatialMlp(net, mixed, prefix, cfg));
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
  const net = new Net(name, options.seed ?? 0, 17, options.weights !== 'zeros');
  const batch = options.batch ?? 'batch';
  const input = net.input('input', [batch, inChans, img, img]);
  let x = batchNorm(net, conv2d(net, input, 'patch_embed.proj', { out: cfg.embedDim, kernel: cfg.patchSize, stride: cfg.patchSize }), 'patch_embed.norm');
  const last = cfg.depths.length - 1;
  for (let i = 0; i <= last; i++) {
    const dim = cfg.embedDim * 2 ** i;
    if (i > 0) x = batchNorm(net, conv2d(net, x, `stages.${i}.downsample.reduction`, { out: dim, kernel: cfg.mergeSize, stride: cfg.mergeSize }), `stages.${i}.downsample.norm`);
    for (let d = 0; d < cfg.depths[i]!; d++) {
      x = patBlock(net, x, `stages.${i}.blocks.${d}`, { ...cfg, mixer: i === last ? 'pat_sf' : 'pat_ch', numHeads: 2 });
    }
  }
  x = activation(net, conv2d(net, globalAvgPool(net, x), 'conv_head', { out: cfg.featureDim, kernel: 1 }), cfg.act);
  let y = flatten(net, x);
  let outputName = 'features';
  if (numClasses > 0) { y = linear(net, y, 'classifier', numClasses); outputName = 'logits'; }
  net.output(y, outputName);
  return { name, graph: net.graph, inputName: 'input', inputShape: [batch, inChans, img, img], outputName };
}

