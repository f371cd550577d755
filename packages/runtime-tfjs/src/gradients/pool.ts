// Gradients of depthwise convolution, 2-D pooling and the space/batch reshuffles of dilated pooling.
import { LeanformerError } from '@leanformer/core';
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig } from '@tensorflow/tfjs-core';
import { convPads, pair } from './linalg.js';

type T = tf.Tensor;
type Attrs = Record<string, unknown>;

/**
 * The [n, h, w, c] tensor `t` written at rows start₀ + i·s₀ and columns start₁ + j·s₁ of an
 * [n, H, W, c] zero tensor (the adjoint of that strided window): stride − 1 zeros go between rows and
 * columns, then zero padding around.
 */
function placeStrided(t: T, start: [number, number], strides: [number, number], size: [number, number]): T {
  let u = t;
  for (const i of [0, 1]) {
    const s = strides[i]!, n = u.shape[i + 1]!;
    if (s === 1 || n === 1) continue;
    const paddings = Array.from({ length: u.rank + 1 }, (_, j): [number, number] => (j === i + 2 ? [0, s - 1] : [0, 0]));
    const spaced = tf.reshape(tf.pad(tf.expandDims(u, i + 2), paddings), u.shape.map((d, j) => (j === i + 1 ? d * s : d)));
    u = tf.slice(spaced, u.shape.map(() => 0), u.shape.map((d, j) => (j === i + 1 ? (n - 1) * s + 1 : d)));
  }
  const [h, w] = [u.shape[1]!, u.shape[2]!];
  return tf.pad(u, [[0, 0], [start[0], size[0] - start[0] - h], [start[1], size[1] - start[1] - w], [0, 0]]);
}

/**
 * NHWC depthwise conv y[n, i, j, c·m + k] = Σ_{p,q} x̃[n, i·s + p·d, j·s + q·d, c] · w[p, q, c, k], one
 * filter tap at a time: the tap's strided window of x̃ (for dw) and dy placed back at that window (for dx̃).
 */
const depthwise: GradConfig = {
  kernelName: 'DepthwiseConv2dNative',
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, [x, filter], attrs) => {
    const a = attrs as unknown as Attrs;
    if (a['dataFormat'] === 'NCHW') throw new LeanformerError('NOT_SUPPORTED', 'the DepthwiseConv2dNative gradient supports NHWC only (runtime-tfjs emits NHWC convolutions)');
    const strides = pair(a['strides']), dilations = pair(a['dilations'] ?? 1);
    const [t, b, l, r] = convPads(a['pad'], x!, filter!, strides, dilations);
    const xp = tf.pad(x!, [[0, 0], [t, b], [l, r], [0, 0]]);
    const [kh, kw, c, m] = filter!.shape as [number, number, number, number];
    const [n, oh, ow] = (dy as T).shape as [number, number, number, number];
    const g = tf.reshape(dy as T, [n, oh, ow, c, m]);
    const taps: [number, number][] = [];
    for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) taps.push([p * dilations[0], q * dilations[1]]);
    return {
      x: () => {
        const parts = taps.map(([p, q], k) => {
          const wk = tf.reshape(tf.slice(filter!, [Math.floor(k / kw), k % kw, 0, 0], [1, 1, c, m]), [c, m]);
          return placeStrided(tf.sum(tf.mul(g, wk), 4), [p, q], strides, [xp.shape[1]!, xp.shape[2]!]);
        });
        return tf.slice(tf.addN(parts), [0, t, l, 0], x!.shape);
      },
      filter: () => {
        const per = taps.map(([p, q]) => {
          const win = tf.stridedSlice(xp, [0, p, q, 0], [n, p + (oh - 1) * strides[0] + 1, q + (ow - 1) * strides[1] + 1, c], [1, strides[0], strides[1], 1]);
          return tf.sum(tf.mul(tf.expandDims(win, 4), g), [0, 1, 2]); // [c, m]
        });
        return tf.reshape(tf.stack(per), [kh, kw, c, m]);
      },
    };
  },
};

/** Pool attributes; only unpadded ('valid') pools, the form runtime-tfjs emits (it pads by hand first). */
function poolGeometry(kernel: string, attrs: unknown): { k: [number, number]; s: [number, number] } {
  const a = attrs as Attrs;
  if (a['pad'] !== 'valid' && a['pad'] !== 0) throw new LeanformerError('NOT_SUPPORTED', `the ${kernel} gradient supports pad 'valid' only (runtime-tfjs pads before pooling), got ${JSON.stringify(a['pad'])}`);
  return { k: pair(a['filterSize']), s: pair(a['strides']) };
}

export const poolGradients: GradConfig[] = [
  depthwise,
  {
    // Each output averages its k₀·k₁ window: every window element gets dy / (k₀·k₁), one tap at a time.
    kernelName: 'AvgPool',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const { k, s } = poolGeometry('AvgPool', attrs);
      return {
        x: () => {
          const g = tf.div(dy as T, k[0] * k[1]);
          const parts: T[] = [];
          for (let p = 0; p < k[0]; p++) for (let q = 0; q < k[1]; q++) parts.push(placeStrided(g, [p, q], s, [x!.shape[1]!, x!.shape[2]!]));
          return tf.addN(parts);
        },
      };
    },
  },
  {
    // Each output's dy goes to the element its window took (tf.maxPoolWithArgmax names it; ties: one of them).
    kernelName: 'MaxPool',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const { k, s } = poolGeometry('MaxPool', attrs);
      return {
        x: () => {
          const { indexes } = tf.maxPoolWithArgmax(x as tf.Tensor4D, k, s, 'valid', true);
          return tf.reshape(tf.scatterND(tf.reshape(indexes, [-1, 1]), tf.reshape(dy as T, [-1]), [x!.size]), x!.shape);
        },
      };
    },
  },
  {
    // The two reshuffles undo each other: padding ↔ cropping.
    kernelName: 'SpaceToBatchND',
    gradFunc: (dy, _s, attrs) => {
      const a = attrs as unknown as { blockShape: number[]; paddings: number[][] };
      return { x: () => tf.batchToSpaceND(dy as T, a.blockShape, a.paddings) };
    },
  },
  {
    kernelName: 'BatchToSpaceND',
    gradFunc: (dy, _s, attrs) => {
      const a = attrs as unknown as { blockShape: number[]; crops: number[][] };
      return { x: () => tf.spaceToBatchND(dy as T, a.blockShape, a.crops) };
    },
  },
];
