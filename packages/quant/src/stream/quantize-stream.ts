// Streaming weight quantization for models stored with ONNX external data. The model is loaded
// lazily (only the graph and each tensor's file location are in memory); each linear layer's
// weight is read from its file when its turn comes, quantized, packed, and its MatMulNBits bytes
// are appended to the output data file at once; then the weight's memory is dropped. The model
// proto, which then holds only locations, is written last, and both files are renamed into place
// (see AtomicModelOutput). Peak memory is the largest weight (read into one reused buffer), the
// quantizer's working arrays for that weight (codes: one byte per weight), and the graph.
import {
  cloneGraph, DTypes, ensureQGatherSchema, ensureQMatMulSchema, findEmbeddings, findLinearLayers, float32ToBfloat16Bits, float32ToFloat16Bits,
  LeanformerError, parseTarget, Tensor, weightsAsInitializers, type DType, type Graph, type LinearLayer, type ProgressCallback, type Target, type Value,
} from '@leanformer/core';
import { perChannelBlockSize, quantizeRtn, transposeKN, type QuantBits, type QuantizedWeight } from '../blockwise.js';
import { prune24 } from '../methods.js';
import {
  applyInputScale, groupByInput, isEdgeLayer, nothingQuantizedReason, quantizeEmbedding, resolveQuantOptions, searchModelWide, sharedKey, SPARSITY_NOTE,
  type QuantMethod,
} from '../quantize-model.js';
import { QUANT_METHOD_ENTRIES, type GroupJob, type LayerResult, type PackedLayer } from '../methods/registry.js';
import { emitQGather, emitQMatMul, type WeightStorage } from '../emit.js';
import { assertOutputsDistinct, checkOutputPath, yieldForSignals } from '@leanformer/core/node';
import { AtomicModelOutput, ReuseReader, writtenTensor, type NodeFs, type Placement } from './output.js';
import { StreamedActivations, type StreamCalibration } from './activations.js';
import type { ActivationStats } from '../calibration.js';

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

/** Methods that stream (registry entries with `streams`): every quantizing method. */
export type StreamQuantMethod = QuantMethod;
/** Targets whose QMatMul form (MatMulNBits) keeps the packed bytes as written. */
export type StreamTarget = 'ort-cpu' | 'ort-cuda' | 'ort-wasm' | 'ort-webgpu';
const STREAM_TARGETS: readonly StreamTarget[] = ['ort-cpu', 'ort-cuda', 'ort-wasm', 'ort-webgpu'];
const STREAM_METHODS: readonly string[] = QUANT_METHOD_ENTRIES.filter((e) => e.streams).map((e) => e.name);

/** Options of {@link quantizeModelStreaming}. */
export interface StreamQuantizeOptions {
  /** A registry method with `streams` (all quantizing methods; not the fp16/bf16 casts). */
  readonly method: StreamQuantMethod;
  /** 4 or 8 (default 4), as the method allows. */
  readonly bits?: QuantBits;
  /** Weights per scale along K: 16…256 (power of two), or 0 for per-channel. Default: the method's (32; qserve 128). */
  readonly blockSize?: number;
  /** Symmetric codes (no zero points), where the method allows. Default false. */
  readonly symmetric?: boolean;
  /** Per-block clipping search. Default false. */
  readonly clip?: boolean;
  /**
   * Calibration feeds, required by gptq, awq and smoothquant. The float model is evaluated node
   * by node on core's reference kernels up to each layer's input (see StreamedActivations), so
   * memory stays bounded; the result equals quantizeModel's with ReferenceBackend calibration.
   */
  readonly calibration?: StreamCalibration;
  /** GPTQ act-order (default true) and damping (default 0.01). */
  readonly actOrder?: boolean;
  readonly damp?: number;
  /** Quantize Gather embeddings (to QGather at edgeBits), as quantizeModel does. Default true. */
  readonly quantizeEmbeddings?: boolean;
  /** Default 'ort-cpu'. */
  readonly target?: StreamTarget;
  /** Layers whose node or weight name matches stay in float (copied through). */
  readonly exclude?: RegExp | string;
  /** Bits of embeddings and LM heads (linear layers whose output is a graph output). Default 8 when bits is 4, as quantizeModel. */
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
  /** Progress: `{ phase: 'quantize', done, total, unit: 'layers', item: <weight name> }` after each linear layer (done 0 first). */
  readonly onProgress?: ProgressCallback;
}

/** Result of {@link quantizeModelStreaming}. */
export interface StreamQuantizeReport {
  readonly method: StreamQuantMethod;
  readonly bits: number;
  readonly blockSize: number;
  readonly target: StreamTarget;
  readonly layersQuantized: number;
  /** Why nothing was quantized (only when layersQuantized is 0). */
  readonly reason?: string;
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

/** The checks of quantizeModel (one resolver) plus what streaming adds: a MatMulNBits target and a streaming method. */
function checkOptions(o: StreamQuantizeOptions) {
  const target = o.target ?? 'ort-cpu';
  if (!STREAM_TARGETS.includes(target)) {
    throw new LeanformerError('INVALID_ARGUMENT', `quantizeModelStreaming targets ${STREAM_TARGETS.join(', ')} (MatMulNBits), got '${String(target)}'; ort-tensorrt's DequantizeLinear form repacks weights in memory: use quantizeModel`, { details: { argument: 'target' } });
  }
  if (!STREAM_METHODS.includes(o.method)) throw new LeanformerError('INVALID_ARGUMENT', `quantizeModelStreaming supports methods ${STREAM_METHODS.join(', ')}, got '${String(o.method)}'`, { details: { argument: 'method', allowed: STREAM_METHODS } });
  // The resolver asks for calibration data; streaming takes feeds only (no backend).
  return resolveQuantOptions({ ...o, target, calibration: o.calibration ? { backend: null as never, feeds: o.calibration.feeds } : undefined });
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
  const r = checkOptions(options);
  const { entry, bits, edgeBits, blockArg, symmetric } = r;
  const target = (options.target ?? 'ort-cpu') as StreamTarget;
  let count = 0;
  let reason: string | undefined;
  const res = await runStreaming(input, output, options, deps, parseTarget(target), async (run, layers, floatGraph) => {
    const tn = entry.targetNote?.(target);
    if (tn) run.notes.push(tn);
    const tick = (name: string): void => { count++; options.onProgress?.({ phase: 'quantize', done: count, total: layers.length, unit: 'layers', item: name }); };
    options.onProgress?.({ phase: 'quantize', done: 0, total: layers.length, unit: 'layers' });
    let edgeQuantized = false;
    const shared = new WeakMap<object, (Value | null)[]>(); // weak: the streaming pass must not keep every packed layer alive
    const emit = (l: LinearLayer, q: LayerResult, input?: Value): void => {
      run.emitQMatMul(l, q.weight, { forceUint8: r.forceUint8, accuracyLevel: q.accuracyLevel ?? r.accFor(q.weight.bits), input, shared });
      if (isEdgeLayer(l, layers)) edgeQuantized = true;
      tick(l.weight.name);
    };
    const bitsOf = (l: LinearLayer): QuantBits => (isEdgeLayer(l, layers) ? edgeBits : bits);
    // Calibration: the float model walked forward to each layer's input (a fresh walk per pass).
    const acts = (): StreamedActivations => {
      if (!options.calibration) throw new LeanformerError('INVALID_ARGUMENT', `method '${entry.name}' needs calibration feeds`, { details: { argument: 'calibration' } });
      return new StreamedActivations(floatGraph, options.calibration);
    };
    if (entry.quantizeGroup) {
      const groups = groupByInput(layers);
      const job = (grp: readonly LinearLayer[], a: StreamedActivations): GroupJob => ({
        layers: grp.map((l) => ({ w: run.readFloat(l).slice(), K: l.K, N: l.N })), // copies: the group's weights are needed together
        rows: a.stats(grp[0]!.input.name, false).rows, options: r.layer(grp[0]!.K, grp.some((l) => isEdgeLayer(l, layers)) ? edgeBits : bits),
      });
      let candidate: number | undefined;
      if (entry.search) {
        // Pass 1: each group's error per candidate (weights read and dropped group by group).
        const a1 = acts();
        const jobs = function* (): Generator<GroupJob> { for (const grp of groups) yield job(grp, a1); };
        candidate = searchModelWide(entry, jobs(), run.notes);
      }
      const a2 = acts();
      for (const grp of groups) {
        const out = entry.quantizeGroup(job(grp, a2), candidate);
        const x = applyInputScale(grp, out[0]!.inputScale, run.notes);
        grp.forEach((l, i) => emit(l, { weight: out[i]!.weight }, x));
        await yieldForSignals(); // SIGINT/SIGTERM stop the run here and remove its temporaries
      }
    } else {
      const a = entry.calibration === 'none' ? null : acts();
      let last = null as { name: string; stats: ActivationStats } | null;
      const once = new Map<string, LayerResult>();
      for (const l of layers) {
        if (a && (last === null || last.name !== l.input.name)) last = { name: l.input.name, stats: a.stats(l.input.name, entry.calibration === 'hessian') };
        const key = sharedKey(entry, l, bitsOf(l));
        let res = key !== null ? once.get(key) : undefined;
        if (!res) {
          // The reused read buffer: RTN packs from it; other methods get their own copy.
          const w = entry.name === 'rtn' ? run.readFloat(l) : run.readFloat(l).slice();
          res = await entry.quantizeLayer!({ name: l.weight.name, K: l.K, N: l.N, w, options: r.layer(l.K, bitsOf(l)), stats: last?.stats });
          if (key !== null) once.set(key, res); // a shared weight: quantized and written once
        }
        emit(l, res);
        await yieldForSignals(); // SIGINT/SIGTERM stop the run here and remove its temporaries
      }
    }
    let embeddings = 0;
    if (options.quantizeEmbeddings ?? true) {
      const exclude = typeof options.exclude === 'string' ? new RegExp(options.exclude) : options.exclude;
      for (const e of findEmbeddings(run.graph, { exclude })) {
        const t = await quantizeEmbedding(r, e, run.readTable(e.table), options.clip ?? false);
        if (!t) continue;
        emitQGather(e, t.packed, edgeBits, t.blockSize, run.storage);
        run.dropTensor(e.table);
        embeddings++;
        edgeQuantized = true;
        await yieldForSignals();
      }
    }
    count += embeddings;
    if (count === 0) {
      reason = nothingQuantizedReason(run.graph, options.exclude !== undefined);
      run.notes.push(`nothing quantized: ${reason}`);
    }
    if (r.slow8()) run.notes.push('8-bit layers use MatMulNBits accuracy_level 4 (int8 activations), as quantizeModel does on ort-cpu/ort-wasm; pass --accuracy-level 0 (library: accuracyLevel: 0) to keep float compute');
    if (edgeBits !== bits && edgeQuantized) run.notes.push(`embeddings and LM head quantized to ${edgeBits} bits; pass --edge-bits ${bits} (library: edgeBits: ${bits}) to quantize them like the rest`);
    run.graph.metadataProps.set('leanformer.quant', JSON.stringify({ method: entry.name, bits, edgeBits, blockSize: blockArg, symmetric, target, streaming: true }));
  });
  return { method: entry.name as QuantMethod, bits, blockSize: blockArg, target, layersQuantized: count, ...(reason ? { reason } : {}), ...res };
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
  /** Progress: `{ phase: 'sparsify', done, total, unit: 'layers', item: <weight name> }` after each layer (done 0 first). */
  readonly onProgress?: ProgressCallback;
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
    options.onProgress?.({ phase: 'sparsify', done: 0, total: layers.length, unit: 'layers' });
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
      options.onProgress?.({ phase: 'sparsify', done: count, total: layers.length, unit: 'layers', item: l.weight.name });
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
  /** Storage that writes tensors to the output data file now (they read back lazily). */
  readonly storage: WeightStorage;
  /** The layer's weight as row-major [K, N] float32 (a view into the reused buffer for float32 MatMul weights: copy to keep it). */
  readFloat(l: LinearLayer): Float32Array;
  /** An initializer's values as float32 (its own array). */
  readTable(v: Value): Float32Array;
  /** Writes bytes to the output data file now; the tensor reads them back lazily. */
  written(dtype: DType, shape: readonly number[], bytes: Uint8Array): Tensor;
  /** Replaces the layer by QMatMul over the quantized weight (written now, by the one emitter) and drops the float weight. */
  emitQMatMul(l: LinearLayer, q: QuantizedWeight | PackedLayer, o: { forceUint8: boolean; accuracyLevel: number; sparsity?: string; input?: Value; shared?: WeakMap<object, (Value | null)[]> }): void;
  /** Releases the layer's float weight and removes it (and an unused bias) from the graph. */
  dropWeight(l: LinearLayer): void;
  /** Releases an initializer and removes it when nothing reads it any more. */
  dropTensor(v: Value): void;
}

/**
 * The frame of every streaming pass: option and path checks, lazy load, the body (which writes
 * layer by layer; it gets the float graph too, for calibration), lowering, encoding with every
 * big initializer placed in the data file (copied by location in chunks when the body left it
 * alone), and the atomic commit.
 */
async function runStreaming(
  input: string, output: string, options: { exclude?: RegExp | string; dataLocation?: string; sizeThreshold?: number }, deps: StreamDeps,
  lowerFor: Target | null, body: (run: StreamRun, layers: LinearLayer[], floatGraph: Graph) => Promise<void>,
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

  ensureQMatMulSchema();
  ensureQGatherSchema();
  const g = cloneGraph(graph); // shares the (lazy) tensors; the input graph is not changed
  weightsAsInitializers(g); // Constant / Identity weights, as quantizeModel
  let bytesBefore = 0;
  for (const v of g.initializers.values()) bytesBefore += v.const!.byteLength;
  const layers = findLinearLayers(g, { exclude });
  const notes: string[] = [];
  const placed = new Map<Tensor, Placement>();
  const out = new AtomicModelOutput(fs, outModel, dataLocation, path);
  const reader = new ReuseReader(fs);
  try {
    const written = (dtype: DType, shape: readonly number[], bytes: Uint8Array): Tensor => writtenTensor(fs, out, dtype, shape, bytes, placed);
    const storage: WeightStorage = { store: written };
    const dropTensor = (v: Value): void => {
      v.const!.release();
      if (v.isInitializer && v.uses.length === 0 && !v.isGraphOutput) g.removeInitializer(v);
    };
    const dropWeight = (l: LinearLayer): void => {
      dropTensor(l.weight);
      if (l.bias && l.bias.isInitializer && l.bias.uses.length === 0 && !l.bias.isGraphOutput) g.removeInitializer(l.bias);
    };
    const run: StreamRun = {
      graph: g, notes, written, storage, dropWeight, dropTensor,
      readFloat(l) {
        const wt = l.weight.const!;
        const raw = wt.isLoaded || !wt.lazySource ? wt.bytes() : reader.tensor(wt, l.weight.name);
        const w = wt.dtype === DTypes.float32
          ? new Float32Array(raw.buffer, raw.byteOffset, l.K * l.N)
          : Tensor.fromBytes(wt.dtype, wt.shape, raw.slice()).toFloat32();
        return l.transposed ? transposeKN(w, l.N, l.K) : w;
      },
      readTable(v) {
        const t = v.const!;
        if (t.isLoaded || !t.lazySource) return t.toFloat32();
        const raw = reader.tensor(t, v.name);
        // float32: a view of the reused read buffer (valid until the next read), as readFloat gives RTN.
        return t.dtype === DTypes.float32 && raw.byteOffset % 4 === 0 ? new Float32Array(raw.buffer, raw.byteOffset, t.size) : Tensor.fromBytes(t.dtype, t.shape, raw.slice()).toFloat32();
      },
      emitQMatMul(l, q, o) {
        g.opsets.set('leanformer', Math.max(1, g.opsets.get('leanformer') ?? 1));
        emitQMatMul(l, q, { ...o, storage }, notes);
        dropWeight(l);
      },
    };
    await body(run, layers, graph);

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
