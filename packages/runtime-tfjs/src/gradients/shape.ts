// Gradients of data-movement kernels: each routes dy back to where the input's elements went.
import { LeanformerError } from '@leanformer/core';
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig } from '@tensorflow/tfjs-core';
import { reduceTo, zerosOf } from './util.js';

type T = tf.Tensor;
type Attrs = Record<string, unknown>;
const attrsOf = (a: unknown) => a as Attrs;
const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);
const list = (v: unknown, n: number): number[] => (typeof v === 'number' ? new Array<number>(n).fill(v) : [...(v as number[])]);

/**
 * The gradient of an op that only moves or repeats elements, given the op itself: running it on the
 * flat positions of the input (an int32 iota of the input's shape) says which input element each
 * output element came from, and dy is summed into those positions (ScatterNd adds repeats).
 */
function scatterBack(x: T, dy: T, op: (t: T) => T): T {
  const sources = op(tf.reshape(tf.range(0, x.size, 1, 'int32'), x.shape));
  return tf.reshape(tf.scatterND(tf.reshape(sources, [-1, 1]), tf.reshape(dy, [-1]), [x.size]), x.shape);
}

export const shapeGradients: GradConfig[] = [
  { kernelName: 'Reshape', inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.reshape(dy as T, x!.shape) }) },
  { kernelName: 'ExpandDims', inputsToSave: ['input'], gradFunc: (dy, [x]) => ({ input: () => tf.reshape(dy as T, x!.shape) }) },
  {
    kernelName: 'Transpose',
    gradFunc: (dy, _s, attrs) => {
      const perm = attrsOf(attrs)['perm'] as number[];
      const inverse = perm.map((_, i) => perm.indexOf(i));
      return { x: () => tf.transpose(dy as T, inverse) };
    },
  },
  {
    // Output dim i is reps[i] copies of input dim i: view dy as [r₀, d₀, r₁, d₁, …] and sum the r axes.
    kernelName: 'Tile',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const reps = attrsOf(attrs)['reps'] as number[];
      const split = x!.shape.flatMap((d, i) => [reps[i]!, d]);
      return { x: () => tf.sum(tf.reshape(dy as T, split), reps.map((_, i) => 2 * i)) };
    },
  },
  {
    kernelName: 'Concat',
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const axis = norm(Number(attrsOf(attrs)['axis']), saved[0]!.rank);
      return tf.split(dy as T, saved.map((t) => t.shape[axis]!), axis).map((g) => () => g) as unknown as ReturnType<GradConfig['gradFunc']>;
    },
  },
  {
    // Several outputs: dy is the list of their gradients (a single tensor when there is one output).
    kernelName: 'SplitV',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({ x: () => tf.concat(Array.isArray(dy) ? dy : [dy], norm(Number(attrsOf(attrs)['axis']), x!.rank)) }),
  },
  {
    kernelName: 'Pack',
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const axis = norm(Number(attrsOf(attrs)['axis']), saved[0]!.rank + 1);
      return tf.unstack(dy as T, axis).map((g) => () => g) as unknown as ReturnType<GradConfig['gradFunc']>;
    },
  },
  {
    kernelName: 'Unpack',
    inputsToSave: ['value'],
    gradFunc: (dy, [x], attrs) => ({ value: () => tf.stack(Array.isArray(dy) ? dy : [dy], norm(Number(attrsOf(attrs)['axis']), x!.rank)) }),
  },
  {
    // The slice is the window [begin, begin + size) of x: dy padded with zeros around it.
    kernelName: 'Slice',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const begin = list(attrsOf(attrs)['begin'], x!.rank);
      return { x: () => tf.pad(dy as T, x!.shape.map((d, i) => [begin[i]!, d - begin[i]! - (dy as T).shape[i]!] as [number, number])) };
    },
  },
  {
    // Begin/end/stride with masks: the op itself on element positions says where each output came from.
    kernelName: 'StridedSlice',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const a = attrsOf(attrs);
      const op = (t: T) => tf.stridedSlice(t, a['begin'] as number[], a['end'] as number[], a['strides'] as number[], Number(a['beginMask']), Number(a['endMask']), Number(a['ellipsisMask']), Number(a['newAxisMask']), Number(a['shrinkAxisMask']));
      return { x: () => scatterBack(x!, dy as T, op) };
    },
  },
  {
    kernelName: 'PadV2',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const paddings = attrsOf(attrs)['paddings'] as [number, number][];
      return { x: () => tf.slice(dy as T, paddings.map((p) => p[0]), x!.shape) };
    },
  },
  {
    kernelName: 'MirrorPad',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const a = attrsOf(attrs);
      return { x: () => scatterBack(x!, dy as T, (t) => tf.mirrorPad(t, a['paddings'] as [number, number][], a['mode'] as 'reflect' | 'symmetric')) };
    },
  },
  {
    kernelName: 'Reverse',
    gradFunc: (dy, _s, attrs) => ({ x: () => tf.reverse(dy as T, attrsOf(attrs)['dims'] as number[]) }),
  },
  {
    // y = x[..., indices, ...] along axis: each gathered row's dy is added back into its source row
    // (ScatterNd, which sums repeated indices). Indices get no gradient.
    kernelName: 'GatherV2',
    inputsToSave: ['x', 'indices'],
    gradFunc: (dy, [x, indices], attrs) => {
      const a = attrsOf(attrs);
      const axis = norm(Number(a['axis']), x!.rank);
      const batchDims = Number(a['batchDims'] ?? 0);
      return {
        x: () => {
          if (batchDims !== 0) throw new LeanformerError('NOT_SUPPORTED', `the GatherV2 gradient supports batchDims 0 only, got ${batchDims}`);
          const g = dy as T;
          const k = indices!.rank;
          // dy is x.shape[:axis] + indices.shape + x.shape[axis+1:]: bring the index dims first.
          const perm = [...Array.from({ length: k }, (_, i) => axis + i), ...Array.from({ length: axis }, (_, i) => i), ...Array.from({ length: g.rank - axis - k }, (_, i) => axis + k + i)];
          const rest = [...x!.shape.slice(0, axis), ...x!.shape.slice(axis + 1)];
          const rows = tf.reshape(tf.transpose(g, perm), [indices!.size, ...rest]);
          const summed = tf.scatterND(tf.reshape(tf.cast(indices!, 'int32'), [-1, 1]), rows, [x!.shape[axis]!, ...rest]);
          // [x.shape[axis], x.shape[:axis], x.shape[axis+1:]] back to x's order.
          const back = [...Array.from({ length: axis }, (_, i) => i + 1), 0, ...Array.from({ length: x!.rank - axis - 1 }, (_, i) => axis + 1 + i)];
          return tf.transpose(summed, back);
        },
        indices: zerosOf(indices!),
      };
    },
  },
  {
    // y = condition ? t : e, broadcast: the condition gets no gradient.
    kernelName: 'Select',
    inputsToSave: ['condition', 't', 'e'],
    gradFunc: (dy, [condition, t, e]) => {
      const g = dy as T;
      const zeros = tf.zerosLike(g);
      return {
        condition: zerosOf(condition!),
        t: () => reduceTo(tf.where(condition!, g, zeros), t!.shape),
        e: () => reduceTo(tf.where(condition!, zeros, g), e!.shape),
      };
    },
  },
  {
    kernelName: 'OneHot',
    inputsToSave: ['indices'],
    gradFunc: (_dy, [indices]) => ({ indices: zerosOf(indices!) }),
  },
];
