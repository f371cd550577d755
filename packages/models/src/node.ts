// Node side of @leanformer/models: checkpoint folders on disk (tensors read by positional reads, one
// at a time), loadPretrained (an HF folder built in memory, or a folder written by convert), and
// convertCheckpoint (HF folder → model.onnx + tokenizer files + leanformer.json, through a temporary
// folder renamed into place, so a failure leaves nothing behind).
import { closeSync, copyFileSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  COMPUTE_PRECISIONS, LeanformerError, Tensor, computePrecisionPass, computePrecisionProblem, float32Ops, patternRewrite, rmsNormFusion, defaultComputePrecision, parseTarget,
  type ComputePrecision, type Executor, type Graph, type ProgressCallback, type TargetName,
} from '@leanformer/core';
import { assertOutputsDistinct, checkOutputPath, commitTemp, createTempPath, discardTemp, sourcePath, writeFileAtomic } from '@leanformer/core/node';
import { encodeModel, lowerToOnnx } from '@leanformer/onnx';
import { loadModel, saveModel } from '@leanformer/onnx/node';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { quantizeModel, QUANT_METHODS, type QuantMethod } from '@leanformer/quant';
import { quantizeModelStreaming } from '@leanformer/quant/node';
import { buildCausalLM } from './build.js';
import type { DecoderSpec } from './families.js';
import { CALIBRATION_TEXT } from './calibration-text.js';
import type { ByteReader } from './checkpoint.js';
import { parseJsonFile } from './checkpoint.js';
import { buildEncoder, encoderRandomFeeds } from './encoders.js';
import { compilePretrained, convertedModel, encoderInfo, loadPretrained as loadPretrainedFrom, parseConvertedInfo, type ConvertedEncoderInfo, type ConvertedModelInfo, type FolderSource, type LoadedKind, type LoadPretrainedOptions, type PretrainedKind } from './load.js';
import { checkpointKind, generate, readCheckpoint, readEncoderCheckpoint, TOKENIZER_FILES, type CheckpointFiles, type RunnableModel } from './pretrained.js';
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

export type { ConvertedEncoderInfo, ConvertedModelInfo, LoadedKind, LoadPretrainedOptions, PretrainedEncoder, PretrainedKind, PretrainedModel } from './load.js';

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
 * Loads a folder: a Hugging Face checkpoint (config.json + safetensors, converted in memory to fp32,
 * optionally quantized) or a folder written by {@link convertCheckpoint} (leanformer.json + model.onnx),
 * given as a path; or anything the browser-safe `loadPretrained` of '@leanformer/models' takes (folder
 * URL, File list, name → source map, CheckpointFiles). Decoders come back ready for {@link generate};
 * encoders (BERT, RoBERTa, ViT, DeiT) with `{ kind: 'encoder' }`; `{ kind: 'any' }` takes either.
 * The backend defaults to ORT CPU.
 *
 * @example
 * ```ts
 * const model = await loadPretrained('tiny-llama');
 * for await (const t of generate(model, model.tokenizer, { prompt: 'Hello', maxNewTokens: 8 })) process.stdout.write(t.text);
 * const bert = await loadPretrained('tiny-bert', { kind: 'encoder' });
 * const { last_hidden_state } = await bert.executor.run({ input_ids, attention_mask, token_type_ids });
 * ```
 */
export async function loadPretrained<K extends PretrainedKind | undefined = undefined>(source: FolderSource, o: LoadPretrainedOptions & { readonly kind?: K } = {}): Promise<LoadedKind<K>> {
  const backend = o.backend ?? createOrtBackend({ eps: ['cpu'] });
  const dir = sourcePath(source);
  if (dir === undefined) return loadPretrainedFrom(source, { ...o, backend });
  const infoPath = join(dir, 'leanformer.json');
  if (existsSync(infoPath)) {
    const info = parseConvertedInfo(readFileSync(infoPath, 'utf8'), `'${dir}'`, o); // the kind is checked before anything is compiled
    // ORT opens model.onnx itself (external data read by ORT, no 2 GiB protobuf re-encode in JS: a
    // 7B int4 model is 4.5 GB); other backends compile the graph.
    const file = join(dir, 'model.onnx');
    const direct = (backend as Partial<{ createExecutorFromBytes(model: string): Promise<Executor> }>).createExecutorFromBytes;
    const executor = direct ? await direct.call(backend, file) : await backend.compile(await loadModel(file));
    // convert copies config.json; its RoPE settings let eviction re-rotate kept keys.
    const config = existsSync(join(dir, 'config.json')) ? readFileSync(join(dir, 'config.json'), 'utf8') : undefined;
    return convertedModel(info, executor, tokenizerIn(dir), config) as LoadedKind<K>;
  }
  return compilePretrained(folderFiles(dir), backend, o, `'${dir}'`) as Promise<LoadedKind<K>>;
}

/** Weight bytes above which `convert` writes external data (`model.onnx.data`). */
export const EXTERNAL_DATA_BYTES = 256 * 1024 * 1024;

/** Targets on which rtn/hqq conversion streams (MatMulNBits keeps the packed bytes as written). */
const STREAM_TARGETS = ['ort-cpu', 'ort-cuda', 'ort-wasm', 'ort-webgpu'] as const;

/** Precisions `convert` writes. */
export const CONVERT_PRECISIONS = ['fp32', 'fp16', 'bf16', 'int4', 'int8'] as const;

/** Options of {@link convertCheckpoint}. */
export interface ConvertOptions {
  /** Weight precision (default fp32): fp16/bf16 floats, or int4/int8 by `method`. bf16 computes in bf16 on ort-cuda. */
  readonly precision?: (typeof CONVERT_PRECISIONS)[number];
  /** Weight method for int4/int8 (default rtn): any of @leanformer/quant's methods. */
  readonly method?: QuantMethod;
  /** int4/int8: weights per scale along K (16…256, or 0 = per channel). Default: the method's (32 for most). */
  readonly blockSize?: number;
  /** Default ort-cpu. */
  readonly target?: TargetName;
  /**
   * Float type of activations, float weights and the KV cache (core's `computePrecisionPass`; logits
   * stay float32). Default per target (`defaultComputePrecision`): fp16 on ort-cuda and ort-webgpu,
   * fp32 elsewhere. bf16 is for ort-cuda; its KV inputs/outputs stay float32 (ORT's JS tensors have
   * no bfloat16). Quantization calibrates on the fp32 graph before the conversion.
   */
  readonly compute?: ComputePrecision;
  /**
   * Calibration for gptq/awq/smoothquant: `text` tokenized by the checkpoint's tokenizer, at most
   * `batches` (default 128) sequences of `tokens` (default 64) taken evenly over the whole text; without
   * `text`, the built-in English passage (CALIBRATION_TEXT, ~1,500 characters). More text helps GPTQ: its
   * Hessian needs many more tokens than a layer has inputs. A folder without tokenizer.json gets
   * `batches` (default 8) sequences of `tokens` (default 32) random token ids drawn with `seed`.
   * `self: true` (decoders; not with `text`): self-calibration (Williams et al., NAACL 2025) — `batches`
   * (default 64) sequences of `tokens` (default 64) sampled from the fp32 model itself, from BOS at
   * temperature 1, seeded by `seed`: text like the model's own without any data (costs one generation of
   * batches × tokens tokens on ORT CPU).
   */
  readonly calibration?: { readonly batches?: number; readonly tokens?: number; readonly seed?: number; readonly text?: string; readonly self?: boolean };
  /**
   * Progress: `{ phase: 'build' }` (item: model type and layer count), `'self-calibrate'` (sequences
   * sampled, with `calibration.self`), then quantize's own events (`'calibrate'`, `'quantize'` in layers)
   * for fp16/int4/int8, and `{ phase: 'write', item: 'model.onnx' }`.
   */
  readonly onProgress?: ProgressCallback;
}

/** What {@link convertCheckpoint} returns (and `convert --json` prints). */
export interface ConvertReport {
  readonly output: string;
  readonly modelType: string;
  readonly precision: string;
  readonly method?: string;
  readonly target: TargetName;
  readonly compute: ComputePrecision;
  readonly files: string[];
  /** Float elements in the built graph's initializers (weights and RoPE tables), before quantization. */
  readonly parameters: number;
  readonly seconds: number;
}

/**
 * Converts a Hugging Face folder to `<out>/model.onnx` (lowered for the target; external data when
 * large) with KV-cache inputs/outputs (a decoder) or the encoder's inputs and `last_hidden_state` /
 * `pooler_output` (BERT, RoBERTa, ViT, DeiT), copies the tokenizer files and writes `leanformer.json`.
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
  if (o.blockSize !== undefined && !quantized) throw new LeanformerError('INVALID_ARGUMENT', `convert: --block-size applies to int4/int8 only, not precision ${precision}`, { details: { field: 'blockSize' } });
  const calibrated = method === 'gptq' || method === 'awq' || method === 'smoothquant';
  if (o.calibration?.text !== undefined && !calibrated) throw new LeanformerError('INVALID_ARGUMENT', `convert: calibration text applies to the calibrated methods gptq, awq and smoothquant, not ${method ?? precision}`, { details: { field: 'calibration.text' } });
  if (o.calibration?.self && !calibrated) throw new LeanformerError('INVALID_ARGUMENT', `convert: self-calibration applies to the calibrated methods gptq, awq and smoothquant, not ${method ?? precision}`, { details: { field: 'calibration.self' } });
  if (o.calibration?.self && o.calibration.text !== undefined) throw new LeanformerError('INVALID_ARGUMENT', 'convert: give calibration text or self-calibration, not both', { details: { field: 'calibration.self' } });
  const targetName = o.target ?? 'ort-cpu';
  const target = parseTarget(targetName);
  if (target.runtime !== 'ort') throw new LeanformerError('NOT_SUPPORTED', `convert writes ONNX for ONNX Runtime targets; '${targetName}' is a tfjs target (run an HF folder with generate --backend instead)`, { details: { field: 'target' } });
  // bf16 weights compute in bf16 where the target has the kernels (ort-cuda); elsewhere they are stored
  // bf16 and widened to float32 before each MatMul. Otherwise the target's default compute precision.
  const compute = o.compute ?? (precision === 'bf16' ? (computePrecisionProblem(target, 'bf16') ? 'fp32' : 'bf16') : defaultComputePrecision(target));
  if (precision === 'bf16' && compute === 'fp16') throw new LeanformerError('INVALID_ARGUMENT', 'convert: precision bf16 with compute fp16 would round the bf16 weights to fp16; use compute bf16 (ort-cuda) or fp32', { details: { field: 'compute' } });
  if (!(COMPUTE_PRECISIONS as readonly string[]).includes(compute)) throw new LeanformerError('INVALID_ARGUMENT', `convert: compute precision '${String(compute)}' is not one of ${COMPUTE_PRECISIONS.join(', ')}`, { details: { field: 'compute' } });
  const computeProblem = computePrecisionProblem(target, compute);
  if (computeProblem) throw new LeanformerError('NOT_SUPPORTED', `convert: ${computeProblem}`, { details: { field: 'compute' } });
  const absIn = resolve(dir), absOut = resolve(out);
  assertOutputsDistinct({ inputs: [absIn], outputs: [absOut] });
  if (absOut === absIn || absOut.startsWith(absIn + '/') || absIn.startsWith(absOut + '/')) throw new LeanformerError('OUTPUT_IS_INPUT', `convert: output folder '${out}' must not be the checkpoint folder or inside it (or contain it)`, { details: { path: out } });
  if (existsSync(absOut) && !statSync(absOut).isDirectory()) throw new LeanformerError('IO_ERROR', `convert: output '${out}' exists and is not a folder`, { details: { path: out } });
  if (!existsSync(absOut)) checkOutputPath(absOut);

  const m = openFolder(folderFiles(dir)); // every header and the config checked before anything is written
  o.onProgress?.({ phase: 'build', done: 0, total: null, unit: 'layers', item: `${m.modelType} (${m.layers} layers)` });
  // RMSNorm as one node (ORT's SimplifiedLayerNormalization, float32 statistics inside; ONNX
  // RMSNormalization from opset 23) instead of six: fewer launches per decoded token on GPUs, and no
  // float32 island of Casts in 16-bit compute.
  let graph: Graph = patternRewrite(rmsNormFusion, { name: 'rms-norm-fusion' }).run(m.build(), {}).graph;
  const parameters = [...graph.initializers.values()].reduce((n, v) => n + (v.const ? v.const.shape.reduce((a, d) => a * d, 1) : 0), 0);
  // fp16/bf16 weights under fp32 compute: a Cast before each MatMul; under 16-bit compute the pass below stores them.
  if ((precision === 'fp16' || precision === 'bf16') && compute === 'fp32') graph = (await quantizeModel(graph, { method: precision, target: targetName, onProgress: o.onProgress })).graph;
  // rtn/hqq on MatMulNBits targets stream: the fp32 graph is written one tensor at a time to a staging
  // ONNX file, which quant's streaming quantizer reads lazily; peak memory is a few tensors, not the model.
  // The compute conversion needs the quantized graph in memory, so 16-bit compute does not stream.
  const streamed = compute === 'fp32' && quantized && (method === 'rtn' || method === 'hqq') && (STREAM_TARGETS as readonly string[]).includes(targetName);
  if (quantized && !streamed) {
    const backend = calibrated ? createOrtBackend({ eps: ['cpu'] }) : undefined;
    const c = o.calibration ?? {};
    const feeds = !calibrated ? [] : c.self ? await selfCalibrationFeeds(dir, m, () => backend!.compile(graph), c, o.onProgress) : m.calibration(c);
    graph = (await quantizeModel(graph, {
      method: method!, bits: precision === 'int4' ? 4 : 8, target: targetName,
      ...(o.blockSize !== undefined ? { blockSize: o.blockSize } : {}),
      ...(calibrated ? { calibration: { backend: backend!, feeds } } : {}),
      onProgress: o.onProgress,
    })).graph;
  }
  if (compute !== 'fp32') {
    const kv = graph.inputs.concat(graph.outputs).map((v) => v.name).filter((n) => /^(past|present)_(key|value)_\d+$/.test(n));
    const outputs = m.info.kind === 'encoder' ? [...m.info.outputs] : ['logits']; // graph outputs stay float32
    graph = computePrecisionPass({ precision: compute, keep: compute === 'bf16' ? [...outputs, ...kv] : outputs, float32Ops: float32Ops(target, compute) }).run(graph, {}).graph;
  }
  const lowered = streamed ? graph : lowerToOnnx(graph, target);
  const info = { format: 'leanformer-converted-1', ...m.info, precision, ...(method ? { method } : {}), target: targetName, compute };
  const tmp = createTempPath(absOut);
  try {
    mkdirSync(tmp);
    o.onProgress?.({ phase: 'write', done: 0, total: null, unit: 'files', item: 'model.onnx' });
    // Above EXTERNAL_DATA_BYTES the weights go to model.onnx.data, written one tensor at a time (the
    // checkpoint's tensors are read lazily and released after writing); below, one protobuf is simpler.
    const weightBytes = [...lowered.initializers.values()].reduce((n, v) => n + (v.const?.byteLength ?? 0), 0);
    if (streamed) {
      const stage = join(tmp, 'stage.onnx');
      await saveModel(lowered, stage, { externalData: { location: 'stage.onnx.data' } });
      await quantizeModelStreaming(stage, join(tmp, 'model.onnx'), {
        method: method as 'rtn' | 'hqq', bits: precision === 'int4' ? 4 : 8, target: targetName as (typeof STREAM_TARGETS)[number],
        ...(o.blockSize !== undefined ? { blockSize: o.blockSize } : {}),
        onProgress: o.onProgress,
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
  return { output: out, modelType: m.modelType, precision, ...(method ? { method } : {}), target: targetName, compute, files: readdirSync(absOut).sort(), parameters, seconds: (performance.now() - t0) / 1000 };
}

type ConvertFields = 'format' | 'precision' | 'method' | 'target' | 'compute';

/**
 * A checkpoint folder of either kind, read and checked: its graph (built on demand), calibration
 * feeds for it, and what leanformer.json records.
 */
interface OpenedFolder {
  modelType: string; layers: number; build(): Graph;
  calibration(c: NonNullable<ConvertOptions['calibration']>): Record<string, Tensor>[];
  /** Decoders: the id self-calibration starts each sequence from (BOS, else the first EOS). */
  startTokenId?: number;
  info: Omit<ConvertedModelInfo, ConvertFields> | Omit<ConvertedEncoderInfo, ConvertFields>;
}

function openFolder(files: CheckpointFiles): OpenedFolder {
  if (checkpointKind(files) === 'encoder') {
    const ck = readEncoderCheckpoint(files);
    const s = ck.spec;
    return { modelType: s.modelType, layers: s.layers, build: () => buildEncoder(s, ck.weights), calibration: (c) => encoderRandomFeeds(s, { batches: c.batches ?? 8, tokens: c.tokens ?? 32, seed: c.seed ?? 0 }), info: encoderInfo(s) };
  }
  const ck = readCheckpoint(files);
  const s = ck.spec;
  const startTokenId = s.bosTokenId ?? ck.eosTokenIds[0];
  return {
    modelType: s.modelType, layers: s.layers, build: () => buildCausalLM(s, ck.weights),
    ...(startTokenId !== undefined ? { startTokenId } : {}),
    // Real text through the checkpoint's tokenizer (the caller's or the built-in passage); random ids without one.
    calibration: (c) => ck.tokenizer
      ? textCalibrationFeeds(ck.tokenizer.encode(c.text ?? CALIBRATION_TEXT), s, c.batches ?? 128, c.tokens ?? 64)
      : calibrationFeeds(s, c.batches ?? 8, c.tokens ?? 32, c.seed ?? 0),
    info: { kind: 'decoder', modelType: s.modelType, layers: s.layers, kvHeads: s.kvHeads, headDim: s.headDim, vocab: s.vocab, maxPositions: s.maxPositions, eosTokenIds: [...ck.eosTokenIds] },
  };
}

/** The decoder graph's feeds for one prefill of `ids` (int64 [1, ids.length]) with an empty past K/V in every layer. */
function sequenceFeed(ids: readonly number[], { layers, kvHeads, headDim }: { layers: number; kvHeads: number; headDim: number }): Record<string, Tensor> {
  const f: Record<string, Tensor> = { tokens: new Tensor('int64', [1, ids.length], BigInt64Array.from(ids, BigInt)) };
  for (let l = 0; l < layers; l++) {
    f[`past_key_${l}`] = new Tensor('float32', [1, kvHeads, 0, headDim], new Float32Array(0));
    f[`past_value_${l}`] = new Tensor('float32', [1, kvHeads, 0, headDim], new Float32Array(0));
  }
  return f;
}

/**
 * Calibration feeds from tokenized text, empty past: at most `batches` sequences of `tokens`, taken at
 * evenly spaced offsets over the whole text (a long file is sampled throughout, not only its start).
 */
function textCalibrationFeeds(ids: readonly number[], s: DecoderSpec, batches: number, tokens: number): Record<string, Tensor>[] {
  const fit = Math.floor(ids.length / tokens);
  const n = Math.min(batches, fit);
  if (n < 1) throw new LeanformerError('INVALID_ARGUMENT', `convert: the calibration text encodes to ${ids.length} tokens, fewer than one sequence of ${tokens}; give a longer text`, { details: { field: 'calibration.text' } });
  return Array.from({ length: n }, (_, i) => {
    const at = Math.floor((i * fit) / n) * tokens; // sequence slots 0…fit−1, n of them spread evenly
    return sequenceFeed(ids.slice(at, at + tokens), s);
  });
}

/**
 * Self-calibration feeds: `batches` (default 64) sequences of `tokens` (default 64) ids, each the start
 * token followed by tokens sampled at temperature 1 over the whole vocabulary from the fp32 graph convert
 * is about to quantize (`compile` runs it on ORT CPU once the options are checked), sequence i seeded
 * with seed·1,000,003 + i + 1; empty past.
 */
async function selfCalibrationFeeds(dir: string, m: OpenedFolder, compile: () => Promise<Executor>, c: NonNullable<ConvertOptions['calibration']>, onProgress: ProgressCallback | undefined): Promise<Record<string, Tensor>[]> {
  if (m.info.kind !== 'decoder') throw new LeanformerError('INVALID_ARGUMENT', `convert: self-calibration generates text, so it needs a decoder; '${dir}' is a ${m.modelType} encoder`, { details: { field: 'calibration.self' } });
  if (m.startTokenId === undefined) throw new LeanformerError('INVALID_ARGUMENT', `convert: self-calibration starts from config.json's 'bos_token_id' (or an EOS id); '${dir}' has neither`, { details: { field: 'calibration.self', file: 'config.json' } });
  const info = m.info;
  const batches = c.batches ?? 64, tokens = c.tokens ?? 64;
  if (!Number.isInteger(batches) || batches < 1) throw new LeanformerError('INVALID_ARGUMENT', `convert: calibration.batches must be a positive integer, got ${batches}`, { details: { field: 'calibration.batches' } });
  if (!Number.isInteger(tokens) || tokens < 2 || tokens > info.maxPositions) throw new LeanformerError('INVALID_ARGUMENT', `convert: self-calibration sequences need 2…${info.maxPositions} tokens (the model's positions), got ${tokens}`, { details: { field: 'calibration.tokens' } });
  const executor = await compile();
  try {
    const model: RunnableModel = { executor, ...info };
    const feeds: Record<string, Tensor>[] = [];
    onProgress?.({ phase: 'self-calibrate', done: 0, total: batches, unit: 'runs' });
    for (let i = 0; i < batches; i++) {
      const ids = [m.startTokenId];
      const opts = { promptIds: [m.startTokenId], maxNewTokens: tokens - 1, stopAtEos: false, sampling: { kind: 'top-k', k: info.vocab, temperature: 1 } as const, seed: (c.seed ?? 0) * 1_000_003 + i + 1 };
      for await (const t of generate(model, undefined, opts)) ids.push(t.id);
      feeds.push(sequenceFeed(ids, info));
      onProgress?.({ phase: 'self-calibrate', done: i + 1, total: batches, unit: 'runs' });
    }
    return feeds;
  } finally { await executor.dispose(); }
}

/** Calibration feeds for the KV-cache graph: random token ids over the vocabulary, empty past. */
function calibrationFeeds(s: DecoderSpec, batches: number, tokens: number, seed: number): Record<string, Tensor>[] {
  let x = (seed * 2654435761 + 1) >>> 0;
  const next = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
  return Array.from({ length: batches }, () => sequenceFeed(Array.from({ length: tokens }, () => next() % s.vocab), s));
}
