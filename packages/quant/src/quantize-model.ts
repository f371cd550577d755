// Graph-level quantization: finds the linear layers (MatMul, Gemm with a constant weight) and
// embeddings (Gather from a constant table), quantizes their weights with the chosen method
// and rewrites them into leanformer.QMatMul / leanformer.QGather. Lowering to a target's ONNX
// form (MatMulNBits, DequantizeLinear + MatMul, …) happens later, in @leanformer/onnx.
import {
  attr, cloneGraph, DTypes, ensureQGatherSchema, ensureQMatMulSchema, float32ToBfloat16Bits,
  float32ToFloat16Bits, LeanformerError, parseTarget, Tensor, checkQuantForTarget, defaultAccuracyLevel, floatZeroPointsKept, symmetricOnly, type Graph, type Node, type TargetName, type Value,
} from '@leanformer/core';
import {
  packMatMulNBits, perChannelBlockSize, quantizeRtn, quantizeRtnPacked, transposeKN, type MatMulNBitsTensors, type QuantBits, type QuantizedWeight,
} from './blockwise.js';
import type { QuantWorkerPool, RtnJobResult } from './workers/types.js';

export type { QuantWorkerPool, RtnJob, RtnJobResult } from './workers/types.js';
import { collectActivationStats, type ActivationStats, type CalibrationData } from './calibration.js';
import {
  prune24, quantizeAwq, quantizeGptq, quantizeHqq, quantizeQServe, quantizeSmoothQuantPlus,
  type LinearWeight, type ScaledQuantizedWeight,
} from './methods.js';

/** Quantization methods. The CLI exposes the first six; fp16/bf16 cast weights without quantizing. */
export type QuantMethod = 'rtn' | 'hqq' | 'gptq' | 'awq' | 'smoothquant' | 'qserve' | 'fp16' | 'bf16';
/** The weight-quantization methods quantizeModel accepts. */
export const QUANT_METHODS: readonly QuantMethod[] = ['rtn', 'hqq', 'gptq', 'awq', 'smoothquant', 'qserve', 'fp16', 'bf16'];
const CALIBRATED: ReadonlySet<QuantMethod> = new Set(['gptq', 'awq', 'smoothquant']);

/** Options of {@link quantizeModel}. */
export interface QuantizeOptions {
  readonly method: QuantMethod;
  /** 4 or 8 (default 4). QServe is 4-bit weights by definition. */
  readonly bits?: QuantBits;
  /**
   * Weights per scale along K: a power of two 16…256, or 0 for per-channel (one block per
   * output). Default 32 (128 for QServe, as in the paper).
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
  /** Calibration data, required by gptq, awq and smoothquant. */
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
  /** Progress callback (layer name, index, total). */
  readonly onLayer?: (name: string, index: number, total: number) => void;
  /**
   * Runs RTN off this thread (method 'rtn': linear layers and embeddings), several layers in
   * flight and large ones split over all threads; the output is byte-identical. Node:
   * `createQuantWorkerPool()` from '@leanformer/quant/node'. Default: quantize in this thread.
   */
  readonly pool?: QuantWorkerPool;
}

/** What `leanformer quantize --json` prints (exactly these keys). */
export interface QuantizeReport {
  readonly method: QuantMethod;
  readonly bits: number;
  readonly blockSize: number;
  readonly target: TargetName;
  readonly layersQuantized: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly seconds: number;
}

/** Result of {@link quantizeModel}. */
export interface QuantizeResult {
  readonly graph: Graph;
  readonly report: QuantizeReport;
  /** Facts the user should know (fallbacks, folded scales, rounded zero points). */
  readonly notes: string[];
}

/** A linear layer found in the graph. */
interface Linear {
  readonly node: Node;
  readonly kind: 'matmul' | 'gemm';
  readonly input: Value;
  readonly weight: Value;
  readonly bias: Value | null;
  readonly K: number;
  readonly N: number;
  /** Row-major [K, N] float32 copy of the weight (made on first read). */
  readonly w: Float32Array;
}

/** `l` with `w` computed on first read: a pooled RTN reads float32 weights in place and never needs the copy. */
function lazyWeight<T extends object>(l: T, make: () => Float32Array): T & { readonly w: Float32Array } {
  let w: Float32Array | undefined;
  return Object.defineProperty(l, 'w', { get: () => (w ??= make()), enumerable: true }) as T & { readonly w: Float32Array };
}

/** The [K, N] float32 values of a layer's weight without a copy when its storage already is that, else `l.w`. */
function weightView(l: Linear): Float32Array {
  const t = l.weight.const!;
  const transB = l.kind === 'gemm' && Number(l.node.attr('transB', 0)) !== 0;
  return t.dtype === DTypes.float32 && !transB && t.data instanceof Float32Array ? t.data : l.w;
}

interface Embedding { readonly node: Node; readonly table: Value; readonly V: number; readonly D: number }

/** Total bytes of a graph's initializers. */
export function initializerBytes(graph: Graph): number {
  let n = 0;
  for (const v of graph.initializers.values()) n += v.const!.byteLength;
  return n;
}

function matches(re: RegExp | undefined, ...names: string[]): boolean {
  return re !== undefined && names.some((n) => n !== '' && re.test(n));
}

function isFloatWeight(v: Value | null | undefined): v is Value {
  return !!v && v.isInitializer && !v.isGraphInput && (v.const!.dtype === DTypes.float32 || v.const!.dtype === DTypes.float16 || v.const!.dtype === DTypes.bfloat16);
}

/** Finds MatMul/Gemm nodes with a constant 2-D float weight as B. */
export function findLinearLayers(graph: Graph, exclude?: RegExp): Linear[] {
  const out: Linear[] = [];
  for (const node of graph.nodes) {
    if (node.domain !== '') continue;
    if (node.op === 'MatMul') {
      const wv = node.inputs[1];
      const x = node.inputs[0];
      if (!x || x.isInitializer || !isFloatWeight(wv) || wv.const!.shape.length !== 2) continue;
      if (matches(exclude, node.name, wv.name)) continue;
      const [K, N] = wv.const!.shape as [number, number];
      out.push(lazyWeight({ node, kind: 'matmul' as const, input: x, weight: wv, bias: null, K, N }, () => wv.const!.toFloat32()));
    } else if (node.op === 'Gemm') {
      const x = node.inputs[0];
      const wv = node.inputs[1];
      const c = node.inputs[2] ?? null;
      if (!x || x.isInitializer || !isFloatWeight(wv) || wv.const!.shape.length !== 2) continue;
      if (Number(node.attr('transA', 0)) !== 0 || Number(node.attr('alpha', 1)) !== 1) continue;
      if (c && (Number(node.attr('beta', 1)) !== 1 || !c.isInitializer || c.const!.size !== wv.const!.shape[Number(node.attr('transB', 0)) ? 0 : 1])) continue;
      if (matches(exclude, node.name, wv.name)) continue;
      const transB = Number(node.attr('transB', 0)) !== 0;
      const [r, cdim] = wv.const!.shape as [number, number];
      const K = transB ? cdim : r;
      const N = transB ? r : cdim;
      out.push(lazyWeight({ node, kind: 'gemm' as const, input: x, weight: wv, bias: c, K, N }, () => {
        const raw = wv.const!.toFloat32();
        return transB ? transposeKN(raw, N, K) : raw;
      }));
    }
  }
  return out;
}

function findEmbeddings(graph: Graph, blockSize: number, exclude?: RegExp): Embedding[] {
  const out: Embedding[] = [];
  for (const node of graph.nodes) {
    if (node.domain !== '' || node.op !== 'Gather' || Number(node.attr('axis', 0)) !== 0) continue;
    const t = node.inputs[0];
    if (!isFloatWeight(t) || t.const!.shape.length !== 2) continue;
    const [V, D] = t.const!.shape as [number, number];
    if (D % blockSize !== 0 || matches(exclude, node.name, t.name)) continue;
    out.push({ node, table: t, V, D });
  }
  return out;
}

/** A float tensor of `dt` (float32 or float16) from float values. */
function floatTensor(dt: typeof DTypes.float32 | typeof DTypes.float16, shape: readonly number[], values: ArrayLike<number>): Tensor {
  if (dt === DTypes.float32) return new Tensor(DTypes.float32, shape, Float32Array.from(values));
  return new Tensor(DTypes.float16, shape, Uint16Array.from(values as ArrayLike<number>, (v) => float32ToFloat16Bits(v)));
}

/** Replaces `node` by `init` (a new node whose output 0 takes over node's output 0, keeping its name and type). */
function replaceNode(node: Node, init: Parameters<Graph['addNode']>[0]): Node {
  const g = node.graph;
  const old = node.output(0);
  const nn = g.insertBefore(node, { ...init, outputs: [g.uniqueName(`${old.name}_q`)] });
  const nv = nn.output(0);
  nv.type = old.type;
  old.replaceAllUsesWith(nv);
  g.removeNode(node);
  nv.name = old.name;
  return nn;
}

/** Removes initializers that nothing uses any more. */
function dropUnused(graph: Graph, candidates: Iterable<Value>): void {
  for (const v of new Set(candidates)) if (v.isInitializer && v.uses.length === 0 && !v.isGraphOutput && !v.isGraphInput) graph.removeInitializer(v);
}

/** An RTN weight a worker pool already packed (RTN zero points are integers). */
interface PackedRtn { readonly bits: QuantBits; readonly blockSize: number; readonly packed: MatMulNBitsTensors }

/** Rewrites one linear layer to QMatMul with the quantized weight. */
function emitQMatMul(l: Linear, q: QuantizedWeight | PackedRtn, opts: { forceUint8: boolean; accuracyLevel: number; sparsity?: string; input?: Value }, notes: string[]): void {
  const g = l.node.graph;
  const dt = l.node.input(0).dtype === DTypes.float16 ? DTypes.float16 : DTypes.float32;
  const hadFloatZp = !('packed' in q) && q.zeroPoints !== null && q.zeroPoints.some((z) => !Number.isInteger(z));
  // ORT CPU runs 8-bit MatMulNBits only with uint8 zero points (float ones need its unpacked 2/4-bit path).
  const force = opts.forceUint8 || q.bits === 8;
  const t = 'packed' in q ? q.packed : packMatMulNBits(q, { forceUint8ZeroPoints: force });
  if (hadFloatZp && force) notes.push(`${l.weight.name}: fractional zero points rounded to uint8 (${q.bits === 8 ? '8-bit MatMulNBits takes uint8 zero points' : 'the target takes uint8 zero points'})`);
  const base = l.weight.name;
  const B = g.addInitializer(g.uniqueName(`${base}_Q${q.bits}`), new Tensor(DTypes.uint8, t.bShape, t.B));
  const S = g.addInitializer(g.uniqueName(`${base}_scales`), floatTensor(dt, [t.scales.length], t.scales));
  let Z: Value | null = null;
  if (t.zeroPoints instanceof Uint8Array) Z = g.addInitializer(g.uniqueName(`${base}_zp`), new Tensor(DTypes.uint8, [t.zeroPoints.length], t.zeroPoints));
  else if (t.zeroPoints) Z = g.addInitializer(g.uniqueName(`${base}_zp`), floatTensor(dt, [t.zeroPoints.length], t.zeroPoints));
  let bias: Value | null = null;
  if (l.bias) {
    const bt = l.bias.const!;
    bias = bt.shape.length === 1 && bt.dtype === dt ? l.bias : g.addInitializer(g.uniqueName(`${l.bias.name}_1d`), floatTensor(dt, [l.N], bt.toFloat32()));
  }
  replaceNode(l.node, {
    op: 'QMatMul', domain: 'leanformer', name: l.node.name,
    // The node's current input: an earlier rewrite may have replaced the value `l.input` held.
    inputs: [opts.input ?? l.node.input(0), B, S, Z, bias],
    attrs: {
      K: attr.int(l.K), N: attr.int(l.N), bits: attr.int(q.bits), block_size: attr.int(q.blockSize),
      accuracy_level: attr.int(opts.accuracyLevel), ...(opts.sparsity ? { sparsity: attr.string(opts.sparsity) } : {}),
    },
  });
}

/** Writes `1/s` into the producer of X when it is a per-channel scale nobody else reads; else inserts a Mul. */
function applyInputScale(group: readonly Linear[], inv: Float32Array, notes: string[]): Value {
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

function groupByInput(layers: readonly Linear[]): Linear[][] {
  const m = new Map<Value, Linear[]>();
  for (const l of layers) { const a = m.get(l.input) ?? []; a.push(l); m.set(l.input, a); }
  return [...m.values()];
}

/**
 * Quantizes a model's linear layers (and embeddings) with one method and rewrites them into
 * leanformer.QMatMul / leanformer.QGather. The input graph is not changed.
 *
 * @example
 * ```ts
 * const { graph: q, report } = await quantizeModel(graph, { method: 'rtn', bits: 4, blockSize: 32 });
 * report.bytesAfter / report.bytesBefore; // ≈ 0.16 for weight-dominated models
 * ```
 */
export async function quantizeModel(graph: Graph, options: QuantizeOptions): Promise<QuantizeResult> {
  const t0 = performance.now();
  const method = options.method;
  if (!QUANT_METHODS.includes(method)) throw new LeanformerError('INVALID_ARGUMENT', `Unknown quantization method '${method}'; allowed: ${QUANT_METHODS.join(', ')}`, { details: { argument: 'method' } });
  const targetName: TargetName = options.target ?? 'ort-cpu';
  const target = parseTarget(targetName);
  const bits: QuantBits = options.bits ?? 4;
  if (bits !== 4 && bits !== 8) throw new LeanformerError('INVALID_ARGUMENT', `bits must be 4 or 8, got ${bits}`, { details: { argument: 'bits' } });
  if (method === 'qserve' && bits !== 4) throw new LeanformerError('INVALID_ARGUMENT', 'qserve quantizes weights to 4 bits (W4A8); use --bits 4');
  const blockArg = options.blockSize ?? (method === 'qserve' ? 128 : 32);
  const symmetric = options.symmetric ?? symmetricOnly(target);
  // The block-size rule and the target's EP facts (core's ep-facts); hqq and qserve always carry zero points.
  const epWhy = checkQuantForTarget(target, { bits, blockSize: blockArg, symmetric: symmetric && method !== 'hqq' && method !== 'qserve', zeroPoints: method === 'hqq' ? 'float' : 'integer' });
  if (epWhy) throw new LeanformerError('INVALID_ARGUMENT', epWhy, { details: { argument: epWhy.startsWith('blockSize') ? 'blockSize' : 'symmetric' } });
  if (method === 'hqq' && symmetric) throw new LeanformerError('INVALID_ARGUMENT', 'hqq optimises zero points; it cannot be symmetric');
  if (method === 'qserve' && symmetric) throw new LeanformerError('INVALID_ARGUMENT', 'qserve uses asymmetric uint4 groups; it cannot be symmetric');
  if (CALIBRATED.has(method) && !options.calibration) throw new LeanformerError('INVALID_ARGUMENT', `method '${method}' needs calibration data (library: options.calibration = { backend, feeds }; CLI: --calib <dir> or --calib-random N)`, { details: { argument: 'calibration' } });
  const exclude = typeof options.exclude === 'string' ? new RegExp(options.exclude) : options.exclude;
  const forceUint8 = !floatZeroPointsKept(target, 4); // ort-webgpu: HQQ zero points rounded to uint8
  if (options.accuracyLevel !== undefined && ![0, 1, 2, 3, 4].includes(options.accuracyLevel)) throw new LeanformerError('INVALID_ARGUMENT', `accuracyLevel must be 0…4, got ${options.accuracyLevel}`);
  let slow8 = false;
  /** accuracy_level for a layer of `b` bits (see QuantizeOptions.accuracyLevel). */
  const accFor = (b: number): number => {
    if (options.accuracyLevel !== undefined) return options.accuracyLevel;
    const level = defaultAccuracyLevel(target, b);
    if (level) slow8 = true;
    return level;
  };
  const notes: string[] = [];
  if (forceUint8 && method === 'hqq') notes.push('ort-webgpu takes uint8 zero points only: HQQ optimises integer zero points');

  ensureQMatMulSchema();
  ensureQGatherSchema();
  const g = cloneGraph(graph);
  g.opsets.set('leanformer', 1);
  const bytesBefore = initializerBytes(graph);
  const layers = findLinearLayers(g, exclude);
  const blockFor = (K: number): number => (blockArg === 0 ? perChannelBlockSize(K) : blockArg);
  const edgeBits: QuantBits = options.edgeBits ?? (bits === 4 ? 8 : bits);
  if (edgeBits !== 4 && edgeBits !== 8) throw new LeanformerError('INVALID_ARGUMENT', `edgeBits must be 4 or 8, got ${edgeBits}`);
  // The LM head is the linear layer producing a graph output, but a model's only linear layer is no head.
  const isEdge = (l: Linear): boolean => layers.length > 1 && l.node.outputs[0]?.isGraphOutput === true;
  const qopts = (K: number, lb: QuantBits = bits) => ({ bits: lb, blockSize: blockFor(K), symmetric, clip: options.clip ?? false });
  const bitsOf = (l: Linear): QuantBits => (isEdge(l) ? edgeBits : bits);
  const oldWeights: Value[] = [];
  let done = 0;
  const total = layers.length;
  const tick = (name: string): void => { options.onLayer?.(name, ++done, total); };

  if (method === 'fp16' || method === 'bf16') {
    for (const l of layers) {
      const f = l.w;
      const src = l.kind === 'gemm' && Number(l.node.attr('transB', 0)) ? l.weight.const!.toFloat32() : f;
      const conv = method === 'fp16' ? float32ToFloat16Bits : float32ToBfloat16Bits;
      const t = new Tensor(method === 'fp16' ? DTypes.float16 : DTypes.bfloat16, l.weight.const!.shape, Uint16Array.from(src, (v) => conv(v)));
      const nw = g.addInitializer(g.uniqueName(`${l.weight.name}_${method}`), t);
      const dt = l.input.dtype ?? DTypes.float32;
      const cast = g.insertBefore(l.node, { op: 'Cast', inputs: [nw], outputs: [g.uniqueName(`${l.weight.name}_cast`)], attrs: { to: attr.int(dt.onnx) } });
      cast.output(0).type = { kind: 'tensor', dtype: dt, shape: l.weight.const!.shape };
      oldWeights.push(l.weight);
      l.node.setInput(1, cast.output(0));
      tick(l.weight.name);
    }
    dropUnused(g, oldWeights);
    g.metadataProps.set('leanformer.quant', JSON.stringify({ method, target: targetName }));
    return finish(g, method, 16, 0, targetName, layers.length, bytesBefore, t0, notes);
  }

  // Calibration statistics for the methods that need them.
  let stats = new Map<string, ActivationStats>();
  if (CALIBRATED.has(method)) {
    const names = [...new Set(layers.map((l) => l.input.name))];
    stats = await collectActivationStats(graph, names, options.calibration!, { hessianFor: method === 'gptq' ? new Set(names) : undefined });
  }
  const rowsOf = (l: Linear): Float32Array => {
    const s = stats.get(l.input.name);
    if (!s || s.count === 0) throw new LeanformerError('EXECUTION_FAILED', `calibration saw no rows for '${l.input.name}'`);
    return s.rows;
  };

  let quantized = 0;
  if (method === 'awq' || method === 'smoothquant') {
    const groups = groupByInput(layers);
    const groupBits = (grp: readonly Linear[]): QuantBits => (grp.some(isEdge) ? edgeBits : bits);
    let alphaFixed: number | undefined;
    if (method === 'smoothquant') {
      // SmoothQuant+ searches one α for the whole model: the summed calibration output error of all layers.
      let best = Infinity;
      for (let i = 0; i <= 10; i++) {
        const alpha = i / 10;
        let err = 0;
        for (const grp of groups) for (const r of quantizeSmoothQuantPlus(grp.map(asLinear), rowsOf(grp[0]!), { ...qopts(grp[0]!.K, groupBits(grp)), alpha })) err += r.error;
        if (err < best) { best = err; alphaFixed = alpha; }
      }
      notes.push(`smoothquant: model-wide α = ${alphaFixed}`);
    }
    for (const grp of groups) {
      const x = rowsOf(grp[0]!);
      const res: ScaledQuantizedWeight[] = method === 'awq'
        ? quantizeAwq(grp.map(asLinear), x, qopts(grp[0]!.K, groupBits(grp)))
        : quantizeSmoothQuantPlus(grp.map(asLinear), x, { ...qopts(grp[0]!.K, groupBits(grp)), alpha: alphaFixed! });
      const input = applyInputScale(grp, res[0]!.inputScale, notes);
      grp.forEach((l, i) => {
        emitQMatMul(l, res[i]!.weight, { forceUint8, accuracyLevel: accFor(res[i]!.weight.bits), input }, notes);
        oldWeights.push(l.weight);
        quantized++;
        tick(l.weight.name);
      });
    }
  } else if (method === 'rtn') {
    // Straight to MatMulNBits bytes from the weight's own storage, on the pool's workers or on this thread.
    const emit = (l: Linear, packed: MatMulNBitsTensors): void => {
      const o = qopts(l.K, bitsOf(l));
      emitQMatMul(l, { bits: o.bits, blockSize: o.blockSize, packed }, { forceUint8, accuracyLevel: accFor(o.bits) }, notes);
      oldWeights.push(l.weight);
      quantized++;
      tick(l.weight.name);
    };
    const pool = options.pool;
    if (pool) {
      await inFlight(layers, (l) => l.K * l.N * 4, (l) => {
        const o = qopts(l.K, bitsOf(l));
        return pool.quantizeRtn({ w: weightView(l), K: l.K, N: l.N, options: o, output: 'packed', forceUint8ZeroPoints: forceUint8 || o.bits === 8 });
      }, (l, r) => emit(l, r.packed!));
    } else {
      for (const l of layers) emit(l, quantizeRtnPacked(weightView(l), l.K, l.N, qopts(l.K, bitsOf(l))));
    }
  } else {
    for (const l of layers) {
      let q: QuantizedWeight;
      let accuracyLevel = -1;
      switch (method) {
        case 'hqq': q = quantizeHqq(l.w, l.K, l.N, { ...qopts(l.K, bitsOf(l)), integerZeroPoints: forceUint8 || bitsOf(l) === 8 }); break;
        case 'gptq': {
          const s = stats.get(l.input.name)!;
          q = quantizeGptq(l.w, l.K, l.N, s.hessian!.hessian(), { ...qopts(l.K, bitsOf(l)), actOrder: options.actOrder ?? true, damp: options.damp ?? 0.01 });
          break;
        }
        case 'qserve':
          if (bitsOf(l) === 8) { q = quantizeRtn(l.w, l.K, l.N, qopts(l.K, 8)); break; }
          q = quantizeQServe(l.w, l.K, l.N, { blockSize: blockFor(l.K) }).weight;
          accuracyLevel = 4; // W4A8: int8 activations (MatMulNBits accuracy_level 4 on CPU)
          break;
        default: throw new LeanformerError('INVALID_ARGUMENT', `method ${method} not handled`);
      }
      emitQMatMul(l, q, { forceUint8, accuracyLevel: accuracyLevel >= 0 ? accuracyLevel : accFor(q.bits) }, notes);
      oldWeights.push(l.weight);
      quantized++;
      tick(l.weight.name);
    }
  }

  // Embeddings: RTN (HQQ when that is the method); activation-aware methods have no activations here.
  let edgeQuantized = false;
  if (options.quantizeEmbeddings ?? true) {
    const embBlock = blockArg === 0 ? 0 : blockArg;
    for (const e of findEmbeddings(g, embBlock || 16, exclude)) {
      const bs = embBlock || perChannelBlockSize(e.D);
      if (e.D % bs !== 0) continue;
      const wt = transposeKN(e.table.const!.toFloat32(), e.V, e.D); // [D, V]: blocks along D per row
      const ro = { bits: edgeBits, blockSize: bs, symmetric, clip: options.clip ?? false };
      const t = method === 'rtn' && options.pool
        ? (await options.pool.quantizeRtn({ w: wt, K: e.D, N: e.V, options: ro, output: 'packed', forceUint8ZeroPoints: true })).packed!
        : method === 'hqq' ? packMatMulNBits(quantizeHqq(wt, e.D, e.V, { bits: edgeBits, blockSize: bs, integerZeroPoints: true }), { forceUint8ZeroPoints: true }) : quantizeRtnPacked(wt, e.D, e.V, ro);
      const dt = e.node.output(0).dtype === DTypes.float16 ? DTypes.float16 : DTypes.float32;
      const blocks = e.D / bs;
      const data = g.addInitializer(g.uniqueName(`${e.table.name}_Q${edgeBits}`), new Tensor(DTypes.uint8, [e.V, (e.D * edgeBits) / 8], t.B));
      const sc = g.addInitializer(g.uniqueName(`${e.table.name}_scales`), floatTensor(dt, [e.V, blocks], t.scales));
      const zp = t.zeroPoints ? g.addInitializer(g.uniqueName(`${e.table.name}_zp`), new Tensor(DTypes.uint8, [e.V, t.zeroPoints.length / e.V], t.zeroPoints as Uint8Array)) : null;
      replaceNode(e.node, { op: 'QGather', domain: 'leanformer', name: e.node.name, inputs: [data, e.node.input(1), sc, zp], attrs: { bits: attr.int(edgeBits), block_size: attr.int(bs) } });
      oldWeights.push(e.table);
      quantized++;
      edgeQuantized = true;
    }
  }
  dropUnused(g, oldWeights);
  if (slow8) notes.push('8-bit layers use MatMulNBits accuracy_level 4 (int8 activations): ONNX Runtime 1.30 CPU runs 8-bit weights at level 0 far slower than fp32; pass --accuracy-level 0 (library: accuracyLevel: 0) to keep float compute');
  if (edgeBits !== bits && (edgeQuantized || layers.some(isEdge))) notes.push(`embeddings and LM head quantized to ${edgeBits} bits; pass --edge-bits ${bits} (library: edgeBits: ${bits}) to quantize them like the rest`);
  g.metadataProps.set('leanformer.quant', JSON.stringify({ method, bits, edgeBits, blockSize: blockArg, symmetric, target: targetName }));
  return finish(g, method, bits, blockArg, targetName, quantized, bytesBefore, t0, notes);
}

function asLinear(l: Linear): LinearWeight { return { w: l.w, K: l.K, N: l.N }; }

/**
 * Input bytes a pool may hold in flight beyond two layers: two are enough for the next layer's
 * staging copy to overlap the current one's work; small layers go several at a time.
 */
const IN_FLIGHT_BYTES = 128 * 2 ** 20;

/**
 * Starts `start(item)` for items in order while at most two run or their summed `bytes` stay
 * within IN_FLIGHT_BYTES, and hands each result to `done` in the items' order.
 */
async function inFlight<T>(items: readonly T[], bytes: (t: T) => number, start: (t: T) => Promise<RtnJobResult>, done: (t: T, r: RtnJobResult) => void): Promise<void> {
  const pending: { item: T; bytes: number; result: Promise<RtnJobResult> }[] = [];
  let held = 0;
  let next = 0;
  while (next < items.length || pending.length > 0) {
    while (next < items.length && (pending.length < 2 || held + bytes(items[next]!) <= IN_FLIGHT_BYTES)) {
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

function finish(g: Graph, method: QuantMethod, bits: number, blockSize: number, target: TargetName, layers: number, bytesBefore: number, t0: number, notes: string[]): QuantizeResult {
  const report: QuantizeReport = {
    method, bits, blockSize, target, layersQuantized: layers, bytesBefore, bytesAfter: initializerBytes(g),
    seconds: Math.round((performance.now() - t0) / 10) / 100,
  };
  return { graph: g, report, notes };
}

/** Options of {@link sparsifyModel}. */
export interface SparsifyOptions {
  /** Only '2:4' (two non-zeros in every four weights along K). */
  readonly pattern: '2:4';
  readonly exclude?: RegExp | string;
  /** Also quantize the surviving weights (RTN). */
  readonly quantize?: { readonly bits: QuantBits; readonly blockSize?: number; readonly symmetric?: boolean };
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
  const bytesBefore = initializerBytes(graph);
  const old: Value[] = [];
  let zeros = 0, total = 0, count = 0;
  if (options.quantize) { ensureQMatMulSchema(); g.opsets.set('leanformer', 1); }
  for (const l of findLinearLayers(g, exclude)) {
    if (l.K % 4 !== 0) continue;
    const { pruned } = prune24(l.w, l.K, l.N);
    for (const v of pruned) if (v === 0) zeros++;
    total += pruned.length;
    count++;
    old.push(l.weight);
    if (options.quantize) {
      const bs = options.quantize.blockSize ?? 32;
      emitQMatMul(l, quantizeRtn(pruned, l.K, l.N, { bits: options.quantize.bits, blockSize: bs === 0 ? perChannelBlockSize(l.K) : bs, symmetric: options.quantize.symmetric }), { forceUint8: false, accuracyLevel: options.quantize.bits === 8 ? 4 : 0, sparsity: '2:4' }, []);
    } else {
      const transB = l.kind === 'gemm' && Number(l.node.attr('transB', 0)) !== 0;
      const data = transB ? transposeKN(pruned, l.K, l.N) : pruned;
      const dt = l.weight.const!.dtype === DTypes.float16 ? DTypes.float16 : DTypes.float32;
      const nw = g.addInitializer(g.uniqueName(`${l.weight.name}_2of4`), floatTensor(dt, l.weight.const!.shape, data));
      l.node.setInput(1, nw);
    }
  }
  dropUnused(g, old);
  g.metadataProps.set('leanformer.sparsity', '2:4');
  return {
    graph: g,
    report: { pattern: '2:4', layersSparsified: count, sparsity: total ? zeros / total : 0, bytesBefore, bytesAfter: initializerBytes(g), seconds: Math.round((performance.now() - t0) / 10) / 100, note: SPARSITY_NOTE },
  };
}
