// The quantization-method registry: one entry per method, read by every consumer (quantizeModel,
// the streaming pass, CLI help and validation). A new method is one file in this folder plus one
// line in QUANT_METHOD_ENTRIES below.
//
// An entry quantizes either one layer at a time (`quantizeLayer`) or a group of layers that share
// one input (`quantizeGroup`: AWQ and SmoothQuant+ scale the shared input channels). A group
// method may also declare a model-wide `search` (SmoothQuant+'s one α for all layers): the driver
// sums each candidate's error over all groups, picks the smallest, then quantizes with it.
import type { BlockQuantOptions, MatMulNBitsTensors, QuantBits, QuantizedWeight } from '../blockwise.js';
import type { ActivationStats } from '../calibration.js';
import type { LinearWeight, ScaledQuantizedWeight } from '../methods.js';
import type { QuantWorkerPool } from '../workers/types.js';
import { awq } from './awq.js';
import { bf16, fp16 } from './cast.js';
import { gptq } from './gptq.js';
import { hqq } from './hqq.js';
import { nf4 } from './nf4.js';
import { qserve } from './qserve.js';
import { rtn } from './rtn.js';
import { smoothquant } from './smoothquant.js';

/** Per-layer options the driver resolved (bits are the layer's own: edge layers may be wider). */
export interface LayerQuantOptions extends BlockQuantOptions {
  readonly symmetric: boolean;
  readonly clip: boolean;
  /** GPTQ act-order (default true) and damping (default 0.01). */
  readonly actOrder: boolean;
  readonly damp: number;
  /** packMatMulNBits's forceUint8ZeroPoints for this target (webgpu, 8-bit). */
  readonly forceUint8ZeroPoints: boolean;
}

/** One linear layer handed to {@link QuantMethodEntry.quantizeLayer}. */
export interface LayerJob {
  readonly name: string;
  readonly K: number;
  readonly N: number;
  /** Row-major [K, N] float32 weight (may be a view of the stored tensor: do not write). */
  readonly w: Float32Array;
  readonly options: LayerQuantOptions;
  /** Statistics of the layer's input (methods with calibration ≠ 'none'). */
  readonly stats?: ActivationStats;
  /** Worker pool passed to quantizeModel, if any (RTN uses it). */
  readonly pool?: QuantWorkerPool;
}

/** A weight already packed in the MatMulNBits layout (RTN packs straight from the float weight). */
export interface PackedLayer { readonly bits: QuantBits; readonly blockSize: number; readonly packed: MatMulNBitsTensors }

/** What a layer method returns: a quantized weight (packed by the emitter) or packed tensors. */
export interface LayerResult {
  readonly weight: QuantizedWeight | PackedLayer;
  /** MatMulNBits accuracy_level this layer needs (QServe's W4A8: 4); default: the driver's rule. */
  readonly accuracyLevel?: number;
}

/** Layers sharing one input X, for {@link QuantMethodEntry.quantizeGroup}. */
export interface GroupJob {
  readonly layers: readonly LinearWeight[];
  /** Sampled calibration rows of X, row-major [rows, K]. */
  readonly rows: Float32Array;
  readonly options: LayerQuantOptions;
}

/** A model-wide candidate search (SmoothQuant+'s α): the driver keeps the candidate with the least summed error. */
export interface ModelSearch {
  readonly candidates: readonly number[];
  /** Calibration output error of one group under one candidate. */
  error(group: GroupJob, candidate: number): number;
  /** The note reporting the choice. */
  note(candidate: number): string;
}

/** One quantization method. */
export interface QuantMethodEntry<Name extends string = string> {
  readonly name: Name;
  /** One line for CLI help. */
  readonly summary: string;
  /** Calibration it needs: none, activation rows/statistics, or also the GPTQ Hessian. */
  readonly calibration: 'none' | 'activations' | 'hessian';
  /** Weight bits it supports (fp16/bf16 casts: empty). */
  readonly bits: readonly QuantBits[];
  /** Block size when the caller gives none. */
  readonly defaultBlockSize: number;
  /** 'optional': symmetric or not, as asked; 'never': asymmetric only; 'none': no zero points at all (codebook). */
  readonly zeroPoints: 'optional' | 'never' | 'none';
  /** Its zero points are fractional (HQQ): targets that store uint8 zero points only get them rounded (core's ep-facts). */
  readonly floatZeroPoints?: boolean;
  /** Why it cannot be symmetric (zeroPoints 'never'). */
  readonly asymmetricReason?: string;
  /** quantizeModelStreaming supports it. */
  readonly streams: boolean;
  /** Casts weights to a 16-bit float instead of quantizing (no QMatMul). */
  readonly cast?: 'float16' | 'bfloat16';
  /** Per-layer quantization. */
  quantizeLayer?(job: LayerJob): LayerResult | Promise<LayerResult>;
  /** Group quantization (one result per layer, all with the same input scale). */
  quantizeGroup?(group: GroupJob, candidate: number | undefined): ScaledQuantizedWeight[];
  readonly search?: ModelSearch;
  /** Embedding tables ([D, V] as K = D, N = V, blocks along D): default RTN. */
  quantizeEmbedding?(w: Float32Array, K: number, N: number, options: BlockQuantOptions): QuantizedWeight;
  /** Notes the driver adds when the method runs for a target (e.g. rounded zero points on webgpu). */
  targetNote?(target: string): string | undefined;
}

/** Every method, in the order CLI help lists them. */
export const QUANT_METHOD_ENTRIES = [
  rtn,
  hqq,
  gptq,
  awq,
  smoothquant,
  qserve,
  nf4,
  fp16,
  bf16,
] as const;

/** A quantization method's name. */
export type QuantMethod = (typeof QUANT_METHOD_ENTRIES)[number]['name'];

/** The method names quantizeModel accepts, in registry order. */
export const QUANT_METHODS: readonly QuantMethod[] = QUANT_METHOD_ENTRIES.map((e) => e.name);

/** The registry entry of `name`, or undefined. */
export function quantMethod(name: string): QuantMethodEntry | undefined {
  return (QUANT_METHOD_ENTRIES as readonly QuantMethodEntry[]).find((e) => e.name === name);
}
