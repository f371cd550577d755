// Shared pieces of the reference kernels: context, refusal, attribute readers, float64 I/O, layout helpers.
import { DTypes, type DType } from '../../dtype.js';
import { LeanformerError } from '../../errors.js';
import type { Node } from '../../ir/graph.js';
import { Tensor } from '../../tensor.js';
import { fromF64, sizeOf, strides, take, toF64 } from '../kernels-util.js';

/** Registers a kernel under one or more op names. */
export type Def = (names: string | string[], k: Kernel) => void;

/** What a kernel sees besides its inputs. */
export interface Ctx { readonly node: Node; readonly opset: number; readonly maxElements: number }

/** A kernel: outputs from inputs, or undefined when it does not apply. */
export type Kernel = (ctx: Ctx, x: readonly (Tensor | undefined)[]) => Tensor[] | undefined;

/** Thrown inside kernels to refuse folding (too large, unsupported case); evaluateNode returns undefined. */
export class Refuse extends Error {}

/** Refuses to fold (evaluateNode then returns undefined). */
export const refuse = (): never => { throw new Refuse(); };

/** Refuses outputs larger than the caller's element limit, before allocating them. */
export function guard(ctx: Ctx, shape: readonly number[]): void {
  if (sizeOf(shape) > ctx.maxElements) refuse();
}

/** Throws EXECUTION_FAILED naming the node: the inputs are invalid for the op. */
export function fail(ctx: Ctx, msg: string): never {
  throw new LeanformerError('EXECUTION_FAILED', `evaluating ${ctx.node.describe()}: ${msg}`);
}

/** Integer attribute (bigint converted), or `d`. */
export const ai = (ctx: Ctx, name: string, d: number): number => Number(ctx.node.attr<number | bigint>(name, d));

/** Integer-list attribute, or undefined. */
export const ais = (ctx: Ctx, name: string): number[] | undefined => ctx.node.attr<readonly (number | bigint)[] | undefined>(name, undefined)?.map(Number);

/** Float attribute, or `d`. */
export const af = (ctx: Ctx, name: string, d: number): number => ctx.node.attr<number>(name, d);

/** Normalises a possibly negative axis against rank `r`; fails when out of range. */
export const normAxis = (ctx: Ctx, a: number, r: number): number => {
  if (a < -r || a >= r) fail(ctx, `axis ${a} is out of range for rank ${r}`);
  return a < 0 ? a + r : a;
};

/** An int64 tensor from plain numbers. */
export const i64 = (shape: readonly number[], values: readonly number[]): Tensor => Tensor.from(DTypes.int64, shape, values.map((v) => BigInt(v)));

/** float64 values of an input, refusing dtypes that are not plain numbers or int64 beyond 2^53. */
export function f64(t: Tensor): Float64Array {
  return toF64(t) ?? refuse();
}

/** Casts float64 results to `dtype`, refusing integer results that float64 did not hold exactly. */
export function result(dtype: DType, shape: readonly number[], v: Float64Array): Tensor {
  if (dtype.isInteger) for (let i = 0; i < v.length; i++) if (Math.abs(v[i]!) > 9007199254740991) refuse();
  return fromF64(dtype, shape, v);
}

/** Numpy broadcast of static shapes; throws (plain Error, wrapped by callers) when incompatible. */
export function broadcastIndexShape(shapes: readonly (readonly number[])[]): number[] {
  let r = 0;
  for (const s of shapes) r = Math.max(r, s.length);
  const out = new Array<number>(r).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = i + r - s.length;
      const d = s[i]!;
      if (d === out[j] || d === 1) continue;
      if (out[j] === 1) out[j] = d;
      else throw new Error(`cannot broadcast shapes ${shapes.map((x) => `[${x.join(', ')}]`).join(' and ')}`);
    }
  }
  return out;
}

/** A flat tensor holding all elements of `xs` one after the other (same dtype). */
export function joinStorage(xs: Tensor[]): Tensor {
  const dt = xs[0]!.dtype;
  const n = xs.reduce((s, t) => s + t.size, 0);
  if (dt.isPacked) return Tensor.from(dt, [n], xs.flatMap((t) => Array.from(t.toFloat64())));
  const first = xs[0]!.data;
  if (Array.isArray(first)) return new Tensor(dt, [n], xs.flatMap((t) => t.data as string[]));
  const C = first.constructor as new (len: number) => Float64Array;
  const o = new C(n);
  let off = 0;
  for (const t of xs) { o.set(t.data as Float64Array, off); off += t.size; }
  return new Tensor(dt, [n], o as unknown as Float64Array);
}

/** Permutes axes (any dtype; storage copied exactly). */
export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  const shape = perm.map((p) => x.shape[p]!);
  const st = strides(x.shape);
  const pst = perm.map((p) => st[p]!);
  const n = x.size;
  const idx = new Int32Array(n);
  const c = new Array<number>(shape.length).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    idx[k] = off;
    for (let d = shape.length - 1; d >= 0; d--) {
      c[d]!++; off += pst[d]!;
      if (c[d]! < shape[d]!) break;
      off -= pst[d]! * c[d]!; c[d] = 0;
    }
  }
  return take(x, shape, idx);
}

/** Visits every multi-index of `shape` in row-major order. */
export function forEachIndex(shape: readonly number[], f: (idx: number[], flat: number) => void): void {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    f(idx, k);
    for (let d = shape.length - 1; d >= 0; d--) { if (++idx[d]! < shape[d]!) break; idx[d] = 0; }
  }
}
