// Linear algebra, convolution, pooling, normalization, softmax and reductions.
// ONNX lays images out NCHW; tfjs convolutions and pools take NHWC, so those kernels
// transpose in and out (the transposes are cheap next to the convolution itself).
import type * as tfc from '@tensorflow/tfjs-core';
import type { Kernel, KernelContext } from '../kernel.js';

type T = tfc.Tensor;

/**
 * Differentiable broadcast at any rank: tfjs' BroadcastTo gradient goes through Tile's, which
 * stops at rank 4, while Add's gradient sums over broadcast axes at any rank.
 */
export function broadcastTo(tf: typeof tfc, x: T, shape: readonly number[]): T {
  if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  if (x.dtype !== 'float32') return tf.broadcastTo(x, [...shape]);
  // tf.fill runs on the device; tf.zeros would build the zeros on the host and upload them every call.
  return tf.add(x, tf.fill([...shape], 0));
}

function matmul(tf: typeof tfc, a: T, b: T, training: boolean): T {
  // numpy semantics: 1-D operands gain a dimension that is dropped afterwards.
  const a1 = a.rank === 1, b1 = b.rank === 1;
  let A = a1 ? tf.reshape(a, [1, a.shape[0]!]) : a;
  let B = b1 ? tf.reshape(b, [b.shape[0]!, 1]) : b;
  let y: T;
  if (B.rank === 2 && A.rank > 2) {
    // [..., M, K] · [K, N] as one 2-D product: faster, and its gradient needs no broadcast reduction.
    const lead = A.shape.slice(0, -1);
    y = tf.reshape(tf.matMul(tf.reshape(A, [-1, A.shape[A.rank - 1]!]), B), [...lead, B.shape[1]!]);
  } else {
    // Broadcast batch dims explicitly: tfjs' BatchMatMul broadcasts only when one side's whole
    // batch is 1 (per-dim broadcasts like [2,2,2,·,·]·[2,2,1,·,·] come out wrong), and its
    // gradient does not sum over broadcast dims.
    const ba = A.shape.slice(0, -2), bb = B.shape.slice(0, -2);
    if (ba.length !== bb.length || ba.some((d, i) => d !== bb[i])) {
      const n = Math.max(ba.length, bb.length);
      const batch = Array.from({ length: n }, (_, i) => Math.max(ba[ba.length - n + i] ?? 1, bb[bb.length - n + i] ?? 1));
      const bcast = training ? (t: T, shape: number[]) => broadcastTo(tf, t, shape) : (t: T, shape: number[]) => (t.shape.join() === shape.join() ? t : tf.broadcastTo(t, shape));
      const expand = (t: T, lead: number[]) => bcast(tf.reshape(t, [...new Array<number>(n - lead.length).fill(1), ...t.shape]), [...batch, ...t.shape.slice(-2)]);
      A = expand(A, ba);
      B = expand(B, bb);
    }
    y = tf.matMul(A, B);
  }
  if (a1 || b1) {
    const s = [...y.shape];
    if (b1) s.pop(); // [..., M, 1] → [..., M]
    if (a1) s.splice(s.length - (b1 ? 1 : 2), 1); // [..., 1, N] → [..., N]
    y = tf.reshape(y, s);
  }
  return y;
}

const toNHWC = (r: number) => [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1];
const toNCHW = (r: number) => [0, r - 1, ...Array.from({ length: r - 2 }, (_, i) => i + 1)];

interface ConvGeom { kernel: number[]; strides: number[]; dilations: number[]; pads: number[] /* begins then ends */ }

/** Resolves kernel/strides/dilations/pads, applying auto_pad the way ONNX defines it. */
function convGeometry(c: KernelContext, spatial: number[], kernel: number[], ceil = false): ConvGeom {
  const n = spatial.length;
  const strides = c.attr<number[] | undefined>('strides', undefined) ?? new Array<number>(n).fill(1);
  const dilations = c.attr<number[] | undefined>('dilations', undefined) ?? new Array<number>(n).fill(1);
  let pads = c.attr<number[] | undefined>('pads', undefined) ?? new Array<number>(2 * n).fill(0);
  const auto = c.attr('auto_pad', 'NOTSET');
  if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    pads = new Array<number>(2 * n).fill(0);
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(spatial[i]! / strides[i]!);
      const eff = (kernel[i]! - 1) * dilations[i]! + 1;
      const total = Math.max(0, (out - 1) * strides[i]! + eff - spatial[i]!);
      const small = Math.floor(total / 2);
      pads[i] = auto === 'SAME_UPPER' ? small : total - small;
      pads[i + n] = total - pads[i]!;
    }
  } else if (auto === 'VALID') {
    pads = new Array<number>(2 * n).fill(0);
  }
  if (ceil) {
    // ceil_mode: extend the end padding so the last partial window is kept (but never starts in the padding).
    pads = [...pads];
    for (let i = 0; i < n; i++) {
      const eff = (kernel[i]! - 1) * dilations[i]! + 1;
      const span = spatial[i]! + pads[i]! + pads[i + n]! - eff;
      let out = Math.ceil(span / strides[i]!) + 1;
      if ((out - 1) * strides[i]! >= spatial[i]! + pads[i]!) out--;
      const need = (out - 1) * strides[i]! + eff - (spatial[i]! + pads[i]! + pads[i + n]!);
      if (need > 0) pads[i + n] = pads[i + n]! + need;
    }
  }
  return { kernel, strides, dilations, pads };
}

function conv(c: KernelContext): T {
  const x = c.t(0), w = c.t(1);
  if (x.rank < 3 || x.rank > 5) c.fail(`only 1-D, 2-D and 3-D convolutions are supported (input rank ${x.rank})`);
  const g = convGeometry(c, x.shape.slice(2), w.shape.slice(2));
  return convCore(c, x, w, c.opt(2), g.strides, g.dilations, g.pads, c.attr('group', 1));
}

/** Conv with the node's own geometry attributes on already-prepared float inputs (integer/QLinear convs). */
export function convForQuant(c: KernelContext, x: T, w: T, bias: T | null): T {
  const g = convGeometry(c, x.shape.slice(2), w.shape.slice(2));
  return convCore(c, x, w, bias, g.strides, g.dilations, g.pads, c.attr('group', 1));
}

/** NCHW convolution with explicit geometry (pads: begins then ends), any group count. */
function convCore(c: KernelContext, x: T, w: T, bias: T | null, strides0: number[], dilations0: number[], pads0: number[], group: number): T {
  const { tf } = c;
  const r = x.rank;
  if (strides0.some((s) => s > 1) && dilations0.some((d) => d > 1)) c.fail('strides and dilations both above 1 are not supported by tfjs');
  // 1-D runs as 2-D with a unit height.
  const oneD = r === 3;
  let xs = tf.transpose(x, toNHWC(r));
  let ws = tf.transpose(w, [...Array.from({ length: r - 2 }, (_, i) => i + 2), 1, 0]); // [k..., Cin/g, Cout]
  let strides = strides0, dilations = dilations0, pads = pads0;
  if (oneD) {
    xs = tf.expandDims(xs, 1);
    ws = tf.expandDims(ws, 0);
    strides = [1, strides[0]!];
    dilations = [1, dilations[0]!];
    pads = [0, pads[0]!, 0, pads[1]!];
  }
  const sp = strides.length;
  const explicit = [[0, 0], ...Array.from({ length: sp }, (_, i) => [pads[i]!, pads[i + sp]!]), [0, 0]] as [number, number][];
  const run = (xi: T, wi: T): T => {
    if (sp === 2) return tf.conv2d(xi as tfc.Tensor4D, wi as tfc.Tensor4D, strides as [number, number], explicit as never, 'NHWC', dilations as [number, number]);
    const padded = tf.pad(xi, explicit);
    return tf.conv3d(padded as tfc.Tensor5D, wi as tfc.Tensor5D, strides as [number, number, number], 'valid', 'NDHWC', dilations as [number, number, number]);
  };
  let y: T;
  const cin = x.shape[1]!;
  const cout = w.shape[0]!;
  if (group === 1) y = run(xs, ws);
  else if (group === cin && sp === 2) {
    // Depthwise: filter [kh, kw, Cin, multiplier].
    const mult = cout / cin;
    const wd = tf.reshape(ws, [...ws.shape.slice(0, 2), cin, mult]);
    y = tf.depthwiseConv2d(xs as tfc.Tensor4D, wd as tfc.Tensor4D, strides as [number, number], explicit as never, 'NHWC', dilations as [number, number]);
  } else {
    const xg = tf.split(xs, group, xs.rank - 1);
    const wg = tf.split(ws, group, ws.rank - 1);
    y = tf.concat(xg.map((xi, i) => run(xi, wg[i]!)), xs.rank - 1);
  }
  if (bias) y = tf.add(y, bias);
  if (oneD) y = tf.squeeze(y, [1]);
  return tf.transpose(y, toNCHW(r));
}

/**
 * ConvTranspose as a convolution: zeros inserted between input elements (stride), the input
 * padded by dilation·(k−1) − pad (plus output_padding at the end; negative means crop), and the
 * kernel flipped with its in/out channels swapped per group.
 */
function convTranspose(c: KernelContext): T {
  const { tf } = c;
  let x = c.t(0);
  const w = c.t(1);
  const r = x.rank;
  if (r < 3 || r > 5) c.fail(`only 1-D, 2-D and 3-D transposed convolutions are supported (input rank ${r})`);
  const n = r - 2;
  const group = c.attr('group', 1);
  const k = c.attr<number[] | undefined>('kernel_shape', undefined) ?? w.shape.slice(2);
  const s = c.attr<number[] | undefined>('strides', undefined) ?? new Array<number>(n).fill(1);
  const d = c.attr<number[] | undefined>('dilations', undefined) ?? new Array<number>(n).fill(1);
  const op = c.attr<number[] | undefined>('output_padding', undefined) ?? new Array<number>(n).fill(0);
  let pads = c.attr<number[] | undefined>('pads', undefined) ?? new Array<number>(2 * n).fill(0);
  const auto = c.attr('auto_pad', 'NOTSET');
  const outShape = c.attr<number[] | undefined>('output_shape', undefined);
  const inS = x.shape.slice(2);
  if (outShape || auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    const want = outShape ? outShape.slice(-n) : inS.map((v, i) => v * s[i]!);
    pads = new Array<number>(2 * n).fill(0);
    for (let i = 0; i < n; i++) {
      const total = s[i]! * (inS[i]! - 1) + op[i]! + (k[i]! - 1) * d[i]! + 1 - want[i]!;
      const half = Math.floor(total / 2);
      if (auto === 'SAME_UPPER') { pads[i] = half; pads[i + n] = total - half; } else { pads[i] = total - half; pads[i + n] = half; }
    }
  } else if (auto === 'VALID') pads = new Array<number>(2 * n).fill(0);
  for (let i = 0; i < n; i++) {
    const a = i + 2;
    if (s[i]! > 1) {
      // Insert s−1 zeros after every element along axis a, then drop the trailing ones.
      const len = x.shape[a]!;
      const e = tf.expandDims(x, a + 1);
      const padded = tf.pad(e, e.shape.map((_, j) => (j === a + 1 ? [0, s[i]! - 1] : [0, 0]) as [number, number]));
      const merged = tf.reshape(padded, x.shape.map((v, j) => (j === a ? v * s[i]! : v)));
      x = tf.slice(merged, x.shape.map(() => 0), x.shape.map((v, j) => (j === a ? (len - 1) * s[i]! + 1 : v)));
    }
  }
  const begin = k.map((kk, i) => d[i]! * (kk - 1) - pads[i]!);
  const end = k.map((kk, i) => d[i]! * (kk - 1) - pads[i + n]! + op[i]!);
  if (begin.some((v) => v < 0) || end.some((v) => v < 0)) {
    const b0 = x.shape.map((_, j) => (j < 2 ? 0 : Math.max(0, -begin[j - 2]!)));
    const sz = x.shape.map((v, j) => (j < 2 ? v : v - b0[j]! - Math.max(0, -end[j - 2]!)));
    x = tf.slice(x, b0, sz);
  }
  const cin = w.shape[0]!, coutG = w.shape[1]!;
  const kernelAxes = Array.from({ length: n }, (_, i) => i + 3);
  const wg = tf.reshape(w, [group, cin / group, coutG, ...w.shape.slice(2)]);
  const wt = tf.reverse(tf.transpose(wg, [0, 2, 1, ...kernelAxes]), kernelAxes);
  const wc = tf.reshape(wt, [group * coutG, cin / group, ...w.shape.slice(2)]);
  const cpads = [...begin.map((v) => Math.max(0, v)), ...end.map((v) => Math.max(0, v))];
  return convCore(c, x, wc, c.opt(2), new Array<number>(n).fill(1), d, cpads, group);
}

function pool(c: KernelContext, kind: 'max' | 'avg'): T {
  const { tf } = c;
  const x = c.t(0);
  const r = x.rank;
  if (r < 3 || r > 5) c.fail(`only 1-D, 2-D and 3-D pooling is supported (input rank ${r})`);
  if (c.node.outputs[1]) c.fail('the Indices output is not supported');
  const kernel = c.attr<number[]>('kernel_shape');
  const spatial = x.shape.slice(2);
  const g = convGeometry(c, spatial, kernel, !!c.attr('ceil_mode', 0));
  const n = spatial.length;
  let xs = tf.transpose(x, toNHWC(r));
  const paddings = [[0, 0], ...Array.from({ length: n }, (_, i) => [g.pads[i]!, g.pads[i + n]!]), [0, 0]] as [number, number][];
  // Padding is applied by hand (−inf for max; zeros plus a count mask for average), then a valid pool.
  const poolValid = (t: T, type: 'max' | 'avg'): T => {
    let t2 = t;
    let k = g.kernel, s = g.strides, d = g.dilations;
    if (n === 1) { t2 = tf.expandDims(t, 1); k = [1, k[0]!]; s = [1, s[0]!]; d = [1, d[0]!]; }
    let y: T;
    if (n === 3) {
      if (d.some((v) => v !== 1)) c.fail('dilated 3-D pooling is not supported');
      y = type === 'max' ? tf.maxPool3d(t2 as tfc.Tensor5D, k as [number, number, number], s as [number, number, number], 'valid')
        : tf.avgPool3d(t2 as tfc.Tensor5D, k as [number, number, number], s as [number, number, number], 'valid');
    } else if (d.some((v) => v !== 1)) {
      y = tf.pool(t2 as tfc.Tensor4D, k as [number, number], type, 'valid', d as [number, number], s as [number, number]);
    } else {
      y = type === 'max' ? tf.maxPool(t2 as tfc.Tensor4D, k as [number, number], s as [number, number], 'valid')
        : tf.avgPool(t2 as tfc.Tensor4D, k as [number, number], s as [number, number], 'valid');
    }
    return n === 1 ? tf.squeeze(y, [1]) : y;
  };
  let y: T;
  if (kind === 'max') {
    y = poolValid(tf.pad(xs, paddings, -Infinity), 'max');
  } else {
    const includePad = !!c.attr('count_include_pad', 0);
    const ceilExtra = paddings.map(([lo, hi], i) => (i === 0 || i === n + 1 ? [0, 0] : [lo, hi])) as [number, number][];
    const sum = poolValid(tf.pad(xs, paddings, 0), 'avg');
    // Count mask: ones over the input (and over explicit pads when they count), zeros elsewhere.
    const ones = tf.onesLike(tf.slice(xs, xs.shape.map(() => 0), [1, ...xs.shape.slice(1, -1), 1]));
    let mask: T;
    if (includePad) {
      const explicitOnly = c.attr<number[] | undefined>('pads', undefined);
      const base = explicitOnly && c.attr('auto_pad', 'NOTSET') === 'NOTSET'
        ? [[0, 0], ...Array.from({ length: n }, (_, i) => [explicitOnly[i]!, explicitOnly[i + n]!]), [0, 0]] as [number, number][]
        : ceilExtra;
      const m1 = tf.pad(ones, base, 1);
      const rest = paddings.map(([lo, hi], i) => [lo - base[i]![0], hi - base[i]![1]] as [number, number]);
      mask = tf.pad(m1, rest, 0);
    } else {
      mask = tf.pad(ones, paddings, 0);
    }
    y = tf.div(sum, poolValid(mask, 'avg'));
  }
  xs = y;
  return tf.transpose(xs, toNCHW(r));
}

function reduceAxes(c: KernelContext, sinceInput: number): number[] | null | 'noop' {
  const r = c.rank(0);
  const axes = c.opset >= sinceInput ? c.ints(1) : c.attr<number[] | undefined>('axes', undefined);
  if (!axes || axes.length === 0) return c.attr('noop_with_empty_axes', 0) ? 'noop' : null;
  return axes.map((a) => c.axis(a, r));
}

const reduce = (sinceInput: number, f: (tf: typeof tfc, x: T, axes: number[] | null, keep: boolean) => T): Kernel => (c) => {
  const axes = reduceAxes(c, sinceInput);
  const x = c.t(0);
  if (axes === 'noop') return x;
  const keep = !!c.attr('keepdims', 1);
  const y = f(c.tf, x, axes, keep);
  return y;
};

function softmaxAxis(c: KernelContext, x: T): number {
  return c.axis(c.attr('axis', c.opset >= 13 ? -1 : 1), x.rank);
}

/** Softmax family: opset < 13 flattens to 2-D at `axis`; 13+ normalizes along `axis`. */
function softmaxLike(c: KernelContext, f: (x: T, axis: number) => T): T {
  const { tf } = c;
  const x = c.t(0);
  const axis = softmaxAxis(c, x);
  if (c.opset < 13) {
    const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    return tf.reshape(f(tf.reshape(x, [outer, -1]), 1), x.shape);
  }
  return f(x, axis);
}

function softmax(tf: typeof tfc, x: T, axis: number): T {
  if (axis === x.rank - 1) return tf.softmax(x, -1);
  const m = tf.max(x, axis, true);
  const e = tf.exp(tf.sub(x, m));
  return tf.div(e, tf.sum(e, axis, true));
}

function logSoftmax(tf: typeof tfc, x: T, axis: number): T {
  if (axis === x.rank - 1) return tf.logSoftmax(x, -1);
  const m = tf.max(x, axis, true);
  const s = tf.sub(x, m);
  return tf.sub(s, tf.log(tf.sum(tf.exp(s), axis, true)));
}

function argReduce(c: KernelContext, max: boolean): T {
  const { tf } = c;
  let x = c.t(0);
  const axis = c.axis(c.attr('axis', 0), x.rank);
  const last = !!c.attr('select_last_index', 0);
  const n = x.shape[axis]!;
  if (last) x = tf.reverse(x, [axis]);
  let y: T = max ? tf.argMax(x, axis) : tf.argMin(x, axis);
  if (last) y = tf.sub(tf.scalar(n - 1, 'int32'), y);
  return c.attr('keepdims', 1) ? tf.expandDims(y, axis) : y;
}

/**
 * NegativeLogLikelihoodLoss on log-probabilities `[N, C, d…]` with int targets `[N, d…]`,
 * optional class weights, `ignore_index`, and reduction none | sum | mean (weighted mean).
 */
function nll(c: KernelContext, logp: T, target: T, weight: T | null): T {
  const { tf } = c;
  const C = logp.shape[1]!;
  const r = logp.rank;
  const last = tf.transpose(logp, [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1]); // [N, d…, C]
  const t = tf.cast(target, 'int32');
  const ignore = c.attr<number | undefined>('ignore_index', undefined);
  const keep = ignore === undefined ? null : tf.notEqual(t, tf.scalar(ignore, 'int32'));
  const safe = keep ? tf.where(keep, t, tf.zerosLike(t)) : t;
  const picked = tf.sum(tf.mul(last, tf.oneHot(safe, C, 1, 0, 'float32')), -1);
  let w: T = weight ? tf.gather(weight, safe) : tf.onesLike(picked);
  if (keep) w = tf.mul(w, tf.cast(keep, 'float32'));
  const loss = tf.neg(tf.mul(picked, w));
  const red = c.attr('reduction', 'mean');
  if (red === 'none') return loss;
  if (red === 'sum') return tf.sum(loss);
  if (red === 'mean') return tf.div(tf.sum(loss), tf.sum(w));
  return c.fail(`reduction '${red}' is not supported; allowed: none, sum, mean`);
}

/** x / √(mean(x², axes from `axis`) + ε) · scale, and the inverse RMS (float32 compute). */
function rmsNorm(c: KernelContext): { y: T; inv: T } {
  const { tf } = c;
  const x = c.t(0);
  const axis = c.axis(c.attr('axis', -1), x.rank);
  const axes = Array.from({ length: x.rank - axis }, (_, i) => axis + i);
  const inv = tf.rsqrt(tf.add(tf.mean(tf.square(x), axes, true), c.attr('epsilon', 1e-5)));
  return { y: tf.mul(tf.mul(x, inv), c.t(1)), inv };
}

export const nnKernels: Record<string, Kernel> = {
  NegativeLogLikelihoodLoss: (c) => nll(c, c.t(0), c.t(1), c.opt(2)),
  SoftmaxCrossEntropyLoss: (c) => {
    const { tf } = c;
    const x = c.t(0);
    const logp = x.rank === 2 ? tf.logSoftmax(x, -1) : logSoftmax(tf, x, 1);
    return [nll(c, logp, c.t(1), c.opt(2)), c.node.outputs[1] ? logp : null];
  },
  MatMul: (c) => matmul(c.tf, c.t(0), c.t(1), c.training),
  Gemm: (c) => {
    const { tf } = c;
    const alpha = c.attr('alpha', 1.0), beta = c.attr('beta', 1.0);
    let y = tf.matMul(c.t(0), c.t(1), !!c.attr('transA', 0), !!c.attr('transB', 0));
    if (alpha !== 1) y = tf.mul(y, alpha);
    if (c.has(2) && beta !== 0) y = tf.add(y, beta === 1 ? c.t(2) : tf.mul(c.t(2), beta));
    return y;
  },
  // tfjs' einsum covers up to two operands without ellipses; other equations fail at run time with its message.
  Einsum: (c) => {
    let eq = c.attr<string>('equation').replace(/\s+/g, '');
    if (!eq.includes('->')) {
      // Implicit output (numpy rules): the letters that occur once, in alphabetical order.
      const counts = new Map<string, number>();
      for (const ch of eq.replace(/[^a-zA-Z]/g, '')) counts.set(ch, (counts.get(ch) ?? 0) + 1);
      eq = `${eq}->${[...counts].filter(([, n]) => n === 1).map(([ch]) => ch).sort().join('')}`;
    }
    return c.tf.einsum(eq, ...c.inputs.map((_, i) => c.t(i)));
  },
  Conv: conv,
  ConvTranspose: convTranspose,
  MaxPool: (c) => pool(c, 'max'),
  AveragePool: (c) => pool(c, 'avg'),
  GlobalAveragePool: (c) => c.tf.mean(c.t(0), Array.from({ length: c.rank(0) - 2 }, (_, i) => i + 2), true),
  GlobalMaxPool: (c) => c.tf.max(c.t(0), Array.from({ length: c.rank(0) - 2 }, (_, i) => i + 2), true),
  BatchNormalization: (c) => {
    const { tf } = c;
    const x = c.t(0);
    const shape = [x.shape[1]!, ...new Array<number>(Math.max(0, x.rank - 2)).fill(1)];
    const [scale, bias, mean, v] = [1, 2, 3, 4].map((i) => tf.reshape(c.t(i), shape));
    const eps = c.attr('epsilon', 1e-5);
    if (c.attr('training_mode', 0)) {
      // Training mode (opset 14+): normalize with batch statistics; update running stats with momentum.
      const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
      const { mean: bm, variance: bv } = tf.moments(x, axes, true);
      const y = tf.add(tf.mul(tf.mul(tf.sub(x, bm), tf.rsqrt(tf.add(bv, eps))), scale!), bias!);
      const mom = c.attr('momentum', 0.9);
      const run = (old: T, cur: T) => tf.reshape(tf.add(tf.mul(old, mom), tf.mul(cur, 1 - mom)), [x.shape[1]!]);
      return [y, c.node.outputs[1] ? run(mean!, bm) : null, c.node.outputs[2] ? run(v!, bv) : null];
    }
    if (c.node.outputs.slice(1).some((o) => o)) c.fail('running mean/var outputs need training_mode=1');
    const inv = tf.rsqrt(tf.add(v!, eps));
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean!), inv), scale!), bias!);
  },
  InstanceNormalization: (c) => {
    const { tf } = c;
    const x = c.t(0);
    const axes = Array.from({ length: x.rank - 2 }, (_, i) => i + 2);
    const { mean, variance } = tf.moments(x, axes, true);
    const shape = [x.shape[1]!, ...new Array<number>(x.rank - 2).fill(1)];
    const y = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, c.attr('epsilon', 1e-5))));
    return tf.add(tf.mul(y, tf.reshape(c.t(1), shape)), tf.reshape(c.t(2), shape));
  },
  LayerNormalization: (c) => {
    const { tf } = c;
    const x = c.t(0);
    const axis = c.axis(c.attr('axis', -1), x.rank);
    const axes = Array.from({ length: x.rank - axis }, (_, i) => axis + i);
    const mean = tf.mean(x, axes, true);
    const d = tf.sub(x, mean);
    const variance = tf.mean(tf.square(d), axes, true);
    const inv = tf.rsqrt(tf.add(variance, c.attr('epsilon', 1e-5)));
    let y = tf.mul(tf.mul(d, inv), c.t(1));
    if (c.has(2)) y = tf.add(y, c.t(2));
    return [y, c.node.outputs[1] ? mean : null, c.node.outputs[2] ? inv : null];
  },
  RMSNormalization: (c) => rmsNorm(c).y,
  // ONNX Runtime's RMSNorm (registered in the default domain; what convert emits for ORT targets before
  // opset 23): the same, with the optional inverse RMS output.
  SimplifiedLayerNormalization: (c) => { const { y, inv } = rmsNorm(c); return [y, c.node.outputs[1] ? inv : null]; },
  LpNormalization: (c) => {
    const { tf } = c;
    const x = c.t(0);
    const axis = c.axis(c.attr('axis', -1), x.rank);
    const p = c.attr('p', 2);
    const norm = p === 1 ? tf.sum(tf.abs(x), axis, true) : tf.sqrt(tf.sum(tf.square(x), axis, true));
    return tf.div(x, norm);
  },
  MeanVarianceNormalization: (c) => {
    const { tf } = c;
    const x = c.t(0);
    const axes = (c.attr<number[] | undefined>('axes', undefined) ?? [0, 2, 3]).map((a) => c.axis(a, x.rank));
    const { mean, variance } = tf.moments(x, axes, true);
    return tf.div(tf.sub(x, mean), tf.add(tf.sqrt(variance), 1e-9));
  },
  LRN: (c) => {
    const { tf } = c;
    const x = c.t(0);
    const size = c.attr<number>('size');
    const alpha = c.attr('alpha', 0.0001), beta = c.attr('beta', 0.75), bias = c.attr('bias', 1.0);
    // Sum of squares over channels [c - floor((size-1)/2), c + ceil((size-1)/2)].
    const lo = Math.floor((size - 1) / 2), hi = Math.ceil((size - 1) / 2);
    const sq = tf.square(x);
    const padded = tf.pad(sq, x.shape.map((_, i) => (i === 1 ? [lo, hi] : [0, 0]) as [number, number]));
    const C = x.shape[1]!;
    let sum: T = tf.zerosLike(x);
    for (let k = 0; k < size; k++) sum = tf.add(sum, tf.slice(padded, x.shape.map((_, i) => (i === 1 ? k : 0)), x.shape.map((d, i) => (i === 1 ? C : d))));
    return tf.div(x, tf.pow(tf.add(bias, tf.mul(alpha / size, sum)), beta));
  },
  Softmax: (c) => softmaxLike(c, (x, a) => softmax(c.tf, x, a)),
  LogSoftmax: (c) => softmaxLike(c, (x, a) => logSoftmax(c.tf, x, a)),
  Hardmax: (c) => softmaxLike(c, (x, a) => {
    const { tf } = c;
    const n = x.shape[a]!;
    const idx = tf.expandDims(tf.argMax(x, a), a);
    const iota = tf.reshape(tf.range(0, n, 1, 'int32'), x.shape.map((d, i) => (i === a ? n : 1)));
    return tf.cast(tf.equal(iota, idx), 'float32');
  }),
  ReduceMean: reduce(18, (tf, x, a, k) => tf.mean(x, a ?? undefined, k)),
  ReduceSum: reduce(13, (tf, x, a, k) => tf.sum(x, a ?? undefined, k)),
  ReduceMax: reduce(18, (tf, x, a, k) => tf.max(x, a ?? undefined, k)),
  ReduceMin: reduce(18, (tf, x, a, k) => tf.min(x, a ?? undefined, k)),
  ReduceProd: reduce(18, (tf, x, a, k) => tf.prod(x, a ?? undefined, k)),
  ReduceL1: reduce(18, (tf, x, a, k) => tf.sum(tf.abs(x), a ?? undefined, k)),
  ReduceL2: reduce(18, (tf, x, a, k) => tf.sqrt(tf.sum(tf.square(x), a ?? undefined, k))),
  ReduceSumSquare: reduce(18, (tf, x, a, k) => tf.sum(tf.square(x), a ?? undefined, k)),
  ReduceLogSum: reduce(18, (tf, x, a, k) => tf.log(tf.sum(x, a ?? undefined, k))),
  ReduceLogSumExp: reduce(18, (tf, x, a, k) => tf.logSumExp(x, a ?? undefined, k)),
  ArgMax: (c) => argReduce(c, true),
  ArgMin: (c) => argReduce(c, false),
  CumSum: (c) => {
    const x = c.t(0);
    const axis = c.axis(c.host(1)!.data[0]!, x.rank);
    return c.tf.cumsum(x, axis, !!c.attr('exclusive', 0), !!c.attr('reverse', 0));
  },
  TopK: (c) => {
    const { tf } = c;
    const x = c.t(0);
    const axis = c.axis(c.attr('axis', -1), x.rank);
    const k = c.opset < 10 ? c.attr<number>('k') : c.host(1)!.data[0]!;
    const largest = c.attr('largest', 1);
    const last = axis === x.rank - 1;
    const perm = x.shape.map((_, i) => i);
    perm[axis] = x.rank - 1;
    perm[x.rank - 1] = axis;
    let xt = last ? x : tf.transpose(x, perm);
    if (!largest) xt = tf.neg(xt);
    const { values, indices } = tf.topk(xt, k, true);
    let v: T = largest ? values : tf.neg(values);
    let i: T = indices;
    if (!last) { v = tf.transpose(v, perm); i = tf.transpose(i, perm); }
    return [v, i];
  },
};
