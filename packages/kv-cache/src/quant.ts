import { LeanformerError, float16BitsToFloat32, float32ToFloat16Bits } from '@leanformer/core';

/** KV quantization settings: `bits` per element, asymmetric min/scale per group of `groupSize` channels of one token. */
export interface KVQuantConfig {
  readonly bits: 4 | 8;
  /** Channels per scale group within one token's head vector (default: the whole head, i.e. per-token per-head). */
  readonly groupSize?: number;
  /**
   * Search a clipped range per group (shrinking [min, max] towards its centre by each factor) and keep
   * the one with the least squared error; e.g. `[1, 0.9, 0.8, 0.7]`. Default `[1]` (full range).
   */
  readonly clipSearch?: readonly number[];
}

/**
 * Quantized rows (tokens × channels): codes packed low nibble first for 4-bit, and one fp16 scale and
 * one fp16 minimum per group. Dequantized value = `min + code · scale`.
 */
export interface QuantizedKV {
  readonly bits: 4 | 8;
  readonly rows: number;
  readonly cols: number;
  readonly groupSize: number;
  readonly codes: Uint8Array;
  /** fp16 bits, `[rows, cols/groupSize]` */ readonly scales: Uint16Array;
  /** fp16 bits, `[rows, cols/groupSize]` */ readonly mins: Uint16Array;
}

const h = (x: number): number => float16BitsToFloat32(float32ToFloat16Bits(x));

/**
 * Quantizes `x [rows, cols]` (e.g. one head's keys, one row per token) per token and per group.
 * Scales and minimums are rounded to fp16 first and the codes computed against the rounded values,
 * so dequantization error stays within half a step.
 *
 * @example
 * ```ts
 * const q = quantizeKV(keys, tokens, 64, { bits: 4 });
 * const back = dequantizeKV(q);
 * ```
 */
export function quantizeKV(x: Float32Array, rows: number, cols: number, cfg: KVQuantConfig): QuantizedKV {
  const { bits } = cfg;
  if (bits !== 4 && bits !== 8) throw new LeanformerError('INVALID_ARGUMENT', `quantizeKV: 'bits' must be 4 or 8, got ${String(bits)}`);
  const gs = cfg.groupSize ?? cols;
  if (!Number.isInteger(gs) || gs < 1 || cols % gs) throw new LeanformerError('INVALID_ARGUMENT', `quantizeKV: 'groupSize' (${gs}) must divide the row length ${cols}`);
  if (x.length !== rows * cols) throw new LeanformerError('SHAPE_MISMATCH', `quantizeKV: x holds ${x.length} values, expected rows·cols = ${rows * cols}`);
  const levels = (1 << bits) - 1;
  const groups = cols / gs;
  const codes = new Uint8Array(bits === 8 ? rows * cols : Math.ceil((rows * cols) / 2));
  const scales = new Uint16Array(rows * groups);
  const mins = new Uint16Array(rows * groups);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const b = r * cols + g * gs;
      let lo = Infinity, hi = -Infinity;
      for (let i = 0; i < gs; i++) { const v = x[b + i]!; if (v < lo) lo = v; if (v > hi) hi = v; }
      let bestErr = Infinity, bestMn = 0, bestSc = 0;
      for (const f of cfg.clipSearch ?? [1]) {
        const mid = (lo + hi) / 2, half = ((hi - lo) / 2) * f;
        const mn = h(mid - half);
        let sc = h((mid + half - mn) / levels);
        if (!(sc > 0)) sc = 0;
        let err = 0;
        if ((cfg.clipSearch ?? [1]).length > 1) {
          for (let i = 0; i < gs; i++) {
            const c = sc === 0 ? 0 : Math.min(levels, Math.max(0, Math.round((x[b + i]! - mn) / sc)));
            err += (mn + c * sc - x[b + i]!) ** 2;
          }
        }
        if (err < bestErr) { bestErr = err; bestMn = mn; bestSc = sc; }
      }
      const mn = bestMn, sc = bestSc;
      scales[r * groups + g] = float32ToFloat16Bits(sc);
      mins[r * groups + g] = float32ToFloat16Bits(mn);
      for (let i = 0; i < gs; i++) {
        const c = sc === 0 ? 0 : Math.min(levels, Math.max(0, Math.round((x[b + i]! - mn) / sc)));
        const idx = b + i;
        if (bits === 8) codes[idx] = c;
        else codes[idx >> 1]! |= idx & 1 ? c << 4 : c;
      }
    }
  }
  return { bits, rows, cols, groupSize: gs, codes, scales, mins };
}

/** Inverse of {@link quantizeKV}: `[rows, cols]` float32. */
export function dequantizeKV(q: QuantizedKV, out = new Float32Array(q.rows * q.cols)): Float32Array {
  const groups = q.cols / q.groupSize;
  for (let r = 0; r < q.rows; r++) {
    for (let g = 0; g < groups; g++) {
      const sc = float16BitsToFloat32(q.scales[r * groups + g]!);
      const mn = float16BitsToFloat32(q.mins[r * groups + g]!);
      const b = r * q.cols + g * q.groupSize;
      for (let i = 0; i < q.groupSize; i++) {
        const idx = b + i;
        const c = q.bits === 8 ? q.codes[idx]! : (q.codes[idx >> 1]! >> (idx & 1 ? 4 : 0)) & 15;
        out[idx] = mn + c * sc;
      }
    }
  }
  return out;
}

/**
 * Bytes one token's K and V take per kv head of size `headDim`, codes and fp16 scales/minimums included.
 * fp16 KV takes `2 · 2 · headDim`.
 */
export function kvBytesPerToken(headDim: number, cfg: KVQuantConfig | 'float16' | 'float32'): number {
  if (cfg === 'float16') return 2 * 2 * headDim;
  if (cfg === 'float32') return 2 * 4 * headDim;
  const gs = cfg.groupSize ?? headDim;
  return 2 * ((headDim * cfg.bits) / 8 + (headDim / gs) * 4);
}

/**
 * QServe's SmoothAttention for KV4: per kv head and channel `c`, `λ_c = max_t |K[t,c]|^alpha`
 * (floored at 1e-5). Keys are stored as `K/λ` (flatter across channels, so per-token int4 loses less)
 * and queries are multiplied by `λ` before the dot product, which leaves every score unchanged.
 * `k` is `[heads, tokens, headDim]`; returns the smoothed keys and `lambda [heads, headDim]`.
 *
 * @example
 * ```ts
 * const { smoothed, lambda } = smoothKeys(k, 8, 1024, 64);
 * ```
 */
export function smoothKeys(k: Float32Array, heads: number, tokens: number, headDim: number, alpha = 0.5): { smoothed: Float32Array; lambda: Float32Array } {
  if (k.length !== heads * tokens * headDim) throw new LeanformerError('SHAPE_MISMATCH', `smoothKeys: k holds ${k.length} values, expected heads·tokens·headDim = ${heads * tokens * headDim}`);
  const lambda = new Float32Array(heads * headDim);
  const smoothed = new Float32Array(k.length);
  for (let h = 0; h < heads; h++) {
    for (let c = 0; c < headDim; c++) {
      let m = 0;
      for (let t = 0; t < tokens; t++) m = Math.max(m, Math.abs(k[(h * tokens + t) * headDim + c]!));
      const l = Math.max(1e-5, m ** alpha);
      lambda[h * headDim + c] = l;
      for (let t = 0; t < tokens; t++) smoothed[(h * tokens + t) * headDim + c] = k[(h * tokens + t) * headDim + c]! / l;
    }
  }
  return { smoothed, lambda };
}

/**
 * KIVI-style key quantization: int4 per channel over groups of `tokenGroup` tokens (keys have
 * outlier channels, so a scale per channel fits them better than a scale per token). `k` is
 * `[heads, tokens, headDim]` with `tokens` a multiple of `tokenGroup` (a real cache keeps the
 * incomplete last group in fp16 until it fills). Bytes per token equal per-token int4 when
 * `tokenGroup = headDim`.
 */
export function quantizeKeysPerChannel(k: Float32Array, heads: number, tokens: number, headDim: number, tokenGroup = 64): QuantizedKV {
  if (tokens % tokenGroup) throw new LeanformerError('INVALID_ARGUMENT', `quantizeKeysPerChannel: tokens (${tokens}) must be a multiple of tokenGroup (${tokenGroup})`);
  const t = new Float32Array(k.length);
  for (let h = 0; h < heads; h++) for (let i = 0; i < tokens; i++) for (let c = 0; c < headDim; c++) t[(h * headDim + c) * tokens + i] = k[(h * tokens + i) * headDim + c]!;
  return quantizeKV(t, heads * headDim, tokens, { bits: 4, groupSize: tokenGroup });
}

/** Inverse of {@link quantizeKeysPerChannel}: `[heads, tokens, headDim]`. */
export function dequantizeKeysPerChannel(q: QuantizedKV, heads: number, tokens: number, headDim: number): Float32Array {
  const t = dequantizeKV(q);
  const k = new Float32Array(t.length);
  for (let h = 0; h < heads; h++) for (let i = 0; i < tokens; i++) for (let c = 0; c < headDim; c++) k[(h * tokens + i) * headDim + c] = t[(h * headDim + c) * tokens + i]!;
  return k;
}

/**
 * Multiplies each `headDim`-long row of `x` by the orthonormal Walsh–Hadamard matrix (in place;
 * `headDim` a power of two). Rotating queries and keys by the same orthogonal matrix leaves every
 * score unchanged and spreads outlier channels over the row, so per-token int4 keys lose less
 * (QuaRot-style). In a graph the rotation folds into the q/k projection weights (post-RoPE it must
 * be applied after RoPE, as here on cached keys).
 *
 * @example
 * ```ts
 * hadamardRotate(keys, 64); hadamardRotate(queries, 64);
 * ```
 */
export function hadamardRotate(x: Float32Array, headDim: number): Float32Array {
  if (!(headDim > 0 && (headDim & (headDim - 1)) === 0)) throw new LeanformerError('INVALID_ARGUMENT', `hadamardRotate: headDim must be a power of two, got ${headDim}`);
  if (x.length % headDim) throw new LeanformerError('SHAPE_MISMATCH', `hadamardRotate: ${x.length} values are not whole rows of ${headDim}`);
  const norm = 1 / Math.sqrt(headDim);
  for (let b = 0; b < x.length; b += headDim) {
    for (let h = 1; h < headDim; h *= 2) {
      for (let i = 0; i < headDim; i += 2 * h) {
        for (let j = i; j < i + h; j++) { const a = x[b + j]!, c = x[b + j + h]!; x[b + j] = a + c; x[b + j + h] = a - c; }
      }
    }
    for (let i = 0; i < headDim; i++) x[b + i]! *= norm;
  }
  return x;
}
