// What each target accepts, written once: the block-size rule of leanformer's quantized ops and the
// ONNX Runtime execution-provider facts (kernels, zero-point types, symmetric-only, accuracy levels,
// precisions) read from ORT 1.30's kernel registrations. The lowering table (@leanformer/onnx) and the
// quantizers (@leanformer/quant) both ask here, so a fact changes in one place. It lives in core
// because quant does not depend on onnx.
import { DTypes, type DType } from './dtype.js';
import { targetName, type OrtEp, type Target } from './target.js';

/**
 * Block sizes (weights per scale along K, or along a row for embeddings) of leanformer's quantized
 * ops: powers of two 16…256, the range ORT's MatMulNBits and GatherBlockQuantized kernels take.
 */
export const QUANT_BLOCK_SIZES: readonly number[] = Object.freeze([16, 32, 64, 128, 256]);

/**
 * The block-size rule, the one place it is written: why `blockSize` is not allowed, or null.
 * Callers prefix the name they use (`blockSize`, `block_size`, `--block-size`).
 *
 * @example
 * ```ts
 * blockSizeProblem(48); // 'must be 16, 32, 64, 128 or 256, got 48'
 * ```
 */
export function blockSizeProblem(blockSize: number): string | null {
  return QUANT_BLOCK_SIZES.includes(blockSize) ? null : `must be 16, 32, 64, 128 or 256, got ${blockSize}`;
}

/** Domains each EP runs natively; TensorRT takes only ai.onnx ops (others need an EP listed after it). */
const ORT_DOMAINS = new Set(['', 'ai.onnx.ml', 'com.microsoft', 'ai.onnx.preview.training', 'com.microsoft.nchwc']);
/** Op domains each ORT execution provider runs (ai.onnx is ''). */
export const EP_DOMAINS: Readonly<Record<OrtEp, ReadonlySet<string>>> = Object.freeze({
  cpu: ORT_DOMAINS,
  cuda: new Set(['', 'com.microsoft']),
  webgpu: new Set(['', 'com.microsoft']),
  wasm: new Set(['', 'ai.onnx.ml', 'com.microsoft']),
  tensorrt: new Set(['']),
});

/** com.microsoft kernels leanformer lowers to. */
export type ContribKernel = 'MatMulNBits' | 'GatherBlockQuantized' | 'GroupQueryAttention' | 'MultiHeadAttention';
const CONTRIB: Readonly<Record<ContribKernel, readonly OrtEp[]>> = Object.freeze({
  MatMulNBits: ['cpu', 'cuda', 'webgpu', 'wasm'],
  GatherBlockQuantized: ['cpu', 'cuda', 'webgpu', 'wasm'],
  GroupQueryAttention: ['cpu', 'cuda', 'webgpu'],
  MultiHeadAttention: ['cpu', 'cuda', 'webgpu'],
});

/**
 * Why `target` has no ORT kernel for `op`, or null when it has one.
 *
 * @example
 * ```ts
 * contribKernelProblem({ runtime: 'ort', ep: 'tensorrt' }, 'MatMulNBits'); // 'ort-tensorrt has no com.microsoft.MatMulNBits kernel (…)'
 * ```
 */
export function contribKernelProblem(target: Target, op: ContribKernel): string | null {
  const eps = CONTRIB[op];
  if (target.runtime === 'ort' && eps.includes(target.ep)) return null;
  return `${targetName(target)} has no com.microsoft.${op} kernel (ONNX Runtime runs it on ${eps.join(', ')})`;
}

/** Whether quantized weights on `target` must be symmetric (zero point 0): TensorRT's only form is ONNX DequantizeLinear without zero points. */
export function symmetricOnly(target: Target): boolean {
  return target.runtime === 'ort' && target.ep === 'tensorrt';
}

const SYMMETRIC_ONLY = 'ort-tensorrt takes symmetric blocked DequantizeLinear weights only (zero point 0): quantize with --symmetric (rtn, gptq, awq, smoothquant)';

/**
 * Why weights of `bits` with `kind` zero points cannot run in `target`'s quantized-weight form, or
 * null. Integer zero points are stored as uint8 (4-bit ones packed two per byte) everywhere;
 * fractional (float) ones (HQQ) only reach MatMulNBits at 4 bits, and not on WebGPU, whose kernel
 * takes uint8 zero points only (quantizing for ort-webgpu rounds them); TensorRT takes none.
 *
 * @example
 * ```ts
 * zeroPointProblem({ runtime: 'ort', ep: 'webgpu' }, 4, 'float'); // 'ort-webgpu's MatMulNBits takes uint8 zero points only …'
 * ```
 */
export function zeroPointProblem(target: Target, bits: number, kind: 'integer' | 'float'): string | null {
  if (symmetricOnly(target)) return SYMMETRIC_ONLY;
  if (kind === 'integer') return null;
  if (target.runtime === 'ort' && target.ep === 'webgpu') return 'ort-webgpu\'s MatMulNBits takes uint8 zero points only, and these are fractional (float, HQQ): quantize with target ort-webgpu, which rounds them';
  if (bits === 8) return 'ONNX Runtime runs 8-bit MatMulNBits only with uint8 zero points (float zero points need its 2/4-bit path): round them or use 4 bits';
  return null;
}

/** What a quantizer is about to produce, for {@link checkQuantForTarget}. */
export interface QuantRequest {
  readonly bits: number;
  /** Weights per scale along K; 0 = per-channel (the quantizer picks a size from {@link QUANT_BLOCK_SIZES}). */
  readonly blockSize: number;
  /** Symmetric codes (no zero points). */
  readonly symmetric: boolean;
  /** Kind of zero points when not symmetric (default 'integer'; HQQ's are 'float'). */
  readonly zeroPoints?: 'integer' | 'float';
}

/**
 * Why quantized weights described by `q` cannot run on `target`, or null. Quantizers call this
 * instead of repeating EP rules; the lowering table checks the same facts per node.
 *
 * @example
 * ```ts
 * checkQuantForTarget({ runtime: 'ort', ep: 'tensorrt' }, { bits: 4, blockSize: 32, symmetric: false });
 * // → 'ort-tensorrt takes symmetric blocked DequantizeLinear weights only …'
 * ```
 */
export function checkQuantForTarget(target: Target, q: QuantRequest): string | null {
  if (q.bits !== 4 && q.bits !== 8) return `bits must be 4 or 8, got ${q.bits}`;
  const bs = q.blockSize === 0 ? null : blockSizeProblem(q.blockSize);
  if (bs) return `blockSize ${bs} (or 0 for per-channel)`;
  if (q.symmetric) return null;
  // Where float zero points are rounded for the target (WebGPU), the quantizer asks floatZeroPointsKept.
  return zeroPointProblem(target, q.bits, q.zeroPoints === 'float' && floatZeroPointsKept(target, q.bits) ? 'float' : 'integer');
}

/** Whether `target`'s MatMulNBits keeps fractional (float) zero points at `bits`; where not, quantizers round them to uint8. */
export function floatZeroPointsKept(target: Target, bits: number): boolean {
  return zeroPointProblem(target, bits, 'float') === null;
}

/**
 * The MatMulNBits `accuracy_level` leanformer gives `bits`-bit weights on `target` by default: 4
 * (int8 activations) for 8-bit weights on CPU and WASM, where ORT 1.30 runs 8-bit weights at level 0
 * far slower than fp32; 0 (float compute) otherwise.
 */
export function defaultAccuracyLevel(target: Target, bits: number): number {
  return bits === 8 && target.runtime === 'ort' && (target.ep === 'cpu' || target.ep === 'wasm') ? 4 : 0;
}

/** Why `target`'s GroupQueryAttention kernel does not take activations of `dtype`, or null (CUDA: float16/bfloat16 only). */
export function attentionDtypeProblem(target: Target, dtype: DType | null | undefined): string | null {
  if (target.runtime === 'ort' && target.ep === 'cuda' && dtype !== DTypes.float16 && dtype !== DTypes.bfloat16) return 'the CUDA GroupQueryAttention kernel takes float16/bfloat16 only';
  return null;
}

/**
 * The compute precision each target gets when none is asked for: fp16 on the GPU EPs whose kernels
 * want it (ORT CUDA: GroupQueryAttention is float16/bfloat16 only, MatMulNBits and the fused norms
 * run fp16; WebGPU: shader-f16), fp32 elsewhere (ORT CPU/WASM compute most ops in fp32 and convert
 * fp16 around them; TensorRT picks its own precision from an fp32 graph).
 */
export function defaultComputePrecision(target: Target): 'fp32' | 'fp16' {
  return target.runtime === 'ort' && (target.ep === 'cuda' || target.ep === 'webgpu') ? 'fp16' : 'fp32';
}

/**
 * Why `target` cannot run a graph in compute precision `p`, or null. bf16 needs ORT's CUDA EP
 * (MatMul, MatMulNBits, GroupQueryAttention, SimplifiedLayerNormalization have bfloat16 kernels
 * there); WebGPU has no bfloat16 and ORT CPU lacks most bfloat16 kernels.
 *
 * @example
 * ```ts
 * computePrecisionProblem({ runtime: 'ort', ep: 'webgpu' }, 'bf16'); // 'ort-webgpu has no bfloat16 kernels …'
 * ```
 */
export function computePrecisionProblem(target: Target, p: 'fp32' | 'fp16' | 'bf16'): string | null {
  if (p !== 'bf16') return null;
  if (target.runtime === 'ort' && target.ep === 'cuda') return null;
  return `${targetName(target)} has no bfloat16 kernels for a whole decoder (bf16 compute is for ort-cuda; use fp16 or fp32)`;
}

// ONNX ops (default domain) a target runs only in float32 at a 16-bit compute precision, keyed
// `<target>:<precision>`; computePrecisionPass keeps them float32 between Casts. Measured, not guessed:
// tools/device/cuda-check.mjs's bf16 probe converts our decoders to bf16 and records every node ORT's
// CUDA EP (1.29) reports it has no kernel for. Targets not listed have kernels for every op we emit.
const FLOAT32_OPS: Readonly<Record<string, readonly string[]>> = {};

/**
 * Ops `target` has no kernel for in compute precision `p` (pass them to computePrecisionPass's
 * `float32Ops`). Empty for fp32 and for targets with complete 16-bit coverage.
 *
 * @example
 * ```ts
 * computePrecisionPass({ precision: 'bf16', float32Ops: float32Ops(parseTarget('ort-cuda'), 'bf16') });
 * ```
 */
export function float32Ops(target: Target, p: 'fp32' | 'fp16' | 'bf16'): readonly string[] {
  return p === 'fp32' ? [] : FLOAT32_OPS[`${targetName(target)}:${p}`] ?? [];
}
