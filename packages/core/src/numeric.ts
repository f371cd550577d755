// The one place for comparing numbers: cosine, error metrics and ONNX's tolerance check.
// Every sum accumulates in float64 whatever the input arrays hold. The seeded PRNG is `rng`
// (builder/rng.ts), re-exported from the same entry.
import { LeanformerError } from './errors.js';
import type { Tensor } from './tensor.js';

function sameLength(fn: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new LeanformerError('SHAPE_MISMATCH', `${fn}: lengths ${a.length} and ${b.length} differ`);
}

/**
 * Cosine similarity `a·b / (‖a‖‖b‖)`, accumulated in float64. Defined for zero vectors: 1 when both
 * are all zeros (they are equal), 0 when exactly one is (no direction in common). NaN only when an
 * element is NaN. Throws SHAPE_MISMATCH when the lengths differ.
 *
 * @example
 * ```ts
 * cosine([1, 0], [1, 0]); // 1
 * cosine([0, 0], [1, 2]); // 0
 * ```
 */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  sameLength('cosine', a, b);
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    dot += x * y; na += x * x; nb += y * y;
  }
  if (na === 0 && nb === 0) return 1;
  if (na === 0 || nb === 0) return 0;
  return dot / Math.sqrt(na * nb);
}

/**
 * `max |a[i] − b[i]|` in float64 (0 for empty arrays; NaN when an element is NaN).
 * Throws SHAPE_MISMATCH when the lengths differ.
 *
 * @example
 * ```ts
 * maxAbsDiff([1, 2], [1, 2.5]); // 0.5
 * ```
 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  sameLength('maxAbsDiff', a, b);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}

/**
 * Relative squared error `‖got − expected‖₂² / ‖expected‖₂²`, in float64 (the reconstruction error
 * quantization reports; take the square root for the ratio of norms). 0 when both are all zeros,
 * Infinity when only `expected` is. Throws SHAPE_MISMATCH when the lengths differ.
 *
 * @example
 * ```ts
 * relativeError([1.1, 2], [1, 2]); // 0.01 / 5 = 0.002
 * ```
 */
export function relativeError(got: ArrayLike<number>, expected: ArrayLike<number>): number {
  sameLength('relativeError', got, expected);
  let num = 0, den = 0;
  for (let i = 0; i < got.length; i++) {
    const d = got[i]! - expected[i]!;
    num += d * d; den += expected[i]! * expected[i]!;
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return num / den;
}

/** Elementwise tolerance: `|got − expected| ≤ atol + rtol·|expected|`. */
export interface Tolerance { readonly rtol: number; readonly atol: number }

/** The tolerances ONNX's backend tests use (`onnx/backend/test/runner`): rtol 1e-3, atol 1e-7. */
export const ONNX_TOLERANCE: Tolerance = Object.freeze({ rtol: 1e-3, atol: 1e-7 });

/**
 * Checks `got` against `expected` the way ONNX's backend tests do: same dtype and shape; floats within
 * `tol` (NaN equals NaN, equal infinities are equal); integers, bools, strings and complex exactly.
 * Returns null when they match, else a one-line reason naming the first offending element.
 *
 * @example
 * ```ts
 * const why = allclose(got, expected); // null, or "2 of 6 elements beyond rtol 0.001, atol 1e-7 (first at 3: …)"
 * ```
 */
export function allclose(got: Tensor, expected: Tensor, tol: Tolerance = ONNX_TOLERANCE): string | null {
  if (got.dtype !== expected.dtype) return `dtype ${got.dtype.name}, expected ${expected.dtype.name}`;
  if (got.shape.length !== expected.shape.length || got.shape.some((d, i) => d !== expected.shape[i])) {
    return `shape [${got.shape.join(', ')}], expected [${expected.shape.join(', ')}]`;
  }
  const dt = got.dtype;
  if (dt.storage === 'string' || dt.storagePerElement !== 1 || !dt.isFloat) {
    // Exact: compare storage element by element (bigints stay bigints; complex compares both parts).
    const a = got.data as ArrayLike<unknown>, b = expected.data as ArrayLike<unknown>;
    let bad = 0, first = -1;
    for (let i = 0; i < a.length; i++) {
      const x = a[i], y = b[i];
      const same = x === y || (typeof x === 'number' && Number.isNaN(x) && Number.isNaN(y as number));
      if (!same) { bad++; if (first < 0) first = i; }
    }
    return bad === 0 ? null : `${bad} of ${a.length} elements differ (first at ${first}: got ${String(a[first])}, expected ${String(b[first])})`;
  }
  const a = got.toFloat64(), b = expected.toFloat64();
  let bad = 0, first = -1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    const ok = x === y || (Number.isNaN(x) && Number.isNaN(y)) || Math.abs(x - y) <= tol.atol + tol.rtol * Math.abs(y);
    if (!ok) { bad++; if (first < 0) first = i; }
  }
  return bad === 0 ? null : `${bad} of ${a.length} elements beyond rtol ${tol.rtol}, atol ${tol.atol} (first at ${first}: got ${a[first]}, expected ${b[first]})`;
}
