// Shape and data-movement ops. Each op that shape arithmetic uses has a host form too.
import { DTypes, dtypeFromOnnx, LeanformerError, type DType } from '@leanformer/core';
import type * as tfc from '@tensorflow/tfjs-core';
import { tfDTypeOf } from '../dtypes.js';
import { broadcastShape, HostValue, HOST_MAX_ELEMENTS, hostConcat, hostExpand, hostGather, hostReduce, hostSlice, hostTranspose, INT64, normalize } from '../host.js';
import { broadcastTo } from './nn.js';
import { isHost, type HostKernel, type Kernel, type KernelContext, type RValue } from '../kernel.js';

type T = tfc.Tensor;

/** ONNX Reshape semantics: 0 copies the input dim (unless allowzero), -1 is inferred. */
function reshapeTarget(c: KernelContext, inShape: readonly number[], spec: readonly number[]): number[] {
  const allowzero = c.attr('allowzero', 0);
  const out = spec.map((d, i) => (d === 0 && !allowzero ? inShape[i]! : d));
  const known = out.reduce((a, d) => (d === -1 ? a : a * d), 1);
  const total = inShape.reduce((a, b) => a * b, 1);
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1) c.fail(`shape [${spec.join(', ')}] has more than one -1`);
  if (neg === 1) {
    if (known === 0 || total % known !== 0) c.fail(`cannot reshape [${inShape.join(', ')}] to [${spec.join(', ')}]`);
    out[out.indexOf(-1)] = total / known;
  } else if (known !== total) c.fail(`cannot reshape [${inShape.join(', ')}] (${total} elements) to [${out.join(', ')}]`);
  return out;
}

function flattenShape(c: KernelContext, shape: readonly number[]): number[] {
  const r = shape.length;
  let axis = c.attr('axis', 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r) c.fail(`axis ${c.attr('axis', 1)} is out of range for rank ${r}`);
  const a = shape.slice(0, axis).reduce((x, y) => x * y, 1);
  return [a, shape.slice(axis).reduce((x, y) => x * y, 1)];
}

function axesOf(c: KernelContext, inputIndex: number, sinceInput: number): number[] | undefined {
  return c.opset >= sinceInput ? c.ints(inputIndex) : (c.attr<number[] | undefined>('axes', undefined));
}

function squeezeShape(c: KernelContext, shape: readonly number[]): number[] {
  const axes = axesOf(c, 1, 13);
  if (!axes || axes.length === 0) return shape.filter((d) => d !== 1);
  const norm = axes.map((a) => c.axis(a, shape.length));
  for (const a of norm) if (shape[a] !== 1) c.fail(`cannot squeeze axis ${a} of size ${shape[a]}`);
  return shape.filter((_, i) => !norm.includes(i));
}

function unsqueezeShape(c: KernelContext, shape: readonly number[]): number[] {
  const axes = axesOf(c, 1, 13);
  if (!axes) c.fail('axes are required');
  const r = shape.length + axes.length;
  const norm = axes.map((a) => c.axis(a, r));
  if (new Set(norm).size !== norm.length) c.fail(`axes [${axes.join(', ')}] repeat`);
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(norm.includes(i) ? 1 : shape[j++]!);
  return out;
}

interface SliceSpec { starts: number[]; steps: number[]; counts: number[] }

/** Normalizes ONNX Slice arguments to per-axis start, step and count (clamped as ONNX specifies). */
function sliceSpec(c: KernelContext, shape: readonly number[]): SliceSpec {
  const r = shape.length;
  const starts = c.opset < 10 ? c.attr<number[]>('starts') : c.ints(1)!;
  const ends = c.opset < 10 ? c.attr<number[]>('ends') : c.ints(2)!;
  const axes = (c.opset < 10 ? c.attr<number[] | undefined>('axes', undefined) : c.ints(3)) ?? starts.map((_, i) => i);
  const steps = (c.opset < 10 ? undefined : c.ints(4)) ?? starts.map(() => 1);
  const out: SliceSpec = { starts: shape.map(() => 0), steps: shape.map(() => 1), counts: [...shape] };
  axes.forEach((a0, i) => {
    const a = c.axis(a0, r);
    const dim = shape[a]!;
    const step = steps[i]!;
    if (step === 0) c.fail('slice step must not be 0');
    let s = starts[i]!, e = ends[i]!;
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (step > 0) {
      s = Math.min(Math.max(s, 0), dim);
      e = Math.min(Math.max(e, 0), dim);
    } else {
      s = Math.min(Math.max(s, 0), dim - 1);
      e = Math.min(Math.max(e, -1), dim - 1);
    }
    out.starts[a] = s;
    out.steps[a] = step;
    out.counts[a] = Math.max(0, step > 0 ? Math.ceil((e - s) / step) : Math.ceil((s - e) / -step));
  });
  return out;
}

function tfSlice(tf: typeof tfc, x: T, spec: SliceSpec): T {
  if (spec.counts.some((n) => n === 0)) return tf.zeros(spec.counts, x.dtype);
  const neg = spec.steps.map((s, i) => (s < 0 ? i : -1)).filter((i) => i >= 0);
  let starts = spec.starts;
  const steps = spec.steps.map(Math.abs);
  if (neg.length) {
    // Reverse the negatively stepped axes so every step is positive.
    x = tf.reverse(x, neg);
    starts = starts.map((s, i) => (spec.steps[i]! < 0 ? x.shape[i]! - 1 - s : s));
  }
  if (steps.every((s) => s === 1)) return tf.slice(x, starts, spec.counts);
  const ends = starts.map((s, i) => s + (spec.counts[i]! - 1) * steps[i]! + 1);
  return tf.stridedSlice(x, starts, ends, steps);
}

function splitSizes(c: KernelContext, dim: number): number[] {
  const n = c.node.outputs.length;
  let sizes = c.opset >= 13 ? c.ints(1) : c.attr<number[] | undefined>('split', undefined);
  if (!sizes || sizes.length === 0) {
    const num = c.attr<number | undefined>('num_outputs', undefined);
    if (num !== undefined) {
      const chunk = Math.ceil(dim / num);
      sizes = Array.from({ length: num }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
    } else {
      if (dim % n !== 0) c.fail(`cannot split a dim of ${dim} into ${n} equal parts`);
      sizes = new Array<number>(n).fill(dim / n);
    }
  }
  if (sizes.reduce((a, b) => a + b, 0) !== dim) c.fail(`split sizes [${sizes.join(', ')}] do not sum to ${dim}`);
  return sizes;
}

/** Constant-pad/reflect/edge pads, with negative pads applied as crops. */
function tfPad(c: KernelContext): T {
  const { tf } = c;
  let x = c.t(0);
  const r = x.rank;
  const mode = c.attr('mode', 'constant');
  let pads: number[];
  let value = 0;
  if (c.opset < 11) {
    pads = c.attr<number[]>('pads');
    value = c.attr('value', 0);
  } else {
    const raw = c.ints(1)!;
    const axes = c.ints(3)?.map((a) => c.axis(a, r)) ?? Array.from({ length: r }, (_, i) => i);
    pads = new Array<number>(2 * r).fill(0);
    axes.forEach((a, i) => { pads[a] = raw[i]!; pads[a + r] = raw[i + axes.length]!; });
    if (c.has(2)) value = c.host(2)!.data[0]!;
  }
  if (pads.length !== 2 * r) c.fail(`pads has ${pads.length} entries; rank ${r} needs ${2 * r}`);
  // Crop first (negative pads), then pad (positive pads).
  if (pads.some((p) => p < 0)) {
    const begin = x.shape.map((_, i) => Math.max(0, -pads[i]!));
    const size = x.shape.map((d, i) => d - begin[i]! - Math.max(0, -pads[i + r]!));
    x = tf.slice(x, begin, size);
  }
  const paddings = x.shape.map((_, i) => [Math.max(0, pads[i]!), Math.max(0, pads[i + r]!)] as [number, number]);
  if (mode === 'constant') return tf.pad(x, paddings, value);
  if (mode === 'reflect') return tf.mirrorPad(x, paddings, 'reflect');
  if (mode === 'edge') {
    for (let a = 0; a < r; a++) {
      const [lo, hi] = paddings[a]!;
      if (!lo && !hi) continue;
      const n = x.shape[a]!;
      const parts: T[] = [];
      if (lo) parts.push(tf.concat(new Array<T>(lo).fill(sliceAxis(tf, x, a, 0, 1)), a));
      parts.push(x);
      if (hi) parts.push(tf.concat(new Array<T>(hi).fill(sliceAxis(tf, x, a, n - 1, 1)), a));
      x = tf.concat(parts, a);
    }
    return x;
  }
  c.fail(`mode '${mode}' is not supported; allowed: constant, reflect, edge`);
}

function sliceAxis(tf: typeof tfc, x: T, axis: number, start: number, size: number): T {
  const b = x.shape.map(() => 0);
  const s = [...x.shape];
  b[axis] = start;
  s[axis] = size;
  return tf.slice(x, b, s);
}

function normIndices(tf: typeof tfc, idx: T, dim: number): T {
  const i = idx.dtype === 'int32' ? idx : tf.cast(idx, 'int32');
  return tf.where(tf.less(i, 0), tf.add(i, tf.scalar(dim, 'int32')), i);
}

function constantValue(c: KernelContext): { dt: DType; value: number } {
  const t = c.attrTensor('value');
  if (!t) return { dt: DTypes.float32, value: 0 };
  return { dt: t.dtype, value: Number(t.toArray()[0]) };
}

function depthSpace(c: KernelContext, toSpace: boolean): T {
  const { tf } = c;
  const x = c.t(0);
  const b = c.attr<number>('blocksize');
  const [n, ch, h, w] = x.shape as [number, number, number, number];
  if (toSpace) {
    const cc = ch / (b * b);
    if (c.attr('mode', 'DCR') === 'CRD') {
      return tf.reshape(tf.transpose(tf.reshape(x, [n, cc, b, b, h, w]), [0, 1, 4, 2, 5, 3]), [n, cc, h * b, w * b]);
    }
    return tf.reshape(tf.transpose(tf.reshape(x, [n, b, b, cc, h, w]), [0, 3, 4, 1, 5, 2]), [n, cc, h * b, w * b]);
  }
  return tf.reshape(tf.transpose(tf.reshape(x, [n, ch, h / b, b, w / b, b]), [0, 3, 5, 1, 2, 4]), [n, ch * b * b, h / b, w / b]);
}

export const shapeKernels: Record<string, Kernel> = {
  Reshape: (c) => c.tf.reshape(c.t(0), reshapeTarget(c, c.shape(0), c.opset < 5 ? c.attr<number[]>('shape') : c.ints(1)!)),
  Flatten: (c) => c.tf.reshape(c.t(0), flattenShape(c, c.shape(0))),
  Squeeze: (c) => c.tf.reshape(c.t(0), squeezeShape(c, c.shape(0))),
  Unsqueeze: (c) => c.tf.reshape(c.t(0), unsqueezeShape(c, c.shape(0))),
  Transpose: (c) => c.tf.transpose(c.t(0), c.attr<number[] | undefined>('perm', undefined)),
  Concat: (c) => {
    const parts = c.inputs.map((_, i) => c.t(i));
    const axis = c.axis(c.attr<number>('axis'), parts[0]!.rank);
    return parts.length === 1 ? parts[0]! : c.tf.concat(parts, axis);
  },
  Split: (c) => {
    const x = c.t(0);
    const axis = c.axis(c.attr('axis', 0), x.rank);
    return c.tf.split(x, splitSizes(c, x.shape[axis]!), axis);
  },
  Slice: (c) => tfSlice(c.tf, c.t(0), sliceSpec(c, c.shape(0))),
  Gather: (c) => {
    const x = c.t(0);
    const axis = c.axis(c.attr('axis', 0), x.rank);
    const idxIn = c.inputs[1]!;
    const idx = isHost(idxIn)
      ? c.tf.tensor(idxIn.data.map((v) => (v < 0 ? v + x.shape[axis]! : v)), [...idxIn.shape], 'int32')
      : normIndices(c.tf, idxIn, x.shape[axis]!);
    return c.tf.gather(x, idx, axis);
  },
  GatherElements: (c) => {
    const { tf } = c;
    const x = c.t(0);
    const r = x.rank;
    const axis = c.axis(c.attr('axis', 0), r);
    const idx = normIndices(tf, c.t(1), x.shape[axis]!);
    const st = x.shape.map((_, i) => x.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    let flat: T = tf.mul(idx, tf.scalar(st[axis]!, 'int32'));
    for (let d = 0; d < r; d++) {
      if (d === axis) continue;
      const shape = idx.shape.map((_, i) => (i === d ? idx.shape[d]! : 1));
      flat = tf.add(flat, tf.reshape(tf.mul(tf.range(0, idx.shape[d]!, 1, 'int32'), tf.scalar(st[d]!, 'int32')), shape));
    }
    return tf.gather(tf.reshape(x, [-1]), flat);
  },
  GatherND: (c) => {
    const { tf } = c;
    const x = c.t(0);
    let idx = tf.cast(c.t(1), 'int32');
    const bd = c.attr('batch_dims', 0);
    const m = idx.shape[idx.rank - 1]!;
    const dims = tf.tensor(x.shape.slice(bd, bd + m), [m], 'int32');
    idx = tf.where(tf.less(idx, 0), tf.add(idx, dims), idx);
    if (bd > 0) {
      // Prepend the batch coordinates so one batch_dims=0 gather does the work.
      const lead = idx.shape.slice(0, -1);
      const coords: tfc.Tensor[] = [];
      for (let d = 0; d < bd; d++) {
        const iota = tf.reshape(tf.range(0, lead[d]!, 1, 'int32'), lead.map((n, i) => (i === d ? n : 1)).concat([1]));
        coords.push(tf.add(iota, tf.zeros([...lead, 1], 'int32')));
      }
      idx = tf.concat([...coords, idx], -1);
    }
    return tf.gatherND(x, idx);
  },
  Expand: (c) => {
    const x = c.t(0);
    const target = broadcastShape(x.shape, c.ints(1)!, 'Expand');
    return broadcastTo(c.tf, x.rank < target.length ? c.tf.reshape(x, [...new Array(target.length - x.rank).fill(1), ...x.shape]) : x, target);
  },
  Tile: (c) => c.tf.tile(c.t(0), c.ints(1)!),
  Pad: tfPad,
  Shape: (c) => shapeOf(c),
  Size: (c) => HostValue.scalar(INT64, c.shape(0).reduce((a, b) => a * b, 1)),
  Constant: (c) => {
    const t = constantTensor(c);
    if (t.size <= HOST_MAX_ELEMENTS && !t.dtype.isFloat) return t;
    return t.toTf(c.tf);
  },
  ConstantOfShape: (c) => {
    const shape = c.ints(0)!;
    const { dt, value } = constantValue(c);
    return c.tf.fill(shape, value, tfDTypeOf(dt));
  },
  Range: (c) => {
    const [s, l, d] = [0, 1, 2].map((i) => c.host(i)!.data[0]!) as [number, number, number];
    const dt = c.dtype(0);
    const n = Math.max(Math.ceil((l - s) / d), 0);
    return c.tf.tensor(Array.from({ length: n }, (_, i) => normalize(dt, s + i * d)), [n], tfDTypeOf(dt));
  },
  EyeLike: (c) => {
    const { tf } = c;
    const [h, w] = c.shape(0) as [number, number];
    const k = c.attr('k', 0);
    const dt = c.node.attrs.has('dtype') ? dtypeFromOnnx(c.attr('dtype')) : c.dtype(0);
    const eq = tf.equal(tf.sub(tf.reshape(tf.range(0, w, 1, 'int32'), [1, w]), tf.reshape(tf.range(0, h, 1, 'int32'), [h, 1])), k);
    return tf.cast(eq, tfDTypeOf(dt));
  },
  Trilu: (c) => {
    const { tf } = c;
    const x = c.t(0);
    const [h, w] = x.shape.slice(-2) as [number, number];
    const k = c.has(1) ? c.host(1)!.data[0]! : 0;
    const diff = tf.sub(tf.reshape(tf.range(0, w, 1, 'int32'), [1, w]), tf.reshape(tf.range(0, h, 1, 'int32'), [h, 1]));
    const keep = c.attr('upper', 1) ? tf.greaterEqual(diff, k) : tf.lessEqual(diff, k);
    return tf.where(keep, x, tf.zerosLike(x));
  },
  DepthToSpace: (c) => depthSpace(c, true),
  SpaceToDepth: (c) => depthSpace(c, false),
  NonZero: (c) => {
    const x = c.host(0)!;
    const st = x.shape.map((_, i) => x.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const hits: number[] = [];
    x.data.forEach((v, i) => { if (v) hits.push(i); });
    const out: number[] = [];
    for (let d = 0; d < x.rank; d++) for (const f of hits) out.push(Math.floor(f / st[d]!) % x.shape[d]!);
    return new HostValue(INT64, [x.rank, hits.length], out);
  },
  ScatterND: (c) => {
    const { tf } = c;
    const x = c.t(0), idx = c.t(1), upd = c.t(2);
    const red = c.attr('reduction', 'none');
    if (red === 'none') return tf.tensorScatterUpdate(x, idx, upd);
    if (red === 'add') return tf.add(x, tf.scatterND(idx, upd, x.shape));
    if (red === 'mul' || red === 'max' || red === 'min') {
      // Read-modify-write is exact only when no index repeats; repeated indices are refused.
      const h = c.host(1)!;
      const k = h.shape[h.rank - 1]!;
      const seen = new Set<string>();
      for (let i = 0; i < h.size; i += k) {
        const key = h.data.slice(i, i + k).join(',');
        if (seen.has(key)) c.fail(`reduction '${red}' with repeated indices is not supported`);
        seen.add(key);
      }
      const cur = tf.gatherND(x, idx);
      const v = red === 'mul' ? tf.mul(cur, upd) : red === 'max' ? tf.maximum(cur, upd) : tf.minimum(cur, upd);
      return tf.tensorScatterUpdate(x, idx, v);
    }
    return c.fail(`reduction '${red}' is not supported; allowed: none, add, mul, max, min`);
  },
  ScatterElements: (c) => scatterElements(c),
  Scatter: (c) => scatterElements(c),
  OneHot: (c) => {
    const { tf } = c;
    const idx = c.t(0);
    const depth = c.host(1)!.data[0]!;
    const values = c.host(2)!;
    const r = idx.rank + 1;
    const axis = c.axis(c.attr('axis', -1), r);
    const i = tf.cast(idx, 'int32');
    const norm = tf.where(tf.less(i, 0), tf.add(i, tf.scalar(depth, 'int32')), i);
    let y: T = tf.oneHot(tf.cast(norm, 'int32'), depth, 1, 0, 'int32');
    if (axis !== r - 1) {
      const perm = Array.from({ length: r }, (_, k) => (k < axis ? k : k === axis ? r - 1 : k - 1));
      y = tf.transpose(y, perm);
    }
    const dt = tfDTypeOf(values.dtype);
    return tf.where(tf.cast(y, 'bool'), tf.fill(y.shape, values.data[1]!, dt), tf.fill(y.shape, values.data[0]!, dt));
  },
  HannWindow: (c) => windowFn(c, (x) => 0.5 - 0.5 * Math.cos(x)),
  HammingWindow: (c) => windowFn(c, (x) => 25 / 46 - (21 / 46) * Math.cos(x)),
  BlackmanWindow: (c) => windowFn(c, (x) => 0.42 - 0.5 * Math.cos(x) + 0.08 * Math.cos(2 * x)),
  Compress: (c) => {
    const { tf } = c;
    let x = c.t(0);
    const cond = c.host(1)!.data;
    const axisAttr = c.attr<number | undefined>('axis', undefined);
    if (axisAttr === undefined) x = tf.reshape(x, [-1]);
    const axis = axisAttr === undefined ? 0 : c.axis(axisAttr, x.rank);
    const keep: number[] = [];
    cond.forEach((v, i) => { if (v && i < x.shape[axis]!) keep.push(i); });
    if (keep.length === 0) return tf.zeros(x.shape.map((d, i) => (i === axis ? 0 : d)), x.dtype);
    return tf.gather(x, tf.tensor1d(keep, 'int32'), axis);
  },
  ReverseSequence: (c) => {
    const { tf } = c;
    const x = c.t(0);
    const lens = c.host(1)!.data;
    const ba = c.attr('batch_axis', 1), ta = c.attr('time_axis', 0);
    const T_ = x.shape[ta]!;
    // Per batch entry b: time index t reads t' = len_b − 1 − t for t < len_b, else t.
    const parts = lens.map((len, b) => {
      const idx = Array.from({ length: T_ }, (_, t) => (t < len ? len - 1 - t : t));
      const slice = tf.slice(x, x.shape.map((_, i) => (i === ba ? b : 0)), x.shape.map((d, i) => (i === ba ? 1 : d)));
      return tf.gather(slice, tf.tensor1d(idx, 'int32'), ta);
    });
    return tf.concat(parts, ba);
  },
  Dropout: (c) => {
    const x = c.t(0);
    // Inference only: training_mode (opset 12+) must be false or absent.
    // training_mode with a non-zero ratio draws random masks, which leanformer does not do
    // (its training loop is deterministic); a zero ratio is the identity either way.
    const ratio = c.opset >= 12 ? (c.has(1) ? c.host(1)!.data[0]! : 0.5) : c.attr('ratio', 0.5);
    if (c.opset >= 12 && c.has(2) && c.host(2)!.data[0] && ratio !== 0) c.fail('training_mode=true with a non-zero ratio (random dropout) is not supported');
    const out: (RValue | null)[] = [x];
    if (c.node.outputs[1]) out.push(c.tf.cast(c.tf.onesLike(x), 'bool'));
    return out;
  },
};

/** Window ops (opset 17): f(2πn / N′) for n < size, N′ = size (periodic) or size − 1 (symmetric). */
function windowFn(c: KernelContext, f: (x: number) => number): RValue {
  const n = c.host(0)!.data[0]!;
  const denom = c.attr('periodic', 1) ? n : n - 1;
  const dt = dtypeFromOnnx(c.attr('output_datatype', 1));
  const vals = Array.from({ length: n }, (_, i) => normalize(dt, f((2 * Math.PI * i) / denom)));
  return c.tf.tensor(vals, [n], tfDTypeOf(dt));
}

/** ScatterElements as ScatterND: full coordinates from `indices` along `axis`, iota elsewhere. */
function scatterElements(c: KernelContext): T {
  const { tf } = c;
  const x = c.t(0), upd = c.t(2);
  const r = x.rank;
  const axis = c.axis(c.attr('axis', 0), r);
  const idx = normIndices(tf, c.t(1), x.shape[axis]!);
  const coords: T[] = [];
  for (let d = 0; d < r; d++) {
    if (d === axis) coords.push(idx);
    else coords.push(tf.add(tf.zerosLike(idx), tf.reshape(tf.range(0, idx.shape[d]!, 1, 'int32'), idx.shape.map((n, i) => (i === d ? n : 1)))));
  }
  const nd = tf.stack(coords, -1);
  const red = c.attr('reduction', 'none');
  if (red === 'none') return tf.tensorScatterUpdate(x, nd, upd);
  if (red === 'add') return tf.add(x, tf.scatterND(nd, upd, x.shape));
  return c.fail(`reduction '${red}' is not supported; allowed: none, add`);
}

function shapeOf(c: KernelContext): HostValue {
  const shape = c.shape(0);
  const r = shape.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = clamp(c.attr('start', 0));
  const end = clamp(c.attr('end', r));
  return HostValue.vector(INT64, shape.slice(start, Math.max(start, end)));
}

function constantTensor(c: KernelContext): HostValue {
  const t = c.attrTensor('value');
  if (t) return HostValue.fromTensor(t);
  for (const [name, dt, scalar] of [['value_float', DTypes.float32, true], ['value_floats', DTypes.float32, false], ['value_int', INT64, true], ['value_ints', INT64, false]] as const) {
    const a = c.node.attrs.get(name);
    if (!a) continue;
    const v = c.attr<number | number[]>(name);
    return scalar ? HostValue.scalar(dt, normalize(dt, v as number)) : HostValue.vector(dt, (v as number[]).map((x) => normalize(dt, x)));
  }
  throw new LeanformerError('NOT_SUPPORTED', `${c.node.describe()}: only value, value_float(s) and value_int(s) constants are supported`);
}

// ---- host forms ----

const whenHost = (f: (c: KernelContext) => HostValue | readonly HostValue[]): HostKernel => (c) => (c.allHost() ? f(c) : undefined);

export const shapeHostKernels: Record<string, HostKernel> = {
  // Shape and Size only need the input's shape, which tfjs tensors know without a device read.
  Shape: shapeOf,
  Size: (c) => HostValue.scalar(INT64, c.shape(0).reduce((a, b) => a * b, 1)),
  Constant: (c) => {
    const t = constantTensor(c);
    return t.size <= HOST_MAX_ELEMENTS ? t : undefined;
  },
  Reshape: whenHost((c) => { const x = c.host(0)!; return new HostValue(x.dtype, reshapeTarget(c, x.shape, c.opset < 5 ? c.attr<number[]>('shape') : c.ints(1)!), x.data); }),
  Flatten: whenHost((c) => { const x = c.host(0)!; return new HostValue(x.dtype, flattenShape(c, x.shape), x.data); }),
  Squeeze: whenHost((c) => { const x = c.host(0)!; return new HostValue(x.dtype, squeezeShape(c, x.shape), x.data); }),
  Unsqueeze: whenHost((c) => { const x = c.host(0)!; return new HostValue(x.dtype, unsqueezeShape(c, x.shape), x.data); }),
  Concat: whenHost((c) => {
    const parts = c.inputs.map((_, i) => c.host(i)!);
    return hostConcat(parts, c.axis(c.attr<number>('axis'), parts[0]!.rank));
  }),
  Gather: whenHost((c) => { const x = c.host(0)!; return hostGather(x, c.host(1)!, c.axis(c.attr('axis', 0), x.rank)); }),
  Slice: whenHost((c) => { const x = c.host(0)!; const s = sliceSpec(c, x.shape); return hostSlice(x, s.starts, s.steps, s.counts); }),
  Transpose: whenHost((c) => {
    const x = c.host(0)!;
    return hostTranspose(x, c.attr<number[] | undefined>('perm', undefined) ?? x.shape.map((_, i) => x.rank - 1 - i));
  }),
  Expand: (c) => {
    if (!c.allHost()) return undefined;
    const x = c.host(0)!;
    const shape = broadcastShape(x.shape, c.ints(1)!, 'Expand');
    return shape.reduce((a, b) => a * b, 1) <= HOST_MAX_ELEMENTS ? hostExpand(x, shape) : undefined;
  },
  ConstantOfShape: (c) => {
    if (!c.allHost()) return undefined;
    const shape = c.ints(0)!;
    const n = shape.reduce((a, b) => a * b, 1);
    if (n > HOST_MAX_ELEMENTS) return undefined;
    const { dt, value } = constantValue(c);
    return new HostValue(dt, shape, new Array<number>(n).fill(value));
  },
  Range: (c) => {
    if (!c.allHost()) return undefined;
    const [s, l, d] = [0, 1, 2].map((i) => c.host(i)!.data[0]!) as [number, number, number];
    const dt = c.dtype(0);
    const n = Math.max(Math.ceil((l - s) / d), 0);
    if (n > HOST_MAX_ELEMENTS) return undefined;
    return HostValue.vector(dt, Array.from({ length: n }, (_, i) => normalize(dt, s + i * d)));
  },
  NonZero: whenHost((c) => shapeKernels.NonZero!(c) as HostValue),
  ReduceProd: (c) => hostReduceInts(c, 1, (a, b) => a * b),
  ReduceSum: (c) => hostReduceInts(c, 0, (a, b) => a + b),
  ReduceMax: (c) => hostReduceInts(c, -Infinity, Math.max),
  ReduceMin: (c) => hostReduceInts(c, Infinity, Math.min),
};

function hostReduceInts(c: KernelContext, init: number, f: (a: number, b: number) => number): HostValue | undefined {
  if (!c.allHost() || !c.dtype(0).isInteger) return undefined;
  const x = c.host(0)!;
  const axes = (c.op === 'ReduceSum' ? c.opset >= 13 : c.opset >= 18) ? c.ints(1) : c.attr<number[] | undefined>('axes', undefined);
  if ((!axes || axes.length === 0) && c.attr('noop_with_empty_axes', 0)) return x;
  const norm = axes && axes.length ? axes.map((a) => c.axis(a, x.rank)) : x.shape.map((_, i) => i);
  return hostReduce(x, norm, !!c.attr('keepdims', 1), init, f);
}
