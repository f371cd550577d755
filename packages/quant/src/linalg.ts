// Small dense linear algebra in float64 for the calibration-based methods (GPTQ's Hessian,
// error measures). Sizes here are one layer's K (≤ a few thousand); nothing is blocked for
// cache beyond keeping inner loops contiguous.
import { LeanformerError } from '@leanformer/core';

/** Row-major [M, K] · [K, N] → [M, N] in float64. */
export function matmul(a: ArrayLike<number>, M: number, K: number, b: ArrayLike<number>, N: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    const o = m * N;
    for (let k = 0; k < K; k++) {
      const av = a[m * K + k]!;
      if (av === 0) continue;
      const r = k * N;
      for (let n = 0; n < N; n++) out[o + n]! += av * b[r + n]!;
    }
  }
  return out;
}

/** `XᵀX` of row-major X [M, K], accumulated into `into` (float64 [K, K]) when given. */
export function gram(x: ArrayLike<number>, M: number, K: number, into?: Float64Array): Float64Array {
  const g = into ?? new Float64Array(K * K);
  const row = new Float64Array(K);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) row[k] = x[m * K + k]!;
    for (let i = 0; i < K; i++) {
      const xi = row[i]!;
      if (xi === 0) continue;
      const r = i * K;
      for (let j = i; j < K; j++) g[r + j]! += xi * row[j]!;
    }
  }
  if (!into) symmetrize(g, K);
  return g;
}

/** Copies the upper triangle onto the lower one. */
export function symmetrize(g: Float64Array, K: number): void {
  for (let i = 0; i < K; i++) for (let j = i + 1; j < K; j++) g[j * K + i] = g[i * K + j]!;
}

/** In-place lower Cholesky factor of a symmetric positive-definite [n, n] matrix (upper part zeroed). */
export function choleskyLower(a: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= a[j * n + k]! ** 2;
    if (!(d > 0)) throw new LeanformerError('EXECUTION_FAILED', `Cholesky failed at column ${j} (matrix not positive definite); increase damping`);
    const ljj = Math.sqrt(d);
    a[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      const ri = i * n;
      const rj = j * n;
      for (let k = 0; k < j; k++) s -= a[ri + k]! * a[rj + k]!;
      a[ri + j] = s / ljj;
    }
    for (let k = j + 1; k < n; k++) a[j * n + k] = 0;
  }
  return a;
}

/** Inverse of a symmetric positive-definite matrix through its Cholesky factor. */
export function spdInverse(a: Float64Array, n: number): Float64Array {
  const l = choleskyLower(Float64Array.from(a), n);
  // Inverse of L (lower), column by column by forward substitution.
  const li = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    li[c * n + c] = 1 / l[c * n + c]!;
    for (let i = c + 1; i < n; i++) {
      let s = 0;
      for (let k = c; k < i; k++) s -= l[i * n + k]! * li[k * n + c]!;
      li[i * n + c] = s / l[i * n + i]!;
    }
  }
  // A⁻¹ = L⁻ᵀ L⁻¹
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = j; k < n; k++) s += li[k * n + i]! * li[k * n + j]!;
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  }
  return inv;
}

/** Cosine similarity and relative squared error ‖a − b‖² / ‖b‖²: core's numeric module, for this package's modules. */
export { cosine, relativeError } from '@leanformer/core';
