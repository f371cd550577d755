// Helpers shared by the gradient definitions: broadcasting reduction, axis normalization, zeros.
import * as tf from '@tensorflow/tfjs-core';

type T = tf.Tensor;

/**
 * `dy` summed back to `shape` (the input's shape before a broadcasting op): extra leading axes and
 * axes where `shape` has 1 and `dy` more are summed away, then reshaped to `shape`.
 */
export function reduceTo(dy: T, shape: readonly number[]): T {
  const lead = dy.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < dy.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && dy.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length ? tf.sum(dy, axes) : dy;
  return tf.reshape(summed, [...shape]);
}

/** Axes of a reduction attribute (number, list, or absent = all), normalized against `rank`. */
export function axesOf(axis: number | readonly number[] | null | undefined, rank: number): number[] {
  if (axis === null || axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axis === 'number' ? [axis] : [...axis];
  return list.map((a) => (a < 0 ? a + rank : a));
}

/** `dy` of a reduction over `axes` (keepDims or not), broadcast back to the input's `shape`. */
export function unreduce(dy: T, shape: readonly number[], axes: readonly number[]): T {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return tf.broadcastTo(tf.reshape(dy, kept), [...shape]);
}

/** The gradient of an input that the output does not vary with (indices, masks, piecewise-constant ops): float32 zeros. */
export function zerosOf(x: T): () => T {
  return () => tf.zeros(x.shape, 'float32');
}

/** `1` where `cond` holds, else `0`, as float32. */
export function mask(cond: T): T {
  return tf.cast(cond, 'float32');
}
