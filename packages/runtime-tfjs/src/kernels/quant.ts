// Integer and QLinear ops (ONNX's quantized MatMul/Conv). tfjs has no integer matmul on every
// backend, so products run in float32, where integer sums are exact below 2^24: MatMul splits K
// into chunks that stay under that bound and adds the chunks in int32; Conv refuses shapes whose
// receptive field could exceed it.
import { DTypes, type DType } from '@leanformer/core';
import type * as tfc from '@tensorflow/tfjs-core';
import type { Kernel, KernelContext } from '../kernel.js';
import { convForQuant } from './nn.js';

type T = tfc.Tensor;
const EXACT = 2 ** 24;

/** x − zero point (zp per tensor, or per row/column along `axis` when 1-D), as float32. */
function centered(c: KernelContext, x: T, zpIndex: number, axis: number): T {
  const { tf } = c;
  const xf = tf.cast(x, 'float32');
  if (!c.has(zpIndex)) return xf;
  const zp = tf.cast(c.t(zpIndex), 'float32');
  if (zp.size === 1) return tf.sub(xf, tf.reshape(zp, []));
  return tf.sub(xf, tf.reshape(zp, x.shape.map((d, i) => (i === (axis < 0 ? axis + x.rank : axis) ? d : 1))));
}

/** Exact integer A·B from float32 pieces: K split so |partial sums| stay below 2^24. */
function intMatMul(c: KernelContext, a: T, b: T, maxAbsA: number, maxAbsB: number): T {
  const { tf } = c;
  const K = a.shape[a.rank - 1]!;
  const chunk = Math.max(1, Math.floor((EXACT - 1) / Math.max(1, maxAbsA * maxAbsB)));
  if (chunk >= K) return tf.cast(tf.round(tf.matMul(a, b)), 'int32');
  let acc: T | undefined;
  for (let k = 0; k < K; k += chunk) {
    const n = Math.min(chunk, K - k);
    const ak = tf.slice(a, a.shape.map((_, i) => (i === a.rank - 1 ? k : 0)), a.shape.map((d, i) => (i === a.rank - 1 ? n : d)));
    const bk = tf.slice(b, b.shape.map((_, i) => (i === b.rank - 2 ? k : 0)), b.shape.map((d, i) => (i === b.rank - 2 ? n : d)));
    const part = tf.cast(tf.round(tf.matMul(ak, bk)), 'int32');
    acc = acc ? tf.add(acc, part) : part;
  }
  return acc!;
}

const span = (dt: DType) => (dt.bits <= 8 ? 255 : 65535);

function saturate(c: KernelContext, y: T, out: DType): T {
  const lo = out.isSigned ? -(2 ** (out.bits - 1)) : 0, hi = out.isSigned ? 2 ** (out.bits - 1) - 1 : 2 ** out.bits - 1;
  return c.tf.cast(c.tf.clipByValue(y, lo, hi), 'int32');
}

export const quantKernels: Record<string, Kernel> = {
  MatMulInteger: (c) => {
    const a = centered(c, c.t(0), 2, -2), b = centered(c, c.t(1), 3, -1);
    return intMatMul(c, a, b, span(c.dtype(0)), span(c.dtype(1)));
  },
  QLinearMatMul: (c) => {
    const { tf } = c;
    // a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp
    const a = centered(c, c.t(0), 2, -2), b = centered(c, c.t(3), 5, -1);
    const acc = tf.cast(intMatMul(c, a, b, span(c.dtype(0)), span(c.dtype(3))), 'float32');
    const scale = tf.div(tf.mul(tf.cast(c.t(1), 'float32'), tf.cast(c.t(4), 'float32')), tf.cast(c.t(6), 'float32'));
    const y = tf.add(tf.round(tf.mul(acc, scale.size === 1 ? tf.reshape(scale, []) : scale)), tf.cast(c.t(7), 'float32'));
    return saturate(c, y, c.dtype(7));
  },
  ConvInteger: (c) => {
    const x = centered(c, c.t(0), 2, 1), w = centered(c, c.t(1), 3, 0);
    const field = w.shape.slice(1).reduce((p, q) => p * q, 1);
    if (field * span(c.dtype(0)) * span(c.dtype(1)) >= EXACT) c.fail(`a receptive field of ${field} inputs could exceed float32's exact integer range`);
    return c.tf.cast(c.tf.round(convForQuant(c, x, w, null)), 'int32');
  },
  QLinearConv: (c) => {
    const { tf } = c;
    // x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B
    const x = centered(c, c.t(0), 2, 1), w = centered(c, c.t(3), 5, 0);
    const field = w.shape.slice(1).reduce((p, q) => p * q, 1);
    if (field * span(c.dtype(0)) * span(c.dtype(3)) >= EXACT) c.fail(`a receptive field of ${field} inputs could exceed float32's exact integer range`);
    let acc = tf.round(convForQuant(c, x, w, null));
    if (c.has(8)) acc = tf.add(acc, tf.reshape(tf.cast(c.t(8), 'float32'), [acc.shape[1]!, ...new Array<number>(acc.rank - 2).fill(1)]));
    const ws = tf.cast(c.t(4), 'float32');
    const wScale = ws.size === 1 ? tf.reshape(ws, []) : tf.reshape(ws, [ws.size, ...new Array<number>(acc.rank - 2).fill(1)]);
    const scale = tf.div(tf.mul(tf.reshape(tf.cast(c.t(1), 'float32'), []), wScale), tf.reshape(tf.cast(c.t(6), 'float32'), []));
    const y = tf.add(tf.round(tf.mul(acc, scale)), tf.reshape(tf.cast(c.t(7), 'float32'), []));
    return saturate(c, y, c.has(7) ? c.dtype(7) : DTypes.uint8);
  },
};
