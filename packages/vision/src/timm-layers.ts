import { GraphBuilder, LeanformerError, rng, Tensor, type Dim, type Rng, type Value } from '@leanformer/core';
import type { VisionModel } from './model.js';

/**
 * timm-style layers on core's GraphBuilder, shared by the vision blocks. Each takes the builder,
 * the input and a {@link VisionBlockInit}, creates parameters named by timm's state-dict keys
 * (`${prefix}.weight`, …) and returns the output. Activations are NCHW (images) or
 * [batch, tokens, channels] (tokens). Output types come from the builder's shape inference;
 * the blocks only state what it cannot derive (dims after a `-1` reshape of a symbolic batch).
 */

/** Meta key on an initializer: the tensor is stored transposed relative to timm (2-D [in, out] vs [out, in]). */
export const TIMM_TRANSPOSED = 'leanformer.timm.transposed';
/** Meta key on an initializer: the timm state-dict shape, when the graph stores the same elements in another shape. */
export const TIMM_SHAPE = 'leanformer.timm.shape';

/** What every vision block needs to create its weights. */
export interface VisionBlockInit {
  /** timm state-dict prefix of the block's parameters, e.g. `stages.0.blocks.0`. */
  readonly prefix: string;
  /**
   * Seeded source of the parameter init (core's `rng(seed)`); null leaves random-init parameters
   * at zero (constant inits such as BN weights are still set): for structure-only builds
   * (counting), where drawing millions of samples would dominate the build time.
   */
  readonly rng: Rng | null;
}

/** `init` with `.name` appended to its prefix. */
export function child(init: VisionBlockInit, name: string): VisionBlockInit {
  return { prefix: `${init.prefix}.${name}`, rng: init.rng };
}

// Initializers created as parameters; everything else a vision builder adds is a constant.
const PARAMS = new WeakSet<Value>();

function param(b: GraphBuilder, name: string, t: Tensor): Value {
  const v = b.param(name, t);
  PARAMS.add(v);
  return v;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

/** A parameter `name` of N(mean, std²) samples (zeros without an rng). */
export function normalParam(b: GraphBuilder, init: VisionBlockInit, name: string, shape: readonly number[], std: number, mean = 0): Value {
  return param(b, name, init.rng ? init.rng.normalTensor(shape, std, mean) : Tensor.zeros('float32', shape));
}

/** A parameter `name` of `std`-scaled normal samples truncated at ±2 std (zeros without an rng). */
export function truncNormalParam(b: GraphBuilder, init: VisionBlockInit, name: string, shape: readonly number[], std: number): Value {
  return param(b, name, init.rng ? init.rng.truncNormalTensor(shape, std) : Tensor.zeros('float32', shape));
}

/** A parameter `name` filled with `value` (BN weights and biases, LayerNorm scales). */
export function constParam(b: GraphBuilder, name: string, shape: readonly number[], value: number): Value {
  return param(b, name, new Tensor('float32', shape, new Float32Array(size(shape)).fill(value)));
}

/**
 * Marks every initializer of `b`'s graph that is not a parameter (index tables, shapes, scalars)
 * with `leanformer.param = false`, so parameter counts and timm weight loading skip them.
 */
export function markConstants(b: GraphBuilder): void {
  for (const v of b.graph.initializers.values()) if (!PARAMS.has(v)) v.meta.set('leanformer.param', false);
}

/** Names `y` as the model's output, marks constants and finishes the graph as a {@link VisionModel}. */
export function finishModel(b: GraphBuilder, y: Value, m: { name: string; inputName: string; inputShape: readonly Dim[]; numClasses: number }): VisionModel {
  const outputName = m.numClasses > 0 ? 'logits' : 'features';
  b.output(y, outputName);
  markConstants(b);
  return { name: m.name, graph: b.build(), inputName: m.inputName, inputShape: m.inputShape, outputName };
}

/** The parameter source of a model build: core's `rng(seed)` (seed default 0), or null for `weights: 'zeros'`. */
export function modelRng(options: { readonly seed?: number; readonly weights?: 'seeded' | 'zeros' }): Rng | null {
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new LeanformerError('INVALID_ARGUMENT', `seed must be an integer, got ${seed}`);
  return options.weights === 'zeros' ? null : rng(seed);
}

/** A builder for a vision model: ai.onnx opset 17 (what every runtime and EP we lower for takes). */
export function visionBuilder(name: string): GraphBuilder {
  return new GraphBuilder(name, { opset: 17 });
}

/** The static shape of `v` (every value a builder creates has a type). */
export function shapeOf(v: Value): readonly Dim[] {
  const s = v.shape;
  if (!s) throw new LeanformerError('INVALID_GRAPH', `value '${v.name}' has no shape`);
  return s;
}

/** Dim `i` of `v` as a number (throws when symbolic). */
export function dimOf(v: Value, i: number): number {
  const s = shapeOf(v);
  const d = s[i < 0 ? s.length + i : i];
  if (typeof d !== 'number') throw new LeanformerError('INVALID_GRAPH', `value '${v.name}' dim ${i} is not static (${String(d)})`);
  return d;
}

/** Multiplies a (possibly symbolic) dim by an integer: `mulDim('batch', 4) === 'batch*4'`. */
export function mulDim(d: Dim, k: number): Dim {
  if (k === 1) return d;
  if (typeof d === 'number') return d * k;
  if (d === null) return null;
  return `${d}*${k}`;
}

/** Reshape to `shape` (0 keeps the input dim, as ONNX), stating the result `outShape` where inference leaves dims unknown. */
export function reshapeTo(b: GraphBuilder, x: Value, shape: readonly number[], outShape?: readonly Dim[]): Value {
  const y = b.reshape(x, shape);
  return outShape ? b.refine(y, outShape) : y;
}

/** Split along `axis` into pieces of `sizes` (one piece: `x` itself, no node). */
export function splitSizes(b: GraphBuilder, x: Value, axis: number, sizes: readonly number[]): Value[] {
  const s = shapeOf(x);
  const ax = axis < 0 ? s.length + axis : axis;
  const total = sizes.reduce((a, n) => a + n, 0);
  if (s[ax] !== total) throw new LeanformerError('SHAPE_MISMATCH', `split: sizes [${sizes.join(', ')}] sum to ${total}, dim ${ax} of [${s.join(', ')}] is ${String(s[ax])}`);
  return sizes.length === 1 ? [x] : b.split(x, { axis: ax, sizes });
}

/** Concatenate along `axis` (one value: itself, no node). */
export function concatAll(b: GraphBuilder, xs: readonly Value[], axis: number): Value {
  return xs.length === 1 ? xs[0]! : b.concat(xs, axis);
}

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  readonly out: number;
  readonly kernel: number;
  readonly stride?: number;
  readonly pad?: number;
  readonly groups?: number;
  readonly bias?: boolean;
  /** Weight init std; default He-normal `sqrt(2 / fan_in)`. */
  readonly std?: number;
}

/** 2-D convolution with parameters `${prefix}.weight` [out, in/groups, k, k] and optional `${prefix}.bias`. */
export function conv2d(b: GraphBuilder, x: Value, init: VisionBlockInit, o: Conv2dOptions): Value {
  const cin = shapeOf(x)[1];
  const groups = o.groups ?? 1;
  const stride = o.stride ?? 1;
  const pad = o.pad ?? 0;
  if (typeof cin !== 'number') throw new LeanformerError('SHAPE_MISMATCH', `${init.prefix}: conv input needs a static channel dim, got [${shapeOf(x).join(', ')}]`);
  if (cin % groups !== 0 || o.out % groups !== 0) {
    throw new LeanformerError('INVALID_ARGUMENT', `${init.prefix}: channels ${cin}→${o.out} are not divisible by groups ${groups}`);
  }
  const fanIn = (cin / groups) * o.kernel * o.kernel;
  const w = normalParam(b, init, `${init.prefix}.weight`, [o.out, cin / groups, o.kernel, o.kernel], o.std ?? Math.sqrt(2 / fanIn));
  const bias = o.bias ? normalParam(b, init, `${init.prefix}.bias`, [o.out], 0.02) : null;
  return b.conv(x, w, bias, { kernelShape: [o.kernel, o.kernel], strides: [stride, stride], pads: [pad, pad, pad, pad], group: groups });
}

/** Inference batch norm over dim 1 with `${prefix}.{weight,bias,running_mean,running_var}` (eps 1e-5, as PyTorch). */
export function batchNorm(b: GraphBuilder, x: Value, init: VisionBlockInit, weightInit = 1): Value {
  const c = dimOf(x, 1);
  const p = init.prefix;
  return b.batchNorm(
    x,
    constParam(b, `${p}.weight`, [c], weightInit),
    constParam(b, `${p}.bias`, [c], 0),
    constParam(b, `${p}.running_mean`, [c], 0),
    constParam(b, `${p}.running_var`, [c], 1),
    { epsilon: 1e-5 },
  );
}

/** Conv (no bias) + BatchNorm, timm's `ConvNorm`/`Conv2d_BN`: `${prefix}.conv.*`, `${prefix}.bn.*`. */
export function convNorm(b: GraphBuilder, x: Value, init: VisionBlockInit, o: Omit<Conv2dOptions, 'bias'> & { readonly bnWeightInit?: number }): Value {
  return batchNorm(b, conv2d(b, x, child(init, 'conv'), { ...o, bias: false }), child(init, 'bn'), o.bnWeightInit ?? 1);
}

/**
 * A 1×1 ConvNorm applied to tokens x [B, C, N] as a 1-D convolution (timm's `ConvNorm` with
 * ks=1 on a flattened map). The weight keeps timm's elements in shape [out, C, 1] and records
 * timm's [out, C, 1, 1] under {@link TIMM_SHAPE}. Keeping attention inputs as tokens avoids
 * reshapes and layout reorders per head on ORT.
 */
export function pointwiseConvNorm1d(b: GraphBuilder, x: Value, init: VisionBlockInit, out: number, bnWeightInit = 1): Value {
  const c = dimOf(x, 1);
  const w = normalParam(b, init, `${init.prefix}.conv.weight`, [out, c, 1], Math.sqrt(2 / c));
  w.meta.set(TIMM_SHAPE, [out, c, 1, 1]);
  const y = b.conv(x, w, null, { kernelShape: [1], strides: [1], pads: [0, 0], group: 1 });
  return batchNorm(b, y, child(init, 'bn'), bnWeightInit);
}

/**
 * Linear layer `y = x·Wᵀ + b` with timm's `${prefix}.weight` [out, in] and `${prefix}.bias`.
 * 2-D inputs use Gemm(transB) over the timm layout; higher ranks use MatMul over a weight
 * stored as [in, out] (marked {@link TIMM_TRANSPOSED} so weight loading transposes it).
 */
export function linear(b: GraphBuilder, x: Value, init: VisionBlockInit, out: number, o: { bias?: boolean; std?: number } = {}): Value {
  const inF = dimOf(x, -1);
  const std = o.std ?? 0.02;
  const useBias = o.bias ?? true;
  const p = init.prefix;
  if (shapeOf(x).length === 2) {
    const w = truncNormalParam(b, init, `${p}.weight`, [out, inF], std);
    const bias = useBias ? normalParam(b, init, `${p}.bias`, [out], 0.02) : null;
    return b.gemm(x, w, bias, { transB: true });
  }
  const w = truncNormalParam(b, init, `${p}.weight`, [inF, out], std);
  w.meta.set(TIMM_TRANSPOSED, true);
  const y = b.matmul(x, w);
  return useBias ? b.add(y, normalParam(b, init, `${p}.bias`, [out], 0.02)) : y;
}

/** LayerNorm over the last axis with `${prefix}.weight`/`.bias` (eps as timm's ViT: 1e-6). */
export function layerNorm(b: GraphBuilder, x: Value, init: VisionBlockInit, eps = 1e-6): Value {
  const c = dimOf(x, -1);
  return b.layerNorm(x, constParam(b, `${init.prefix}.weight`, [c], 1), constParam(b, `${init.prefix}.bias`, [c], 0), { axis: -1, epsilon: eps });
}

/** Squeeze-excite as timm's `SEModule`: mean → fc1 (1×1, bias) → ReLU → fc2 → sigmoid gate. */
export function squeezeExcite(b: GraphBuilder, x: Value, init: VisionBlockInit, rdChannels: number): Value {
  const c = dimOf(x, 1);
  let s = b.globalAvgPool(x);
  s = b.relu(conv2d(b, s, child(init, 'fc1'), { out: rdChannels, kernel: 1, bias: true }));
  s = b.sigmoid(conv2d(b, s, child(init, 'fc2'), { out: c, kernel: 1, bias: true }));
  return b.mul(x, s);
}

/** timm's `make_divisible(v, divisor, round_limit=0)` as used by SEModule. */
export function makeDivisible(v: number, divisor = 8, roundLimit = 0): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < roundLimit * v) n += divisor;
  return n;
}

/** Activation by name: exact (erf) GELU as PyTorch's `nn.GELU()`, or ReLU. */
export function activation(b: GraphBuilder, x: Value, act: 'gelu' | 'relu'): Value {
  return act === 'gelu' ? b.gelu(x) : b.relu(x);
}
