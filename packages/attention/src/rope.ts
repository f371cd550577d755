import { LeanformerError } from '@leanformer/core';

/**
 * Standard RoPE inverse frequencies `base^(-2i/dim)` for `dim/2` rotation pairs.
 *
 * @example
 * ```ts
 * const inv = ropeInvFreq(64); // Float64Array(32)
 * ```
 */
export function ropeInvFreq(dim: number, base = 10000): Float64Array {
  if (!Number.isInteger(dim) || dim < 2 || dim % 2) throw new LeanformerError('INVALID_ARGUMENT', `ropeInvFreq: 'dim' must be an even integer ≥ 2, got ${dim}`);
  const out = new Float64Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) out[i] = base ** (-(2 * i) / dim);
  return out;
}

/**
 * `cos`/`sin` caches `[maxLen, dim/2]` as ORT's GroupQueryAttention and the decomposed graph use them.
 */
export function ropeCache(invFreq: ArrayLike<number>, maxLen: number): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const cos = new Float32Array(maxLen * half);
  const sin = new Float32Array(maxLen * half);
  for (let p = 0; p < maxLen; p++) {
    for (let i = 0; i < half; i++) {
      const a = p * invFreq[i]!;
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/**
 * Rotates `x [heads, len, dim]` in place, non-interleaved ("rotate half") convention: element `i` pairs
 * with `i + dim/2`, angle `position · invFreq[i]`. Row `t` sits at `positions[t]` (default `offset + t`).
 */
export function applyRope(x: Float32Array, heads: number, len: number, dim: number, invFreq: ArrayLike<number>, positions?: ArrayLike<number>, offset = 0): Float32Array {
  const half = dim / 2;
  if (invFreq.length !== half) throw new LeanformerError('SHAPE_MISMATCH', `applyRope: ${invFreq.length} frequencies for head dim ${dim} (need dim/2 = ${half})`);
  if (x.length !== heads * len * dim) throw new LeanformerError('SHAPE_MISMATCH', `applyRope: x holds ${x.length} values, expected heads·len·dim = ${heads * len * dim}`);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < len; t++) {
      const p = positions ? positions[t]! : offset + t;
      const b = (h * len + t) * dim;
      for (let i = 0; i < half; i++) {
        const a = p * invFreq[i]!;
        const c = Math.cos(a);
        const s = Math.sin(a);
        const x0 = x[b + i]!;
        const x1 = x[b + i + half]!;
        x[b + i] = x0 * c - x1 * s;
        x[b + i + half] = x0 * s + x1 * c;
      }
    }
  }
  return x;
}
