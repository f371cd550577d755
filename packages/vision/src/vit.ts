import { DTypes, LeanformerError, Tensor, tensorType, type Value } from '@leanformer/core';
import { add, concat, conv2d, gelu, layerNorm, linear, matmul, mul, reshape, softmax, split, transpose } from './layers.js';
import type { ModelOptions, VisionModel } from './model.js';
import { attr, dimOf, Net, shapeOf } from './net.js';

/**
 * A plain ViT classifier (timm `vision_transformer` names: `cls_token`, `pos_embed`,
 * `patch_embed.proj`, `blocks.i.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}`, `norm`, `head`)
 * with attention written as MatMul/Softmax so its CLS-attention rows can be read (HiRED) and
 * every op lowers to ORT (including TensorRT) and tfjs.
 */

/** ViT settings. */
export interface VitConfig {
  readonly imgSize: number;
  readonly patchSize: number;
  readonly embedDim: number;
  readonly depth: number;
  readonly numHeads: number;
  readonly mlpRatio: number;
  readonly inChans?: number;
}

/** Named ViT sizes (timm's tiny/small/base at 224, patch 16) plus a test-sized one. */
export const VIT_CONFIGS: Readonly<Record<'micro' | 'tiny' | 'small' | 'base', VitConfig>> = Object.freeze({
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

/** Options of {@link vit}. */
export interface VitOptions extends ModelOptions {
  readonly config?: VitConfig;
  /** Blocks whose head-averaged CLS-attention row over patch tokens becomes an output `cls_attn.<i>` [B, N]. */
  readonly exposeClsAttention?: readonly number[];
  /** Also output the final patch tokens `tokens` [B, N, D] (after the final norm). */
  readonly exposeTokens?: boolean;
  readonly tokenDrop?: TokenDrop;
}

/** Multi-head self-attention (timm `Attention`): returns the output and the attention probabilities [B, h, N, N]. */
export function multiHeadSelfAttention(net: Net, x: Value, prefix: string, numHeads: number, qkvBias = true): { out: Value; probs: Value } {
  const [b, n, d] = shapeOf(x);
  const D = d as number;
  if (D % numHeads !== 0) throw new LeanformerError('INVALID_ARGUMENT', `${prefix}: dim ${D} is not divisible by ${numHeads} heads`);
  const hd = D / numHeads;
  const qkv = linear(net, x, `${prefix}.qkv`, 3 * D, { bias: qkvBias });
  const r = reshape(net, qkv, [0, 0, 3, numHeads, hd], [b ?? null, n ?? null, 3, numHeads, hd]);
  const t = transpose(net, r, [2, 0, 3, 1, 4]); // [3, B, h, N, hd]
  const [q, k, v] = split(net, t, 0, [1, 1, 1]).map((p) => net.op('Squeeze', [p, net.i64([0])], {}, [b ?? null, numHeads, n ?? null, hd])) as [Value, Value, Value];
  const scores = mul(net, matmul(net, q, transpose(net, k, [0, 1, 3, 2])), net.scalar(hd ** -0.5));
  const probs = softmax(net, scores);
  const ctx = transpose(net, matmul(net, probs, v), [0, 2, 1, 3]); // [B, N, h, hd]
  const merged = reshape(net, ctx, [0, 0, D], [b ?? null, n ?? null, D]);
  return { out: linear(net, merged, `${prefix}.proj`, D), probs };
}

/** Head-averaged attention of the CLS query (token 0) over the patch tokens: [B, h, N, N] → [B, N−1]. */
export function clsAttention(net: Net, probs: Value): Value {
  const [b, h, n] = shapeOf(probs);
  const row = net.op('Gather', [probs, net.constant(Tensor.from('int64', [], [0n]), 'cls_index')], { axis: attr.int(2) }, [b ?? null, h ?? null, n ?? null]);
  const mean = net.op('ReduceMean', [row], { axes: attr.ints([1]), keepdims: attr.int(0) }, [b ?? null, n ?? null]);
  const N = n as number;
  return net.op('Slice', [mean, net.i64([1]), net.i64([N]), net.i64([1])], {}, [b ?? null, N - 1]);
}

/** Keeps the CLS token and the `keep` patch tokens with the highest `scores` [B, N−1], in score order. */
export function keepTopTokens(net: Net, x: Value, scores: Value, keep: number): Value {
  const [b, n, d] = shapeOf(x);
  const N = (n as number) - 1;
  if (!Number.isInteger(keep) || keep < 1 || keep > N) throw new LeanformerError('INVALID_ARGUMENT', `keepTopTokens: keep must be an integer in [1, ${N}], got ${keep}`);
  const [cls, patches] = split(net, x, 1, [1, N]) as [Value, Value];
  const topk = net.graph.addNode({ op: 'TopK', name: net.graph.uniqueName('TopK'), inputs: [scores, net.i64([keep])], outputs: [net.graph.uniqueName('topk_values'), net.graph.uniqueName('topk_indices')], attrs: { axis: attr.int(1), largest: attr.int(1), sorted: attr.int(1) } });
  topk.output(0).type = tensorType(DTypes.float32, [b ?? null, keep]);
  topk.output(1).type = tensorType(DTypes.int64, [b ?? null, keep]);
  const idx3 = net.opT('Unsqueeze', [topk.output(1), net.i64([2])], {}, [b ?? null, keep, 1], 'int64');
  // [B, keep, 1] → [B, keep, D] for GatherElements: expand to (B from the indices' shape, keep, D).
  const lead = net.opT('Shape', [idx3], { end: attr.int(2) }, [2], 'int64');
  const target = net.opT('Concat', [lead, net.i64([d as number])], { axis: attr.int(0) }, [3], 'int64');
  const idxD = net.opT('Expand', [idx3, target], {}, [b ?? null, keep, d ?? null], 'int64');
  const kept = net.op('GatherElements', [patches, idxD], { axis: attr.int(1) }, [b ?? null, keep, d ?? null]);
  return concat(net, [cls, kept], 1);
}

/**
 * Builds a ViT classifier (`logits` from the CLS token after the final norm; `features` with
 * `numClasses: 0`). Optional outputs: `cls_attn.<i>` and `tokens`; optional early token drop.
 *
 * @example
 * ```ts
 * const m = vit('micro', { numClasses: 10, exposeClsAttention: [0, 3], tokenDrop: { afterLayer: 1, keep: 13 } });
 * ```
 */
export function vit(size: keyof typeof VIT_CONFIGS | 'custom', options: VitOptions = {}): VisionModel {
  const cfg = options.config ?? VIT_CONFIGS[size as keyof typeof VIT_CONFIGS];
  if (!cfg) throw new LeanformerError('INVALID_ARGUMENT', `vit: unknown size '${size}'; expected one of ${Object.keys(VIT_CONFIGS).join(', ')} or 'custom' with a config`);
  if (cfg.imgSize % cfg.patchSize !== 0) throw new LeanformerError('INVALID_ARGUMENT', `vit: imgSize ${cfg.imgSize} is not a multiple of patchSize ${cfg.patchSize}`);
  const numClasses = options.numClasses ?? 1000;
  const drop = options.tokenDrop;
  if (drop && (!Number.isInteger(drop.afterLayer) || drop.afterLayer < 0 || drop.afterLayer >= cfg.depth - 1)) {
    throw new LeanformerError('INVALID_ARGUMENT', `vit: tokenDrop.afterLayer must be in [0, ${cfg.depth - 2}], got ${drop.afterLayer}`);
  }
  for (const l of options.exposeClsAttention ?? []) {
    if (!Number.isInteger(l) || l < 0 || l >= cfg.depth) throw new LeanformerError('INVALID_ARGUMENT', `vit: exposeClsAttention entry ${l} is not a block index in [0, ${cfg.depth - 1}]`);
  }
  const name = `vit_${size}`;
  const net = new Net(name, options.seed ?? 0, 17, options.weights !== 'zeros');
  const batch = options.batch ?? 'batch';
  const inChans = cfg.inChans ?? 3;
  const D = cfg.embedDim;
  const g = cfg.imgSize / cfg.patchSize;
  const input = net.input('input', [batch, inChans, cfg.imgSize, cfg.imgSize]);
  let x = conv2d(net, input, 'patch_embed.proj', { out: D, kernel: cfg.patchSize, stride: cfg.patchSize, bias: true, std: 0.02 });
  x = transpose(net, reshape(net, x, [0, D, g * g], [batch, D, g * g]), [0, 2, 1]); // [B, N, D]
  const clsTok = net.param('cls_token', [1, 1, D], { kind: 'normal', std: 0.02 });
  // Broadcast the CLS token over the batch: Expand to [B, 1, D] using x's leading dim.
  const bShape = net.opT('Shape', [x], { start: attr.int(0), end: attr.int(1) }, [1], 'int64');
  const clsShape = net.opT('Concat', [bShape, net.i64([1, D])], { axis: attr.int(0) }, [3], 'int64');
  const cls = net.op('Expand', [clsTok, clsShape], {}, [batch, 1, D]);
  x = concat(net, [cls, x], 1);
  x = add(net, x, net.param('pos_embed', [1, g * g + 1, D], { kind: 'normal', std: 0.02 }));
  const outputs: { v: Value; name: string }[] = [];
  for (let i = 0; i < cfg.depth; i++) {
    const p = `blocks.${i}`;
    const { out, probs } = multiHeadSelfAttention(net, layerNorm(net, x, `${p}.norm1`), `${p}.attn`, cfg.numHeads);
    x = add(net, x, out);
    const hidden = Math.trunc(D * cfg.mlpRatio);
    const h = linear(net, gelu(net, linear(net, layerNorm(net, x, `${p}.norm2`), `${p}.mlp.fc1`, hidden)), `${p}.mlp.fc2`, D);
    x = add(net, x, h);
    const needScores = options.exposeClsAttention?.includes(i) || drop?.afterLayer === i;
    if (needScores) {
      const scores = clsAttention(net, probs);
      if (options.exposeClsAttention?.includes(i)) outputs.push({ v: scores, name: `cls_attn.${i}` });
      if (drop?.afterLayer === i) x = keepTopTokens(net, x, scores, drop.keep);
    }
  }
  x = layerNorm(net, x, 'norm');
  const n = dimOf(x, 1);
  const [clsOut, patchOut] = split(net, x, 1, [1, n - 1]) as [Value, Value];
  let y = net.op('Squeeze', [clsOut, net.i64([1])], {}, [batch, D]);
  let outputName = 'features';
  if (numClasses > 0) {
    y = linear(net, y, 'head', numClasses);
    outputName = 'logits';
  }
  net.output(y, outputName);
  if (options.exposeTokens) net.output(patchOut, 'tokens');
  for (const o of outputs) net.output(o.v, o.name);
  return { name, graph: net.graph, inputName: 'input', inputShape: [batch, inChans, cfg.imgSize, cfg.imgSize], outputName };
}
