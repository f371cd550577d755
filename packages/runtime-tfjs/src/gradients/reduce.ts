// Gradients of reductions, softmax and cumulative sums.
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig } from '@tensorflow/tfjs-core';
import { axesOf, mask, unreduce } from './util.js';

type T = tf.Tensor;
type Attrs = Record<string, unknown>;
const attrsOf = (a: unknown) => a as Attrs;

/** Max and Min: the gradient flows to every element equal to the result (ties all receive it, as in tfjs). */
const extremum = (kernelName: string, axisAttr: string): GradConfig => ({
  kernelName,
  inputsToSave: ['x'],
  outputsToSave: [true],
  gradFunc: (dy, [x, y], attrs) => {
    const axes = axesOf(attrsOf(attrs)[axisAttr] as number | number[], x!.rank);
    return { x: () => tf.mul(unreduce(dy as T, x!.shape, axes), mask(tf.equal(x!, unreduce(y!, x!.shape, axes)))) };
  },
});

export const reduceGradients: GradConfig[] = [
  {
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({ x: () => unreduce(dy as T, x!.shape, axesOf(attrsOf(attrs)['axis'] as number[], x!.rank)) }),
  },
  {
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const axes = axesOf(attrsOf(attrs)['axis'] as number[], x!.rank);
      const count = axes.reduce((n, a) => n * x!.shape[a]!, 1);
      return { x: () => tf.div(unreduce(dy as T, x!.shape, axes), count) };
    },
  },
  extremum('Max', 'reductionIndices'),
  extremum('Min', 'axis'),
  {
    // y = softmax(x) along dim: dx = y ⊙ (dy − Σ dy ⊙ y)
    kernelName: 'Softmax',
    outputsToSave: [true],
    gradFunc: (dy, [y], attrs) => {
      const dim = Number(attrsOf(attrs)['dim']);
      return { logits: () => tf.mul(y!, tf.sub(dy as T, tf.sum(tf.mul(dy as T, y!), dim, true))) };
    },
  },
  {
    // Each output sums a run of inputs: the gradient sums dy over the runs each input belongs to, i.e. the
    // cumulative sum in the opposite direction (exclusive stays exclusive).
    kernelName: 'Cumsum',
    gradFunc: (dy, _saved, attrs) => {
      const a = attrsOf(attrs);
      return { x: () => tf.cumsum(dy as T, Number(a['axis']), !!a['exclusive'], !a['reverse']) };
    },
  },
];
