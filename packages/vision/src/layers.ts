import { LeanformerError, type Value } from '@leanformer/core';
import { attr, dimOf, type Net, type Shape, shapeOf, TIMM_TRANSPOSED } from './net.js';

/**
 * Layer helpers shared by the vision builders. Each takes the `Net`, the input value and a
 * timm-style prefix, creates parameters named `${prefix}.weight` etc., and returns the output
 * with its shape set. Activations are NCHW (images) or [batch, tokens, channels] (tokens).
 */

const outDim = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;

/** Options of {@link conv2d}. */
export interface ConvOptions {
  readonly out: number;
  readonly kernel: number;
  readonly stride?: number;
  readonly pad?: number;
  readonly groups?: number;
  readonly bias?: boolean;
  /** Weight init std; default He-normal `sqrt(2 / fan_in)`. */
  readonly std?: number;
}

/** 2-D convolution with parameters `${prefix}.weight` [out, in/groups, k, k] and optional `${prefix}.bias`. */
export function conv2d(net: Net, x: Value, prefix: string, o: ConvOptions): Value {
  const [b, cin, h, w] = shapeOf(x);
  const groups = o.groups ?? 1;
  const stride = o.stride ?? 1;
  const pad = o.pad ?? 0;
  if (typeof cin !== 'number' || typeof h !== 'number' || typeof w !== 'number') {
    throw new LeanformerError('SHAPE_MISMATCH', `${prefix}: conv input needs static C, H, W, got [${shapeOf(x).join(', ')}]`);
  }
  if (cin % groups !== 0 || o.out % groups !== 0) {
    throw new LeanformerError('INVALID_ARGUMENT', `${prefix}: channels ${cin}→${o.out} are not divisible by groups ${groups}`);
  }
  const fanIn = (cin / groups) * o.kernel * o.kernel;
  const wt = net.param(`${prefix}.weight`, [o.out, cin / groups, o.kernel, o.kernel], { kind: 'normal', std: o.std ?? Math.sqrt(2 / fanIn) });
  const bias = o.bias ? net.param(`${prefix}.bias`, [o.out], { kind: 'normal', std: 0.02 }) : null;
  const inputs = bias ? [x, wt, bias] : [x, wt];
  return net.op('Conv', inputs, {
    kernel_shape: attr.ints([o.kernel, o.kernel]),
    strides: attr.ints([stride, stride]),
    pads: attr.ints([pad, pad, pad, pad]),
    group: attr.int(groups),
  }, [b ?? null, o.out, outDim(h, o.kernel, stride, pad), outDim(w, o.kernel, stride, pad)]);
}

/** Inference batch norm over dim 1 with `${prefix}.{weight,bias,running_mean,running_var}` (eps 1e-5, as PyTorch). */
export function batchNorm(net: Net, x: Value, prefix: string, weightInit = 1): Value {
  const c = dimOf(x, 1);
  const scale = net.param(`${prefix}.weight`, [c], { kind: 'const', value: weightInit });
  const bias = net.param(`${prefix}.bias`, [c], { kind: 'const', value: 0 });
  const mean = net.param(`${prefix}.running_mean`, [c], { kind: 'const', value: 0 });
  const v = net.param(`${prefix}.running_var`, [c], { kind: 'const', value: 1 });
  return net.op('BatchNormalization', [x, scale, bias, mean, v], { epsilon: attr.float(1e-5) }, shapeOf(x));
}

/** Conv (no bias) + BatchNorm, timm's `ConvNorm`/`Conv2d_BN`: `${prefix}.conv.*`, `${prefix}.bn.*`. */
export function convNorm(net: Net, x: Value, prefix: string, o: Omit<ConvOptions, 'bias'> & { readonly bnWeightInit?: number }): Value {
  return batchNorm(net, conv2d(net, x, `${prefix}.conv`, { ...o, bias: false }), `${prefix}.bn`, o.bnWeightInit ?? 1);
}

/** Meta key on an initializer: the timm state-dict shape, when the graph stores the same elements in another shape. */
export const TIMM_SHAPE = 'leanformer.timm.shape';

/**
 * A 1×1 ConvNorm applied to tokens x [B, C, N] as a 1-D convolution (timm's `ConvNorm` with
 * ks=1 on a flattened map). The weight keeps timm's elements in shape [out, C, 1] and records
 * timm's [out, C, 1, 1] under {@link TIMM_SHAPE}. Keeping attention inputs as tokens avoids
 * reshapes and layout reorders per head on ORT.
 */
export function pointwiseConvNorm1d(net: Net, x: Value, prefix: string, out: number, bnWeightInit = 1): Value {
  const [b, c, n] = shapeOf(x);
  const C = c as number;
  const w = net.param(`${prefix}.conv.weight`, [out, C, 1], { kind: 'normal', std: Math.sqrt(2 / C) });
  w.meta.set(TIMM_SHAPE, [out, C, 1, 1]);
  const y = net.op('Conv', [x, w], { kernel_shape: attr.ints([1]), strides: attr.ints([1]), pads: attr.ints([0, 0]), group: attr.int(1) }, [b ?? null, out, n ?? null]);
  return batchNorm(net, y, `${prefix}.bn`, bnWeightInit);
}

/** Element-wise unary op keeping the shape. */
export function unary(net: Net, op: 'Relu' | 'Sigmoid' | 'Erf' | 'Tanh' | 'Sqrt' | 'Exp', x: Value): Value {
  return net.op(op, [x], {}, shapeOf(x));
}

/** Broadcasting binary op; the result takes the shape of the higher-rank (or first) operand. */
export function binary(net: Net, op: 'Add' | 'Mul' | 'Sub' | 'Div', a: Value, b: Value): Value {
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  const rank = Math.max(sa.length, sb.length);
  const out: (number | string | null)[] = [];
  for (let i = 0; i < rank; i++) {
    const da = sa[i - (rank - sa.length)];
    const db = sb[i - (rank - sb.length)];
    out.push(da === undefined || da === 1 ? (db ?? 1) : da);
  }
  return net.op(op, [a, b], {}, out);
}

/** ReLU. */
export const relu = (net: Net, x: Value) => unary(net, 'Relu', x);
/** Logistic sigmoid. */
export const sigmoid = (net: Net, x: Value) => unary(net, 'Sigmoid', x);
/** Broadcasting addition. */
export const add = (net: Net, a: Value, b: Value) => binary(net, 'Add', a, b);
/** Broadcasting multiplication. */
export const mul = (net: Net, a: Value, b: Value) => binary(net, 'Mul', a, b);

/** Exact (erf) GELU as PyTorch's `nn.GELU()`: `0.5·x·(1 + erf(x/√2))`, in standard ops every runtime runs. */
export function gelu(net: Net, x: Value): Value {
  const e = unary(net, 'Erf', binary(net, 'Div', x, net.scalar(Math.SQRT2)));
  return mul(net, mul(net, x, net.scalar(0.5)), add(net, e, net.scalar(1)));
}

/** Global average pool NCHW → [B, C, 1, 1]. */
export function globalAvgPool(net: Net, x: Value): Value {
  const [b, c] = shapeOf(x);
  return net.op('GlobalAveragePool', [x], {}, [b ?? null, c ?? null, 1, 1]);
}

/** Flattens dims from 1 on: [B, …] → [B, prod(…)]. */
export function flatten(net: Net, x: Value): Value {
  const s = shapeOf(x);
  let n = 1;
  for (const d of s.slice(1)) {
    if (typeof d !== 'number') throw new LeanformerError('SHAPE_MISMATCH', `flatten: dims after the batch must be static, got [${s.join(', ')}]`);
    n *= d;
  }
  return net.op('Flatten', [x], { axis: attr.int(1) }, [s[0] ?? null, n]);
}

/** Reshape to `shape` (0 keeps the input dim, as ONNX); `outShape` is the resulting (possibly symbolic) shape. */
export function reshape(net: Net, x: Value, shape: readonly number[], outShape: Shape): Value {
  return net.op('Reshape', [x, net.i64(shape)], {}, outShape);
}

/** Transpose by `perm`. */
export function transpose(net: Net, x: Value, perm: readonly number[]): Value {
  const s = shapeOf(x);
  return net.op('Transpose', [x], { perm: attr.ints(perm) }, perm.map((p) => s[p] ?? null));
}

/** Split along `axis` into pieces of `sizes`. */
export function split(net: Net, x: Value, axis: number, sizes: readonly number[]): Value[] {
  const s = shapeOf(x);
  const ax = axis < 0 ? s.length + axis : axis;
  const total = sizes.reduce((a, b) => a + b, 0);
  if (s[ax] !== total) throw new LeanformerError('SHAPE_MISMATCH', `split: sizes [${sizes.join(', ')}] sum to ${total}, dim ${ax} of [${s.join(', ')}] is ${String(s[ax])}`);
  if (sizes.length === 1) return [x];
  return net.opN('Split', [x, net.i64(sizes)], { axis: attr.int(ax) }, sizes.map((n) => s.map((d, i) => (i === ax ? n : d))));
}

/** Concatenate along `axis`. */
export function concat(net: Net, xs: readonly Value[], axis: number): Value {
  if (xs.length === 1) return xs[0]!;
  const s = shapeOf(xs[0]!);
  const ax = axis < 0 ? s.length + axis : axis;
  let total = 0;
  for (const x of xs) total += dimOf(x, ax);
  return net.op('Concat', [...xs], { axis: attr.int(ax) }, s.map((d, i) => (i === ax ? total : d)));
}

/** MatMul with numpy broadcasting of batch dims (the result keeps `a`'s leading dims). */
export function matmul(net: Net, a: Value, b: Value): Value {
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  const lead = sa.length >= sb.length ? sa.slice(0, -2) : sb.slice(0, -2);
  return net.op('MatMul', [a, b], {}, [...lead, sa[sa.length - 2] ?? null, sb[sb.length - 1] ?? null]);
}

/** Softmax over the last axis. */
export function softmax(net: Net, x: Value): Value {
  return net.op('Softmax', [x], { axis: attr.int(-1) }, shapeOf(x));
}

/**
 * Linear layer `y = x·Wᵀ + b` with timm's `${prefix}.weight` [out, in] and `${prefix}.bias`.
 * 2-D inputs use Gemm(transB) over the timm layout; higher ranks use MatMul over a weight
 * stored as [in, out] (marked {@link TIMM_TRANSPOSED} so weight loading transposes it).
 */
export function linear(net: Net, x: Value, prefix: string, out: number, o: { bias?: boolean; std?: number } = {}): Value {
  const s = shapeOf(x);
  const inF = dimOf(x, -1);
  const std = o.std ?? 0.02;
  const useBias = o.bias ?? true;
  if (s.length === 2) {
    const w = net.param(`${prefix}.weight`, [out, inF], { kind: 'trunc_normal', std });
    const b = useBias ? net.param(`${prefix}.bias`, [out], { kind: 'normal', std: 0.02 }) : null;
    return net.op('Gemm', b ? [x, w, b] : [x, w], { transB: attr.int(1) }, [s[0] ?? null, out]);
  }
  const w = net.param(`${prefix}.weight`, [inF, out], { kind: 'trunc_normal', std });
  w.meta.set(TIMM_TRANSPOSED, true);
  const y = matmul(net, x, w);
  return useBias ? add(net, y, net.param(`${prefix}.bias`, [out], { kind: 'normal', std: 0.02 })) : y;
}

/** LayerNorm over the last axis with `${prefix}.weight`/`.bias` (eps as timm's ViT: 1e-6). */
export function layerNorm(net: Net, x: Value, prefix: string, eps = 1e-6): Value {
  const c = dimOf(x, -1);
  const g = net.param(`${prefix}.weight`, [c], { kind: 'const', value: 1 });
  const b = net.param(`${prefix}.bias`, [c], { kind: 'const', value: 0 });
  return net.op('LayerNormalization', [x, g, b], { axis: attr.int(-1), epsilon: attr.float(eps) }, shapeOf(x));
}

/** Squeeze-excite as timm's `SEModule`: mean → fc1 (1×1, bias) → ReLU → fc2 → sigmoid gate. */
export function squeezeExcite(net: Net, x: Value, prefix: string, rdChannels: number): Value {
  const c = dimOf(x, 1);
  let s = globalAvgPool(net, x);
  s = relu(net, conv2d(net, s, `${prefix}.fc1`, { out: rdChannels, kernel: 1, bias: true }));
  s = sigmoid(net, conv2d(net, s, `${prefix}.fc2`, { out: c, kernel: 1, bias: true }));
  return mul(net, x, s);
}

/** timm's `make_divisible(v, divisor, round_limit=0)` as used by SEModule. */
export function makeDivisible(v: number, divisor = 8, roundLimit = 0): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < roundLimit * v) n += divisor;
  return n;
}

