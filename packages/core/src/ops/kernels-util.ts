// Low-level helpers for the reference evaluator: strides, broadcasting index maps, element access.
import { DTypes, type DType } from '../dtype.js';
import { Tensor, type TensorStorage } from '../tensor.js';
import { broadcastShapes } from './infer-util.js';

/** Row-major strides of a static shape. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]!; }
  return s;
}

/** Number of elements of a static shape. */
export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * For each input shape, the flat source index of every element of the broadcast output
 * (numpy rules). Returns the output shape and one index map per input.
 */
export function broadcastIndex(shapes: readonly (readonly number[])[]): { shape: number[]; maps: Int32Array[] } {
  let shape: number[] = [];
  for (const s of shapes) shape = broadcastShapes(shape, s) as number[];
  const n = sizeOf(shape);
  const r = shape.length;
  const maps = shapes.map((s) => {
    const st = strides(s);
    const aligned = shape.map((_, i) => {
      const j = i - (r - s.length);
      return j < 0 || s[j] === 1 ? 0 : st[j]!;
    });
    const map = new Int32Array(n);
    const idx = new Array<number>(r).fill(0);
    let off = 0;
    for (let k = 0; k < n; k++) {
      map[k] = off;
      for (let d = r - 1; d >= 0; d--) {
        idx[d]!++;
        off += aligned[d]!;
        if (idx[d]! < shape[d]!) break;
        off -= aligned[d]! * idx[d]!;
        idx[d] = 0;
      }
    }
    return map;
  });
  return { shape, maps };
}

/** True for dtypes whose elements the evaluator treats as plain numbers (exactly). */
export function isNumeric(t: DType): boolean {
  return t.storage !== 'string' && t.storagePerElement === 1;
}

/**
 * Element values as float64. int64/uint64 values beyond 2^53 cannot be represented: returns
 * undefined so the caller refuses to fold rather than compute a wrong value.
 */
export function toF64(t: Tensor): Float64Array | undefined {
  if (!isNumeric(t.dtype)) return undefined;
  const d = t.data;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    const o = new Float64Array(d.length);
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (v > 9007199254740991n || v < -9007199254740991n) return undefined;
      o[i] = Number(v);
    }
    return o;
  }
  return t.toFloat64();
}

/** Round half to even (ONNX QuantizeLinear, Round). */
export function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Builds a tensor of `dtype` from float64 values: floats are rounded to the dtype, integers are
 * truncated toward zero and wrap like a C cast (ONNX Cast semantics), bool is value ≠ 0.
 */
export function fromF64(dtype: DType, shape: readonly number[], v: ArrayLike<number>): Tensor {
  const n = v.length;
  if (dtype === DTypes.bool) {
    const o = new Uint8Array(n);
    for (let i = 0; i < n; i++) o[i] = v[i] !== 0 && !Number.isNaN(v[i]) ? 1 : 0;
    return new Tensor(dtype, shape, o);
  }
  if (dtype.isFloat) {
    if (dtype === DTypes.float32) return new Tensor(dtype, shape, Float32Array.from(v));
    if (dtype === DTypes.float64) return new Tensor(dtype, shape, Float64Array.from(v));
    return Tensor.from(dtype, shape, v);
  }
  const ints = new Array<number | bigint>(n);
  if (dtype.storage === 'BigInt64Array' || dtype.storage === 'BigUint64Array') {
    const bits = 64;
    for (let i = 0; i < n; i++) {
      const x = v[i]!;
      const b = Number.isFinite(x) ? BigInt(Math.trunc(x)) : 0n;
      ints[i] = dtype.isSigned ? BigInt.asIntN(bits, b) : BigInt.asUintN(bits, b);
    }
    return Tensor.from(dtype, shape, ints);
  }
  const bits = dtype.bits;
  const mod = 2 ** bits;
  for (let i = 0; i < n; i++) {
    const x = v[i]!;
    let t = Number.isFinite(x) ? Math.trunc(x) : 0;
    t = ((t % mod) + mod) % mod;
    if (dtype.isSigned && t >= mod / 2) t -= mod;
    ints[i] = t;
  }
  return Tensor.from(dtype, shape, ints as number[]);
}

/** New tensor whose element k is element `index[k]` of `t` (any dtype, exact: copies storage). */
export function take(t: Tensor, shape: readonly number[], index: ArrayLike<number>): Tensor {
  const n = index.length;
  if (t.dtype.isPacked) {
    const vals = toF64(t)!;
    const o = new Array<number>(n);
    for (let i = 0; i < n; i++) o[i] = vals[index[i]!]!;
    return Tensor.from(t.dtype, shape, o);
  }
  const d = t.data;
  if (Array.isArray(d)) return new Tensor(t.dtype, shape, Array.from({ length: n }, (_, i) => d[index[i]!]!));
  const C = d.constructor as new (len: number) => Exclude<TensorStorage, string[]>;
  const o = new C(n);
  for (let i = 0; i < n; i++) (o as Float64Array)[i] = (d as Float64Array)[index[i]!]!;
  return new Tensor(t.dtype, shape, o);
}

/** Identity index 0..n-1. */
export function iota(n: number): Int32Array {
  const o = new Int32Array(n);
  for (let i = 0; i < n; i++) o[i] = i;
  return o;
}

/** Elements of an integer tensor as numbers (int64 converted). */
export function ints(t: Tensor): number[] {
  const d = t.data;
  if (Array.isArray(d)) return d.map(Number);
  if (t.dtype.isBitPattern || t.dtype.isPacked) return Array.from(t.toFloat64());
  return Array.from(d as ArrayLike<number | bigint>, Number);
}
