import type { Tensor } from '@leanformer/core';

/** Error metrics of one output against its expected value. Null where a metric does not apply. */
export interface OutputMetrics {
  /** max |got − expected|; Infinity when NaN positions differ; null when shapes or dtypes differ, or for strings. */
  readonly maxAbsErr: number | null;
  /** max |got − expected| / |expected| over elements whose expected value is non-zero. */
  readonly maxRelErr: number | null;
  /** Cosine similarity of the two flattened outputs (1 when both are all zeros). */
  readonly cosine: number | null;
}

const NONE: OutputMetrics = { maxAbsErr: null, maxRelErr: null, cosine: null };

function numeric(t: Tensor): boolean { return t.dtype.storage !== 'string' && t.dtype.storagePerElement === 1; }
function sameShape(a: Tensor, b: Tensor): boolean { return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]); }

/** Metrics for `run`: how far `got` is from `expected`, elementwise in float64. */
export function outputMetrics(got: Tensor, expected: Tensor): OutputMetrics {
  if (!sameShape(got, expected) || got.dtype !== expected.dtype) return NONE;
  if (!numeric(got)) {
    const eq = (got.data as string[]).every((s, i) => s === (expected.data as string[])[i]);
    return { maxAbsErr: eq ? 0 : null, maxRelErr: eq ? 0 : null, cosine: null };
  }
  const a = got.toFloat64(), b = expected.toFloat64();
  let maxAbs = 0, maxRel = 0, dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) !== Number.isNaN(y)) maxAbs = maxRel = Infinity;
      continue;
    }
    if (x === y) { dot += x * y; na += x * x; nb += y * y; continue; } // also equal infinities
    const d = Math.abs(x - y);
    if (d > maxAbs) maxAbs = d;
    if (y !== 0 && d / Math.abs(y) > maxRel) maxRel = d / Math.abs(y);
    dot += x * y; na += x * x; nb += y * y;
  }
  const cosine = na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  return { maxAbsErr: maxAbs, maxRelErr: maxRel, cosine: Number.isFinite(cosine) ? cosine : null };
}

/** ONNX's backend-test tolerances: `|got − expected| ≤ atol + rtol·|expected|` for floats; exact otherwise. */
export interface Tolerance { readonly rtol: number; readonly atol: number }
/** The tolerances ONNX's backend tests use (`onnx/backend/test/runner`): rtol 1e-3, atol 1e-7. */
export const ONNX_TOLERANCE: Tolerance = Object.freeze({ rtol: 1e-3, atol: 1e-7 });

/**
 * Checks one output the way ONNX's backend tests do: same dtype and shape; floats within tolerance with
 * NaN equal to NaN (and equal infinities equal); integers, bools and strings exactly.
 * Returns null when it matches, else a one-line reason naming the first offending element.
 */
export function mismatch(name: string, got: Tensor, expected: Tensor, tol: Tolerance = ONNX_TOLERANCE): string | null {
  if (got.dtype !== expected.dtype) return `output '${name}': dtype ${got.dtype.name}, expected ${expected.dtype.name}`;
  if (!sameShape(got, expected)) return `output '${name}': shape [${got.shape.join(', ')}], expected [${expected.shape.join(', ')}]`;
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
    return bad === 0 ? null : `output '${name}': ${bad} of ${a.length} elements differ (first at ${first}: got ${String(a[first])}, expected ${String(b[first])})`;
  }
  const a = got.toFloat64(), b = expected.toFloat64();
  let bad = 0, first = -1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    const ok = x === y || (Number.isNaN(x) && Number.isNaN(y)) || Math.abs(x - y) <= tol.atol + tol.rtol * Math.abs(y);
    if (!ok) { bad++; if (first < 0) first = i; }
  }
  return bad === 0 ? null : `output '${name}': ${bad} of ${a.length} elements beyond rtol ${tol.rtol}, atol ${tol.atol} (first at ${first}: got ${a[first]}, expected ${b[first]})`;
}
