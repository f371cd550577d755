// What the page's worker and the Node-side server share: the built-in demo model, the quantization
// call (the same library calls `leanformer quantize` makes), inspect-style facts, seeded inputs and
// output agreement. Browser-safe: no Node-only import may appear here (the page bundles this file).
import { analyzeGraph, cosine, maxAbsDiff, parseTarget, rng, Tensor, transformerDecoder, type Graph, type ProgressCallback, type TargetName, type Value } from '@leanformer/core';
import { decodeModel, encodeModel, lowerToOnnx } from '@leanformer/onnx';
import { quantizeModel, type QuantizeReport } from '@leanformer/quant';

/**
 * The built-in demo model: the LLaMA-style decoder of examples/demo (0.86 M parameters, 3.4 MB of
 * float32 weights). Weights are seeded, so Node and the browser build byte-identical ONNX files.
 */
export const DEMO_CONFIG = Object.freeze({ vocabSize: 512, hidden: 128, layers: 4, heads: 4, kvHeads: 2, ffn: 344, seed: 7 });

/** The demo model's ONNX bytes (what `examples/browser/server.mjs` serves as /models/demo.onnx). */
export function demoModelBytes(): Uint8Array {
  return encodeModel(transformerDecoder({ ...DEMO_CONFIG }));
}

/** The quantization settings the page offers: the weight-only methods that need no calibration. */
export interface QuantSettings {
  readonly method: 'rtn' | 'hqq';
  readonly bits: 4 | 8;
  /** Weights per scale along K (16…256, a power of two), or 0 for per-channel. */
  readonly blockSize: number;
  /** The ORT target the model is lowered for; the page runs on onnxruntime-web, so 'ort-wasm'. */
  readonly target: TargetName;
}

/** The page's default, equal to `leanformer quantize --method rtn --bits 4 --block-size 32 --target ort-wasm`. */
export const DEFAULT_QUANT: QuantSettings = Object.freeze({ method: 'rtn', bits: 4, blockSize: 32, target: 'ort-wasm' });

/**
 * Quantizes an ONNX model's bytes and returns the lowered model's bytes. This is the sequence the
 * CLI's `quantize` command runs (decode → quantizeModel → lowerToOnnx → encode) with the options it
 * passes when only --method/--bits/--block-size/--target are given (everything else left to the
 * library's defaults), so both give the same bytes; the e2e test checks that they do.
 */
export async function quantizeOnnx(
  bytes: Uint8Array,
  s: QuantSettings,
  onProgress?: ProgressCallback,
): Promise<{ bytes: Uint8Array; report: QuantizeReport; notes: string[] }> {
  const graph = decodeModel(bytes);
  const { graph: q, report, notes } = await quantizeModel(graph, {
    method: s.method, bits: s.bits, blockSize: s.blockSize, target: s.target, onProgress,
  });
  return { bytes: encodeModel(lowerToOnnx(q, parseTarget(s.target))), report, notes };
}

/** Inspect-style facts about a model, as the page shows them. */
export interface ModelFacts {
  readonly name: string;
  readonly fileBytes: number;
  readonly nodes: number;
  readonly params: number;
  readonly initializerBytes: Record<string, number>;
  readonly ops: Record<string, number>;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly opsets: Record<string, number>;
  readonly producer: string;
}

const typeOf = (v: Value): string => `${v.dtype?.name ?? '?'}[${v.shape?.map((d) => d ?? '?').join(', ') ?? '?'}]`;

/** Facts of a decoded model (counts from core's `analyzeGraph`). */
export function modelFacts(graph: Graph, fileBytes: number): ModelFacts {
  const cost = analyzeGraph(graph);
  const initializerBytes: Record<string, number> = {};
  for (const v of graph.initializers.values()) {
    const t = v.const;
    if (t) initializerBytes[t.dtype.name] = (initializerBytes[t.dtype.name] ?? 0) + t.byteLength;
  }
  const ops: Record<string, number> = {};
  for (const [op, c] of Object.entries(cost.byOp)) ops[op] = c.count;
  return {
    name: graph.name,
    fileBytes,
    nodes: graph.nodes.length,
    params: cost.params,
    initializerBytes,
    ops,
    inputs: graph.inputs.filter((v) => !v.isInitializer).map((v) => `${v.name} ${typeOf(v)}`),
    outputs: graph.outputs.map((v) => `${v.name} ${typeOf(v)}`),
    opsets: Object.fromEntries([...graph.opsets].map(([d, n]) => [d || 'ai.onnx', n])),
    producer: graph.model ? `${graph.model.producerName ?? ''} ${graph.model.producerVersion ?? ''}`.trim() : '',
  };
}

/** The sequence length used for symbolic dims other than batch. */
export const SEQ = 16;

/**
 * Seeded inputs for every graph input. Symbolic or unknown dims: 1 for names containing 'batch',
 * {@link SEQ} otherwise. Integer inputs get values in [0, 16) (valid token ids for any vocabulary of 16 or more),
 * floats uniform in [-1, 1), bools a coin flip. Throws for input types it cannot make.
 */
export function seededFeeds(graph: Graph, seed = 1): Record<string, Tensor> {
  const r = rng(seed);
  const feeds: Record<string, Tensor> = {};
  for (const v of graph.inputs.filter((x) => !x.isInitializer)) {
    if (!v.dtype || !v.shape) throw new Error(`input '${v.name}' has no declared type or shape; the page cannot make inputs for it`);
    const shape = v.shape.map((d) => (typeof d === 'number' ? d : d !== null && /batch/i.test(d) ? 1 : SEQ));
    const n = shape.reduce((a, b) => a * b, 1);
    const dt = v.dtype.name;
    const vals = Array.from({ length: n }, () => r.uniform());
    if (dt === 'int64') feeds[v.name] = Tensor.from('int64', shape, vals.map((x) => BigInt(Math.floor(x * 16))));
    else if (dt === 'int32' || dt === 'int8' || dt === 'uint8' || dt === 'int16') feeds[v.name] = Tensor.from(dt, shape, vals.map((x) => Math.floor(x * 16)));
    else if (dt === 'float32') feeds[v.name] = Tensor.from('float32', shape, vals.map((x) => x * 2 - 1));
    else if (dt === 'bool') feeds[v.name] = Tensor.from('bool', shape, vals.map((x) => x < 0.5));
    else throw new Error(`input '${v.name}' is ${dt}; the page makes int, float32 and bool inputs only`);
  }
  return feeds;
}

/** How closely one output of the quantized model follows the float model. */
export interface Agreement {
  readonly output: string;
  readonly shape: number[];
  readonly maxAbsDiff: number;
  readonly cosine: number;
  /** Fraction of rows (last axis) whose argmax is the same: next-token agreement for logits. */
  readonly top1: number;
}

/** Compares two runs' outputs element by element (float view). */
export function agreement(a: Record<string, Tensor>, b: Record<string, Tensor>): Agreement[] {
  return Object.keys(a).map((name) => {
    const x = a[name]!.toFloat32();
    const yt = b[name];
    if (!yt) throw new Error(`output '${name}' is missing from the quantized model's outputs`);
    const y = yt.toFloat32();
    if (x.length !== y.length) throw new Error(`output '${name}': ${x.length} vs ${y.length} elements`);
    const shape = [...a[name]!.shape];
    const last = shape.length ? shape[shape.length - 1]! : 1;
    const rows = last > 0 ? x.length / last : 0;
    let same = 0;
    for (let r = 0; r < rows; r++) {
      let ax = 0, ay = 0;
      for (let i = 1; i < last; i++) {
        if (x[r * last + i]! > x[r * last + ax]!) ax = i;
        if (y[r * last + i]! > y[r * last + ay]!) ay = i;
      }
      if (ax === ay) same++;
    }
    return { output: name, shape, maxAbsDiff: maxAbsDiff(x, y), cosine: cosine(x, y), top1: rows ? same / rows : 1 };
  });
}

/** Lower-case hex SHA-256 (WebCrypto: browsers, workers and Node 20 alike). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}
