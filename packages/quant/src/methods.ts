// Weight quantization methods beyond RTN. Every method returns a `QuantizedWeight` in the
// MatMulNBits form (codes, per-block scales and zero points along K), so one lowering serves
// all of them. Weights are row-major [K, N] (the B of X·B); calibration activations are
// row-major [M, K].
import { LeanformerError } from '@leanformer/core';
import {
  checkBlockOptions, dequantize, quantizeRtn, quantizeValue, rangeToScaleZp, roundHalfAway,
  type BlockQuantOptions, type QuantizedWeight,
} from './blockwise.js';
import { choleskyLower, gram, matmul, spdInverse } from './linalg.js';

function checkWeight(name: string, w: Float32Array, K: number, N: number): void {
  if (w.length !== K * N) throw new LeanformerError('SHAPE_MISMATCH', `${name}: weight has ${w.length} values, expected K·N = ${K}·${N}`);
}
function checkActs(name: string, x: Float32Array, K: number): number {
  if (x.length === 0 || x.length % K !== 0) throw new LeanformerError('SHAPE_MISMATCH', `${name}: calibration activations have ${x.length} values, not a multiple of K = ${K}`);
  return x.length / K;
}

// ───────────────────────────── HQQ ─────────────────────────────

/** Options of HQQ (half-quadratic quantization). Defaults follow the HQQ paper/code. */
export interface HqqOptions extends BlockQuantOptions {
  /** Lp norm of the reconstruction error, p < 1. Default 0.7. */
  readonly p?: number;
  /** Initial penalty β and its growth κ per iteration. Defaults 10 and 1.01. */
  readonly beta?: number;
  readonly kappa?: number;
  /** Iterations. Default 20. */
  readonly iterations?: number;
  /**
   * Zero points must be integers in [0, 2^bits − 1] (they will be stored as uint8: 8-bit
   * MatMulNBits, GatherBlockQuantized, ort-webgpu). The codes are then chosen for the integer
   * zero point actually stored, instead of being rounded afterwards. Default: true for 8 bits.
   */
  readonly integerZeroPoints?: boolean;
}

/**
 * HQQ: calibration-free; per block, keeps the min–max scale and optimises the zero point to
 * minimise ‖W − Ŵ‖_p (p < 1) by half-quadratic splitting: a generalised soft-threshold of the
 * error, then the closed-form zero-point update, with β growing by κ per iteration, until the
 * mean absolute error stops decreasing (as HQQ's reference code). Of the
 * iterates (and RTN's own grid, candidate zero), the block keeps the one whose stored form
 * (float32 codes and zero point, integer when `integerZeroPoints`) reconstructs W with the
 * least squared error: a layer's output error follows the L2 weight error, and this makes HQQ
 * never reconstruct a block worse than RTN. Asymmetric only (a symmetric grid has no zero point
 * to optimise).
 *
 * @example
 * ```ts
 * const q = quantizeHqq(w, K, N, { bits: 4, blockSize: 64 });
 * ```
 */
export function quantizeHqq(w: Float32Array, K: number, N: number, opts: HqqOptions): QuantizedWeight {
  checkWeight('quantizeHqq', w, K, N);
  if (opts.symmetric) throw new LeanformerError('INVALID_ARGUMENT', 'HQQ optimises zero points and needs symmetric: false', { details: { argument: 'symmetric', method: 'hqq' } });
  const kBlocks = checkBlockOptions(K, N, opts);
  const { bits, blockSize } = opts;
  const p = opts.p ?? 0.7;
  const iters = opts.iterations ?? 20;
  const kappa = opts.kappa ?? 1.01;
  const integer = opts.integerZeroPoints ?? bits === 8;
  if (!(p > 0 && p < 1)) throw new LeanformerError('INVALID_ARGUMENT', `HQQ p must be in (0, 1), got ${p}`);
  const qmax = (1 << bits) - 1;
  const kPad = kBlocks * blockSize;
  const codes = new Uint8Array(N * kPad);
  const scales = new Float32Array(N * kBlocks);
  const zps = new Float32Array(N * kBlocks);
  const g = new Float64Array(blockSize);
  let len = 0;
  let bestS = 0, bestZ = 0, bestErr = Infinity;
  /** Squared reconstruction error of the block as stored with (s, z) (float32, as quantizeValue); keeps the best. */
  const consider = (s: number, z: number): void => {
    const zf = Math.fround(z);
    const rs = s !== 0 ? Math.fround(1 / s) : 0;
    let err = 0;
    for (let i = 0; i < len; i++) {
      let c = roundHalfAway(Math.fround(Math.fround(g[i]! * rs) + zf));
      c = c < 0 ? 0 : c > qmax ? qmax : c;
      err += (g[i]! - Math.fround((c - zf) * s)) ** 2;
    }
    if (err < bestErr) { bestErr = err; bestS = s; bestZ = zf; }
  };
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const k0 = b * blockSize;
      len = Math.min(K, k0 + blockSize) - k0;
      let min = Infinity, max = -Infinity;
      for (let i = 0; i < len; i++) { const v = w[(k0 + i) * N + n]!; g[i] = v; if (v < min) min = v; if (v > max) max = v; }
      const [sR, zR] = rangeToScaleZp(min, max, bits, false);
      bestErr = Infinity; bestS = sR; bestZ = zR;
      consider(sR, zR); // RTN's grid (range widened to 0, integer zero point)
      const s = Math.fround((max - min) / qmax);
      if (s > 0) {
        // HQQ's grid: the block's own min–max, zero point optimised. Stops, as HQQ's reference
        // does, once the mean absolute error of an iterate no longer decreases.
        let z = -min / s;
        let beta = opts.beta ?? 10;
        let lastL1 = Infinity;
        for (let it = 0; it <= iters; it++) {
          if (integer) { const f = Math.floor(z); for (const c of [f, f + 1]) consider(s, c < 0 ? 0 : c > qmax ? qmax : c); } else consider(s, z);
          if (it === iters) break;
          let zsum = 0;
          let l1 = 0;
          for (let i = 0; i < len; i++) {
            let c = roundHalfAway(g[i]! / s + z);
            c = c < 0 ? 0 : c > qmax ? qmax : c;
            const e = g[i]! - (c - z) * s;
            // generalised soft threshold: shrink_p(e) = sign(e)·max(|e| − |e|^(p−1)/β, 0)
            const a = Math.abs(e);
            l1 += a;
            const sh = a === 0 ? 0 : Math.sign(e) * Math.max(a - a ** (p - 1) / beta, 0);
            zsum += c - (g[i]! - sh) / s;
          }
          if (l1 >= lastL1) break;
          lastL1 = l1;
          z = zsum / len;
          beta *= kappa;
        }
      }
      scales[n * kBlocks + b] = bestS;
      zps[n * kBlocks + b] = bestZ;
      for (let i = 0; i < blockSize; i++) codes[n * kPad + k0 + i] = i < len ? quantizeValue(g[i]!, bestS, bestZ, qmax) : Math.min(qmax, Math.max(0, roundHalfAway(bestZ)));
    }
  }
  return { bits, blockSize, K, N, kBlocks, codes, scales, zeroPoints: zps };
}

// ───────────────────────────── GPTQ ─────────────────────────────

/** GPTQ options. */
export interface GptqOptions extends BlockQuantOptions {
  /** Damping as a fraction of mean(diag H). Default 0.01. */
  readonly damp?: number;
  /** Quantise input channels in order of decreasing diag(H). Default true. */
  readonly actOrder?: boolean;
}

/**
 * Accumulates GPTQ's Hessian `H = 2/M · XᵀX` over calibration batches.
 *
 * @example
 * ```ts
 * const h = new HessianAccumulator(K);
 * for (const x of batches) h.add(x);   // x: Float32Array [rows, K]
 * const q = quantizeGptq(w, K, N, h.hessian(), { bits: 4, blockSize: 128 });
 * ```
 */
export class HessianAccumulator {
  readonly K: number;
  private readonly h: Float64Array;
  private rows = 0;
  constructor(K: number) { this.K = K; this.h = new Float64Array(K * K); }
  /** Adds rows of activations (row-major [rows, K]). */
  add(x: Float32Array): void {
    const M = checkActs('HessianAccumulator.add', x, this.K);
    gram(x, M, this.K, this.h); // upper triangle only; hessian() mirrors it
    this.rows += M;
  }
  /** Number of rows seen. */
  get count(): number { return this.rows; }
  /** `2/M · XᵀX` (float64 [K, K]). */
  hessian(): Float64Array {
    if (this.rows === 0) throw new LeanformerError('INVALID_ARGUMENT', 'HessianAccumulator: no calibration rows were added');
    const K = this.K;
    const out = new Float64Array(K * K);
    const f = 2 / this.rows;
    for (let i = 0; i < K; i++) for (let j = i; j < K; j++) { const v = this.h[i * K + j]! * f; out[i * K + j] = v; out[j * K + i] = v; }
    return out;
  }
}

/**
 * GPTQ: quantises input channels (rows of W) one at a time and spreads each row's rounding
 * error over the rows not yet quantised, weighted by the inverse Hessian's Cholesky factor
 * (optimal brain surgeon update). Block parameters come from the current (updated) rows at
 * each block start; with act-order they come from the original W, so blocks stay contiguous
 * along K (MatMulNBits has no reordering index on most targets).
 *
 * @example
 * ```ts
 * const q = quantizeGptq(w, K, N, hessian, { bits: 4, blockSize: 128, actOrder: true });
 * ```
 */
export function quantizeGptq(w: Float32Array, K: number, N: number, hessian: Float64Array, opts: GptqOptions): QuantizedWeight {
  checkWeight('quantizeGptq', w, K, N);
  if (hessian.length !== K * K) throw new LeanformerError('SHAPE_MISMATCH', `quantizeGptq: Hessian has ${hessian.length} values, expected K² = ${K * K}`);
  const kBlocks = checkBlockOptions(K, N, opts);
  const { bits, blockSize } = opts;
  const symmetric = opts.symmetric ?? false;
  const qmax = (1 << bits) - 1;
  const actOrder = opts.actOrder ?? true;
  const H = Float64Array.from(hessian);
  const W = Float64Array.from(w);
  // Dead inputs (never active): their weights cannot matter; pin them to zero.
  for (let i = 0; i < K; i++) if (H[i * K + i] === 0) { H[i * K + i] = 1; for (let n = 0; n < N; n++) W[i * N + n] = 0; }
  const scales = new Float32Array(N * kBlocks);
  const zps = symmetric ? null : new Float32Array(N * kBlocks);
  const setParams = (b: number, src: ArrayLike<number>): void => {
    const k0 = b * blockSize;
    const k1 = Math.min(K, k0 + blockSize);
    for (let n = 0; n < N; n++) {
      let min = Infinity, max = -Infinity;
      for (let k = k0; k < k1; k++) { const v = Math.fround(src[k * N + n]!); if (v < min) min = v; if (v > max) max = v; }
      let [s, z] = rangeToScaleZp(min, max, bits, symmetric);
      if (opts.clip) {
        let bestErr = Infinity;
        for (const f of [1, 0.95, 0.9, 0.85, 0.8, 0.75]) {
          const [s2, z2] = rangeToScaleZp(min * f, max * f, bits, symmetric);
          let err = 0;
          for (let k = k0; k < k1; k++) { const v = Math.fround(src[k * N + n]!); err += (v - (quantizeValue(v, s2, z2, qmax) - z2) * s2) ** 2; }
          if (err < bestErr) { bestErr = err; s = s2; z = z2; }
        }
      }
      scales[n * kBlocks + b] = s;
      if (zps) zps[n * kBlocks + b] = z;
    }
  };
  const perm = Array.from({ length: K }, (_, i) => i);
  if (actOrder) {
    perm.sort((a, b) => H[b * K + b]! - H[a * K + a]! || a - b);
    for (let b = 0; b < kBlocks; b++) setParams(b, W);
  }
  // Permuted Hessian, damped.
  const Hp = new Float64Array(K * K);
  let meanDiag = 0;
  for (let i = 0; i < K; i++) meanDiag += H[i * K + i]!;
  meanDiag /= K;
  const damp = (opts.damp ?? 0.01) * meanDiag;
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) Hp[i * K + j] = H[perm[i]! * K + perm[j]!]!;
  for (let i = 0; i < K; i++) Hp[i * K + i]! += damp;
  // U: upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), via the lower factor's transpose.
  const L = choleskyLower(spdInverse(Hp, K), K);
  const done = new Uint8Array(kBlocks);
  const kPad = kBlocks * blockSize;
  const codes = new Uint8Array(N * kPad);
  const err = new Float64Array(N);
  const mid = 1 << (bits - 1);
  for (let i = 0; i < K; i++) {
    const k = perm[i]!;
    const b = Math.floor(k / blockSize);
    if (!actOrder && !done[b]) { setParams(b, W); done[b] = 1; }
    const d = L[i * K + i]!; // U[i,i] = L[i,i]
    const r = k * N;
    for (let n = 0; n < N; n++) {
      const pi = n * kBlocks + b;
      const s = scales[pi]!;
      const z = zps ? zps[pi]! : mid;
      const c = quantizeValue(W[r + n]!, s, z, qmax);
      codes[n * kPad + k] = c;
      const deq = Math.fround((c - z) * s);
      err[n] = (W[r + n]! - deq) / d;
      W[r + n] = deq;
    }
    // W[perm[j]] -= err · U[i, j] for j > i, with U[i, j] = L[j, i].
    for (let j = i + 1; j < K; j++) {
      const u = L[j * K + i]!;
      if (u === 0) continue;
      const rj = perm[j]! * N;
      for (let n = 0; n < N; n++) W[rj + n]! -= err[n]! * u;
    }
  }
  // Padding codes past K dequantize to zero.
  for (let n = 0; n < N; n++) {
    for (let k = K; k < kPad; k++) {
      const b = Math.floor(k / blockSize);
      codes[n * kPad + k] = zps ? roundHalfAway(zps[n * kBlocks + b]!) : mid;
    }
  }
  return { bits, blockSize, K, N, kBlocks, codes, scales, zeroPoints: zps };
}

// ─────────────────── channel scaling (AWQ, SmoothQuant+) ───────────────────

/**
 * A weight quantized after input-channel scaling: `X·W ≈ (X·diag(1/s))·Q(diag(s)·W)`.
 * The caller folds `1/s` into whatever produces X (a norm's weight, a previous linear), or
 * multiplies X by `inputScale` before the quantized matmul.
 */
export interface ScaledQuantizedWeight {
  readonly weight: QuantizedWeight;
  /** Multiply the layer input by this per-channel factor (1/s), [K]. */
  readonly inputScale: Float32Array;
  /** The α the search chose. */
  readonly alpha: number;
  /** Calibration output error ‖XŴ − XW‖² / ‖XW‖² at that α. */
  readonly error: number;
}

/** One linear layer for the scale searches: W [K, N]. */
export interface LinearWeight { readonly w: Float32Array; readonly K: number; readonly N: number }

/** Quantises `diag(s)·W` and returns `diag(1/s)·deq` (the effective weight seen by X). */
function effectiveWeight(layer: LinearWeight, s: Float64Array, opts: BlockQuantOptions): { q: QuantizedWeight; eff: Float32Array } {
  const { w, K, N } = layer;
  const ws = new Float32Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) ws[k * N + n] = w[k * N + n]! * s[k]!;
  const q = quantizeRtn(ws, K, N, opts);
  const eff = dequantize(q);
  for (let k = 0; k < K; k++) { const inv = 1 / s[k]!; for (let n = 0; n < N; n++) eff[k * N + n]! *= inv; }
  return { q, eff };
}

/** Σ_n d_nᵀ·G·d_n for the columns d_n of a row-major [K, N] matrix: ‖X·D‖² given G = XᵀX. */
function quadForm(g: Float64Array, d: ArrayLike<number>, K: number, N: number): number {
  const col = new Float64Array(K);
  let total = 0;
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) col[k] = d[k * N + n]!;
    for (let i = 0; i < K; i++) {
      const ci = col[i]!;
      if (ci === 0) continue;
      const r = i * K;
      let acc = 0;
      for (let j = 0; j < K; j++) acc += g[r + j]! * col[j]!;
      total += ci * acc;
    }
  }
  return total;
}

function gridOf(steps: number): number[] {
  return Array.from({ length: steps + 1 }, (_, i) => i / steps);
}

/** Shared search: for each α, scales s(α) for all layers (same input X), summed relative error. */
function searchScales(layers: readonly LinearWeight[], x: Float32Array, K: number, alphas: readonly number[], scalesFor: (alpha: number) => Float64Array, opts: BlockQuantOptions): ScaledQuantizedWeight[] {
  const M = checkActs('scale search', x, K);
  for (const l of layers) { checkWeight('scale search', l.w, l.K, l.N); if (l.K !== K) throw new LeanformerError('SHAPE_MISMATCH', `layers sharing one input must have the same K (${K}), got ${l.K}`); }
  // ‖X·D‖² = Σ_n d_nᵀ (XᵀX) d_n. For K ≤ 128 one Gram matrix over all rows makes each candidate
  // O(K²N); wider layers use 128 evenly strided rows directly (O(128·K·N)), since the search
  // only ranks candidates.
  const SUB = 128;
  let err: (d: ArrayLike<number>, N: number) => number;
  if (K <= SUB) {
    const g = gram(x, M, K);
    err = (d, N) => quadForm(g, d, K, N);
  } else {
    const rows = Math.min(M, SUB);
    const xs = new Float32Array(rows * K);
    for (let i = 0; i < rows; i++) { const r = Math.floor((i * M) / rows); xs.set(x.subarray(r * K, r * K + K), i * K); }
    err = (d, N) => { let e = 0; const y = matmul(xs, rows, K, d, N); for (const v of y) e += v * v; return e; };
  }
  const refs = layers.map((l) => err(l.w, l.N));
  let best: { alpha: number; err: number; res: { q: QuantizedWeight; e: number }[]; s: Float64Array } | null = null;
  for (const alpha of alphas) {
    const s = scalesFor(alpha);
    let total = 0;
    const res: { q: QuantizedWeight; e: number }[] = [];
    layers.forEach((l, li) => {
      const { q, eff } = effectiveWeight(l, s, opts);
      for (let i = 0; i < eff.length; i++) eff[i] = eff[i]! - l.w[i]!;
      const e = err(eff, l.N);
      const rel = refs[li] === 0 ? e : e / refs[li]!;
      total += rel;
      res.push({ q, e: rel });
    });
    if (!best || total < best.err - 1e-15) best = { alpha, err: total, res, s };
  }
  const inv = Float32Array.from(best!.s, (v) => 1 / v);
  return best!.res.map((r) => ({ weight: r.q, inputScale: inv, alpha: best!.alpha, error: r.e }));
}

function checkScale(v: number): number {
  return Number.isFinite(v) && v > 1e-5 ? v : 1e-5;
}

/** AWQ options. */
export interface AwqOptions extends BlockQuantOptions {
  /** Grid steps over α ∈ [0, 1]. Default 20. */
  readonly gridSteps?: number;
}

/**
 * AWQ: protects salient input channels by scaling them up before quantisation,
 * `s = mean|X_j|^α` (normalised by √(max·min)); α is grid-searched to minimise the
 * calibration output error of all `layers` that share the input X (e.g. q/k/v).
 *
 * @example
 * ```ts
 * const [q] = quantizeAwq([{ w, K, N }], x, { bits: 4, blockSize: 128 });
 * // feed X·diag(q.inputScale) to the quantized weight q.weight
 * ```
 */
export function quantizeAwq(layers: readonly LinearWeight[], x: Float32Array, opts: AwqOptions): ScaledQuantizedWeight[] {
  if (layers.length === 0) throw new LeanformerError('INVALID_ARGUMENT', 'quantizeAwq: no layers given');
  const K = layers[0]!.K;
  const M = checkActs('quantizeAwq', x, K);
  const meanAbs = new Float64Array(K);
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) meanAbs[k]! += Math.abs(x[m * K + k]!);
  for (let k = 0; k < K; k++) meanAbs[k] = checkScale(meanAbs[k]! / M);
  const scalesFor = (alpha: number): Float64Array => {
    const s = Float64Array.from(meanAbs, (v) => v ** alpha);
    let mx = 0, mn = Infinity;
    for (const v of s) { if (v > mx) mx = v; if (v < mn) mn = v; }
    const norm = Math.sqrt(mx * mn);
    for (let k = 0; k < K; k++) s[k] = checkScale(s[k]! / norm);
    return s;
  };
  return searchScales(layers, x, K, gridOf(opts.gridSteps ?? 20), scalesFor, opts);
}

/** SmoothQuant+ options. */
export interface SmoothQuantOptions extends BlockQuantOptions {
  /** Fixed migration strength α; when absent α is searched on the grid. */
  readonly alpha?: number;
  /** Grid steps over α ∈ [0, 1] when searching. Default 10. */
  readonly gridSteps?: number;
}

/**
 * SmoothQuant+ smoothing factors `s_j = max|X_j|^α / max|W_j|^(1−α)`, where max|W_j| is over
 * all layers sharing the input (row j of each W).
 */
export function smoothingScales(actAbsMax: ArrayLike<number>, layers: readonly LinearWeight[], alpha: number): Float64Array {
  const K = actAbsMax.length;
  const wmax = new Float64Array(K);
  for (const l of layers) for (let k = 0; k < K; k++) for (let n = 0; n < l.N; n++) { const a = Math.abs(l.w[k * l.N + n]!); if (a > wmax[k]!) wmax[k] = a; }
  return Float64Array.from({ length: K }, (_, k) => checkScale(checkScale(actAbsMax[k]!) ** alpha / checkScale(wmax[k]!) ** (1 - alpha)));
}

/**
 * SmoothQuant+: per-channel smoothing of activation outliers into the weights, then 4-bit
 * (or 8-bit) group-wise weight-only quantisation. α is fixed or grid-searched by calibration
 * output error (the paper searches one α for the whole model by output loss; the graph-level
 * `quantizeModel` does that across layers).
 *
 * @example
 * ```ts
 * const [q] = quantizeSmoothQuantPlus([{ w, K, N }], x, { bits: 4, blockSize: 128 });
 * ```
 */
export function quantizeSmoothQuantPlus(layers: readonly LinearWeight[], x: Float32Array, opts: SmoothQuantOptions): ScaledQuantizedWeight[] {
  if (layers.length === 0) throw new LeanformerError('INVALID_ARGUMENT', 'quantizeSmoothQuantPlus: no layers given');
  const K = layers[0]!.K;
  const M = checkActs('quantizeSmoothQuantPlus', x, K);
  const amax = new Float64Array(K);
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) { const a = Math.abs(x[m * K + k]!); if (a > amax[k]!) amax[k] = a; }
  const alphas = opts.alpha !== undefined ? [opts.alpha] : gridOf(opts.gridSteps ?? 10);
  for (const a of alphas) if (!(a >= 0 && a <= 1)) throw new LeanformerError('INVALID_ARGUMENT', `SmoothQuant α must be in [0, 1], got ${a}`);
  return searchScales(layers, x, K, alphas, (alpha) => smoothingScales(amax, layers, alpha), opts);
}

// ───────────────────────────── QServe ─────────────────────────────

/** The two levels of a QServe progressive quantization, kept for inspection and tests. */
export interface ProgressiveQuantized {
  readonly weight: QuantizedWeight;
  /** Level 1: int8 codes [K, N] (per output channel, symmetric, protective range ±119). */
  readonly int8: Int8Array;
  /** Level-1 per-output-channel scales s1 (float16-representable), [N]. */
  readonly s1: Float32Array;
  /** Level-2 integer scales s2 (1…127), [N, kBlocks]. */
  readonly s2: Uint8Array;
}

/**
 * QServe-style progressive group quantisation (W4A8): int8 per output channel with a
 * protective range of ±119 (so the int4→int8 step `(q4 − z)·s2` never overflows int8), then
 * those int8 values to uint4 per group of `blockSize` with integer scale s2 and zero z.
 * `W ≈ s1·s2·(q4 − z)`, which MatMulNBits stores as scale = s1·s2, zero point z.
 *
 * @example
 * ```ts
 * const { weight } = quantizeQServe(w, K, N, { blockSize: 128 });
 * ```
 */
export function quantizeQServe(w: Float32Array, K: number, N: number, opts: { blockSize: number }): ProgressiveQuantized {
  checkWeight('quantizeQServe', w, K, N);
  const blockSize = opts.blockSize;
  const kBlocks = checkBlockOptions(K, N, { bits: 4, blockSize });
  const int8 = new Int8Array(K * N);
  const s1 = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let amax = 0;
    for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(w[k * N + n]!));
    // float16-representable level-1 scale (QServe keeps s1 in fp16)
    const s = amax === 0 ? 1 : toHalfPrecision(amax / 119);
    s1[n] = s;
    for (let k = 0; k < K; k++) int8[k * N + n] = Math.max(-119, Math.min(119, Math.round(w[k * N + n]! / s)));
  }
  const kPad = kBlocks * blockSize;
  const codes = new Uint8Array(N * kPad);
  const s2 = new Uint8Array(N * kBlocks);
  const scales = new Float32Array(N * kBlocks);
  const zps = new Float32Array(N * kBlocks);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const k0 = b * blockSize;
      const k1 = Math.min(K, k0 + blockSize);
      let mn = 0, mx = 0;
      for (let k = k0; k < k1; k++) { const v = int8[k * N + n]!; if (v < mn) mn = v; if (v > mx) mx = v; }
      const sc = Math.max(1, Math.ceil((mx - mn) / 15)); // integer scale covering the range
      const z = Math.min(15, Math.max(0, Math.round(-mn / sc)));
      const i = n * kBlocks + b;
      s2[i] = sc;
      zps[i] = z;
      scales[i] = Math.fround(s1[n]! * sc);
      for (let k = k0; k < k0 + blockSize; k++) {
        codes[n * kPad + k] = k < k1 ? Math.min(15, Math.max(0, Math.round(int8[k * N + n]! / sc) + z)) : z;
      }
    }
  }
  return { weight: { bits: 4, blockSize, K, N, kBlocks, codes, scales, zeroPoints: zps }, int8, s1, s2 };
}

function toHalfPrecision(v: number): number {
  // round to the nearest float16 value (normal range suffices for weight scales)
  const e = Math.floor(Math.log2(v));
  const step = 2 ** (e - 10);
  return Math.round(v / step) * step;
}

/**
 * QServe SmoothAttention factors: `λ_j = max(max|K_j|^α, 1e-5)` per key channel, made equal
 * within each RoPE pair (j, j + d/2) so rotation commutes with the scaling. Keys are divided
 * by λ (fold into Wk's columns: Wk·diag(1/λ)) and queries multiplied by λ (Wq·diag(λ)), which
 * leaves QKᵀ unchanged while flattening key outliers before 4-bit KV quantisation.
 */
export function smoothAttentionScales(keyAbsMax: ArrayLike<number>, headDim: number, alpha = 0.5): Float32Array {
  const C = keyAbsMax.length;
  if (C % headDim !== 0 || headDim % 2 !== 0) throw new LeanformerError('INVALID_ARGUMENT', `key channels (${C}) must be a multiple of an even headDim (${headDim})`);
  const lam = new Float32Array(C);
  const half = headDim / 2;
  for (let h = 0; h < C; h += headDim) {
    for (let j = 0; j < half; j++) {
      const m = Math.max(Math.abs(keyAbsMax[h + j]!), Math.abs(keyAbsMax[h + j + half]!));
      const l = Math.max(m ** alpha, 1e-5);
      lam[h + j] = l;
      lam[h + j + half] = l;
    }
  }
  return lam;
}

// ───────────────────────────── 2:4 sparsity ─────────────────────────────

/**
 * 2:4 magnitude pruning along K: in every 4 consecutive weights of an output column, keeps
 * the 2 of largest magnitude (ties keep the lower index). K must be a multiple of 4.
 * Returns the pruned copy and the keep-mask (1 = kept).
 *
 * @example
 * ```ts
 * const { pruned } = prune24(w, K, N);
 * ```
 */
export function prune24(w: Float32Array, K: number, N: number): { pruned: Float32Array; mask: Uint8Array } {
  checkWeight('prune24', w, K, N);
  if (K % 4 !== 0) throw new LeanformerError('SHAPE_MISMATCH', `2:4 sparsity needs K divisible by 4, got K = ${K}`);
  const pruned = new Float32Array(K * N);
  const mask = new Uint8Array(K * N);
  const idx = [0, 1, 2, 3];
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k += 4) {
      const a = idx.map((i) => Math.abs(w[(k + i) * N + n]!));
      const order = [...idx].sort((x, y) => a[y]! - a[x]! || x - y);
      for (const i of order.slice(0, 2)) { pruned[(k + i) * N + n] = w[(k + i) * N + n]!; mask[(k + i) * N + n] = 1; }
    }
  }
  return { pruned, mask };
}

/** True when every group of 4 along K has at most 2 non-zeros. */
export function is24Sparse(w: Float32Array, K: number, N: number): boolean {
  if (K % 4 !== 0) return false;
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k += 4) {
      let nz = 0;
      for (let i = 0; i < 4; i++) if (w[(k + i) * N + n] !== 0) nz++;
      if (nz > 2) return false;
    }
  }
  return true;
}
