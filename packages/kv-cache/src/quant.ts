import { LeanformerError, float16BitsToFloat32, float32ToFloat16Bits } from '@leanformer/core';

/** KV quantization settings: `bits` per element, asymmetric min/scale per group of `groupSize` channels of one token. */
export interface KVQuantConfig {
  readonly bits: 4 | 8;
  /** Channels per scale group within one token's head vector (default: the whole head, i.e. per-token per-head). */
  readonly groupSize?: number;
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
      const mn = h(lo);
      let sc = h((hi - mn) / levels);
      if (!(sc > 0)) sc = 0;
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

/** Cosine similarity of two vectors, in float64. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new LeanformerError('SHAPE_MISMATCH', `cosine: lengths ${a.length} and ${b.length} differ`);
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i]! * b[i]!; aa += a[i]! * a[i]!; bb += b[i]! * b[i]!; }
  return aa === 0 || bb === 0 ? (aa === bb ? 1 : 0) : ab / Math.sqrt(aa * bb);
}
