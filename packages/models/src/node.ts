// Node side of @leanformer/models: checkpoint folders on disk (tensors read by positional reads, one
// at a time), loadPretrained (an HF folder built in memory, or a folder written by convert), and
// convertCheckpoint (HF folder → model.onnx + tokenizer files + leanformer.json, through a temporary
// folder renamed into place, so a failure leaves nothing behind).
import { closeSync, copyFileSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LeanformerError, Tensor, parseTarget, type Backend, type Executor, type Graph, type TargetName } from '@leanformer/core';
import { assertOutputsDistinct, checkOutputPath, commitTemp, createTempPath, discardTemp, writeFileAtomic } from '@leanformer/core/node';
import { encodeModel, lowerToOnnx } from '@leanformer/onnx';
import { loadModel, saveModel } from '@leanformer/onnx/node';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { quantizeModel, QUANT_METHODS, type QuantMethod } from '@leanformer/quant';
import { quantizeModelStreaming } from '@leanformer/quant/node';
import { buildCausalLM, scaledRopeInvFreq } from './build.js';
import { familyOf, type DecoderSpec } from './families.js';
import { CALIBRATION_TEXT } from './calibration-text.js';
import type { ByteReader } from './checkpoint.js';
import { parseJsonFile } from './checkpoint.js';
import { readCheckpoint, TOKENIZER_FILES, type CheckpointFiles, type RunnableModel } from './pretrained.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';

/**
 * A checkpoint folder as {@link CheckpointFiles}: texts read whole, safetensors read by byte range
 * (the file is opened per read, so nothing stays open).
 *
 * @example
 * ```ts
 * const ckpt = readCheckpoint(folderFiles('tiny-llama'));
 * ```
 */
export function folderFiles(dir: string): CheckpointFiles {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new LeanformerError('IO_ERROR', `'${dir}' is not a folder; give a Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer.json)`, { details: { path: dir } });
  return {
    text(name) { const p = join(dir, name); return existsSync(p) ? readFileSync(p, 'utf8') : undefined; },
    bytes(name): ByteReader | undefined {
      const p = join(dir, name);
      if (!existsSync(p)) return undefined;
      const size = statSync(p).size;
      return {
        size,
        read(start, end) {
          const out = new Uint8Array(end - start);
          const fd = openSync(p, 'r');
          try {
            let at = 0;
            while (at < out.length) {
              const n = readSync(fd, out, at, out.length - at, start + at);
              if (n === 0) throw new LeanformerError('DECODE_ERROR', `${name}: file ended at byte ${start + at} while reading bytes ${start}..${end} (it shrank after its header was read)`, { details: { file: name } });
              at += n;
            }
            if (fstatSync(fd).size !== size) throw new LeanformerError('IO_ERROR', `${name}: the file changed while being read`, { details: { file: name } });
          } finally { closeSync(fd); }
          return out;
        },
      };
    },
  };
}

/** What `convert` writes beside model.onnx: what the generator needs to run it. */
export interface ConvertedModelInfo {
  readonly format: 'leanformer-converted-1';
  readonly modelType: string;
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocab: number;
  readonly maxPositions: number;
  readonly eosTokenIds: readonly number[];
  readonly precision: string;
  readonly method?: string;
  readonly target: TargetName;
}

/** A model ready to generate, with its tokenizer (when the folder has one). */
export interface PretrainedModel extends RunnableModel {
  readonly tokenizer?: TextTokenizer;
  readonly modelType: string;
  readonly vocab: number;
  /** 'hf' (built in memory from the checkpoint) or 'converted' (model.onnx from convert). */
  readonly source: 'hf' | 'converted';
  dispose(): Promise<void>;
}

/** Options of {@link loadPretrained}. */
export interface LoadPretrainedOptions {
  /** Default ORT CPU. */
  readonly backend?: Backend;
  /**
   * Build an HF folder's graph with `query_<l>` outputs, which `generate`'s `evict: 'h2o' | 'snapkv'`
   * needs (default false). A converted folder's model.onnx has none: NOT_SUPPORTED.
   */
  readonly queryOutputs?: boolean;
}

/** The RoPE inverse frequencies of a spec (undefined for learned positions). */
function ropeOf(s: DecoderSpec): Float64Array | undefined {
  return s.positions.kind === 'rope' ? scaledRopeInvFreq(s.headDim, s.positions.theta, s.positions.scaling) : undefined;
}

/**
 * The tokenizer of a model folder (tokenizer.json, with tokenizer_config.json and chat_template.jinja
 * when present), or undefined when the folder has no tokenizer.json.
 *
 * @example
 * ```ts
 * const ids = tokenizerIn('tiny-llama')?.encode('Hello world');
 * ```
 */
export function tokenizerIn(dir: string): TextTokenizer | undefined {
  const f = folderFiles(dir);
  const tj = f.text('tokenizer.json');
  if (tj === undefined) return undefined;
  const tc = f.text('tokenizer_config.json');
  const ct = f.text('chat_template.jinja');
  return loadTokenizer({ tokenizerJson: tj, ...(tc !== undefined ? { tokenizerConfig: tc } : {}), ...(ct !== undefined ? { chatTemplate: ct } : {}) });
}

/**
 * Loads a folder for generation: a Hugging Face checkpoint (config.json + safetensors, converted in
 * memory to fp32) or a folder written by {@link convertCheckpoint} (leanformer.json + model.onnx).
 *
 * @example
 * ```ts
 * const model = await loadPretrained('tiny-llama');
 * for await (const t of generate(model, model.tokenizer, { prompt: 'Hello', maxNewTokens: 8 })) process.stdout.write(t.text);
 * ```
 */
export async function loadPretrained(dir: string, o: LoadPretrainedOptions = {}): Promise<PretrainedModel> {
  const backend = o.backend ?? createOrtBackend({ eps: ['cpu'] });
  const infoPath = join(dir, 'leanformer.json');
  if (existsSync(infoPath)) {
    const info = parseJsonFile(readFileSync(infoPath, 'utf8'), 'leanformer.json') as unknown as ConvertedModelInfo;
    if (info.format !== 'leanformer-converted-1') throw new LeanformerError('DECODE_ERROR', `leanformer.json: format ${JSON.stringify(info.format)} is not 'leanformer-converted-1'`, { details: { file: 'leanformer.json', field: 'format' } });
    if (o.queryOutputs) throw new LeanformerError('NOT_SUPPORTED', `loadPretrained: '${dir}' is a converted folder, whose model.onnx has no query outputs; load the Hugging Face folder for queryOutputs (h2o/snapkv eviction)`, { details: { field: 'queryOutputs' } });
    // ORT opens model.onnx itself (external data read by ORT, no 2 GiB protobuf re-encode in JS: a
    // 7B int4 model is 4.5 GB); other backends compile the graph.
    const file = join(dir, 'model.onnx');
    const direct = (backend as Partial<{ createExecutorFromBytes(model: string): Promise<Executor> }>).createExecutorFromBytes;
    const executor = direct ? await direct.call(backend, file) : await backend.compile(await loadModel(file));
    const tokenizer = tokenizerIn(dir);
    // convert copies config.json; its RoPE settings let eviction re-rotate kept keys.
    const cfg = existsSync(join(dir, 'config.json')) ? parseJsonFile(readFileSync(join(dir, 'config.json'), 'utf8'), 'config.json') : undefined;
    const rope = cfg ? ropeOf(familyOf(cfg, 'config.json').spec(cfg, 'config.json')) : undefined;
    return { executor, ...(rope ? { ropeInvFreq: rope } : {}), layers: info.layers, kvHeads: info.kvHeads, headDim: info.headDim, maxPositions: info.maxPositions, eosTokenIds: info.eosTokenIds, modelType: info.modelType, vocab: info.vocab, source: 'converted', ...(tokenizer ? { tokenizer } : {}), dispose: () => executor.dispose() };
  }
  const ckpt = readCheckpoint(folderFiles(dir));
  const executor = await backend.compile(buildCausalLM(ckpt.spec, ckpt.weights, { queryOutputs: o.queryOutputs ?? false }));
  const s = ckpt.spec;
  const rope = ropeOf(s);
  return { executor, ...(rope ? { ropeInvFreq: rope } : {}), queryOutputs: o.queryOutputs ?? false, layers: s.layers, kvHeads: s.kvHeads, headDim: s.headDim, maxPositions: s.maxPositions, eosTokenIds: ckpt.eosTokenIds, modelType: s.modelType, vocab: s.vocab, source: 'hf', ...(ckpt.tokenizer ? { tokenizer: ckpt.tokenizer } : {}), dispose: () => executor.dispose() };
}

/** Weight bytes above which `convert` writes external data (`model.onnx.data`). */
export const EXTERNAL_DATA_BYTES = 256 * 1024 * 1024;

/** Targets on which rtn/hqq conversion streams (MatMulNBits keeps the packed bytes as written). */
const STREAM_TARGETS = ['ort-cpu', 'ort-cuda', 'ort-wasm', 'ort-webgpu'] as const;

/** Precisions `convert` writes. */
export const CONVERT_PRECISIONS = ['fp32', 'fp16', 'int4', 'int8'] as const;

/** Options of {@link convertCheckpoint}. */
export interface ConvertOptions {
  /** Default fp32. */
  readonly precision?: (typeof CONVERT_PRECISIONS)[number];
  /** Weight method for int4/int8 (default rtn): any of @leanformer/quant's methods. */
  readonly method?: QuantMethod;
  /** Default ort-cpu. */
  readonly target?: TargetName;
  /**
   * Calibration for gptq/awq/smoothquant: `text` tokenized by the checkpoint's tokenizer and cut into
   * sequences of `tokens` (default 32), at most `batches` of them (default 32); without `text`, the
   * built-in English passage (CALIBRATION_TEXT, ~1,000 tokens). A folder without tokenizer.json gets
   * `batches` (default 8) sequences of random token ids drawn with `seed`.
   */
  readonly calibration?: { readonly batches?: number; readonly tokens?: number; readonly seed?: number; readonly text?: string };
  readonly onProgress?: (message: string) => void;
}

/** What {@link convertCheckpoint} returns (and `convert --json` prints). */
export interface ConvertReport {
  readonly output: string;
  readonly modelType: string;
  readonly precision: string;
  readonly method?: string;
  readonly target: TargetName;
  readonly files: string[];
  /** Float elements in the built graph's initializers (weights and RoPE tables), before quantization. */
  readonly parameters: number;
  readonly seconds: number;
}

/**
 * Converts a Hugging Face folder to `<out>/model.onnx` (lowered for the target; external data when
 * large) with KV-cache inputs/outputs, copies the tokenizer files and writes `leanformer.json`.
 * Everything goes to a temporary folder beside `out`, renamed into place at the end (an existing
 * `out` folder is replaced only then); a failure removes the temporary folder.
 *
 * @example
 * ```ts
 * await convertCheckpoint('tiny-llama', 'tiny-llama-int4', { precision: 'int4', method: 'rtn' });
 * ```
 */
export async function convertCheckpoint(dir: string, out: string, o: ConvertOptions = {}): Promise<ConvertReport> {
  const t0 = performance.now();
  const precision = o.precision ?? 'fp32';
  if (!(CONVERT_PRECISIONS as readonly string[]).includes(precision)) throw new LeanformerError('INVALID_ARGUMENT', `convert: precision '${precision}' is not one of ${CONVERT_PRECISIONS.join(', ')}`, { details: { field: 'precision' } });
  const quantized = precision === 'int4' || precision === 'int8';
  const method = o.method ?? (quantized ? 'rtn' : undefined);
  if (method !== undefined && !quantized) throw new LeanformerError('INVALID_ARGUMENT', `convert: --method applies to int4/int8 only, not precision ${precision}`, { details: { field: 'method' } });
  if (method !== undefined && (!QUANT_METHODS.includes(method) || method === 'fp16' || method === 'bf16')) throw new LeanformerError('INVALID_ARGUMENT', `convert: method '${method}' is not one of ${QUANT_METHODS.filter((m) => m !== 'fp16' && m !== 'bf16').join(', ')}`, { details: { field: 'method' } });
  const calibrated = method === 'gptq' || method === 'awq' || method === 'smoothquant';
  if (o.calibration?.text !== undefined && !calibrated) throw new LeanformerError('INVALID_ARGUMENT', `convert: calibration text applies to the calibrated methods gptq, awq and smoothquant, not ${method ?? precision}`, { details: { field: 'calibration.text' } });
  const targetName = o.target ?? 'ort-cpu';
  const target = parseTarget(targetName);
  if (target.runtime !== 'ort') throw new LeanformerError('NOT_SUPPORTED', `convert writes ONNX for ONNX Runtime targets; '${targetName}' is a tfjs target (run an HF folder with generate --backend instead)`, { details: { field: 'target' } });
  const absIn = resolve(dir), absOut = resolve(out);
  assertOutputsDistinct({ inputs: [absIn], outputs: [absOut] });
  if (absOut === absIn || absOut.startsWith(absIn + '/') || absIn.startsWith(absOut + '/')) throw new LeanformerError('OUTPUT_IS_INPUT', `convert: output folder '${out}' must not be the checkpoint folder or inside it (or contain it)`, { details: { path: out } });
  if (existsSync(absOut) && !statSync(absOut).isDirectory()) throw new LeanformerError('IO_ERROR', `convert: output '${out}' exists and is not a folder`, { details: { path: out } });
  if (!existsSync(absOut)) checkOutputPath(absOut);

  const files = folderFiles(dir);
  const ckpt = readCheckpoint(files); // every header and the config checked before anything is written
  const s = ckpt.spec;
  o.onProgress?.(`building ${s.modelType} (${s.layers} layers)`);
  let graph: Graph = buildCausalLM(s, ckpt.weights);
  const parameters = [...graph.initializers.values()].reduce((n, v) => n + (v.const ? v.const.shape.reduce((a, d) => a * d, 1) : 0), 0);
  if (precision === 'fp16') graph = (await quantizeModel(graph, { method: 'fp16', target: targetName })).graph;
  // rtn/hqq on MatMulNBits targets stream: the fp32 graph is written one tensor at a time to a staging
  // ONNX file, which quant's streaming quantizer reads lazily; peak memory is a few tensors, not the model.
  const streamed = quantized && (method === 'rtn' || method === 'hqq') && (STREAM_TARGETS as readonly string[]).includes(targetName);
  if (quantized && !streamed) {
    const backend = calibrated ? createOrtBackend({ eps: ['cpu'] }) : undefined;
    const c = o.calibration ?? {};
    const feeds = !calibrated ? [] : ckpt.tokenizer
      ? textCalibrationFeeds(ckpt.tokenizer.encode(c.text ?? CALIBRATION_TEXT), s, c.batches ?? 32, c.tokens ?? 32)
      : calibrationFeeds(s.vocab, s.layers, s.kvHeads, s.headDim, c.batches ?? 8, c.tokens ?? 32, c.seed ?? 0);
    graph = (await quantizeModel(graph, {
      method: method!, bits: precision === 'int4' ? 4 : 8, target: targetName,
      ...(calibrated ? { calibration: { backend: backend!, feeds } } : {}),
      onLayer: (name, i, n) => o.onProgress?.(`quantizing ${i + 1}/${n} ${name}`),
    })).graph;
  }
  const lowered = streamed ? graph : lowerToOnnx(graph, target);
  const info: ConvertedModelInfo = {
    format: 'leanformer-converted-1', modelType: s.modelType, layers: s.layers, kvHeads: s.kvHeads, headDim: s.headDim, vocab: s.vocab,
    maxPositions: s.maxPositions, eosTokenIds: [...ckpt.eosTokenIds], precision, ...(method ? { method } : {}), target: targetName,
  };
  const tmp = createTempPath(absOut);
  try {
    mkdirSync(tmp);
    o.onProgress?.('writing model.onnx');
    // Above EXTERNAL_DATA_BYTES the weights go to model.onnx.data, written one tensor at a time (the
    // checkpoint's tensors are read lazily and released after writing); below, one protobuf is simpler.
    const weightBytes = [...lowered.initializers.values()].reduce((n, v) => n + (v.const?.byteLength ?? 0), 0);
    if (streamed) {
      const stage = join(tmp, 'stage.onnx');
      await saveModel(lowered, stage, { externalData: { location: 'stage.onnx.data' } });
      await quantizeModelStreaming(stage, join(tmp, 'model.onnx'), {
        method: method as 'rtn' | 'hqq', bits: precision === 'int4' ? 4 : 8, target: targetName as (typeof STREAM_TARGETS)[number],
        onLayer: (name, i, n) => o.onProgress?.(`quantizing ${i}/${n} ${name}`),
      }, { loadModel: (p, lo) => loadModel(p, lo), encodeModel, lowerToOnnx });
      rmSync(stage);
      rmSync(join(tmp, 'stage.onnx.data'));
    } else await saveModel(lowered, join(tmp, 'model.onnx'), { externalData: weightBytes > EXTERNAL_DATA_BYTES });
    for (const f of [...TOKENIZER_FILES, 'config.json']) if (existsSync(join(dir, f))) copyFileSync(join(dir, f), join(tmp, f));
    writeFileAtomic(join(tmp, 'leanformer.json'), `${JSON.stringify(info, null, 2)}\n`);
    if (existsSync(absOut)) {
      const old = createTempPath(absOut);
      renameSync(absOut, old);
      commitTemp(tmp, absOut);
      rmSync(old, { recursive: true, force: true });
      discardTemp(old);
    } else commitTemp(tmp, absOut);
  } finally {
    discardTemp(tmp); // removes the temporary folder unless it was committed (also on SIGINT/SIGTERM)
  }
  return { output: out, modelType: s.modelType, precision, ...(method ? { method } : {}), target: targetName, files: readdirSync(absOut).sort(), parameters, seconds: (performance.now() - t0) / 1000 };
}

/** Empty past K/V feeds of every layer. */
function emptyPast(f: Record<string, Tensor>, layers: number, kvHeads: number, headDim: number): Record<string, Tensor> {
  for (let l = 0; l < layers; l++) {
    f[`past_key_${l}`] = new Tensor('float32', [1, kvHeads, 0, headDim], new Float32Array(0));
    f[`past_value_${l}`] = new Tensor('float32', [1, kvHeads, 0, headDim], new Float32Array(0));
  }
  return f;
}

/** Calibration feeds from tokenized text: consecutive `tokens`-long sequences (at most `batches`), empty past. */
function textCalibrationFeeds(ids: readonly number[], s: DecoderSpec, batches: number, tokens: number): Record<string, Tensor>[] {
  const n = Math.min(batches, Math.floor(ids.length / tokens));
  if (n < 1) throw new LeanformerError('INVALID_ARGUMENT', `convert: the calibration text encodes to ${ids.length} tokens, fewer than one sequence of ${tokens}; give a longer text`, { details: { field: 'calibration.text' } });
  return Array.from({ length: n }, (_, i) => emptyPast({ tokens: new Tensor('int64', [1, tokens], BigInt64Array.from(ids.slice(i * tokens, (i + 1) * tokens), BigInt)) }, s.layers, s.kvHeads, s.headDim));
}

/** Calibration feeds for the KV-cache graph: random token ids over the vocabulary, empty past. */
function calibrationFeeds(vocab: number, layers: number, kvHeads: number, headDim: number, batches: number, tokens: number, seed: number): Record<string, Tensor>[] {
  let x = (seed * 2654435761 + 1) >>> 0;
  const next = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
  return Array.from({ length: batches }, () => {
    return emptyPast({ tokens: new Tensor('int64', [1, tokens], BigInt64Array.from({ length: tokens }, () => BigInt(next() % vocab))) }, layers, kvHeads, headDim);
  });
}
