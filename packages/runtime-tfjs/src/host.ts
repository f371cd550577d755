// Small tensors kept on the host: shapes, indices, axes, scalars. Shape arithmetic
// (Shape → Gather → Concat → Reshape) runs here, exactly, in JS numbers (int64 values stay
// exact up to 2^53), so it neither round-trips through a GPU nor loses int64 range. The
// compiler folds host ops whose inputs are all known at compile time; the rest run here at
// run time from the real shapes of tfjs tensors.

import { DTypes, LeanformerError, Tensor, type DType } from '@leanformer/core';
import type * as tfc from '@tensorflow/tfjs-core';
import { tfDTypeOf } from './dtypes.js';

/** Host path limit: ops whose inputs and output stay under this many elements may run on the host. */
export const HOST_MAX_ELEMENTS = 4096;

/** A small tensor held as JS numbers (bools as 0/1), with its IR dtype. */
export class HostValue {
  readonly size: number;
  /** tfjs copy, cached for compile-time constants (owned and disposed by the executor). */
  cached: tfc.Tensor | undefined;
  constructor(readonly dtype: DType, readonly shape: readonly number[], readonly data: readonly number[]) {
    this.size = shape.reduce((a, b) => a * b, 1);
    if (this.size !== data.length) throw new LeanformerError('SHAPE_MISMATCH', `host value [${shape.join(', ')}] needs ${this.size} elements, got ${data.length}`);
  }

  static fromTensor(t: Tensor): HostValue {
    const vals = t.dtype.name === 'bool' ? Array.from(t.data as Uint8Array, (v) => (v ? 1 : 0)) : Array.from(t.toArray(), Number);
    return new HostValue(t.dtype, t.shape, vals);
  }

  static scalar(dt: DType, v: number): HostValue { return new HostValue(dt, [], [v]); }
  static vector(dt: DType, v: readonly number[]): HostValue { return new HostValue(dt, [v.length], v); }

  get rank(): number { return this.shape.length; }

  /** The IR tensor with these values (int64 as BigInt64Array, …). */
  toTensor(dt: DType = this.dtype): Tensor {
    if (dt.name === 'bool') return new Tensor(dt, this.shape, Uint8Array.from(this.data));
    return Tensor.from(dt, this.shape, dt.storage === 'BigInt64Array' || dt.storage === 'BigUint64Array' ? this.data.map((v) => BigInt(Math.trunc(v))) : this.data);
  }

  /** A tfjs tensor with these values (int64 range-checked into int32). */
  toTf(tf: typeof tfc): tfc.Tensor {
    const t = tfDTypeOf(this.dtype);
    if (t === 'int32') {
      for (const v of this.data) {
        if (v < -2147483648 || v > 2147483647) {
          throw new LeanformerError('EXECUTION_FAILED', `value ${v} of a ${this.dtype.name} tensor does not fit the int32 type tfjs computes in`);
        }
      }
    }
    return tf.tensor(this.data as number[], [...this.shape], t);
  }
}

/** Row-major strides. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]!; }
  return s;
}

/** Numpy broadcast of two static shapes; throws SHAPE_MISMATCH naming the op. */
export function broadcastShape(a: readonly number[], b: readonly number[], op: string): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new LeanformerError('SHAPE_MISMATCH', `${op}: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out[i] = x === 1 ? y : x;
  }
  return out;
}

/** Index into `v` for output position `idx` (multi-index of the broadcast shape). */
function bcastIndex(v: HostValue, outIdx: readonly number[]): number {
  let off = 0;
  let stride = 1;
  for (let i = v.rank - 1, j = outIdx.length - 1; i >= 0; i--, j--) {
    const d = v.shape[i]!;
    if (d !== 1) off += outIdx[j]! * stride;
    stride *= d;
  }
  return off;
}

function forEachIndex(shape: readonly number[], f: (idx: number[], flat: number) => void): void {
  const n = shape.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    f(idx, flat);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
}

/** Elementwise n-ary op with broadcasting. */
export function hostMap(inputs: readonly HostValue[], out: DType, op: string, f: (...xs: number[]) => number): HostValue {
  const shape = inputs.map((v) => v.shape).reduce((a, b) => broadcastShape(a, b, op));
  const data: number[] = [];
  forEachIndex(shape, (idx) => { data.push(f(...inputs.map((v) => v.data[bcastIndex(v, idx)]!))); });
  return new HostValue(out, shape, data.map((x) => normalize(out, x)));
}

/** Brings a JS number into the value set of `dt` (truncation for ints, 0/1 for bool). */
export function normalize(dt: DType, x: number): number {
  if (dt.name === 'bool') return x ? 1 : 0;
  if (dt.isInteger) return Number.isFinite(x) ? Math.trunc(x) : x;
  if (dt.name === 'float32') return Math.fround(x);
  return x;
}

/** Gathers along `axis` with possibly negative indices. */
export function hostGather(data: HostValue, indices: HostValue, axis: number): HostValue {
  const dim = data.shape[axis]!;
  const outer = data.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = data.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const raw of indices.data) {
      const i = raw < 0 ? raw + dim : raw;
      if (i < 0 || i >= dim) throw new LeanformerError('EXECUTION_FAILED', `Gather: index ${raw} is out of range for axis ${axis} of size ${dim}`);
      for (let k = 0; k < inner; k++) out.push(data.data[(o * dim + i) * inner + k]!);
    }
  }
  return new HostValue(data.dtype, [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)], out);
}

/** Concatenates along `axis`. */
export function hostConcat(parts: readonly HostValue[], axis: number): HostValue {
  const first = parts[0]!;
  const outer = first.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const chunk = p.shape.slice(axis).reduce((a, b) => a * b, 1);
      for (let k = 0; k < chunk; k++) out.push(p.data[o * chunk + k]!);
    }
  }
  const shape = [...first.shape];
  shape[axis] = parts.reduce((s, p) => s + p.shape[axis]!, 0);
  return new HostValue(first.dtype, shape, out);
}

/** Strided slice with already-normalized per-axis start/step/count. */
export function hostSlice(x: HostValue, starts: readonly number[], steps: readonly number[], counts: readonly number[]): HostValue {
  const st = strides(x.shape);
  const out: number[] = [];
  forEachIndex(counts, (idx) => {
    let off = 0;
    for (let d = 0; d < idx.length; d++) off += (starts[d]! + idx[d]! * steps[d]!) * st[d]!;
    out.push(x.data[off]!);
  });
  return new HostValue(x.dtype, counts, out);
}

/** Permutes axes. */
export function hostTranspose(x: HostValue, perm: readonly number[]): HostValue {
  const st = strides(x.shape);
  const shape = perm.map((p) => x.shape[p]!);
  const out: number[] = [];
  forEachIndex(shape, (idx) => {
    let off = 0;
    for (let d = 0; d < idx.length; d++) off += idx[d]! * st[perm[d]!]!;
    out.push(x.data[off]!);
  });
  return new HostValue(x.dtype, shape, out);
}

/** Broadcasts to `shape` (which must be a broadcast of x's shape). */
export function hostExpand(x: HostValue, shape: readonly number[]): HostValue {
  const out: number[] = [];
  forEachIndex(shape, (idx) => { out.push(x.data[bcastIndex(x, idx)]!); });
  return new HostValue(x.dtype, shape, out);
}

/** Sums or multiplies over axes (keepdims handled by the caller's shape). */
export function hostReduce(x: HostValue, axes: readonly number[], keep: boolean, init: number, f: (a: number, b: number) => number): HostValue {
  const outShapeKeep = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const outSt = strides(outShapeKeep);
  const out = new Array<number>(outShapeKeep.reduce((a, b) => a * b, 1)).fill(init);
  forEachIndex(x.shape, (idx, flat) => {
    let off = 0;
    for (let d = 0; d < idx.length; d++) if (!axes.includes(d)) off += idx[d]! * outSt[d]!;
    out[off] = f(out[off]!, x.data[flat]!);
  });
  return new HostValue(x.dtype, keep ? outShapeKeep : x.shape.filter((_, i) => !axes.includes(i)), out.map((v) => normalize(x.dtype, v)));
}

/** The int64 dtype shape ops produce. */
export const INT64 = DTypes.int64;
