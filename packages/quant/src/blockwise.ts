// Block-wise weight quantization along K (the reduction axis of `X·W`), and the
// com.microsoft.MatMulNBits storage layout. The rounding follows ONNX Runtime's
// MLAS BlockwiseQuantizer (the code behind onnxruntime.quantization's
// MatMulNBitsQuantizer) so that RTN output is bit-identical to ORT's quantizer:
//   asymmetric: range widened to include 0, scale = (max−min)/(2^b−1) in float32,
//               zp = roundf(−min/scale) clamped to [0, 2^b−1];
//   symmetric:  m = the signed value of largest magnitude, scale = m / −2^(b−1),
//               zp = 2^(b−1) (the op's default), so m itself maps exactly to code 0;
//   code q = clamp(roundf(w·(1/scale) + zp), 0, 2^b−1), all in float32; roundf
//   rounds halves away from zero. Dequantized value: (q − zp)·scale.
import { blockSizeProblem, LeanformerError, QUANT_BLOCK_SIZES } from '@leanformer/core';

/** Bits per weight code. MatMulNBits supports 2, 4 and 8; leanformer emits 4 and 8. */
export type QuantBits = 4 | 8;

/** How scales and zero points are chosen per block. */
export interface BlockQuantOptions {
  readonly bits: QuantBits;
  /**
   * Weights along K sharing one scale: a power of two ≥ 16 (MatMulNBits' rule). Per-channel
   * quantization is `blockSize ≥ K` (one block per output column).
   */
  readonly blockSize: number;
  /** Symmetric (zero point fixed at 2^(bits−1)) or asymmetric (zero point per block). Default false. */
  readonly symmetric?: boolean;
  /**
   * Per-block clipping search: shrink the range by 1, 0.95, …, 0.75 and keep the factor with the
   * least squared reconstruction error (AWQ's clipping step without activations). Off by default,
   * since plain RTN matches ONNX Runtime's quantizer bit for bit.
   */
  readonly clip?: boolean;
}

const CLIP_FACTORS = [1, 0.95, 0.9, 0.85, 0.8, 0.75];

/**
 * A [K, N] weight quantized in blocks of `blockSize` along K, one set of parameters per
 * (output column n, block b). Codes are unpacked here (one byte each) and padded to
 * `kBlocks·blockSize` per column with the block's zero point (so padding dequantizes to 0).
 */
export interface QuantizedWeight {
  readonly bits: QuantBits;
  readonly blockSize: number;
  readonly K: number;
  readonly N: number;
  readonly kBlocks: number;
  /** Codes, [N, kBlocks·blockSize], values in [0, 2^bits−1]. */
  readonly codes: Uint8Array;
  /** Scales, [N, kBlocks] (float32; may be negative in the symmetric convention). */
  readonly scales: Float32Array;
  /**
   * Zero points, [N, kBlocks]. Integer-valued for RTN/GPTQ/AWQ/QServe; HQQ produces
   * fractional zero points (lowered as float zero points where the target allows).
   * `null` means the default 2^(bits−1) (symmetric).
   */
  readonly zeroPoints: Float32Array | null;
  /**
   * Codebook form (e.g. NF4): a code indexes this table (2^bits values) and
   * `W = codebook[code]·scale`; zeroPoints is then null and unused.
   */
  readonly codebook?: Float32Array;
}

const fr = Math.fround;

/** C `roundf`: halves away from zero. */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/** Number of K blocks and checks on the options; throws INVALID_ARGUMENT with the allowed values. */
export function checkBlockOptions(K: number, N: number, o: BlockQuantOptions): number {
  if (o.bits !== 4 && o.bits !== 8) throw new LeanformerError('INVALID_ARGUMENT', `bits must be 4 or 8, got ${o.bits}`, { details: { argument: 'bits', allowed: [4, 8] } });
  const bs = o.blockSize;
  const bsWhy = blockSizeProblem(bs);
  if (bsWhy) throw new LeanformerError('INVALID_ARGUMENT', `blockSize ${bsWhy}`, { details: { argument: 'blockSize', allowed: QUANT_BLOCK_SIZES } });
  if (!Number.isInteger(K) || !Number.isInteger(N) || K <= 0 || N <= 0) throw new LeanformerError('SHAPE_MISMATCH', `weight must be a non-empty [K, N] matrix, got [${K}, ${N}]`);
  return Math.ceil(K / bs);
}

/**
 * "Per-channel" in MatMulNBits form: the smallest power-of-two block ≥ max(16, K), capped at
 * 256 (the largest block ONNX Runtime's MatMulNBits kernels accept), so wider layers get
 * several 256-wide blocks per output column.
 */
export function perChannelBlockSize(K: number): number {
  let b = 16;
  while (b < K && b < 256) b *= 2;
  return b;
}

/**
 * Scale and zero point for one block from its range, exactly as ORT's quantizer computes them.
 * Returns `[scale, zeroPoint]` (float32 values).
 */
export function rangeToScaleZp(min: number, max: number, bits: QuantBits, symmetric: boolean): [number, number] {
  const qmax = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  if (symmetric) {
    const m = Math.abs(max) > Math.abs(min) ? max : min;
    return [fr(m / -mid), mid];
  }
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  const scale = fr(fr(hi - lo) / qmax); // float32 subtraction, then float32 division, as ORT computes it
  let zpf = lo;
  if (scale !== 0) zpf = fr(0 - fr(lo / scale));
  const zp = zpf < 0 ? 0 : zpf > qmax ? qmax : roundHalfAway(zpf);
  return [scale, zp];
}

/** The code of `w` under (scale, zp), ORT's float32 arithmetic. */
export function quantizeValue(w: number, scale: number, zp: number, qmax: number): number {
  const rs = scale !== 0 ? fr(1 / scale) : 0;
  const q = roundHalfAway(fr(fr(w * rs) + zp));
  return q < 0 ? 0 : q > qmax ? qmax : q;
}

/** Scratch of {@link rtnBlockParams}, sized for `ns` columns and one block. */
interface RtnBlockScratch {
  readonly mn: Float32Array;
  readonly mx: Float32Array;
  /** Per column: scale, its float32 reciprocal (0 for a zero scale) and the zero point (float32 values held as float64). */
  readonly scale: Float64Array;
  readonly rs: Float64Array;
  readonly zp: Float64Array;
  readonly col: Float32Array;
}

function rtnBlockScratch(ns: number, blockSize: number): RtnBlockScratch {
  return { mn: new Float32Array(ns), mx: new Float32Array(ns), scale: new Float64Array(ns), rs: new Float64Array(ns), zp: new Float64Array(ns), col: new Float32Array(blockSize) };
}

/**
 * RTN parameters of rows k0 … k1−1 for columns n0 … n0+ns−1 of a row-major [·, N] weight: the
 * block's range read row by row (contiguous), then ORT's scale and zero point per column, or the
 * best clipped range when `opts.clip`. Written into `t.scale`, `t.rs`, `t.zp`.
 */
function rtnBlockParams(w: Float32Array, N: number, n0: number, ns: number, k0: number, k1: number, opts: BlockQuantOptions, t: RtnBlockScratch): void {
  const { bits } = opts;
  const symmetric = opts.symmetric ?? false;
  const qmax = (1 << bits) - 1;
  const { mn, mx, col } = t;
  mn.fill(Infinity);
  mx.fill(-Infinity);
  for (let k = k0; k < k1; k++) {
    const r = k * N + n0;
    for (let j = 0; j < ns; j++) {
      const v = w[r + j]!;
      if (v < mn[j]!) mn[j] = v;
      if (v > mx[j]!) mx[j] = v;
    }
  }
  for (let j = 0; j < ns; j++) {
    let [scale, zp] = rangeToScaleZp(mn[j]!, mx[j]!, bits, symmetric);
    if (opts.clip) {
      for (let k = k0; k < k1; k++) col[k - k0] = w[k * N + n0 + j]!;
      let bestErr = Infinity;
      for (const f of CLIP_FACTORS) {
        const [s2, z2] = rangeToScaleZp(mn[j]! * f, mx[j]! * f, bits, symmetric);
        let err = 0;
        for (let i = 0; i < k1 - k0; i++) { const v = col[i]!; err += (v - fr((quantizeValue(v, s2, z2, qmax) - z2) * s2)) ** 2; }
        if (err < bestErr) { bestErr = err; scale = s2; zp = z2; }
      }
    }
    t.scale[j] = scale;
    t.rs[j] = scale !== 0 ? fr(1 / scale) : 0;
    t.zp[j] = zp;
  }
}

/**
 * Round-to-nearest block quantization of a row-major [K, N] float weight (the `B` of `X·B`).
 *
 * @example
 * ```ts
 * const q = quantizeRtn(w, 256, 64, { bits: 4, blockSize: 32 });
 * const wq = dequantize(q); // Float32Array [256·64], row-major [K, N]
 * ```
 */
export function quantizeRtn(w: Float32Array, K: number, N: number, opts: BlockQuantOptions): QuantizedWeight {
  if (w.length !== K * N) throw new LeanformerError('SHAPE_MISMATCH', `quantizeRtn: weight has ${w.length} values, expected K·N = ${K}·${N}`);
  const kBlocks = checkBlockOptions(K, N, opts);
  const { bits, blockSize } = opts;
  const qmax = (1 << bits) - 1;
  const kPad = kBlocks * blockSize;
  const codes = new Uint8Array(N * kPad);
  const scales = new Float32Array(N * kBlocks);
  const zps = opts.symmetric ? null : new Float32Array(N * kBlocks);
  // One block of rows at a time, read row-major (contiguous), codes staged [rows, N] and then
  // written per column, so neither side walks the matrix with a large stride.
  const t = rtnBlockScratch(N, blockSize);
  const stage = new Uint8Array(blockSize * N);
  for (let b = 0; b < kBlocks; b++) {
    const k0 = b * blockSize;
    const k1 = Math.min(K, k0 + blockSize);
    rtnBlockParams(w, N, 0, N, k0, k1, opts, t);
    const { rs, zp } = t;
    for (let n = 0; n < N; n++) {
      scales[n * kBlocks + b] = t.scale[n]!;
      if (zps) zps[n * kBlocks + b] = zp[n]!;
    }
    for (let k = k0; k < k1; k++) {
      const r = k * N;
      const o = (k - k0) * N;
      for (let n = 0; n < N; n++) {
        const x = fr(fr(w[r + n]! * rs[n]!) + zp[n]!);
        // roundf for 0 ≤ x < qmax is truncation of x + 0.5; outside, the clamp decides
        stage[o + n] = x < 0 ? 0 : x >= qmax ? qmax : (x + 0.5) | 0;
      }
    }
    const rows = k1 - k0;
    for (let n = 0; n < N; n++) {
      const out = n * kPad + k0;
      for (let i = 0; i < rows; i++) codes[out + i] = stage[i * N + n]!;
      // Padding rows past K hold code 0, as ORT writes them (kernels never read them).
      for (let i = rows; i < blockSize; i++) codes[out + i] = 0;
    }
  }
  return { bits, blockSize, K, N, kBlocks, codes, scales, zeroPoints: zps };
}

/**
 * RTN quantization straight into MatMulNBits' packed tensors, for output columns `n0 … n1−1` of a
 * row-major [K, N] weight read in place: no column-slice copy and no unpacked code array. The bytes
 * equal `packMatMulNBits(quantizeRtn(slice))` (RTN zero points are integers, so they pack as uint8);
 * this is what `quantizeModel`'s RTN path and the worker pool emit.
 *
 * @example
 * ```ts
 * const { B, scales, zeroPoints } = quantizeRtnPacked(w, K, N, { bits: 4, blockSize: 32 }); // all columns
 * const half = quantizeRtnPacked(w, K, N, { bits: 4, blockSize: 32 }, { n0: 0, n1: N / 2 });
 * ```
 */
export function quantizeRtnPacked(w: Float32Array, K: number, N: number, opts: BlockQuantOptions, range: { readonly n0?: number; readonly n1?: number } = {}): MatMulNBitsTensors {
  if (w.length !== K * N) throw new LeanformerError('SHAPE_MISMATCH', `quantizeRtnPacked: weight has ${w.length} values, expected K·N = ${K}·${N}`);
  const kBlocks = checkBlockOptions(K, N, opts);
  const n0 = range.n0 ?? 0, n1 = range.n1 ?? N;
  if (!Number.isInteger(n0) || !Number.isInteger(n1) || n0 < 0 || n1 > N || n0 >= n1) {
    throw new LeanformerError('INVALID_ARGUMENT', `quantizeRtnPacked: column range must satisfy 0 ≤ n0 < n1 ≤ N = ${N}, got [${n0}, ${n1})`, { details: { argument: 'range' } });
  }
  const { bits, blockSize } = opts;
  const symmetric = opts.symmetric ?? false;
  const qmax = (1 << bits) - 1;
  const ns = n1 - n0;
  const blob = (blockSize * bits) / 8;
  const rowBytes = kBlocks * blob;
  const B = new Uint8Array(ns * rowBytes);
  const scales = new Float32Array(ns * kBlocks);
  const perCol = Math.ceil((kBlocks * bits) / 8);
  // 4-bit: an odd block count leaves a high nibble unused; ORT fills it with the default zero point 8.
  const zps = symmetric ? null : new Uint8Array(ns * perCol).fill(bits === 4 ? 0x88 : 0);
  const t = rtnBlockScratch(ns, blockSize);
  const { rs, zp: zpv } = t;
  const stage = new Uint8Array(blob * ns);
  for (let b = 0; b < kBlocks; b++) {
    const k0 = b * blockSize;
    const k1 = Math.min(K, k0 + blockSize);
    rtnBlockParams(w, N, n0, ns, k0, k1, opts, t);
    for (let j = 0; j < ns; j++) {
      scales[j * kBlocks + b] = t.scale[j]!;
      if (zps) {
        const z = zpv[j]!;
        if (bits === 8) zps[j * perCol + b] = z;
        else {
          const at = j * perCol + (b >> 1), shift = (b & 1) * 4;
          zps[at] = (zps[at]! & ~(15 << shift)) | (z << shift);
        }
      }
    }
    // Codes as quantizeRtn computes them (roundf of 0 ≤ x < qmax is truncation of x + 0.5), packed
    // into `stage` [blob, ns] while reading rows contiguously, then copied to column j's block b at
    // j·rowBytes + b·blob. Bytes past K stay 0 (ORT's padding).
    const rows = k1 - k0;
    if (bits === 8) {
      for (let i = 0; i < rows; i++) {
        const r = (k0 + i) * N + n0;
        const o = i * ns;
        for (let j = 0; j < ns; j++) {
          const x = fr(fr(w[r + j]! * rs[j]!) + zpv[j]!);
          stage[o + j] = x < 0 ? 0 : x >= qmax ? qmax : (x + 0.5) | 0;
        }
      }
    } else {
      for (let i = 0; i < rows; i += 2) {
        const r = (k0 + i) * N + n0;
        const o = (i >> 1) * ns;
        if (i + 1 < rows) {
          for (let j = 0; j < ns; j++) {
            const s = rs[j]!, z = zpv[j]!;
            const x = fr(fr(w[r + j]! * s) + z);
            const y = fr(fr(w[r + N + j]! * s) + z);
            const lo = x < 0 ? 0 : x >= qmax ? qmax : (x + 0.5) | 0;
            const hi = y < 0 ? 0 : y >= qmax ? qmax : (y + 0.5) | 0;
            stage[o + j] = lo | (hi << 4);
          }
        } else {
          for (let j = 0; j < ns; j++) {
            const x = fr(fr(w[r + j]! * rs[j]!) + zpv[j]!);
            stage[o + j] = x < 0 ? 0 : x >= qmax ? qmax : (x + 0.5) | 0;
          }
        }
      }
    }
    const used = Math.ceil((rows * bits) / 8);
    for (let j = 0; j < ns; j++) {
      const d = j * rowBytes + b * blob;
      for (let i = 0; i < used; i++) B[d + i] = stage[i * ns + j]!;
    }
  }
  return { B, bShape: [ns, kBlocks, blob], scales, zeroPoints: zps };
}

/** Row-major [K, N] → [N, K]. */
export function transposeKN(w: ArrayLike<number>, K: number, N: number): Float32Array {
  const t = new Float32Array(K * N);
  for (let k = 0; k < K; k++) {
    const r = k * N;
    for (let n = 0; n < N; n++) t[n * K + k] = w[r + n]!;
  }
  return t;
}

/** Zero point of block (n, b), with the symmetric default when absent. */
export function zeroPointAt(q: QuantizedWeight, i: number): number {
  return q.zeroPoints ? q.zeroPoints[i]! : 1 << (q.bits - 1);
}

/**
 * Dequantizes to a row-major [K, N] float32 weight: `(code − zp)·scale` in float32, as
 * MatMulNBits does (`codebook[code]·scale` for a codebook weight).
 */
export function dequantize(q: QuantizedWeight): Float32Array {
  const { K, N, kBlocks, blockSize } = q;
  const kPad = kBlocks * blockSize;
  const out = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const i = n * kBlocks + b;
      const s = q.scales[i]!;
      const z = zeroPointAt(q, i);
      const k1 = Math.min(K, (b + 1) * blockSize);
      const cb = q.codebook;
      if (cb) for (let k = b * blockSize; k < k1; k++) out[k * N + n] = fr(cb[q.codes[n * kPad + k]!]! * s);
      else for (let k = b * blockSize; k < k1; k++) out[k * N + n] = fr((q.codes[n * kPad + k]! - z) * s);
    }
  }
  return out;
}

/** True when every zero point is an integer in [0, 2^bits−1] (storable as packed uint8). */
export function hasIntegerZeroPoints(q: QuantizedWeight): boolean {
  if (!q.zeroPoints) return true;
  const qmax = (1 << q.bits) - 1;
  for (const z of q.zeroPoints) if (!Number.isInteger(z) || z < 0 || z > qmax) return false;
  return true;
}

/** The MatMulNBits initializers of a quantized weight. */
export interface MatMulNBitsTensors {
  /** B: uint8 [N, kBlocks, blockSize·bits/8], codes packed low bits first along K. */
  readonly B: Uint8Array;
  readonly bShape: readonly [number, number, number];
  /** scales: float32 [N·kBlocks]. */
  readonly scales: Float32Array;
  /**
   * zero_points: uint8 packed [N·ceil(kBlocks·bits/8)] (integer zero points), or float32
   * [N·kBlocks] (fractional, HQQ). Null when symmetric (the op's default 2^(bits−1)).
   */
  readonly zeroPoints: Uint8Array | Float32Array | null;
}

/**
 * Packs a quantized weight into com.microsoft.MatMulNBits inputs. Integer zero points are
 * packed as uint8 (two 4-bit values per byte, low nibble = even block, per column padded to
 * a whole byte); fractional ones stay float32 unless `forceUint8ZeroPoints` rounds them
 * (WebGPU accepts only uint8 zero points).
 */
export function packMatMulNBits(q: QuantizedWeight, options: { forceUint8ZeroPoints?: boolean } = {}): MatMulNBitsTensors {
  const { N, kBlocks, blockSize, bits } = q;
  const blob = (blockSize * bits) / 8;
  const kPad = kBlocks * blockSize;
  const B = new Uint8Array(N * kBlocks * blob);
  if (bits === 8) B.set(q.codes);
  else {
    for (let i = 0, o = 0; i < N * kPad; i += 2, o++) B[o] = (q.codes[i]! & 15) | ((q.codes[i + 1]! & 15) << 4);
  }
  let zeroPoints: Uint8Array | Float32Array | null = null;
  if (q.zeroPoints) {
    if (hasIntegerZeroPoints(q) || options.forceUint8ZeroPoints) {
      const qmax = (1 << bits) - 1;
      const perCol = Math.ceil((kBlocks * bits) / 8);
      // 4-bit: an odd block count leaves a high nibble unused; ORT fills it with the default zero point 8.
      const zp = new Uint8Array(N * perCol).fill(bits === 4 ? 0x88 : 0);
      for (let n = 0; n < N; n++) {
        for (let b = 0; b < kBlocks; b++) {
          let z = roundHalfAway(q.zeroPoints[n * kBlocks + b]!);
          z = z < 0 ? 0 : z > qmax ? qmax : z;
          if (bits === 8) zp[n * perCol + b] = z;
          else {
            const at = n * perCol + (b >> 1), shift = (b & 1) * 4;
            zp[at] = (zp[at]! & ~(15 << shift)) | (z << shift);
          }
        }
      }
      zeroPoints = zp;
    } else zeroPoints = Float32Array.from(q.zeroPoints);
  }
  return { B, bShape: [N, kBlocks, blob], scales: Float32Array.from(q.scales), zeroPoints };
}

/** Inverse of `packMatMulNBits` given K (so padding is known). */
export function unpackMatMulNBits(t: { B: Uint8Array; scales: Float32Array; zeroPoints: Uint8Array | Float32Array | null }, K: number, N: number, bits: QuantBits, blockSize: number): QuantizedWeight {
  const kBlocks = checkBlockOptions(K, N, { bits, blockSize });
  const kPad = kBlocks * blockSize;
  if (t.B.length !== (N * kPad * bits) / 8) throw new LeanformerError('SHAPE_MISMATCH', `MatMulNBits B has ${t.B.length} bytes; N=${N}, K=${K}, bits=${bits}, block_size=${blockSize} need ${(N * kPad * bits) / 8}`);
  if (t.scales.length !== N * kBlocks) throw new LeanformerError('SHAPE_MISMATCH', `MatMulNBits scales has ${t.scales.length} values, need N·kBlocks = ${N * kBlocks}`);
  const codes = new Uint8Array(N * kPad);
  if (bits === 8) codes.set(t.B);
  else for (let i = 0; i < t.B.length; i++) { codes[2 * i] = t.B[i]! & 15; codes[2 * i + 1] = t.B[i]! >> 4; }
  let zeroPoints: Float32Array | null = null;
  if (t.zeroPoints instanceof Float32Array) {
    if (t.zeroPoints.length !== N * kBlocks) throw new LeanformerError('SHAPE_MISMATCH', `float zero_points has ${t.zeroPoints.length} values, need ${N * kBlocks}`);
    zeroPoints = Float32Array.from(t.zeroPoints);
  } else if (t.zeroPoints) {
    const perCol = Math.ceil((kBlocks * bits) / 8);
    if (t.zeroPoints.length !== N * perCol) throw new LeanformerError('SHAPE_MISMATCH', `packed zero_points has ${t.zeroPoints.length} bytes, need ${N * perCol}`);
    zeroPoints = new Float32Array(N * kBlocks);
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < kBlocks; b++) {
        zeroPoints[n * kBlocks + b] = bits === 8 ? t.zeroPoints[n * perCol + b]! : (t.zeroPoints[n * perCol + (b >> 1)]! >> ((b & 1) * 4)) & 15;
      }
    }
  }
  return { bits, blockSize, K, N, kBlocks, codes, scales: Float32Array.from(t.scales), zeroPoints };
}

