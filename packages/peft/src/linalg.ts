// Small dense linear algebra in float64 for WeLore and GaLore: a one-sided Jacobi SVD
// (accurate to working precision; fine for the layer sizes trained in JS).

/** A thin SVD `M = U·diag(S)·Vᵀ` of an `m × n` matrix, k = min(m, n), S descending. */
export interface Svd {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** `[m, k]` row-major. */
  readonly U: Float64Array;
  /** `[k]`, descending. */
  readonly S: Float64Array;
  /** `[n, k]` row-major. */
  readonly V: Float64Array;
}

/**
 * Thin SVD of a row-major `m × n` matrix by one-sided Jacobi rotations (Hestenes), in float64.
 *
 * @example
 * ```ts
 * const { U, S, V } = svd(new Float64Array([3, 0, 0, 4]), 2, 2); // S = [4, 3]
 * ```
 */
export function svd(a: ArrayLike<number>, m: number, n: number, maxSweeps = 60): Svd {
  // Work on the wide side's transpose so columns are the shorter dimension: cols = min(m, n).
  const tall = m >= n;
  const rows = tall ? m : n;
  const cols = tall ? n : m;
  // Column-major working copy W [rows × cols] and accumulated rotations Q [cols × cols].
  const W: Float64Array[] = Array.from({ length: cols }, () => new Float64Array(rows));
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    const v = Number(a[i * n + j]);
    if (tall) W[j]![i] = v; else W[i]![j] = v;
  }
  const Q: Float64Array[] = Array.from({ length: cols }, (_, j) => { const c = new Float64Array(cols); c[j] = 1; return c; });
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let p = 0; p < cols - 1; p++) {
      for (let q = p + 1; q < cols; q++) {
        const wp = W[p]!, wq = W[q]!;
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < rows; i++) { const x = wp[i]!, y = wq[i]!; alpha += x * x; beta += y * y; gamma += x * y; }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        for (let i = 0; i < rows; i++) { const x = wp[i]!, y = wq[i]!; wp[i] = c * x - s * y; wq[i] = s * x + c * y; }
        const qp = Q[p]!, qq = Q[q]!;
        for (let i = 0; i < cols; i++) { const x = qp[i]!, y = qq[i]!; qp[i] = c * x - s * y; qq[i] = s * x + c * y; }
      }
    }
    if (!rotated) break;
  }
  const norms = W.map((c) => Math.sqrt(c.reduce((s, x) => s + x * x, 0)));
  const order = norms.map((_, j) => j).sort((x, y) => norms[y]! - norms[x]!);
  const k = cols;
  const left = new Float64Array(rows * k);
  const right = new Float64Array(cols * k);
  const S = new Float64Array(k);
  order.forEach((j, r) => {
    const s = norms[j]!;
    S[r] = s;
    const c = W[j]!;
    for (let i = 0; i < rows; i++) left[i * k + r] = s > 0 ? c[i]! / s : 0;
    const qc = Q[j]!;
    for (let i = 0; i < cols; i++) right[i * k + r] = qc[i]!;
  });
  // M = left·S·rightᵀ when tall; for a wide M we decomposed Mᵀ, so swap the factors.
  return tall ? { m, n, k, U: left, S, V: right } : { m, n, k, U: right, S, V: left };
}
