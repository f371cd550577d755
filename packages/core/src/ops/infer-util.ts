// Helpers shared by the shape-inference functions of the built-in op schemas.
import { DTypes, dtypeFromOnnx, type DType } from '../dtype.js';
import { LeanformerError } from '../errors.js';
import { tensorType, type Dim, type TensorType, type ValueType } from '../ir/types.js';
import type { Tensor } from '../tensor.js';
import type { InferenceContext } from './schema.js';

/**
 * Broadcasts two dims by the numpy rule. A static dim wins over 1; a static dim
 * other than 1 wins over a symbolic or unknown one (the op would fail otherwise);
 * two different symbols, or a symbol against an unknown dim, give null (unknown).
 * Throws SHAPE_MISMATCH for two different static dims, neither 1.
 */
export function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === b) return a;
  if (a === 1) return b;
  if (b === 1) return a;
  if (typeof a === 'number' && typeof b === 'number') {
    throw new LeanformerError('SHAPE_MISMATCH', `Cannot broadcast dims ${a} and ${b}: they must be equal or one of them 1`);
  }
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return null;
}

/**
 * Multidirectional (numpy) broadcast of two shapes, right-aligned. Symbolic dims are kept
 * where they decide the result; returns null when either rank is unknown.
 * Throws LeanformerError('SHAPE_MISMATCH') for incompatible static dims.
 *
 * @example
 * ```ts
 * broadcastShapes(['batch', 1, 4], [3, 1]); // ['batch', 3, 4]
 * ```
 */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[]): Dim[];
export function broadcastShapes(a: readonly Dim[] | null, b: readonly Dim[] | null): Dim[] | null;
export function broadcastShapes(a: readonly Dim[] | null, b: readonly Dim[] | null): Dim[] | null {
  if (!a || !b) return null;
  const n = Math.max(a.length, b.length);
  const out: Dim[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    try {
      out[i] = broadcastDim(da, db);
    } catch {
      throw new LeanformerError('SHAPE_MISMATCH', `Cannot broadcast shapes [${a.join(', ')}] and [${b.join(', ')}]: dim ${i} is ${da} vs ${db}`, { details: { a, b } });
    }
  }
  return out;
}

/** Merges two descriptions of the same dim; null when they conflict (unknown). */
export function mergeDim(a: Dim, b: Dim): Dim {
  if (a === b) return a;
  if (a === null) return b;
  if (b === null) return a;
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return a;
}

/** The tensor type of input i, or null when omitted, unknown or not a tensor. */
export function inType(ctx: InferenceContext, i: number): TensorType | null {
  const t = ctx.inputTypes[i];
  return t && t.kind === 'tensor' ? t : null;
}
/** Element dtype of input i, or null. */
export const inDtype = (ctx: InferenceContext, i: number): DType | null => inType(ctx, i)?.dtype ?? null;
/** Shape of input i, or null when the rank is unknown. */
export const inShape = (ctx: InferenceContext, i: number): readonly Dim[] | null => inType(ctx, i)?.shape ?? null;
/** Rank of input i, or null when unknown. */
export const inRank = (ctx: InferenceContext, i: number): number | null => inShape(ctx, i)?.length ?? null;
/** True when input i is given (not omitted). */
export const hasInput = (ctx: InferenceContext, i: number): boolean => i < ctx.node.inputs.length && ctx.node.inputs[i] != null;

/** Shorthand for an output tensor type. */
export const out = (dtype: DType | null, shape: readonly Dim[] | null): TensorType => tensorType(dtype, shape);

/** Integer attribute (bigint values converted; they must fit a double exactly enough for shapes). */
export function attrInt(ctx: InferenceContext, name: string, fallback?: number): number | undefined {
  const v = ctx.attr<number | bigint | undefined>(name, fallback);
  return v === undefined ? undefined : Number(v);
}
/** Integer-list attribute, or undefined when absent (and no default). */
export function attrInts(ctx: InferenceContext, name: string): number[] | undefined {
  const v = ctx.attr<readonly (number | bigint)[] | undefined>(name, undefined);
  return v === undefined ? undefined : v.map(Number);
}
/** Float attribute, or the schema default, or `fallback`. */
export function attrFloat(ctx: InferenceContext, name: string, fallback?: number): number | undefined {
  return ctx.attr<number | undefined>(name, fallback);
}
/** String attribute, or the schema default, or `fallback`. */
export function attrString(ctx: InferenceContext, name: string, fallback?: string): string | undefined {
  return ctx.attr<string | undefined>(name, fallback);
}

/** Elements of an integer tensor as numbers (int64 converted). */
export function tensorInts(t: Tensor): number[] {
  const d = t.data;
  if (Array.isArray(d)) throw new LeanformerError('INVALID_DTYPE', `Expected an integer tensor, got ${t.dtype.name}`);
  return Array.from(d as ArrayLike<number | bigint>, Number);
}

/** Content of constant input i as numbers, when known. */
export function constInts(ctx: InferenceContext, i: number): number[] | undefined {
  if (!hasInput(ctx, i)) return undefined;
  const t = ctx.constInput(i);
  if (!t) return undefined;
  if (t.dtype.isFloat) return Array.from(t.toFloat64());
  return tensorInts(t);
}

/**
 * Content of a shape-like input as dims: constant values when known, else symbolic content
 * tracked by the caller (Shape → Gather → Concat chains), else undefined.
 */
export function shapeInts(ctx: InferenceContext, i: number): Dim[] | undefined {
  if (!hasInput(ctx, i)) return undefined;
  const c = constInts(ctx, i);
  if (c) return c;
  const s = ctx.shapeInput?.(i);
  return s ? [...s] : undefined;
}

/** Normalises a possibly negative axis against `rank`; fails (via ctx) when out of range. */
export function normAxis(ctx: InferenceContext, axis: number, rank: number, what = 'axis'): number {
  if (axis < -rank || axis >= rank) ctx.fail(`${what} ${axis} is out of range for rank ${rank} (allowed: ${-rank}..${rank - 1})`);
  return axis < 0 ? axis + rank : axis;
}

/** A shape of `rank` unknown dims (or null when the rank is unknown too). */
export const unknownShape = (rank: number | null): Dim[] | null => (rank === null ? null : new Array<Dim>(rank).fill(null));

/** DType from an ONNX `to`/`dtype` attribute value. */
export function dtypeAttr(ctx: InferenceContext, name: string, fallback?: number): DType | null {
  const v = attrInt(ctx, name, fallback);
  if (v === undefined) return null;
  try { return dtypeFromOnnx(v); } catch { ctx.fail(`attribute '${name}' is not a known ONNX data type: ${v}`); }
}

/** The output type equals input i's type. */
export const sameAs = (i: number) => (ctx: InferenceContext): (ValueType | null)[] => [ctx.inputTypes[i] ?? null];

/** Floor/ceil of a / b for dims: static when both are numbers, else null. */
export function dimOp(a: Dim, f: (x: number) => number): Dim {
  return typeof a === 'number' ? f(a) : null;
}

/** Product of static dims, or null when any is not static. */
export function dimProduct(dims: readonly Dim[]): number | null {
  let p = 1;
  for (const d of dims) { if (typeof d !== 'number') return null; p *= d; }
  return p;
}

/** Shorthands for the fixed output dtypes of many ops. */
export const I64 = DTypes.int64;
/** @see I64 */
export const BOOL = DTypes.bool;
