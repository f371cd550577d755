import type { Tensor } from '@leanformer/core';

// Tolerance checks (ONNX_TOLERANCE, allclose) are core's numeric module; this file keeps `run`'s report metrics.

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
