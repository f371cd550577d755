import { LeanformerError } from './errors.js';

/**
 * Cosine similarity of two equal-length vectors, accumulated in float64. Zero vectors have no
 * direction: two zero vectors count as identical (1), a zero and a non-zero one as unrelated (0),
 * so the result is never NaN.
 *
 * @example
 * ```ts
 * cosine([1, 0], [1, 1]); // 0.7071…
 * ```
 */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new LeanformerError('SHAPE_MISMATCH', `cosine: lengths ${a.length} and ${b.length} differ`);
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i]! * b[i]!; aa += a[i]! * a[i]!; bb += b[i]! * b[i]!; }
  return aa === 0 || bb === 0 ? (aa === bb ? 1 : 0) : ab / Math.sqrt(aa * bb);
}
