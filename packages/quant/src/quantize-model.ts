// Graph-level quantization: finds the linear layers (MatMul, Gemm with a constant weight) and
// embeddings (Gather from a constant table) with core's finder, asks the method's registry entry
// (./methods/registry.ts) to quantize each, and rewrites them into leanformer.QMatMul /
// leanformer.QGather with the one emitter (./emit.ts). Lowering to a target's ONNX form
// (MatMulNBits, DequantizeLinear + MatMul, …) happens later, in @leanformer/onnx.
import {
  attr, checkQuantForTarget, cloneGraph, defaultAccuracyLevel, DTypes, ensureQGatherSchema, ensureQMatMulSchema, findEmbeddings, findLinearLayers, float32ToBfloat16Bits,
  float32ToFloat16Bits, floatZeroPointsKept, LeanformerError, parseTarget, symmetricOnly, Tensor, weightsAsInitializers, type EmbeddingLayer, type Graph, type LinearLayer, type TargetName, type Value,
} from '@leanformer/core';
import {
  packMatMulNBits, perChannelBlockSize, quantizeRtn, quantizeRtnPacked, transposeKN, type BlockQuantOptions, type MatMulNBitsTensors, type QuantBits,
} from './blockwise.js';
import type { QuantWorkerPool } from './workers/types.js';
import type { ProgressCallback } from '@leanformer/core';

export type { QuantWorkerPool, RtnJob, RtnJobResult } from './workers/types.js';
import { collectActivationStats, type ActivationStats, type CalibrationData } from './calibration.js';
import { prune24, type LinearWeight, type ScaledQuantizedWeight } from './methods.js';
import { emitQGather, emitQMatMul, floatBytes } from './emit.js';
import { bytesByDtype, measureQuantizedNode, weightError, type QuantLayerStat } from './report.js';
import {
  QUANT_METHODS, quantMethod, type GroupJob, type LayerQuantOptions, type LayerResult, type QuantMethod, type QuantMethodEntry,
} from './methods/registry.js';

export { QUANT_METHOD_ENTRIES, QUANT_METHODS, quantMethod } from './methods/registry.js';
export type {
  GroupJob, LayerJob, LayerQuantOptions, LayerResult, ModelSearch, PackedLayer, QuantMethod, QuantMethodEntry,
} from './methods/registry.js';

/** Options of {@link quantizeModel}. */
export interface QuantizeOptions {
  /** A registry method name (QUANT_METHODS). */
  readonly method: QuantMethod;
  /** 4 or 8 (default 4), as the method's entry allows (QServe: 4 only). */
  readonly bits?: QuantBits;
  /**
   * Weights per scale along K: a power of two 16…256, or 0 for per-channel (one block per
   * output). Default: the method entry's (32; 128 for QServe, as in the paper).
   */
  readonly blockSize?: number;
  /** Symmetric codes (zero point fixed at 2^(bits−1)). Default false, except true for ort-tensorrt. */
  readonly symmetric?: boolean;
  /** Target the model will be lowered for (default 'ort-cpu'); decides zero-point storage. */
  readonly target?: TargetName;
  /** Layers whose node name or weight name matches are left in float. */
  readonly exclude?: RegExp | string;
  /** RTN/GPTQ/AWQ/SmoothQuant+: per-block clipping search (see BlockQuantOptions.clip). Default false. */
  readonly clip?: boolean;
  /**
   * Bits of the "edge" layers: embedding gathers and LM heads (linear layers whose output is a
   * graph output). Default 8 when bits is 4 (as GPTQ/AWQ tooling and llama.cpp's Q4_K_M keep
   * the output layer wider: its error reaches the logits unattenuated); else `bits`.
   */
  readonly edgeBits?: QuantBits;
  /** Quantize Gather embeddings (to leanformer.QGather) too. Default true. */
  readonly quantizeEmbeddings?: boolean;
  /** Calibration data, required by the methods whose entry has calibration ≠ 'none' (gptq, awq, smoothquant). */
  readonly calibration?: CalibrationData;
  /** GPTQ: act-order (default true) and damping (default 0.01). */
  readonly actOrder?: boolean;
  readonly damp?: number;
  /**
   * MatMulNBits accuracy_level: 0 keeps float compute; 4 lets ORT CPU quantize activations to
   * int8 per block (fastest; QServe's W4A8 always uses 4). Default: 0 for 4-bit layers, and 4
   * for 8-bit layers on ort-cpu/ort-wasm, because ONNX Runtime 1.30's CPU kernel runs 8-bit
   * weights at accuracy_level 0 through a slow unpacked path (measured 0.09× of fp32 at batch 1
   * on 4096×4096; 2.7× with level 4).
   */
  readonly accuracyLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * Also measure every rewritten layer (relative weight error as the runtime computes it, bytes) and the
   * bytes per dtype: the result's `layers` and `bytesByDtype`, what `quantize --report` draws. Costs one
   * dequantize per layer.
   */
  readonly measureLayers?: boolean;
  /**
   * Progress: calibrated methods report `{ phase: 'calibrate', unit: 'runs' }` per calibration batch,
   * then `{ phase: 'quantize', done, total, unit: 'layers', item: <weight name> }` after each layer
   * (done 0 first).
   */
  readonly onProgress?: ProgressCallback;
  /**
   * Runs RTN off this thread (method 'rtn': linear layers and embeddings), several layers in
   * flight and large ones split over all threads; the output is byte-identical. Node:
   * `createQuantWorkerPool()` from '@leanformer/quant/node'. Default: quantize in this thread.
   */
  readonly pool?: QuantWorkerPool;
}

/** What `leanformer quantize --json` prints (exactly these keys; `reason` only when nothing was quantized). */
export interface QuantizeReport {
  readonly method: QuantMethod;
  readonly bits: number;
  readonly blockSize: number;
  readonly target: TargetName;
  readonly layersQuantized: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly seconds: number;
  /** Why nothing was quantized (present only when layersQuantized is 0). */
  readonly reason?: string;
}

/** Result of {@link quantizeModel}. */
export interface QuantizeResult {
  readonly graph: Graph;
  readonly report: QuantizeReport;
  /** Facts the user should know (fallbacks, folded scales, rounded zero points). */
  readonly notes: string[];
  /** Per-layer figures, with `measureLayers` only. */
  readonly layers?: QuantLayerStat[];
  /** Initializer bytes per dtype before and after, with `measureLayers` only. */
  readonly bytesByDtype?: { readonly before: Record<string, number>; readonly after: Record<string, number> };
}

/** A linear layer with its [K, N] float32 weight (read on first access). */
type Linear = LinearLayer & { readonly w: Float32Array };

/** `l` with `w` computed on first read: a pooled RTN reads float32 weights in place and never needs the copy. */
function withWeight(l: LinearLayer): Linear {
  let w: Float32Array | undefined;
  return Object.defineProperty({ ...l }, 'w', { get: () => (w ??= floatKN(l)), enumerable: true }) as Linear;
}

/** A layer's float weight as [K, N], read afresh from its initializer. */
function floatKN(l: LinearLayer): Float32Array {
  const raw = l.weight.const!.toFloat32();
  return l.transposed ? transposeKN(raw, l.N, l.K) : raw;
}

/** The [K, N] float32 values of a layer's weight without a copy when its storage already is that, else `l.w`. */
function weightView(l: Linear): Float32Array {
  const t = l.weight.const!;
  return t.dtype === DTypes.float32 && !l.transposed && t.data instanceof Float32Array ? t.data : l.w;
}

/** Total bytes of a graph's initializers. */
export function initializerBytes(graph: Graph): number {
  let n = 0;
  for (const v of graph.initializers.values()) n += v.const!.byteLength;
  return n;
}

/** A float tensor of `dt` (float32 or float16) from float values. */
function floatTensor(dt: typeof DTypes.float32 | typeof DTypes.float16, shape: readonly number[], values: ArrayLike<number>): Tensor {
  return Tensor.fromBytes(dt, shape, floatBytes(dt, Float32Array.from(values)).slice());
}

/** Removes initializers that nothing uses any more. */
function dropUnused(graph: Graph, candidates: Iterable<Value>): void {
  for (const v of new Set(candidates)) if (v.isInitializer && v.uses.length === 0 && !v.isGraphOutput && !v.isGraphInput) graph.removeInitializer(v);
}
/** Writes `1/s` into the producer of X when it is a per-channel scale nobody else reads; else inserts a Mul. */
export function applyInputScale(group: readonly LinearLayer[], inv: Float32Array, notes: string[]): Value {
  const x = group[0]!.node.input(0);
  const g = x.graph;
  const nodes = new Set(group.map((l) => l.node));
  const onlyGroup = !x.isGraphOutput && x.uses.every((u) => nodes.has(u.node));
  const p = x.producer;
  const K = inv.length;
  const isChannelVec = (v: Value | null | undefined): v is Value => !!v && v.isInitializer && v.const!.size === K && v.const!.shape[v.const!.shape.length - 1] === K && (v.const!.dtype === DTypes.float32 || v.const!.dtype === DTypes.float16);
  const scaled = (v: Value): Value => {
    const f = v.const!.toFloat32();
    for (let k = 0; k < K; k++) f[k]! *= inv[k]!;
    return g.addInitializer(g.uniqueName(`${v.name}_smoothed`), floatTensor(v.const!.dtype === DTypes.float16 ? DTypes.float16 : DTypes.float32, v.const!.shape, f));
  };
  if (onlyGroup && p && p.domain === '' && p.op === 'Mul') {
    const ci = isChannelVec(p.inputs[1]) ? 1 : isChannelVec(p.inputs[0]) ? 0 : -1;
    if (ci >= 0) {
      const old = p.input(ci);
      p.setInput(ci, scaled(old));
      dropUnused(g, [old]);
      notes.push(`folded input scales of ${group.map((l) => l.weight.name).join(', ')} into ${p.describe()}`);
      return x;
    }
  }
  if (onlyGroup && p && ((p.domain === '' && (p.op === 'LayerNormalization' || p.op === 'RMSNormalization')) || (p.domain === 'com.microsoft' && p.op === 'SimplifiedLayerNormalization')) && p.outputs.filter(Boolean).length === 1 && isChannelVec(p.inputs[1]) && (p.inputs[2] === undefined || p.inputs[2] === null || isChannelVec(p.inputs[2]))) {
    const olds = [p.input(1), ...(p.inputs[2] ? [p.input(2)] : [])];
    p.setInput(1, scaled(p.input(1)));
    if (p.inputs[2]) p.setInput(2, scaled(p.input(2)));
    dropUnused(g, olds);
    notes.push(`folded input scales of ${group.map((l) => l.weight.name).join(', ')} into ${p.describe()}`);
    return x;
  }
  const dt = x.dtype === DTypes.float16 ? DTypes.float16 : DTypes.float32;
  const c = g.addInitializer(g.uniqueName(`${group[0]!.weight.name}_input_scale`), floatTensor(dt, [K], inv));
  const first = g.nodes.find((n) => nodes.has(n))!;
  const mul = g.insertBefore(first, { op: 'Mul', inputs: [x, c], outputs: [g.uniqueName(`${x.name}_scaled`)] });
  mul.output(0).type = x.type;
  return mul.output(0);
}

/** Layers sharing one input value, in order of their first layer. */
export function groupByInput<L extends LinearLayer>(layers: readonly L[]): L[][] {
  const m = new Map<Value, L[]>();
  for (const l of layers) { const a = m.get(l.input) ?? []; a.push(l); m.set(l.input, a); }
  return [...m.values()];
}

/** Options every method's layers share, resolved and checked once from the entry and the caller's options. */
export interface ResolvedQuantOptions {
  readonly entry: QuantMethodEntry;
  readonly bits: QuantBits;
  readonly edgeBits: QuantBits;
  /** The block size argument (0 = per-channel). */
  readonly blockArg: number;
  readonly symmetric: boolean;
  readonly forceUint8: boolean;
  /** accuracy_level for a layer of `b` bits (QuantizeOptions.accuracyLevel); `slow8()` tells whether the 8-bit rule fired. */
  accFor(b: number): number;
  slow8(): boolean;
  /** The per-layer options for a layer of K inputs at `bits`. */
  layer(K: number, bits: QuantBits): LayerQuantOptions;
}

/**
 * Checks `options` against the method's registry entry and the target, the same for the
 * in-memory and the streaming pass; every bad value is a LeanformerError naming what is allowed.
 */
export function resolveQuantOptions(options: Pick<QuantizeOptions, 'method' | 'bits' | 'blockSize' | 'symmetric' | 'target' | 'edgeBits' | 'accuracyLevel' | 'calibration' | 'clip' | 'actOrder' | 'damp'>): ResolvedQuantOptions {
  const entry = quantMethod(options.method);
  if (!entry) throw new LeanformerError('INVALID_ARGUMENT', `Unknown quantization method '${String(options.method)}'; allowed: ${QUANT_METHODS.join(', ')}`, { details: { argument: 'method', allowed: QUANT_METHODS } });
  const method = entry.name;
  const target = parseTarget(options.target ?? 'ort-cpu');
  const bits: QuantBits = options.bits ?? 4;
  if (bits !== 4 && bits !== 8) throw new LeanformerError('INVALID_ARGUMENT', `bits must be 4 or 8, got ${bits}`, { details: { argument: 'bits' } });
  if (!entry.cast && !entry.bits.includes(bits)) throw new LeanformerError('INVALID_ARGUMENT', `${method} quantizes weights to ${entry.bits.join(' or ')} bits; use --bits ${entry.bits[0]}`, { details: { argument: 'bits', allowed: entry.bits } });
  const blockArg = options.blockSize ?? entry.defaultBlockSize;
  const symmetricTarget = symmetricOnly(target);
  // 'none' (codebook) methods store no zero points; any affine fallback layers they emit follow the target's default.
  const symmetric = entry.zeroPoints === 'never' ? false : options.symmetric ?? symmetricTarget;
  // The block-size rule and the target's EP facts (core's ep-facts), asked once here for every method.
  const epWhy = checkQuantForTarget(target, { bits, blockSize: blockArg, symmetric: symmetric || entry.zeroPoints === 'none', zeroPoints: entry.floatZeroPoints ? 'float' : 'integer' });
  if (epWhy && !(symmetricTarget && entry.zeroPoints === 'never')) throw new LeanformerError('INVALID_ARGUMENT', epWhy, { details: { argument: epWhy.startsWith('blockSize') ? 'blockSize' : 'symmetric' } });
  if (symmetricTarget && entry.zeroPoints === 'never') {
    const sym = QUANT_METHODS.filter((m) => quantMethod(m)!.zeroPoints === 'optional');
    throw new LeanformerError('INVALID_ARGUMENT', `${method} produces zero points, which ort-tensorrt's symmetric int4/int8 DequantizeLinear form cannot carry; use ${sym.join(', ')} with --symmetric`);
  }
  if (entry.zeroPoints === 'never' && options.symmetric) throw new LeanformerError('INVALID_ARGUMENT', entry.asymmetricReason ?? `${method} cannot be symmetric`, { details: { argument: 'symmetric' } });
  if (entry.calibration !== 'none' && !options.calibration) throw new LeanformerError('INVALID_ARGUMENT', `method '${method}' needs calibration data (library: options.calibration = { backend, feeds }; CLI: --calib <dir> or --calib-random N)`, { details: { argument: 'calibration' } });
  if (options.accuracyLevel !== undefined && ![0, 1, 2, 3, 4].includes(options.accuracyLevel)) throw new LeanformerError('INVALID_ARGUMENT', `accuracyLevel must be 0…4, got ${options.accuracyLevel}`, { details: { argument: 'accuracyLevel' } });
  const edgeBits: QuantBits = options.edgeBits ?? (bits === 4 ? 8 : bits);
  if (edgeBits !== 4 && edgeBits !== 8) throw new LeanformerError('INVALID_ARGUMENT', `edgeBits must be 4 or 8, got ${edgeBits}`, { details: { argument: 'edgeBits' } });
  const forceUint8 = !floatZeroPointsKept(target, 4); // ort-webgpu: fractional zero points rounded to uint8
  let slow8 = false;
  return {
    entry, bits, edgeBits, blockArg, symmetric, forceUint8,
    accFor(b) {
      if (options.accuracyLevel !== undefined) return options.accuracyLevel;
      const level = defaultAccuracyLevel(target, b);
      if (level) slow8 = true;
      return level;
    },
    slow8: () => slow8,
    layer: (K, lb) => ({
      bits: lb, blockSize: blockArg === 0 ? perChannelBlockSize(K) : blockArg, symmetric, clip: options.clip ?? false,
      actOrder: options.actOrder ?? true, damp: options.damp ?? 0.01, forceUint8ZeroPoints: forceUint8 || lb === 8,
    }),
  };
}

/**
 * The key under which layers sharing one weight share one quantization (same weight, layout and
 * bits, and a calibration-free method: the result depends on the weight alone); null otherwise.
 */
export function sharedKey(entry: QuantMethodEntry, l: LinearLayer, bits: number): string | null {
  return l.users > 1 && entry.calibration === 'none' ? `${l.weight.name}\u0000${l.transposed}\u0000${bits}` : null;
}

/** A linear layer whose output is a graph output (an LM head, quantized at edgeBits) — but a model's only linear layer is no head. */
export function isEdgeLayer(l: LinearLayer, layers: readonly LinearLayer[]): boolean { return layers.length > 1 && l.node.outputs[0]?.isGraphOutput === true; }

/** The `reason` a report gives when nothing was quantized. */
export function nothingQuantizedReason(g: Graph, excluded: boolean): string {
  const mm = g.nodes.filter((n) => n.domain === '' && (n.op === 'MatMul' || n.op === 'Gemm')).length;
  if (mm === 0) return 'the model has no MatMul or Gemm nodes';
  return `none of the ${mm} MatMul/Gemm nodes has a constant 2-D float weight${excluded ? ' outside --exclude' : ''} (weights computed at run time or fed as inputs stay as they are)`;
}

/**
 * Quantizes a model's linear layers (and embeddings) with one registry method and rewrites them
 * into leanformer.QMatMul / leanformer.QGather. Weights in Constant or Identity nodes are found
 * too (moved to initializers first). The input graph is not changed.
 *
 * @example
 * ```ts
 * const { graph: q, report } = await quantizeModel(graph, { method: 'rtn', bits: 4, blockSize: 32 });
 * report.bytesAfter / report.bytesBefore; // ≈ 0.16 for weight-dominated models
 * ```
 */
export async function quantizeModel(graph: Graph, options: QuantizeOptions): Promise<QuantizeResult> {
  const t0 = performance.now();
  const r = resolveQuantOptions(options);
  const { entry, bits, edgeBits, blockArg, symmetric } = r;
  const method = entry.name as QuantMethod;
  const targetName: TargetName = options.target ?? 'ort-cpu';
  const exclude = typeof options.exclude === 'string' ? new RegExp(options.exclude) : options.exclude;
  const notes: string[] = [];
  const tn = entry.targetNote?.(targetName);
  if (tn) notes.push(tn);

  ensureQMatMulSchema();
  ensureQGatherSchema();
  const g = cloneGraph(graph);
  weightsAsInitializers(g);
  g.opsets.set('leanformer', 1);
  const bytesBefore = initializerBytes(g);
  const measured: QuantLayerStat[] | undefined = options.measureLayers ? [] : undefined;
  const dtypesBefore = measured ? bytesByDtype(g) : undefined;
  const measuredResult = (res: QuantizeResult): QuantizeResult => (measured ? { ...res, layers: measured, bytesByDtype: { before: dtypesBefore!, after: bytesByDtype(res.graph) } } : res);
  const layers = findLinearLayers(g, { exclude }).map(withWeight);
  const bitsOf = (l: Linear): QuantBits => (isEdgeLayer(l, layers) ? edgeBits : bits);
  const oldWeights: Value[] = [];
  let done = 0;
  const total = layers.length;
  const tick = (name: string): void => { done++; options.onProgress?.({ phase: 'quantize', done, total, unit: 'layers', item: name }); };
  const start = (): void => { options.onProgress?.({ phase: 'quantize', done: 0, total, unit: 'layers' }); };

  if (entry.cast) {
    start();
    const conv = entry.cast === 'float16' ? float32ToFloat16Bits : float32ToBfloat16Bits;
    const dtype = entry.cast === 'float16' ? DTypes.float16 : DTypes.bfloat16;
    for (const l of layers) {
      const t = new Tensor(dtype, l.weight.const!.shape, Uint16Array.from(l.weight.const!.toFloat32(), (v) => conv(v)));
      const nw = g.addInitializer(g.uniqueName(`${l.weight.name}_${method}`), t);
      const dt = l.input.dtype ?? DTypes.float32;
      const cast = g.insertBefore(l.node, { op: 'Cast', inputs: [nw], outputs: [g.uniqueName(`${l.weight.name}_cast`)], attrs: { to: attr.int(dt.onnx) } });
      cast.output(0).type = { kind: 'tensor', dtype: dt, shape: l.weight.const!.shape };
      oldWeights.push(l.weight);
      l.node.setInput(1, cast.output(0));
      if (measured) measured.push({ name: l.weight.name, kind: 'cast', K: l.K, N: l.N, bits: 16, blockSize: 0, ...weightError(l.weight.const!.toFloat32(), t.toFloat32()), bytesBefore: l.weight.const!.byteLength, bytesAfter: t.byteLength });
      tick(l.weight.name);
    }
    dropUnused(g, oldWeights);
    g.metadataProps.set('leanformer.quant', JSON.stringify({ method, target: targetName }));
    return measuredResult(finish(g, method, 16, 0, targetName, layers.length, bytesBefore, t0, notes, exclude !== undefined));
  }

  // Calibration statistics for the methods that need them.
  let stats = new Map<string, ActivationStats>();
  if (entry.calibration !== 'none') {
    const names = [...new Set(layers.map((l) => l.input.name))];
    stats = await collectActivationStats(graph, names, options.calibration!, { hessianFor: entry.calibration === 'hessian' ? new Set(names) : undefined, onProgress: options.onProgress });
  }
  start();
  const statsOf = (l: Linear): ActivationStats => {
    const s = stats.get(l.input.name);
    if (!s || s.count === 0) throw new LeanformerError('EXECUTION_FAILED', `calibration saw no rows for '${l.input.name}'`);
    return s;
  };

  let quantized = 0;
  const shared = new WeakMap<object, (Value | null)[]>(); // weak: packed layers are not kept alive (streamed 7B convert)
  const emitted = (l: Linear, res: LayerResult, input?: Value, inputScale?: Float32Array): void => {
    const node = emitQMatMul(l, res.weight, { forceUint8: r.forceUint8, accuracyLevel: res.accuracyLevel ?? r.accFor(res.weight.bits), input, shared }, notes);
    // Measured against a fresh read of the float initializer (a method may have worked on l.w in place).
    if (measured) measured.push(measureQuantizedNode('linear', l.weight.name, node, floatKN(l), l.K, l.N, l.weight.const!.byteLength, inputScale));
    oldWeights.push(l.weight);
    quantized++;
    tick(l.weight.name);
  };
  if (entry.quantizeGroup) {
    const groups = groupByInput(layers);
    const jobOf = (grp: readonly Linear[]): GroupJob => ({
      layers: grp.map(asLinear), rows: statsOf(grp[0]!).rows, options: r.layer(grp[0]!.K, grp.some((l) => isEdgeLayer(l, layers)) ? edgeBits : bits),
    });
    const candidate = entry.search ? searchModelWide(entry, groups.map(jobOf), notes) : undefined;
    for (const grp of groups) {
      const res = entry.quantizeGroup(jobOf(grp), candidate);
      const input = applyInputScale(grp, res[0]!.inputScale, notes);
      grp.forEach((l, i) => emitted(l, { weight: res[i]!.weight }, input, res[0]!.inputScale));
    }
  } else {
    const quantizeLayer = entry.quantizeLayer!.bind(entry);
    // A weight shared by several layers is quantized once when the result depends on the weight alone.
    const once = new Map<string, Promise<LayerResult>>();
    // Up to two layers (or 128 MB of weights) in flight: a pool overlaps them. In-thread methods run one
    // by one as they are started, so they get no byte budget: running ahead would only hold results
    // longer and report progress in bursts.
    await inFlight(layers, (l) => l.K * l.N * 4, options.pool ? IN_FLIGHT_BYTES : 0, (l) => {
      const key = sharedKey(entry, l, bitsOf(l));
      const hit = key !== null ? once.get(key) : undefined;
      if (hit) return hit;
      const p = Promise.resolve(quantizeLayer({
        name: l.weight.name, K: l.K, N: l.N, w: entry.name === 'rtn' ? weightView(l) : l.w,
        options: r.layer(l.K, bitsOf(l)), stats: entry.calibration === 'none' ? undefined : statsOf(l), pool: options.pool,
      }));
      if (key !== null) once.set(key, p);
      return p;
    }, (l, res) => emitted(l, res));
  }

  let edgeQuantized = false;
  // Embeddings: the entry's embedding quantizer (default RTN); activation-aware methods have no activations here.
  if (options.quantizeEmbeddings ?? true) {
    for (const e of findEmbeddings(g, { exclude })) {
      const t = await quantizeEmbedding(r, e, e.table.const!.toFloat32(), options.clip ?? false, options.pool);
      if (!t) continue;
      const node = emitQGather(e, t.packed, edgeBits, t.blockSize);
      if (measured) measured.push(measureQuantizedNode('embedding', e.table.name, node, transposeKN(e.table.const!.toFloat32(), e.V, e.D), e.D, e.V, e.table.const!.byteLength));
      oldWeights.push(e.table);
      quantized++;
      edgeQuantized = true;
    }
  }
  dropUnused(g, oldWeights);
  const kept = [...new Set(oldWeights)].filter((v) => v.isInitializer && g.initializers.get(v.name) === v);
  if (kept.length) notes.push(`${kept.map((v) => v.name).join(', ')}: also read by nodes that were not quantized (a shared or tied weight), so the float copy stays beside the quantized one`);
  if (r.slow8()) notes.push('8-bit layers use MatMulNBits accuracy_level 4 (int8 activations): ONNX Runtime 1.30 CPU runs 8-bit weights at level 0 far slower than fp32; pass --accuracy-level 0 (library: accuracyLevel: 0) to keep float compute');
  if (edgeBits !== bits && (edgeQuantized || layers.some((l) => isEdgeLayer(l, layers)))) notes.push(`embeddings and LM head quantized to ${edgeBits} bits; pass --edge-bits ${bits} (library: edgeBits: ${bits}) to quantize them like the rest`);
  g.metadataProps.set('leanformer.quant', JSON.stringify({ method, bits, edgeBits, blockSize: blockArg, symmetric, target: targetName }));
  return measuredResult(finish(g, method, bits, blockArg, targetName, quantized, bytesBefore, t0, notes, exclude !== undefined));
}

/**
 * Quantizes an embedding table ([V, D] float32 values) with the entry's embedding quantizer
 * (default RTN, on the pool when given) at edgeBits, blocks along D; null when D does not fit the block.
 */
export async function quantizeEmbedding(r: ResolvedQuantOptions, e: EmbeddingLayer, table: Float32Array, clip: boolean, pool?: QuantWorkerPool): Promise<{ packed: MatMulNBitsTensors; blockSize: number } | null> {
  const bs = r.blockArg || perChannelBlockSize(e.D);
  if (e.D % bs !== 0) return null;
  const ro = { bits: r.edgeBits, blockSize: bs, symmetric: r.symmetric, clip };
  if (!r.entry.quantizeEmbedding && !pool) return { packed: rtnPackedByRows(table, e.V, e.D, ro), blockSize: bs };
  const wt = transposeKN(table, e.V, e.D); // [D, V]: blocks along D per row
  const packed = r.entry.quantizeEmbedding
    ? packMatMulNBits(r.entry.quantizeEmbedding(wt, e.D, e.V, ro), { forceUint8ZeroPoints: true })
    : (await pool!.quantizeRtn({ w: wt, K: e.D, N: e.V, options: ro, output: 'packed', forceUint8ZeroPoints: true })).packed!;
  return { packed, blockSize: bs };
}

/** Table rows transposed per chunk: bounds quantizeRtnPacked's [D, V] input to this many rows at a time. */
const EMBED_CHUNK_ROWS = 4096;

/**
 * RTN MatMulNBits tensors of a `[V, D]` table as `[K = D, N = V]`, transposing `EMBED_CHUNK_ROWS` rows
 * at a time (MatMulNBits' B, scales and zero points are laid out per N, so chunks along N concatenate):
 * byte-identical to quantizing the whole transpose, without a second table-sized copy.
 */
function rtnPackedByRows(table: Float32Array, V: number, D: number, ro: BlockQuantOptions): MatMulNBitsTensors {
  let out: { B: Uint8Array; scales: Float32Array; zp: Uint8Array | Float32Array | null; bShape: readonly [number, number, number] } | null = null;
  for (let n0 = 0; n0 < V; n0 += EMBED_CHUNK_ROWS) {
    const ns = Math.min(EMBED_CHUNK_ROWS, V - n0);
    const p = quantizeRtnPacked(transposeKN(table.subarray(n0 * D, (n0 + ns) * D), ns, D), D, ns, ro);
    const perB = p.B.length / ns, perS = p.scales.length / ns, perZ = p.zeroPoints ? p.zeroPoints.length / ns : 0;
    out ??= {
      B: new Uint8Array(V * perB), scales: new Float32Array(V * perS), bShape: [V, p.bShape[1], p.bShape[2]],
      zp: p.zeroPoints ? new (p.zeroPoints.constructor as Uint8ArrayConstructor | Float32ArrayConstructor)(V * perZ) : null,
    };
    out.B.set(p.B, n0 * perB);
    out.scales.set(p.scales, n0 * perS);
    if (out.zp && p.zeroPoints) out.zp.set(p.zeroPoints, n0 * perZ);
  }
  return { B: out!.B, bShape: out!.bShape, scales: out!.scales, zeroPoints: out!.zp };
}

/** A model-wide candidate search: per candidate, the error summed over groups (in group order); the first least wins. */
export function searchModelWide(entry: QuantMethodEntry, groups: Iterable<GroupJob>, notes: string[]): number {
  const s = entry.search!;
  const totals = new Float64Array(s.candidates.length);
  for (const grp of groups) s.candidates.forEach((c, i) => { totals[i]! += s.error(grp, c); });
  let best = 0;
  for (let i = 1; i < totals.length; i++) if (totals[i]! < totals[best]!) best = i;
  notes.push(s.note(s.candidates[best]!));
  return s.candidates[best]!;
}

function asLinear(l: Linear): LinearWeight { return { w: l.w, K: l.K, N: l.N }; }

/**
 * Input bytes a pool may hold in flight beyond two layers: two are enough for the next layer's
 * staging copy to overlap the current one's work; small layers go several at a time.
 */
const IN_FLIGHT_BYTES = 128 * 2 ** 20;

/**
 * Starts `start(item)` for items in order while at most two run or their summed `bytes` stay
 * within `budget`, and hands each result to `done` in the items' order.
 */
async function inFlight<T, R>(items: readonly T[], bytes: (t: T) => number, budget: number, start: (t: T) => Promise<R>, done: (t: T, r: R) => void): Promise<void> {
  const pending: { item: T; bytes: number; result: Promise<R> }[] = [];
  let held = 0;
  let next = 0;
  while (next < items.length || pending.length > 0) {
    while (next < items.length && (pending.length < 2 || held + bytes(items[next]!) <= budget)) {
      const item = items[next++]!;
      const result = start(item);
      result.catch(() => {}); // awaited below in order; this keeps a later layer's failure from being reported as unhandled first
      pending.push({ item, bytes: bytes(item), result });
      held += bytes(item);
    }
    const p = pending.shift()!;
    const r = await p.result;
    held -= p.bytes;
    done(p.item, r);
  }
}

function finish(g: Graph, method: QuantMethod, bits: number, blockSize: number, target: TargetName, layers: number, bytesBefore: number, t0: number, notes: string[], excluded: boolean): QuantizeResult {
  const report: QuantizeReport = {
    method, bits, blockSize, target, layersQuantized: layers, bytesBefore, bytesAfter: initializerBytes(g),
    seconds: Math.round((performance.now() - t0) / 10) / 100,
    ...(layers === 0 ? { reason: nothingQuantizedReason(g, excluded) } : {}),
  };
  if (layers === 0) notes.push(`nothing quantized: ${report.reason}`);
  return { graph: g, report, notes };
}

/** Options of {@link sparsifyModel}. */
export interface SparsifyOptions {
  /** Only '2:4' (two non-zeros in every four weights along K). */
  readonly pattern: '2:4';
  readonly exclude?: RegExp | string;
  /** Also quantize the surviving weights (RTN). */
  readonly quantize?: { readonly bits: QuantBits; readonly blockSize?: number; readonly symmetric?: boolean };
  /** Progress: `{ phase: 'sparsify', done, total, unit: 'layers', item: <weight name> }` after each layer (done 0 first). */
  readonly onProgress?: ProgressCallback;
}

/** What `leanformer sparsify --json` prints. */
export interface SparsifyReport {
  readonly pattern: '2:4';
  readonly layersSparsified: number;
  /** Fraction of zero weights in the sparsified layers. */
  readonly sparsity: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly seconds: number;
  readonly note: string;
}

/** Honest statement of what 2:4 buys on ORT. */
export const SPARSITY_NOTE = '2:4 weights are stored dense: ONNX Runtime has no 2:4 sparse kernel, and TensorRT uses 2:4 only with its sparsity build flag, which onnxruntime-node cannot set; speed-ups need TensorRT with that flag (or a runtime that reads the pattern).';

/**
 * 2:4 magnitude pruning of every linear layer with K divisible by 4 (GPUSQ-ViT's pattern),
 * optionally followed by quantization of the survivors.
 *
 * @example
 * ```ts
 * const { graph: sparse, report } = sparsifyModel(graph, { pattern: '2:4' });
 * ```
 */
export function sparsifyModel(graph: Graph, options: SparsifyOptions): { graph: Graph; report: SparsifyReport } {
  const t0 = performance.now();
  if (options.pattern !== '2:4') throw new LeanformerError('INVALID_ARGUMENT', `Unknown sparsity pattern '${String(options.pattern)}'; allowed: 2:4`, { details: { argument: 'pattern' } });
  const exclude = typeof options.exclude === 'string' ? new RegExp(options.exclude) : options.exclude;
  const g = cloneGraph(graph);
  weightsAsInitializers(g);
  const bytesBefore = initializerBytes(g);
  const old: Value[] = [];
  let zeros = 0, total = 0, count = 0;
  if (options.quantize) { ensureQMatMulSchema(); g.opsets.set('leanformer', 1); }
  const layers = findLinearLayers(g, { exclude }).filter((l) => l.K % 4 === 0);
  options.onProgress?.({ phase: 'sparsify', done: 0, total: layers.length, unit: 'layers' });
  for (const l of layers.map(withWeight)) {
    const { pruned } = prune24(l.w, l.K, l.N);
    for (const v of pruned) if (v === 0) zeros++;
    total += pruned.length;
    count++;
    old.push(l.weight);
    if (options.quantize) {
      const bs = options.quantize.blockSize ?? 32;
      emitQMatMul(l, quantizeRtn(pruned, l.K, l.N, { bits: options.quantize.bits, blockSize: bs === 0 ? perChannelBlockSize(l.K) : bs, symmetric: options.quantize.symmetric }), { forceUint8: false, accuracyLevel: options.quantize.bits === 8 ? 4 : 0, sparsity: '2:4' }, []);
    } else {
      const data = l.transposed ? transposeKN(pruned, l.K, l.N) : pruned;
      const dt = l.weight.const!.dtype === DTypes.float16 ? DTypes.float16 : DTypes.float32;
      const nw = g.addInitializer(g.uniqueName(`${l.weight.name}_2of4`), floatTensor(dt, l.weight.const!.shape, data));
      l.node.setInput(1, nw);
    }
    options.onProgress?.({ phase: 'sparsify', done: count, total: layers.length, unit: 'layers', item: l.weight.name });
  }
  dropUnused(g, old);
  g.metadataProps.set('leanformer.sparsity', '2:4');
  return {
    graph: g,
    report: { pattern: '2:4', layersSparsified: count, sparsity: total ? zeros / total : 0, bytesBefore, bytesAfter: initializerBytes(g), seconds: Math.round((performance.now() - t0) / 10) / 100, note: SPARSITY_NOTE },
  };
}
