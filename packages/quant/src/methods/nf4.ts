// NF4 (QLoRA's NormalFloat-4): 16 fixed values, the quantiles of N(0, 1) normalised to [−1, 1]
// with an exact zero; per block of K, scale = absmax and the code is the nearest table value of
// w / absmax. Lowered as QMatMul's codebook form (a lookup + scale on every target). Edge layers
// asked for 8 bits (embeddings, LM head) get RTN int8, since the codebook is 4-bit only.
import { checkBlockOptions, quantizeRtn, type QuantizedWeight } from '../blockwise.js';
import type { QuantMethodEntry } from './registry.js';

/** The NF4 codebook (bitsandbytes' float32 values, as published with QLoRA). */
export const NF4_CODEBOOK: Float32Array = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

/** Index of the nearest NF4 value to `x` ∈ [−1, 1] (midpoints between neighbours; ties go up). */
function nearest(x: number): number {
  let lo = 0;
  for (let i = 1; i < 16; i++) if (x >= (NF4_CODEBOOK[i - 1]! + NF4_CODEBOOK[i]!) / 2) lo = i;
  return lo;
}

/**
 * NF4 block quantization of a row-major [K, N] weight: blocks of `blockSize` along K, scale =
 * absmax of the block, codes index NF4_CODEBOOK (padding codes are 7, the exact zero).
 *
 * @example
 * ```ts
 * const q = quantizeNf4(w, K, N, 64); // dequantize(q) = NF4_CODEBOOK[code]·absmax
 * ```
 */
export function quantizeNf4(w: Float32Array, K: number, N: number, blockSize: number): QuantizedWeight {
  const kBlocks = checkBlockOptions(K, N, { bits: 4, blockSize });
  const kPad = kBlocks * blockSize;
  const codes = new Uint8Array(N * kPad).fill(7);
  const scales = new Float32Array(N * kBlocks);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const k0 = b * blockSize, k1 = Math.min(K, k0 + blockSize);
      let amax = 0;
      for (let k = k0; k < k1; k++) amax = Math.max(amax, Math.abs(w[k * N + n]!));
      scales[n * kBlocks + b] = amax;
      const inv = amax > 0 ? 1 / amax : 0;
      for (let k = k0; k < k1; k++) codes[n * kPad + k] = nearest(w[k * N + n]! * inv);
    }
  }
  return { bits: 4, blockSize, K, N, kBlocks, codes, scales, zeroPoints: null, codebook: NF4_CODEBOOK };
}

/** QLoRA's NormalFloat-4 codebook with an absmax scale per block. */
export const nf4: QuantMethodEntry<'nf4'> = {
  name: 'nf4', summary: 'NormalFloat-4 codebook (QLoRA), absmax scale per block; a lookup + scale on every target', calibration: 'none',
  bits: [4], defaultBlockSize: 64, zeroPoints: 'none', streams: true,
  quantizeLayer({ w, K, N, options }) {
    if (options.bits === 8) return { weight: quantizeRtn(w, K, N, { bits: 8, blockSize: options.blockSize, symmetric: options.symmetric, clip: options.clip }) };
    return { weight: quantizeNf4(w, K, N, options.blockSize) };
  },
};
