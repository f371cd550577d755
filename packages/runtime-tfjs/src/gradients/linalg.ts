// Gradients of matrix products and 2-D convolution.
import { LeanformerError } from '@leanformer/core';
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig } from '@tensorflow/tfjs-core';
import { reduceTo } from './util.js';

type T = tf.Tensor;
type Attrs = Record<string, unknown>;
export const pair = (v: unknown): [number, number] => (typeof v === 'number' ? [v, v] : [(v as number[])[0]!, (v as number[])[1]!]);

/** y = op(a)·op(b) (op = optional transpose of the last two axes); batch axes broadcast. */
const batchMatMul: GradConfig = {
  kernelName: 'BatchMatMul',
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, [a, b], attrs) => {
    const g = dy as T;
    const { transposeA: ta, transposeB: tb } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    // dA = dy·Bᵀ (for A) or B·dyᵀ (for Aᵀ); dB = Aᵀ·dy (for B) or dyᵀ·A (for Bᵀ), with op() folded in.
    const da = () => reduceTo(!ta ? tf.matMul(g, b!, false, !tb) : tf.matMul(b!, g, tb, true), a!.shape);
    const db = () => reduceTo(!tb ? tf.matMul(a!, g, !ta, false) : tf.matMul(g, a!, true, ta), b!.shape);
    return { a: da, b: db };
  },
};

/** [top, bottom, left, right] padding of a Conv2D, as tfjs resolves its `pad` attribute. */
export function convPads(pad: unknown, x: T, filter: T, strides: [number, number], dilations: [number, number]): [number, number, number, number] {
  if (pad === 'valid') return [0, 0, 0, 0];
  if (typeof pad === 'number') return [pad, pad, pad, pad];
  if (Array.isArray(pad)) {
    const p = pad as [number, number][];
    return [p[1]![0], p[1]![1], p[2]![0], p[2]![1]];
  }
  // 'same': output = ⌈in / stride⌉, the padding split with the extra row/column at the end.
  const out: number[] = [];
  for (const i of [0, 1]) {
    const n = x.shape[i + 1]!, k = (filter.shape[i]! - 1) * dilations[i]! + 1, s = strides[i]!;
    const total = Math.max((Math.ceil(n / s) - 1) * s + k - n, 0);
    out.push(Math.floor(total / 2), total - Math.floor(total / 2));
  }
  return out as [number, number, number, number];
}

/** The filter with dilation − 1 zeros between its taps: a dilated conv is a plain one with this filter. */
function dilateFilter(w: T, dilations: [number, number]): T {
  let f = w;
  for (const i of [0, 1]) {
    const d = dilations[i]!;
    if (d === 1) continue;
    const k = f.shape[i]!;
    const paddings = Array.from({ length: f.rank + 1 }, (_, j): [number, number] => (j === i + 1 ? [0, d - 1] : [0, 0]));
    const spaced = tf.pad(tf.expandDims(f, i + 1), paddings);
    const flat = tf.reshape(spaced, f.shape.map((n, j) => (j === i ? n * d : n)));
    f = tf.slice(flat, f.shape.map(() => 0), f.shape.map((n, j) => (j === i ? (k - 1) * d + 1 : n)));
  }
  return f;
}

/**
 * NHWC Conv2D y[n, i, j, o] = Σ x̃[n, i·s + p·d, j·s + q·d, c] · w[p, q, c, o] on the padded input x̃.
 * dx̃ is the transposed convolution of dy (with the dilated filter), cropped to x; dw correlates x̃ with
 * dy: a convolution over the batch with x̃ as [c, H, W, n] and dy as the filter [i, j, n, o], strides and
 * dilations swapping roles.
 */
const conv2d: GradConfig = {
  kernelName: 'Conv2D',
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, [x, filter], attrs) => {
    const a = attrs as unknown as Attrs;
    const g = dy as T;
    const strides = pair(a['strides']), dilations = pair(a['dilations'] ?? 1);
    if (a['dataFormat'] === 'NCHW') throw new LeanformerError('NOT_SUPPORTED', 'the Conv2D gradient supports NHWC only (runtime-tfjs emits NHWC convolutions)');
    const [t, bottom, l, r] = convPads(a['pad'], x!, filter!, strides, dilations);
    const xp = tf.pad(x!, [[0, 0], [t, bottom], [l, r], [0, 0]]);
    return {
      x: () => {
        const dxp = tf.conv2dTranspose(g as tf.Tensor4D, dilateFilter(filter!, dilations) as tf.Tensor4D, xp.shape as [number, number, number, number], strides, 'valid');
        return tf.slice(dxp, [0, t, l, 0], x!.shape);
      },
      filter: () => {
        const [kh, kw, cin, cout] = filter!.shape as [number, number, number, number];
        const corr = tf.conv2d(tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D, tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D, dilations, 'valid', 'NHWC', strides);
        return tf.transpose(tf.slice(corr, [0, 0, 0, 0], [cin, kh, kw, cout]), [1, 2, 0, 3]);
      },
    };
  },
};

export const linalgGradients: GradConfig[] = [batchMatMul, conv2d];
