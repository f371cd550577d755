// Node-only entry: models on disk, with ONNX external data. Paths in external data are confined
// to the model's folder; sizes are checked against the file before reading; outputs are written
// to a temporary file and renamed, so a failed or interrupted save leaves no partial file.
import { closeSync, fstatSync, openSync, readFileSync, readSync, realpathSync, writeSync, type PathLike } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { LeanformerError, type ByteSource, type Graph, type Tensor, type TensorSource } from '@leanformer/core';
import { commitTemp, createTempPath, discardTemp, readSource, sourcePath } from '@leanformer/core/node';
import { importWith, urlSibling, type ImportModelOptions } from './import.js';
import { decodeModel, decodeTensor, encodeModel, type ExternalDataInfo } from './model.js';

/** Options of loadModel. */
export interface LoadOptions {
  /** 'eager' reads external tensors now; 'lazy' reads each on first access (default 'eager'). */
  readonly externalData?: 'eager' | 'lazy';
}

function ioError(message: string, cause?: unknown): LeanformerError {
  return new LeanformerError('IO_ERROR', message, { cause });
}

/**
 * Checks that an external-data `location` stays inside `dir` and returns the file's real path.
 * Refuses absolute paths, `..` segments and links that resolve outside the folder.
 */
export function resolveExternalPath(dir: string, location: string): string {
  if (location === '' || isAbsolute(location) || /^[a-zA-Z]:/.test(location) || location.startsWith('\\')) {
    throw new LeanformerError('UNSAFE_PATH', `External data location '${location}' must be a relative path inside the model's folder`);
  }
  if (location.split(/[\\/]/).some((seg) => seg === '..')) {
    throw new LeanformerError('UNSAFE_PATH', `External data location '${location}' must not contain '..'`);
  }
  const root = realpathSync(dir);
  let real: string;
  try {
    real = realpathSync(join(dir, location));
  } catch (e) {
    throw new LeanformerError('EXTERNAL_DATA', `External data file '${location}' not found beside the model in ${dir}`, { cause: e });
  }
  const rel = relative(root, real);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new LeanformerError('UNSAFE_PATH', `External data location '${location}' resolves outside the model's folder (${real})`);
  }
  return real;
}

/** Reads `length` bytes at `offset` of an open file into a fresh buffer. */
function readRange(fd: number, offset: number, length: number, what: string): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, Math.min(length - done, 1 << 30), offset + done);
    if (n === 0) throw new LeanformerError('EXTERNAL_DATA', `${what}: file ended after ${done} of ${length} bytes`);
    done += n;
  }
  return out;
}

/**
 * Loads an ONNX model file, resolving external data beside it.
 *
 * @example
 * ```ts
 * const graph = await loadModel('model.onnx', { externalData: 'lazy' });
 * ```
 */
export async function loadModel(path: string, options: LoadOptions = {}): Promise<Graph> {
  return loadModelSync(path, options);
}

/**
 * Imports an ONNX model into the IR from a file path or file: URL, or anything the browser-safe
 * `importModel` of '@leanformer/onnx' takes (URL, Blob/File, bytes, ReadableStream), with progress.
 * External data is read beside a file (confined to its folder, as {@link loadModel} does) or
 * fetched beside a URL, unless `options.externalData` says where it is.
 *
 * @example
 * ```ts
 * import { importModel } from '@leanformer/onnx/node';
 * const graph = await importModel('model.onnx', { onProgress: ({ done, total }) => console.log(done, total) });
 * ```
 */
export async function importModel(source: ByteSource, options: ImportModelOptions = {}): Promise<Graph> {
  return importWith({
    read: readSource,
    sibling: (model, location) => {
      const path = sourcePath(model);
      return path === undefined ? urlSibling(model, location) : resolveExternalPath(dirname(resolve(path)), location);
    },
  }, source, options);
}

/** Synchronous form of {@link loadModel}. */
export function loadModelSync(path: string, options: LoadOptions = {}): Graph {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw ioError(`Cannot read model '${path}': ${(e as Error).message}`, e);
  }
  const dir = dirname(resolve(path));
  const lazy = options.externalData === 'lazy';
  const fds = new Map<string, { fd: number; size: number }>();
  const open = (real: string) => {
    let f = fds.get(real);
    if (!f) {
      const fd = openSync(real, 'r');
      f = { fd, size: fstatSync(fd).size };
      fds.set(real, f);
    }
    return f;
  };
  try {
    return decodeModel(bytes, {
      mayMutateInput: true, // this buffer is ours: let misaligned weights move in place instead of being copied
      externalData: (info: ExternalDataInfo, expected: number, name: string): Uint8Array | TensorSource => {
        const real = resolveExternalPath(dir, info.location);
        const { fd, size } = open(real);
        const length = info.length ?? size - info.offset;
        if (length !== expected) throw new LeanformerError('EXTERNAL_DATA', `tensor '${name}': external data holds ${length} bytes, its shape needs ${expected}`);
        if (info.offset + length > size) {
          throw new LeanformerError('EXTERNAL_DATA', `tensor '${name}': bytes ${info.offset}..${info.offset + length} lie past the end of '${info.location}' (${size} bytes)`);
        }
        if (!lazy) return readRange(fd, info.offset, length, `tensor '${name}'`);
        const location = { path: real, offset: info.offset, length };
        return {
          byteLength: length,
          location,
          load(): Uint8Array {
            const lfd = openSync(real, 'r');
            try { return readRange(lfd, location.offset, length, `tensor '${name}'`); } finally { closeSync(lfd); }
          },
        };
      },
    });
  } finally {
    for (const { fd } of fds.values()) closeSync(fd);
  }
}

/** Where saveModel writes external data and which tensors go there. */
export interface ExternalDataOptions {
  /** Data file name, relative to the model's folder (default `<model file name>.data`). */
  readonly location?: string;
  /** Tensors smaller than this many bytes stay inside the model (default 1024). */
  readonly sizeThreshold?: number;
  /** One data file for all tensors (default true); false writes one file per tensor, named after it. */
  readonly allTensorsToOneFile?: boolean;
}

/** Options of saveModel. */
export interface SaveOptions {
  /**
   * Write initializers to separate data files: `true` for the defaults of {@link ExternalDataOptions}.
   * Without this option, models whose weights exceed ~1.9 GB are written with external data anyway
   * (protobuf messages cannot exceed 2 GB); `false` refuses such a model with SIZE_LIMIT.
   */
  readonly externalData?: boolean | ExternalDataOptions;
}

const PROTOBUF_LIMIT = 1.9 * 1024 ** 3;
const ALIGN = 64; // external tensors start on 64-byte boundaries (lets readers map them aligned)

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

/** Copies a lazy tensor's bytes from its source file in chunks, never holding it whole. */
function copyFromSource(fd: number, src: NonNullable<TensorSource['location']>, position: number): void {
  const sfd = openSync(src.path, 'r');
  try {
    const chunk = new Uint8Array(Math.min(src.length, 16 << 20));
    for (let done = 0; done < src.length;) {
      const n = readSync(sfd, chunk, 0, Math.min(chunk.length, src.length - done), src.offset + done);
      if (n === 0) throw new LeanformerError('EXTERNAL_DATA', `Source file '${src.path}' ended early`);
      writeAll(fd, chunk.subarray(0, n), position + done);
      done += n;
    }
  } finally {
    closeSync(sfd);
  }
}

/** Refuses data-file names that would land outside the model's folder. */
function checkLocation(location: string): void {
  if (location === '' || isAbsolute(location) || /^[a-zA-Z]:/.test(location) || location.startsWith('\\') || location.split(/[\\/]/).includes('..')) {
    throw new LeanformerError('UNSAFE_PATH', `External data location '${location}' must be a relative path inside the model's folder`);
  }
}

/** A file name for one tensor's data (allTensorsToOneFile: false): its name, made safe and unique. */
function tensorFileName(name: string, taken: Set<string>): string {
  const base = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 180) || 'tensor';
  let n = base;
  for (let i = 1; taken.has(n.toLowerCase()); i++) n = `${base}_${i}`;
  taken.add(n.toLowerCase());
  return n;
}

/**
 * Saves a graph as an ONNX file (optionally with external data), atomically: everything is written
 * to temporary files first and renamed into place only when complete, so a failed save leaves no
 * partial file. Lazy tensors (loadModel's 'lazy' mode) are copied from their files in chunks.
 *
 * @example
 * ```ts
 * await saveModel(graph, 'out/model.onnx', { externalData: true }); // writes model.onnx + model.onnx.data
 * ```
 */
export async function saveModel(graph: Graph, path: string, options: SaveOptions = {}): Promise<void> {
  saveModelSync(graph, path, options);
}

/** Synchronous form of {@link saveModel}. */
export function saveModelSync(graph: Graph, path: string, options: SaveOptions = {}): void {
  const weights = [...graph.initializers.values()].reduce((n, v) => n + (v.const?.byteLength ?? 0), 0);
  const ext = options.externalData ?? weights > PROTOBUF_LIMIT;
  const dir = dirname(path);
  const tmpModel = createTempPath(path);
  const temps: string[] = [tmpModel]; // every temporary file (registered: removed on failure, SIGINT, SIGTERM)
  const files = new Map<string, { tmp: string; fd: number; end: number }>(); // data files by location
  const dataFile = (location: string) => {
    let f = files.get(location);
    if (!f) {
      const tmp = createTempPath(join(dir, location));
      temps.push(tmp);
      f = { tmp, fd: openSync(tmp, 'w'), end: 0 };
      files.set(location, f);
    }
    return f;
  };
  try {
    let bytes: Uint8Array;
    if (!ext) {
      bytes = encodeModel(graph);
    } else {
      const cfg = typeof ext === 'object' ? ext : {};
      const location = cfg.location ?? `${basename(path)}.data`;
      checkLocation(location);
      const threshold = cfg.sizeThreshold ?? 1024;
      const oneFile = cfg.allTensorsToOneFile ?? true;
      const taken = new Set<string>([basename(path).toLowerCase()]);
      try {
        bytes = encodeModel(graph, {
          externalData: (tensor: Tensor, name: string) => {
            if (tensor.dtype.storage === 'string' || tensor.byteLength < threshold) return undefined;
            const loc = oneFile ? location : tensorFileName(name, taken);
            const f = dataFile(loc);
            const at = Math.ceil(f.end / ALIGN) * ALIGN;
            const wasLoaded = tensor.isLoaded;
            const src = wasLoaded ? undefined : tensor.lazySource?.location;
            if (src) copyFromSource(f.fd, src, at);
            else writeAll(f.fd, tensor.bytes(), at);
            // A lazy tensor loaded only to be written is dropped again, so writing a model whose weights
            // are read on demand holds one tensor at a time.
            if (!wasLoaded) tensor.release();
            f.end = at + tensor.byteLength;
            return { location: loc.split(sep).join('/'), offset: at, length: tensor.byteLength };
          },
        });
      } finally {
        for (const f of files.values()) closeSync(f.fd);
      }
    }
    const mfd = openSync(tmpModel, 'w');
    try { writeAll(mfd, bytes, 0); } finally { closeSync(mfd); }
    // Everything is on disk: rename into place, data files first so the model never points at nothing.
    for (const [location, f] of files) commitTemp(f.tmp, join(dir, location));
    commitTemp(tmpModel, path);
  } catch (e) {
    if (e instanceof LeanformerError) throw e;
    throw ioError(`Cannot save model to '${path}': ${(e as Error).message}`, e);
  } finally {
    for (const f of temps) discardTemp(f); // no-op for the committed ones
  }
}

/**
 * Reads a serialized TensorProto file (e.g. `test_data_set_0/input_0.pb`).
 *
 * @example
 * ```ts
 * const { name, tensor } = readTensorFile('test_data_set_0/output_0.pb');
 * ```
 */
export function readTensorFile(path: PathLike): { name: string; tensor: Tensor } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw ioError(`Cannot read tensor file '${String(path)}': ${(e as Error).message}`, e);
  }
  return decodeTensor(bytes);
}
