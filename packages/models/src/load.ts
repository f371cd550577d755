// Model folders from wherever they are (browser-safe): a folder URL (files fetched by name), a
// folder picker's files, a name → source map, or CheckpointFiles; and loadPretrained over them (HF
// checkpoints and folders written by convert). The Node entry's loadPretrained adds folders on disk
// and a default backend (ORT CPU).
import { LeanformerError, describeSource, readSource, sourceUrl, type Backend, type ByteSource, type ComputePrecision, type Executor, type ProgressEvent, type ReadSourceOptions, type TargetName } from '@leanformer/core';
import { importModel } from '@leanformer/onnx';
import { quantizeModel, type QuantizeOptions } from '@leanformer/quant';
import { buildCausalLM, scaledRopeInvFreq } from './build.js';
import { familyOf, type DecoderSpec } from './families.js';
import { parseJsonFile, shardNames } from './checkpoint.js';
import { buildEncoder, encoderInputs, encoderOutputs, type EncoderSpec } from './encoders.js';
import { checkpointKind, memoryFiles, readCheckpoint, readEncoderCheckpoint, TOKENIZER_FILES, type CheckpointFiles, type RunnableModel } from './pretrained.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';

/**
 * A checkpoint folder: its URL (files fetched by name beside it; a URL not ending in '/' is taken as
 * the folder anyway), the files of `<input type=file webkitdirectory>` (a `FileList` or `File[]`;
 * files directly in the picked folder), a map of file name → source, or {@link CheckpointFiles}.
 * In Node, `loadPretrained` of '@leanformer/models/node' also takes a folder path.
 */
export type FolderSource = string | URL | ArrayLike<File> | Iterable<File> | Readonly<Record<string, ByteSource>> | CheckpointFiles;

/** Options of {@link readFolder}. `onProgress` counts bytes over all files read (core's `ProgressEvent`, phase 'read', unit 'bytes'). */
export type ReadFolderOptions = ReadSourceOptions;

/** Files {@link readFolder} reads when present (besides the safetensors shards). */
const FOLDER_FILES: readonly string[] = ['config.json', 'model.safetensors.index.json', ...TOKENIZER_FILES];

/**
 * Reads the files of a checkpoint folder that loading needs (config, tokenizer files, the
 * safetensors index and shards) into memory as {@link CheckpointFiles}, reporting bytes read over
 * all of them as `{ phase: 'read', unit: 'bytes', done, total, item: <file name> }` (`done` never
 * decreases; `total` is null while unknown; the last call has `done === total`, all bytes read).
 * Other files of the folder are not read. Files a folder URL lacks (HTTP 404) are absent, and
 * {@link readCheckpoint} names the ones it needs; other HTTP errors name the URL and status.
 *
 * @example
 * ```ts
 * const files = await readFolder(input.files, { onProgress: ({ done, total }) => bar(done / (total ?? done)) });
 * const ckpt = readCheckpoint(files);
 * ```
 */
export async function readFolder(source: FolderSource, o: ReadFolderOptions = {}): Promise<CheckpointFiles> {
  if (isCheckpointFiles(source)) return source;
  const { sourceOf, total: upfront } = folderSources(source); // upfront: all Blobs, the size of every file that may be read
  let done = 0;
  let known = upfront ?? 0;
  const contents: Record<string, Uint8Array> = {};
  const read = async (name: string, from: ByteSource): Promise<void> => {
    let fileTotal: number | undefined;
    let bytes: Uint8Array;
    try {
      bytes = await readSource(from, {
        ...(o.signal ? { signal: o.signal } : {}),
        onProgress: (p: ProgressEvent) => {
          if (upfront === undefined && p.total !== null && fileTotal === undefined) { fileTotal = p.total; known += p.total; }
          o.onProgress?.({ phase: 'read', done: done + p.done, total: upfront !== undefined || fileTotal !== undefined ? known : null, unit: 'bytes', item: name });
        },
      });
    } catch (e) {
      if (e instanceof LeanformerError && e.details['status'] === 404) return; // absent from a folder URL
      throw e;
    }
    done += bytes.byteLength;
    contents[name] = bytes;
  };
  for (const name of FOLDER_FILES) {
    const from = sourceOf(name);
    if (from !== undefined) await read(name, from);
  }
  if (contents['config.json'] === undefined) throw new LeanformerError('INVALID_ARGUMENT', `config.json: missing from ${describeFolder(source)}; a Hugging Face checkpoint folder needs config.json`, { details: { file: 'config.json' } });
  const indexBytes = contents['model.safetensors.index.json'];
  const { files: shards } = shardNames(indexBytes ? parseJsonFile(new TextDecoder().decode(indexBytes), 'model.safetensors.index.json') : undefined);
  for (const name of shards) { // readCheckpoint names a shard that is still missing
    const from = sourceOf(name);
    if (from !== undefined) await read(name, from);
  }
  o.onProgress?.({ phase: 'read', done, total: done, unit: 'bytes' });
  return memoryFiles(contents);
}

/** A decoder folder loaded for generation (see {@link loadPretrained}). */
export interface PretrainedModel extends RunnableModel {
  readonly kind: 'decoder';
  readonly tokenizer?: TextTokenizer;
  readonly modelType: string;
  readonly vocab: number;
  /** 'hf' (built in memory from the checkpoint) or 'converted' (model.onnx from convert). */
  readonly source: 'hf' | 'converted';
  dispose(): Promise<void>;
}

/**
 * An encoder ready to run (BERT, RoBERTa, ViT, DeiT): `executor.run` takes the {@link encoderInputs}
 * (int64 `[batch, seq]` ids and masks, or float32 `pixel_values`) and returns `last_hidden_state`
 * and, where the checkpoint has a pooler, `pooler_output`.
 */
export interface PretrainedEncoder extends EncoderFacts {
  readonly executor: Executor;
  /** BERT's WordPiece or RoBERTa's byte-level BPE; undefined without tokenizer.json. */
  readonly tokenizer?: TextTokenizer;
  /** 'hf' (built in memory from the checkpoint) or 'converted' (model.onnx from convert). */
  readonly source: 'hf' | 'converted';
  dispose(): Promise<void>;
}

/** What a folder is expected to hold (see {@link LoadPretrainedOptions.kind}). */
export type PretrainedKind = 'decoder' | 'encoder' | 'any';

/** Options of {@link loadPretrained}. */
export interface LoadPretrainedOptions extends ReadFolderOptions {
  /** The backend that runs the model. Required in the browser entry; the Node entry defaults to ORT CPU. */
  readonly backend?: Backend;
  /**
   * Quantizes the built graph before compiling it (`quantizeModel`'s options, e.g.
   * `{ method: 'rtn', bits: 4, target: 'ort-wasm' }`). Hugging Face checkpoints only.
   */
  readonly quantize?: QuantizeOptions;
  /**
   * What the caller expects (default 'decoder'): a folder of the other kind fails with NOT_SUPPORTED
   * saying which it holds, before anything is compiled; 'any' takes either and returns the union
   * (tell them apart by `kind`).
   */
  readonly kind?: PretrainedKind;
  /**
   * Build an HF decoder's graph with `query_<l>` outputs, which `generate`'s `evict: 'h2o' | 'snapkv'`
   * needs (default false). A converted folder's model.onnx has none: NOT_SUPPORTED.
   */
  readonly queryOutputs?: boolean;
}

/** The result type of {@link loadPretrained} for a `kind` option. */
export type LoadedKind<K extends PretrainedKind | undefined> = K extends 'encoder' ? PretrainedEncoder : K extends 'any' ? PretrainedModel | PretrainedEncoder : PretrainedModel;

/**
 * Loads a model folder for {@link generate} in any JavaScript runtime: files from a folder URL, a
 * folder picker, a name → source map or {@link CheckpointFiles} (see {@link FolderSource}). A
 * Hugging Face checkpoint is built in memory (fp32), optionally quantized, and compiled on
 * `options.backend`; a folder written by `convertCheckpoint` (leanformer.json) has its model.onnx
 * imported with `importModel` (external data beside it) and compiled. `onProgress` counts the
 * checkpoint's files, or model.onnx and its data. Folder paths are loaded by `loadPretrained` of
 * '@leanformer/models/node'.
 *
 * @example
 * ```ts
 * import { createOrtBackend } from '@leanformer/runtime-ort/web';
 * const model = await loadPretrained(folderInput.files, {
 *   backend: createOrtBackend({ eps: ['wasm'] }),
 *   quantize: { method: 'rtn', bits: 4, target: 'ort-wasm' },
 *   onProgress: ({ done, total }) => console.log(done, total),
 * });
 * for await (const t of generate(model, model.tokenizer, { prompt: 'Hello', maxNewTokens: 16 })) show(t.text);
 * ```
 */
export async function loadPretrained<K extends PretrainedKind | undefined = undefined>(source: FolderSource, o: LoadPretrainedOptions & { readonly kind?: K } = {}): Promise<LoadedKind<K>> {
  if (!o.backend) throw new LeanformerError('INVALID_ARGUMENT', "loadPretrained: pass options.backend (e.g. createOrtBackend from '@leanformer/runtime-ort/web'); the Node entry '@leanformer/models/node' defaults to ORT CPU", { details: { argument: 'backend' } });
  const { sourceOf } = folderSources(source);
  const infoBytes = await readIfPresent(sourceOf('leanformer.json'), o.signal ? { signal: o.signal } : {});
  const where = describeFolder(source);
  if (!infoBytes) return compilePretrained(await readFolder(source, o), o.backend, o, where) as Promise<LoadedKind<K>>;
  // A folder written by convert: its model.onnx (and external data) as they are.
  const info = parseConvertedInfo(utf8(infoBytes), where, o);
  const model = sourceOf('model.onnx');
  if (model === undefined) throw new LeanformerError('INVALID_ARGUMENT', `model.onnx: missing from ${where}, which has leanformer.json (a folder written by convert)`, { details: { file: 'model.onnx' } });
  const graph = await importModel(model, { ...(o.onProgress ? { onProgress: o.onProgress } : {}), ...(o.signal ? { signal: o.signal } : {}), externalData: (location) => sourceOf(location) ?? missing(location, where) });
  const text = async (name: string) => { const b = await readIfPresent(sourceOf(name), o.signal ? { signal: o.signal } : {}); return b && utf8(b); };
  const [tokenizerJson, tokenizerConfig, chatTemplate] = await Promise.all(['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja'].map(text));
  const tokenizer = tokenizerJson !== undefined ? loadTokenizer({ tokenizerJson, ...(tokenizerConfig !== undefined ? { tokenizerConfig } : {}), ...(chatTemplate !== undefined ? { chatTemplate } : {}) }) : undefined;
  return convertedModel(info, await o.backend.compile(graph), tokenizer, await text('config.json')) as LoadedKind<K>;
}

/** What `convert` writes beside a decoder's model.onnx (leanformer.json): what the generator needs to run it. */
export interface ConvertedModelInfo {
  readonly format: 'leanformer-converted-1';
  /** Absent in folders converted before encoders were supported. */
  readonly kind?: 'decoder';
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
  /** Float type of activations and KV cache (absent in folders written before it existed: fp32). */
  readonly compute?: ComputePrecision;
}

/** What an encoder is, as loaded and as `convert` records it (see {@link encoderInfo}). */
export interface EncoderFacts {
  readonly kind: 'encoder';
  readonly modelType: string;
  readonly layers: number;
  readonly hidden: number;
  /** As {@link encoderInputs}. */
  readonly inputs: readonly string[];
  /** As {@link encoderOutputs}. */
  readonly outputs: readonly string[];
  /** ViT/DeiT: `pixel_values` is `[batch, channels, size, size]`. */
  readonly image?: { readonly size: number; readonly channels: number };
}

/** What `convert` writes beside an encoder's model.onnx (leanformer.json): its inputs and outputs. */
export interface ConvertedEncoderInfo extends EncoderFacts {
  readonly format: 'leanformer-converted-1';
  readonly precision: string;
  readonly method?: string;
  readonly target: TargetName;
  /** Float type of activations (absent in folders written before it existed: fp32). */
  readonly compute?: ComputePrecision;
}

/** The leanformer.json fields that describe an encoder (convert writes them). Shared with the Node entry. */
export function encoderInfo(s: EncoderSpec): EncoderFacts {
  const e = s.embeddings;
  return { kind: 'encoder', modelType: s.modelType, layers: s.layers, hidden: s.hidden, inputs: encoderInputs(s), outputs: encoderOutputs(s), ...(e.kind === 'patch' ? { image: { size: e.imageSize, channels: e.channels } } : {}) };
}

/**
 * Parses and checks leanformer.json: its format, the kind the caller expects (checked before anything
 * is compiled), and refuses `quantize` (the folder's weights are already final). Shared with the Node entry.
 */
export function parseConvertedInfo(text: string, where: string, o: Pick<LoadPretrainedOptions, 'quantize' | 'kind' | 'queryOutputs'>): ConvertedModelInfo | ConvertedEncoderInfo {
  const info = parseJsonFile(text, 'leanformer.json') as unknown as ConvertedModelInfo | ConvertedEncoderInfo;
  if (info.format !== 'leanformer-converted-1') throw new LeanformerError('DECODE_ERROR', `leanformer.json: format ${JSON.stringify(info.format)} is not 'leanformer-converted-1'`, { details: { file: 'leanformer.json', field: 'format' } });
  expectKind(o.kind, info.kind ?? 'decoder', info.modelType, where);
  if (o.quantize) throw new LeanformerError('INVALID_ARGUMENT', `loadPretrained: quantize applies to Hugging Face checkpoints; ${where} was written by convert (precision ${info.precision})`, { details: { argument: 'quantize' } });
  if (o.queryOutputs) throw new LeanformerError('NOT_SUPPORTED', `loadPretrained: ${where} is a converted folder, whose model.onnx has no query outputs; load the Hugging Face folder for queryOutputs (h2o/snapkv eviction)`, { details: { field: 'queryOutputs' } });
  return info;
}

/** A converted folder's compiled model as a {@link PretrainedModel} or {@link PretrainedEncoder}. Shared with the Node entry. */
export function convertedModel(info: ConvertedModelInfo | ConvertedEncoderInfo, executor: Executor, tokenizer: TextTokenizer | undefined, configJson?: string): PretrainedModel | PretrainedEncoder {
  const tok = tokenizer ? { tokenizer } : {};
  if (info.kind === 'encoder') {
    const { kind, modelType, layers, hidden, inputs, outputs, image } = info;
    return { kind, executor, modelType, layers, hidden, inputs, outputs, ...(image ? { image } : {}), source: 'converted', ...tok, dispose: () => executor.dispose() };
  }
  // convert copies config.json: its RoPE settings let eviction re-rotate kept keys.
  const rope = configJson !== undefined ? ropeOf(specOf(configJson)) : undefined;
  return { kind: 'decoder', executor, ...(rope ? { ropeInvFreq: rope } : {}), layers: info.layers, kvHeads: info.kvHeads, headDim: info.headDim, kvDtype: info.compute === 'fp16' ? 'float16' : 'float32', maxPositions: info.maxPositions, eosTokenIds: info.eosTokenIds, modelType: info.modelType, vocab: info.vocab, source: 'converted', ...tok, dispose: () => executor.dispose() };
}

/** NOT_SUPPORTED when a folder holds the other kind than the caller asked for (default 'decoder'). */
function expectKind(want: PretrainedKind | undefined, kind: 'decoder' | 'encoder', modelType: string, where: string): void {
  const w = want ?? 'decoder';
  if (w !== 'any' && kind !== w) throw new LeanformerError('NOT_SUPPORTED', `loadPretrained: ${where} holds ${kind === 'encoder' ? 'an encoder' : 'a decoder'} (${modelType}), not ${w === 'encoder' ? 'an encoder' : 'a decoder'}; pass { kind: '${kind}' } (or 'any')`, { details: { field: 'kind' } });
}

const utf8 = (b: Uint8Array): string => new TextDecoder('utf-8').decode(b);

function missing(location: string, where: string): never {
  throw new LeanformerError('EXTERNAL_DATA', `model.onnx names external data '${location}', which is missing from ${where}`, { details: { file: location } });
}

/** The bytes of an optional file: undefined when there is no source or the server says 404. */
async function readIfPresent(from: ByteSource | undefined, o: ReadSourceOptions): Promise<Uint8Array | undefined> {
  if (from === undefined) return undefined;
  try { return await readSource(from, o); } catch (e) {
    if (e instanceof LeanformerError && e.details['status'] === 404) return undefined;
    throw e;
  }
}

/**
 * Reads a checkpoint folder's files as a decoder or an encoder (checking the kind the caller expects
 * before anything is built), builds, optionally quantizes and compiles it. Shared with the Node entry.
 */
export async function compilePretrained(files: CheckpointFiles, backend: Backend, o: Pick<LoadPretrainedOptions, 'quantize' | 'kind' | 'queryOutputs'>, where: string): Promise<PretrainedModel | PretrainedEncoder> {
  if (checkpointKind(files) === 'encoder') {
    const ck = readEncoderCheckpoint(files);
    expectKind(o.kind, 'encoder', ck.spec.modelType, where);
    let graph = buildEncoder(ck.spec, ck.weights);
    if (o.quantize) graph = (await quantizeModel(graph, o.quantize)).graph;
    const executor = await backend.compile(graph);
    return { ...encoderInfo(ck.spec), kind: 'encoder', executor, source: 'hf', ...(ck.tokenizer ? { tokenizer: ck.tokenizer } : {}), dispose: () => executor.dispose() };
  }
  const ckpt = readCheckpoint(files);
  expectKind(o.kind, 'decoder', ckpt.spec.modelType, where);
  const queryOutputs = o.queryOutputs ?? false;
  let graph = buildCausalLM(ckpt.spec, ckpt.weights, { queryOutputs });
  if (o.quantize) graph = (await quantizeModel(graph, o.quantize)).graph;
  const executor = await backend.compile(graph);
  const s = ckpt.spec;
  const rope = ropeOf(s);
  return { kind: 'decoder', executor, ...(rope ? { ropeInvFreq: rope } : {}), queryOutputs, layers: s.layers, kvHeads: s.kvHeads, headDim: s.headDim, maxPositions: s.maxPositions, eosTokenIds: ckpt.eosTokenIds, modelType: s.modelType, vocab: s.vocab, source: 'hf', ...(ckpt.tokenizer ? { tokenizer: ckpt.tokenizer } : {}), dispose: () => executor.dispose() };
}

function isCheckpointFiles(x: unknown): x is CheckpointFiles {
  return typeof x === 'object' && x !== null && typeof (x as CheckpointFiles).text === 'function' && typeof (x as CheckpointFiles).bytes === 'function';
}

const isFile = (x: unknown): x is File => typeof File !== 'undefined' && x instanceof File;

/**
 * The source of each file of a folder by name (undefined: not in the folder, as far as can be told
 * without asking a server), with the total size of the files loading may read when all are Blobs.
 * Anything that is not a folder source is INVALID_ARGUMENT naming what was given.
 */
function folderSources(source: Exclude<FolderSource, CheckpointFiles> | CheckpointFiles): { sourceOf(name: string): ByteSource | undefined; total: number | undefined } {
  if (isCheckpointFiles(source)) return { sourceOf: (name) => { const r = source.bytes(name); return r && r.read(0, r.size); }, total: undefined };
  if (typeof source === 'string' || source instanceof URL) {
    if (!sourceUrl(source)) throw new LeanformerError('NOT_SUPPORTED', `loadPretrained: '${source}' is a folder path; folders on disk are loaded by loadPretrained from '@leanformer/models/node' (here give a folder URL, a folder picker's files or a name → source map)`, { details: { source } });
    const folder = folderUrl(source);
    return { sourceOf: (name) => new URL(name, folder), total: undefined };
  }
  const list = typeof source === 'object' && source !== null && (Symbol.iterator in source || typeof (source as ArrayLike<File>).length === 'number') ? Array.from(source as ArrayLike<File>) : undefined;
  const files = new Map<string, ByteSource>();
  if (list) {
    for (const f of list) {
      if (!isFile(f)) throw new LeanformerError('INVALID_ARGUMENT', `loadPretrained: a list of files holds ${describeSource(f)}; give File objects (a folder picker's FileList)`);
      const rel = f.webkitRelativePath || f.name;
      if (rel.split('/').length <= 2 && !files.has(f.name)) files.set(f.name, f); // files directly in the picked folder
    }
  } else if (typeof source === 'object' && source !== null && Object.getPrototypeOf(source) === Object.prototype) {
    for (const [name, s] of Object.entries(source as Record<string, ByteSource>)) files.set(name, s);
  } else {
    throw new LeanformerError('INVALID_ARGUMENT', `loadPretrained: got ${describeSource(source)}; give a folder URL, a folder picker's files (FileList or File[]), a map of file name → source, or CheckpointFiles (in Node also a folder path)`);
  }
  const wanted = [...files].filter(([n]) => FOLDER_FILES.includes(n) || n.endsWith('.safetensors'));
  const total = wanted.every(([, s]) => typeof Blob !== 'undefined' && s instanceof Blob) ? wanted.reduce((n, [, s]) => n + (s as Blob).size, 0) : undefined;
  return { sourceOf: (name) => files.get(name), total };
}

/** The folder URL of a folder source: `…/llama` and `…/llama/` both mean the folder `…/llama/`. */
function folderUrl(source: string | URL): URL {
  const url = new URL(sourceUrl(source)!);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

function describeFolder(source: FolderSource): string {
  return typeof source === 'string' || source instanceof URL ? `${folderUrl(source).href}` : 'the given files';
}

/** The RoPE inverse frequencies of a decoder spec (undefined for learned positions). */
function ropeOf(s: DecoderSpec): Float64Array | undefined {
  return s.positions.kind === 'rope' ? scaledRopeInvFreq(s.headDim, s.positions.theta, s.positions.scaling) : undefined;
}

/** The decoder spec of a config.json text. */
function specOf(configJson: string): DecoderSpec {
  const cfg = parseJsonFile(configJson, 'config.json');
  return familyOf(cfg, 'config.json').spec(cfg, 'config.json');
}
