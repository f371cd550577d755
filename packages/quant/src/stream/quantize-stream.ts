// Streaming weight quantization for models stored with ONNX external data. The model is loaded
// lazily (only the graph and each tensor's file location are in memory); each linear layer's
// weight is read from its file when its turn comes, quantized, packed, and its MatMulNBits bytes
// are appended to the output data file at once; then the weight's memory is dropped. The model
// proto, which then holds only locations, is written last, and both files are renamed into place
// (see AtomicModelOutput). Peak memory is the largest weight (read into one reused buffer), the
// quantizer's working arrays for that weight (codes: one byte per weight), and the graph.
import {
  attr, blockSizeProblem, cloneGraph, defaultAccuracyLevel, DTypes, ensureQMatMulSchema, float32ToBfloat16Bits, float32ToFloat16Bits, floatZeroPointsKept, LeanformerError, parseTarget, Tensor,
  type Attribute, type DType, type Graph, type Node, type Target, type Value,
} from '@leanformer/core';
import { packMatMulNBits, perChannelBlockSize, quantizeRtn, transposeKN, type QuantBits, type QuantizedWeight } from '../blockwise.js';
import { prune24, quantizeHqq } from '../methods.js';
import { SPARSITY_NOTE } from '../quantize-model.js';
import { assertOutputsDistinct, checkOutputPath, yieldForSignals } from '@leanformer/core/node';
import { AtomicModelOutput, ReuseReader, writtenTensor, type NodeFs, type Placement } from './output.js';

/** Decides where an initializer goes when the model is encoded (the shape of @leanformer/onnx's ExternalDataPlacer). */
export type StreamPlacer = (tensor: Tensor, name: string) => Placement | undefined;

/**
 * What the streaming passes need from the ONNX side of leanformer, passed in so this package
 * does not depend on it: `loadModel` from '@leanformer/onnx/node', `encodeModel` and
 * `lowerToOnnx` from '@leanformer/onnx'.
 */
export interface StreamDeps {
  /** Loads a model with lazy external data (tensors read on first access, with a file `location`). */
  loadModel(path: string, options: { externalData: 'lazy' }): Graph | Promise<Graph>;
  /** Encodes a graph; the placer puts initializers in external data (the caller writes the bytes). */
  encodeModel(graph: Graph, options: { externalData: StreamPlacer }): Uint8Array;
  /** Lowers leanformer ops for a target. */
  lowerToOnnx(graph: Graph, target: Target): Graph;
}

/** Methods that quantize one weight without calibration data, so they stream tensor by tensor. */
export type StreamQuantMethod = 'rtn' | 'hqq';
/** Targets whose QMatMul form (MatMulNBits) keeps the packed bytes as written. */
export type StreamTarget = 'ort-cpu' | 'ort-cuda' | 'ort-wasm' | 'ort-webgpu';
const STREAM_TARGETS: readonly StreamTarget[] = ['ort-cpu', 'ort-cuda', 'ort-wasm', 'ort-webgpu'];

/** Options of {@link quantizeModelStreaming}. */
export interface StreamQuantizeOptions {
  readonly method: StreamQuantMethod;
  /** 4 or 8 (default 4). */
  readonly bits?: QuantBits;
  /** Weights per scale along K: 16…256 (power of two), or 0 for per-channel. Default 32. */
  readonly blockSize?: number;
  /** RTN: symmetric codes (no zero points). Default false. */
  readonly symmetric?: boolean;
  /** RTN: per-block clipping search. Default false. */
  readonly clip?: boolean;
  /** Default 'ort-cpu'. */
  readonly target?: StreamTarget;
  /** Layers whose node or weight name matches stay in float (copied through). */
  readonly exclude?: RegExp | string;
  /** Bits of LM heads (linear layers whose output is a graph output). Default 8 when bits is 4, as quantizeModel. */
  readonly edgeBits?: QuantBits;
  /**
   * MatMulNBits accuracy_level (0 float compute, 4 int8 activations on ORT CPU). Default as
   * quantizeModel: 0 for 4-bit layers, 4 for 8-bit layers on ort-cpu/ort-wasm (ONNX Runtime's
   * CPU kernel runs 8-bit weights at level 0 through a slow path).
   */
  readonly accuracyLevel?: 0 | 1 | 2 | 3 | 4;
  /** Data file name beside the output model (default `<output file name>.data`). */
  readonly dataLocation?: string;
  /** Initializers smaller than this many bytes are embedded in the model (default 1024). */
  readonly sizeThreshold?: number;
  /** Progress: called after each layer with its weight name, 1-based index and the layer count. */
  readonly onLayer?: (name: string, index: number, total: number) => void;
}

/** Result of {@link quantizeModelStreaming}. */
export interface StreamQuantizeReport {
  readonly method: StreamQuantMethod;
  readonly bits: number;
  readonly blockSize: number;
  readonly target: StreamTarget;
  readonly layersQuantized: number;
  /** Initializer bytes of the input and of the output. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** The largest single weight read: what bounds peak memory, with the quantizer's arrays. */
  readonly largestTensorBytes: number;
  /** Files written. */
  readonly model: string;
  readonly data: string | null;
  readonly seconds: number;
  /** Facts the user should know (rounded zero points, layers left in float). */
  readonly notes: string[];
}

interface StreamLinear {
  readonly node: Node;
  readonly weight: Value;
  readonly bias: Value | null;
  readonly K: number;
  readonly N: number;
  /** Gemm with transB: the stored weight is [N, K]. */
  readonly transposed: boolean;
}

function isFloatWeight(v: Value | null | undefined): v is Value {
  if (!v || !v.isInitializer || v.isGraphInput) return false;
  const d = v.const!.dtype;
  return (d === DTypes.float32 || d === DTypes.float16 || d === DTypes.bfloat16) && v.const!.shape.length === 2;
}

/** MatMul / Gemm nodes with a constant 2-D float weight, found without reading any weight. */
function findLinears(g: Graph, exclude: RegExp | undefined): StreamLinear[] {
  const out: StreamLinear[] = [];
  const excluded = (...names: string[]) => exclude !== undefined && names.some((n) => n !== '' && exclude.test(n));
  for (const node of g.nodes) {
    if (node.domain !== '' || (node.op !== 'MatMul' && node.op !== 'Gemm')) continue;
    const x = node.inputs[0];
    const w = node.inputs[1];
    if (!x || x.isInitializer || !isFloatWeight(w) || excluded(node.name, w.name)) continue;
    const [r, c] = w.const!.shape as [number, number];
    if (node.op === 'MatMul') { out.push({ node, weight: w, bias: null, K: r, N: c, transposed: false }); continue; }
    const bias = node.inputs[2] ?? null;
    const transB = Number(node.attr('transB', 0)) !== 0;
    if (Number(node.attr('transA', 0)) !== 0 || Number(node.attr('alpha', 1)) !== 1) continue;
    if (bias && (Number(node.attr('beta', 1)) !== 1 || !bias.isInitializer || bias.const!.size !== (transB ? r : c))) continue;
    out.push({ node, weight: w, bias, K: transB ? c : r, N: transB ? r : c, transposed: transB });
  }
  return out;
}

/** Same option checks as quantizeModel, for the streaming subset. */
function checkOptions(o: StreamQuantizeOptions): { bits: QuantBits; edgeBits: QuantBits; blockArg: number; target: StreamTarget } {
  if (o.method !== 'rtn' && o.method !== 'hqq') {
    const why = ['gptq', 'awq', 'smoothquant'].includes(o.method as string) ? ': it needs calibration activations, which quantizeModel collects in memory' : '';
    throw new LeanformerError('INVALID_ARGUMENT', `quantizeModelStreaming supports methods rtn and hqq, got '${String(o.method)}'${why}`, { details: { argument: 'method', allowed: ['rtn', 'hqq'] } });
  }
  const bits = o.bits ?? 4;
  if (bits !== 4 && bits !== 8) throw new LeanformerError('INVALID_ARGUMENT', `bits must be 4 or 8, got ${String(bits)}`, { details: { argument: 'bits' } });
  const edgeBits = o.edgeBits ?? (bits === 4 ? 8 : bits);
  if (edgeBits !== 4 && edgeBits !== 8) throw new LeanformerError('INVALID_ARGUMENT', `edgeBits must be 4 or 8, got ${String(edgeBits)}`, { details: { argument: 'edgeBits' } });
  const blockArg = o.blockSize ?? 32;
  const bsWhy = blockArg === 0 ? null : blockSizeProblem(blockArg);
  if (bsWhy) throw new LeanformerError('INVALID_ARGUMENT', `blockSize ${bsWhy} (or 0 for per-channel)`, { details: { argument: 'blockSize' } });
  if (o.method === 'hqq' && o.symmetric) throw new LeanformerError('INVALID_ARGUMENT', 'hqq optimises zero points; it cannot be symmetric', { details: { argument: 'symmetric' } });
  const target = o.target ?? 'ort-cpu';
  if (!STREAM_TARGETS.includes(target)) {
    throw new LeanformerError('INVALID_ARGUMENT', `quantizeModelStreaming targets ${STREAM_TARGETS.join(', ')} (MatMulNBits), got '${String(target)}'; ort-tensorrt's DequantizeLinear form repacks weights in memory: use quantizeModel`, { details: { argument: 'target' } });
  }
  const acc = o.accuracyLevel ?? 0;
  if (![0, 1, 2, 3, 4].includes(acc)) throw new LeanformerError('INVALID_ARGUMENT', `accuracyLevel must be 0…4, got ${String(acc)}`, { details: { argument: 'accuracyLevel' } });
  return { bits, edgeBits, blockArg, target };
}

/**
 * Quantizes the linear layers of an ONNX model on disk (typically one with external data) to
 * int4/int8 MatMulNBits, one weight at a time, so peak memory follows the largest weight rather
 * than the model. The output is `output` plus `<output>.data`, each written under a temporary
 * name and renamed when complete: an interrupted run leaves no file under either name and never
 * touches the input. Weights that are not quantized (norms, embeddings, excluded layers) are
 * copied from the input file in 16 MB chunks.
 *
 * @example
 * ```ts
 * import { encodeModel, lowerToOnnx } from '@leanformer/onnx';
 * import { loadModel } from '@leanformer/onnx/node';
 * import { quantizeModelStreaming } from '@leanformer/quant';
 *
 * const report = await quantizeModelStreaming('big/model.onnx', 'out/model-int4.onnx',
 *   { method: 'rtn', bits: 4, blockSize: 32 }, { loadModel, encodeModel, lowerToOnnx });
 * console.log(report.layersQuantized, report.bytesAfter / report.bytesBefore);
 * ```
 */
export async function quantizeModelStreaming(input: string, output: string, options: StreamQuantizeOptions, deps: StreamDeps): Promise<StreamQuantizeReport> {
  const { bits, edgeBits, blockArg, target } = checkOptions(options);
  const forceUint8 = !floatZeroPointsKept(parseTarget(target), 4); // ort-webgpu: HQQ zero points rounded to uint8
  let slow8 = false;
  const accFor = (b: number): number => {
    if (options.accuracyLevel !== undefined) return options.accuracyLevel;
    const level = defaultAccuracyLevel(parseTarget(target), b);
    if (level) slow8 = true;
    return level;
  };
  let count = 0;
  const r = await runStreaming(input, output, options, deps, parseTarget(target), async (run, layers) => {
    for (const l of layers) {
      const w = run.readFloat(l);
      const lb: QuantBits = layers.length > 1 && l.node.outputs[0]?.isGraphOutput ? edgeBits : bits; // a lone linear layer is no LM head
      const blockSize = blockArg === 0 ? perChannelBlockSize(l.K) : blockArg;
      const q: QuantizedWeight = options.method === 'rtn'
        ? quantizeRtn(w, l.K, l.N, { bits: lb, blockSize, symmetric: options.symmetric ?? false, clip: options.clip ?? false })
        : quantizeHqq(w, l.K, l.N, { bits: lb, blockSize, integerZeroPoints: forceUint8 || lb === 8 });
      run.emitQMatMul(l, q, { forceUint8, accuracyLevel: accFor(lb) });
      await yieldForSignals(); // SIGINT/SIGTERM stop the run here and remove its temporaries
      count++;
      options.onLayer?.(l.weight.name, count, layers.length); // (count is bumped apart: ?.() skips its arguments when absent)
    }
    if (slow8) run.notes.push('8-bit layers use MatMulNBits accuracy_level 4 (int8 activations), as quantizeModel does on ort-cpu/ort-wasm; pass --accuracy-level 0 (library: accuracyLevel: 0) to keep float compute');
    if (edgeBits !== bits && layers.length > 1 && layers.some((l) => l.node.outputs[0]?.isGraphOutput)) run.notes.push(`LM head quantized to ${edgeBits} bits; pass --edge-bits ${bits} (library: edgeBits: ${bits}) to quantize it like the rest`);
    run.graph.metadataProps.set('leanformer.quant', JSON.stringify({ method: options.method, bits, edgeBits, blockSize: blockArg, symmetric: options.symmetric ?? false, target, streaming: true }));
  });
  return { method: options.method, bits, blockSize: blockArg, target, layersQuantized: count, ...r };
}

/** Options of {@link sparsifyModelStreaming}. */
export interface StreamSparsifyOptions {
  /** Only '2:4' (two non-zeros in every four weights along K). */
  readonly pattern: '2:4';
  readonly exclude?: RegExp | string;
  /** Also quantize the surviving weights (RTN, MatMulNBits for ORT CPU). */
  readonly quantize?: { readonly bits: QuantBits; readonly blockSize?: number; readonly symmetric?: boolean };
  readonly dataLocation?: string;
  readonly sizeThreshold?: number;
  readonly onLayer?: (name: string, index: number, total: number) => void;
}

/** Result of {@link sparsifyModelStreaming}. */
export interface StreamSparsifyReport {
  readonly pattern: '2:4';
  readonly layersSparsified: number;
  /** Fraction of zero weights in the sparsified layers. */
  readonly sparsity: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly largestTensorBytes: number;
  readonly model: string;
  readonly data: string | null;
  readonly seconds: number;
  readonly notes: string[];
}

/**
 * 2:4 magnitude pruning (as `sparsifyModel`) of a model on disk, one linear layer at a time:
 * each weight is read, pruned and written back in its own dtype and layout (or, with `quantize`,
 * as RTN MatMulNBits for ORT CPU), so memory follows the largest weight. Layers with K not
 * divisible by 4 are copied unchanged. Outputs are written atomically (temporary names, renamed).
 *
 * @example
 * ```ts
 * const r = await sparsifyModelStreaming('big/model.onnx', 'out/model-2of4.onnx', { pattern: '2:4' },
 *   { loadModel, encodeModel, lowerToOnnx });
 * r.sparsity; // 0.5
 * ```
 */
export async function sparsifyModelStreaming(input: string, output: string, options: StreamSparsifyOptions, deps: StreamDeps): Promise<StreamSparsifyReport> {
  if (options.pattern !== '2:4') throw new LeanformerError('INVALID_ARGUMENT', `Unknown sparsity pattern '${String(options.pattern)}'; allowed: 2:4`, { details: { argument: 'pattern' } });
  const qz = options.quantize;
  if (qz && qz.bits !== 4 && qz.bits !== 8) throw new LeanformerError('INVALID_ARGUMENT', `quantize.bits must be 4 or 8, got ${String(qz.bits)}`, { details: { argument: 'quantize.bits' } });
  let zeros = 0, total = 0, count = 0;
  const r = await runStreaming(input, output, options, deps, qz ? parseTarget('ort-cpu') : null, async (run, all) => {
    const layers = all.filter((l) => l.K % 4 === 0);
    for (const l of layers) {
      const { pruned } = prune24(run.readFloat(l), l.K, l.N);
      for (const v of pruned) if (v === 0) zeros++;
      total += pruned.length;
      if (qz) {
        const bs = qz.blockSize ?? 32;
        const q = quantizeRtn(pruned, l.K, l.N, { bits: qz.bits, blockSize: bs === 0 ? perChannelBlockSize(l.K) : bs, symmetric: qz.symmetric });
        run.emitQMatMul(l, q, { forceUint8: false, accuracyLevel: qz.bits === 8 ? 4 : 0, sparsity: '2:4' });
      } else {
        const wt = l.weight.const!;
        const data = l.transposed ? transposeKN(pruned, l.K, l.N) : pruned;
        const bytes = wt.dtype === DTypes.float32 ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
          : new Uint8Array(Uint16Array.from(data, (v) => (wt.dtype === DTypes.float16 ? float32ToFloat16Bits(v) : float32ToBfloat16Bits(v))).buffer);
        const nw = run.graph.addInitializer(run.graph.uniqueName(`${l.weight.name}_2of4`), run.written(wt.dtype, wt.shape, bytes));
        l.node.setInput(1, nw);
        run.dropWeight(l);
      }
      await yieldForSignals();
      count++;
      options.onLayer?.(l.weight.name, count, layers.length); // (count is bumped apart: ?.() skips its arguments when absent)
    }
    run.graph.metadataProps.set('leanformer.sparsity', '2:4');
    if (qz) run.notes.push(SPARSITY_NOTE);
  });
  return { pattern: '2:4', layersSparsified: count, sparsity: total ? zeros / total : 0, ...r };
}

/** What a streaming pass body gets: the working graph and helpers that write as they go. */
interface StreamRun {
  readonly graph: Graph;
  readonly notes: string[];
  /** The layer's weight as row-major [K, N] float32 (a view into the reused buffer for float32 MatMul weights). */
  readFloat(l: StreamLinear): Float32Array;
  /** Writes bytes to the output data file now; the tensor reads them back lazily. */
  written(dtype: DType, shape: readonly number[], bytes: Uint8Array): Tensor;
  /** Replaces the layer by QMatMul over the packed weight (written now) and drops the float weight. */
  emitQMatMul(l: StreamLinear, q: QuantizedWeight, o: { forceUint8: boolean; accuracyLevel: number; sparsity?: string }): void;
  /** Releases the layer's float weight and removes it (and an unused bias) from the graph. */
  dropWeight(l: StreamLinear): void;
}

/**
 * The frame of every streaming pass: option and path checks, lazy load, the body (which writes
 * layer by layer), lowering, encoding with every big initializer placed in the data file (copied
 * by location in chunks when the body left it alone), and the atomic commit.
 */
async function runStreaming(
  input: string, output: string, options: { exclude?: RegExp | string; dataLocation?: string; sizeThreshold?: number }, deps: StreamDeps,
  lowerFor: Target | null, body: (run: StreamRun, layers: StreamLinear[]) => Promise<void>,
): Promise<{ bytesBefore: number; bytesAfter: number; largestTensorBytes: number; model: string; data: string | null; seconds: number; notes: string[] }> {
  const t0 = performance.now();
  const fs: NodeFs = await import('node:fs');
  const path = await import('node:path');
  const outModel = path.resolve(output);
  const dataLocation = options.dataLocation ?? `${path.basename(outModel)}.data`;
  if (dataLocation === '' || path.isAbsolute(dataLocation) || dataLocation.split(/[\\/]/).some((s) => s === '..')) {
    throw new LeanformerError('UNSAFE_PATH', `dataLocation '${dataLocation}' must be a relative path inside the output model's folder`, { details: { argument: 'dataLocation' } });
  }
  const threshold = options.sizeThreshold ?? 1024;
  const exclude = typeof options.exclude === 'string' ? new RegExp(options.exclude) : options.exclude;
  checkOutputPath(output);
  assertOutputsDistinct({ inputs: [input], outputs: [output] });

  const graph = await deps.loadModel(input, { externalData: 'lazy' });
  // The output must not replace a file the run reads from (the input stays untouched, always),
  // including external-data files under any name.
  const inputs = [input];
  for (const v of graph.initializers.values()) { const loc = v.const!.lazySource?.location; if (loc) inputs.push(loc.path); }
  assertOutputsDistinct({ inputs, outputs: [outModel, path.join(path.dirname(outModel), dataLocation)], sidecars: false });

  let bytesBefore = 0;
  for (const v of graph.initializers.values()) bytesBefore += v.const!.byteLength;
  ensureQMatMulSchema();
  const g = cloneGraph(graph); // shares the (lazy) tensors; the input graph is not changed
  const layers = findLinears(g, exclude);
  const notes: string[] = [];
  const placed = new Map<Tensor, Placement>();
  const out = new AtomicModelOutput(fs, outModel, dataLocation, path);
  const reader = new ReuseReader(fs);
  try {
    const written = (dtype: DType, shape: readonly number[], bytes: Uint8Array): Tensor => writtenTensor(fs, out, dtype, shape, bytes, placed);
    const floats = (dt: typeof DTypes.float32 | typeof DTypes.float16, values: Float32Array): { dtype: DType; bytes: Uint8Array } => {
      if (dt === DTypes.float32) return { dtype: dt, bytes: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
      const h = Uint16Array.from(values, (v) => float32ToFloat16Bits(v));
      return { dtype: dt, bytes: new Uint8Array(h.buffer) };
    };
    const dropWeight = (l: StreamLinear): void => {
      l.weight.const!.release();
      for (const v of [l.weight, l.bias]) if (v && v.isInitializer && v.uses.length === 0 && !v.isGraphOutput) g.removeInitializer(v);
    };
    const run: StreamRun = {
      graph: g, notes, written, dropWeight,
      readFloat(l) {
        const wt = l.weight.const!;
        const raw = reader.tensor(wt, l.weight.name);
        const w = wt.dtype === DTypes.float32
          ? new Float32Array(raw.buffer, raw.byteOffset, l.K * l.N)
          : Tensor.fromBytes(wt.dtype, wt.shape, raw.slice()).toFloat32();
        return l.transposed ? transposeKN(w, l.N, l.K) : w;
      },
      emitQMatMul(l, q, o) {
        g.opsets.set('leanformer', Math.max(1, g.opsets.get('leanformer') ?? 1));
        const force = o.forceUint8 || q.bits === 8;
        if (force && q.zeroPoints?.some((z) => !Number.isInteger(z))) notes.push(`${l.weight.name}: fractional zero points rounded to uint8`);
        const packed = packMatMulNBits(q, { forceUint8ZeroPoints: force });
        const dt = l.node.input(0).dtype === DTypes.float16 ? DTypes.float16 : DTypes.float32;
        const base = l.weight.name;
        const B = g.addInitializer(g.uniqueName(`${base}_Q${q.bits}`), written(DTypes.uint8, packed.bShape, packed.B));
        const sc = floats(dt, packed.scales);
        const S = g.addInitializer(g.uniqueName(`${base}_scales`), written(sc.dtype, [packed.scales.length], sc.bytes));
        let Z: Value | null = null;
        if (packed.zeroPoints instanceof Uint8Array) Z = g.addInitializer(g.uniqueName(`${base}_zp`), written(DTypes.uint8, [packed.zeroPoints.length], packed.zeroPoints));
        else if (packed.zeroPoints) { const z = floats(dt, packed.zeroPoints); Z = g.addInitializer(g.uniqueName(`${base}_zp`), written(z.dtype, [packed.zeroPoints.length], z.bytes)); }
        let bias: Value | null = null;
        if (l.bias) {
          const bt = l.bias.const!;
          bias = bt.shape.length === 1 && bt.dtype === dt ? l.bias : g.addInitializer(g.uniqueName(`${l.bias.name}_1d`), new Tensor(dt, [l.N], dt === DTypes.float32 ? bt.toFloat32() : Uint16Array.from(bt.toFloat32(), (v) => float32ToFloat16Bits(v))));
        }
        replaceWithQMatMul(l.node, [l.node.input(0), B, S, Z, bias], {
          K: attr.int(l.K), N: attr.int(l.N), bits: attr.int(q.bits), block_size: attr.int(q.blockSize), accuracy_level: attr.int(o.accuracyLevel),
          ...(o.sparsity ? { sparsity: attr.string(o.sparsity) } : {}),
        });
        dropWeight(l);
      },
    };
    await body(run, layers);

    const lowered = lowerFor ? deps.lowerToOnnx(g, lowerFor) : g;
    let bytesAfter = 0;
    for (const v of lowered.initializers.values()) bytesAfter += v.const!.byteLength;
    const chunk = new Uint8Array(16 << 20);
    const modelBytes = deps.encodeModel(lowered, {
      externalData: (t: Tensor) => {
        const p = placed.get(t);
        if (p) return p;
        if (t.dtype.storage === 'string' || t.byteLength < threshold) return undefined;
        const loc = t.isLoaded ? undefined : t.lazySource?.location;
        return loc ? out.appendFromFile(loc.path, loc.offset, loc.length, chunk) : out.append(t.bytes());
      },
    });
    out.commit(modelBytes);
    return {
      bytesBefore, bytesAfter, largestTensorBytes: reader.largest, model: outModel, data: out.dataBytes > 0 ? out.dataPath : null,
      seconds: Math.round((performance.now() - t0) / 10) / 100, notes,
    };
  } catch (e) {
    out.abort();
    if (e instanceof LeanformerError) throw e;
    throw new LeanformerError('IO_ERROR', `Streaming pass over '${input}' to '${output}' failed: ${(e as Error).message}`, { cause: e });
  }
}

/** Replaces `node` by a leanformer.QMatMul that takes over its output (name and type kept). */
function replaceWithQMatMul(node: Node, inputs: (Value | null)[], attrs: Record<string, Attribute>): void {
  const g = node.graph;
  const old = node.output(0);
  const nn = g.insertBefore(node, { op: 'QMatMul', domain: 'leanformer', name: node.name, inputs, attrs, outputs: [g.uniqueName(`${old.name}_q`)] });
  const nv = nn.output(0);
  nv.type = old.type;
  old.replaceAllUsesWith(nv);
  g.removeNode(node);
  nv.name = old.name;
}
