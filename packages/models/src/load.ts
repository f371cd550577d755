// Checkpoint folders from wherever they are (browser-safe): a folder URL (files fetched by name), a
// folder picker's files, a name → source map, or CheckpointFiles; and loadPretrained over them.
// The Node entry's loadPretrained adds folders on disk (and converted folders) and a default backend.
import { LeanformerError, describeSource, readSource, sourceUrl, type Backend, type ByteSource, type LoadProgress, type ReadSourceOptions } from '@leanformer/core';
import { quantizeModel, type QuantizeOptions } from '@leanformer/quant';
import { buildCausalLM } from './build.js';
import { parseJsonFile, shardNames } from './checkpoint.js';
import { memoryFiles, readCheckpoint, TOKENIZER_FILES, type Checkpoint, type CheckpointFiles, type RunnableModel } from './pretrained.js';
import type { TextTokenizer } from './tokenizer.js';

/**
 * A checkpoint folder: its URL (files fetched by name beside it; a URL not ending in '/' is taken as
 * the folder anyway), the files of `<input type=file webkitdirectory>` (a `FileList` or `File[]`;
 * files directly in the picked folder), a map of file name → source, or {@link CheckpointFiles}.
 * In Node, `loadPretrained` of '@leanformer/models/node' also takes a folder path.
 */
export type FolderSource = string | URL | ArrayLike<File> | Iterable<File> | Readonly<Record<string, ByteSource>> | CheckpointFiles;

/** Options of {@link readFolder}. `onProgress` counts bytes over all files read (see {@link LoadProgress}). */
export type ReadFolderOptions = ReadSourceOptions;

/** Files {@link readFolder} reads when present (besides the safetensors shards). */
const FOLDER_FILES: readonly string[] = ['config.json', 'model.safetensors.index.json', ...TOKENIZER_FILES];

/**
 * Reads the files of a checkpoint folder that loading needs (config, tokenizer files, the
 * safetensors index and shards) into memory as {@link CheckpointFiles}, reporting bytes read over
 * all of them (`loaded` never decreases; the last call has `loaded === total`, all bytes read).
 * Other files of the folder are not read. Files a folder URL lacks (HTTP 404) are absent, and
 * {@link readCheckpoint} names the ones it needs; other HTTP errors name the URL and status.
 *
 * @example
 * ```ts
 * const files = await readFolder(input.files, { onProgress: ({ loaded, total }) => bar(loaded / (total ?? loaded)) });
 * const ckpt = readCheckpoint(files);
 * ```
 */
export async function readFolder(source: FolderSource, o: ReadFolderOptions = {}): Promise<CheckpointFiles> {
  if (isCheckpointFiles(source)) return source;
  const named = namedSources(source);
  const upfront = named?.total; // all Blobs: the size of every file that may be read, known now
  let done = 0;
  let known = upfront ?? 0;
  const contents: Record<string, Uint8Array> = {};
  const read = async (name: string, from: ByteSource): Promise<void> => {
    let fileTotal: number | undefined;
    let bytes: Uint8Array;
    try {
      bytes = await readSource(from, {
        ...(o.signal ? { signal: o.signal } : {}),
        onProgress: (p: LoadProgress) => {
          if (upfront === undefined && p.total !== undefined && fileTotal === undefined) { fileTotal = p.total; known += p.total; }
          o.onProgress?.({ loaded: done + p.loaded, ...(upfront !== undefined || fileTotal !== undefined ? { total: known } : {}) });
        },
      });
    } catch (e) {
      if (e instanceof LeanformerError && e.details['status'] === 404) return; // absent from a folder URL
      throw e;
    }
    done += bytes.byteLength;
    contents[name] = bytes;
  };
  const sourceOf = (name: string): ByteSource | undefined => (named ? named.files.get(name) : new URL(name, folderUrl(source as string | URL)));
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
  o.onProgress?.({ loaded: done, total: done });
  return memoryFiles(contents);
}

/** A model folder loaded for generation (see {@link loadPretrained}). */
export interface PretrainedModel extends RunnableModel {
  readonly tokenizer?: TextTokenizer;
  readonly modelType: string;
  readonly vocab: number;
  /** 'hf' (built in memory from the checkpoint) or 'converted' (model.onnx from convert). */
  readonly source: 'hf' | 'converted';
  dispose(): Promise<void>;
}

/** Options of {@link loadPretrained}. */
export interface LoadPretrainedOptions extends ReadFolderOptions {
  /** The backend that runs the model. Required in the browser entry; the Node entry defaults to ORT CPU. */
  readonly backend?: Backend;
  /**
   * Quantizes the built graph before compiling it (`quantizeModel`'s options, e.g.
   * `{ method: 'rtn', bits: 4, target: 'ort-wasm' }`). Hugging Face checkpoints only.
   */
  readonly quantize?: QuantizeOptions;
}

/**
 * Loads a Hugging Face checkpoint folder for {@link generate} in any JavaScript runtime: files from a
 * folder URL, a folder picker, a name → source map or {@link CheckpointFiles} (see
 * {@link FolderSource}); the decoder is built in memory (fp32), optionally quantized, and compiled
 * on `options.backend`. Folder paths and folders written by `convertCheckpoint` are loaded by
 * `loadPretrained` of '@leanformer/models/node'.
 *
 * @example
 * ```ts
 * import { createOrtBackend } from '@leanformer/runtime-ort/web';
 * const model = await loadPretrained(folderInput.files, {
 *   backend: createOrtBackend({ eps: ['wasm'] }),
 *   quantize: { method: 'rtn', bits: 4, target: 'ort-wasm' },
 *   onProgress: ({ loaded, total }) => console.log(loaded, total),
 * });
 * for await (const t of generate(model, model.tokenizer, { prompt: 'Hello', maxNewTokens: 16 })) show(t.text);
 * ```
 */
export async function loadPretrained(source: FolderSource, o: LoadPretrainedOptions = {}): Promise<PretrainedModel> {
  if (!o.backend) throw new LeanformerError('INVALID_ARGUMENT', "loadPretrained: pass options.backend (e.g. createOrtBackend from '@leanformer/runtime-ort/web'); the Node entry '@leanformer/models/node' defaults to ORT CPU", { details: { argument: 'backend' } });
  return compilePretrained(readCheckpoint(await readFolder(source, o)), o.backend, o.quantize);
}

/** Builds, optionally quantizes and compiles a read checkpoint (shared with the Node entry). */
export async function compilePretrained(ckpt: Checkpoint, backend: Backend, quantize: QuantizeOptions | undefined): Promise<PretrainedModel> {
  let graph = buildCausalLM(ckpt.spec, ckpt.weights);
  if (quantize) graph = (await quantizeModel(graph, quantize)).graph;
  const executor = await backend.compile(graph);
  const s = ckpt.spec;
  return { executor, layers: s.layers, kvHeads: s.kvHeads, headDim: s.headDim, maxPositions: s.maxPositions, eosTokenIds: ckpt.eosTokenIds, modelType: s.modelType, vocab: s.vocab, source: 'hf', ...(ckpt.tokenizer ? { tokenizer: ckpt.tokenizer } : {}), dispose: () => executor.dispose() };
}

function isCheckpointFiles(x: unknown): x is CheckpointFiles {
  return typeof x === 'object' && x !== null && typeof (x as CheckpointFiles).text === 'function' && typeof (x as CheckpointFiles).bytes === 'function';
}

const isFile = (x: unknown): x is File => typeof File !== 'undefined' && x instanceof File;

/**
 * The files of a picker or a name → source map, by name (with their total size when all are
 * Blobs); undefined for a folder URL. Anything else is INVALID_ARGUMENT naming what was given.
 */
function namedSources(source: FolderSource): { files: Map<string, ByteSource>; total: number | undefined } | undefined {
  if (typeof source === 'string' || source instanceof URL) {
    if (!sourceUrl(source)) throw new LeanformerError('NOT_SUPPORTED', `loadPretrained: '${source}' is a folder path; folders on disk are loaded by loadPretrained from '@leanformer/models/node' (here give a folder URL, a folder picker's files or a name → source map)`, { details: { source } });
    return undefined;
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
  return { files, total };
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
