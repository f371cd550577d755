// importModel: an ONNX model from any byte source (URL, Blob/File, bytes, stream; paths in the Node
// entry), with progress, and its external-data files fetched asynchronously: the model is decoded
// once, collecting the external tensors it names; then each data file is read once (beside the
// model URL or file, or from the caller's resolver) and every tensor's range is checked against it
// before the graph is returned.
import { LeanformerError, describeSource, readSource, sourceUrl, type ByteSource, type Graph, type ProgressEvent, type ReadSourceOptions } from '@leanformer/core';
import { decodeModel, type ExternalDataInfo } from './model.js';

/** Gives the source of an external-data file named by the model (a relative `location`). */
export type ExternalDataSourceResolver = (location: string) => ByteSource | Promise<ByteSource>;

/**
 * Options of {@link importModel}. `onProgress` gets core's `ProgressEvent` `{ phase: 'read', unit:
 * 'bytes', done, total, item }` over the model file and then its external-data files: `done`
 * counts every byte read so far (never decreasing); `total` is the sum of the sizes known so far
 * (null while the current file's size is unknown), so it grows when a data file starts; `item` is
 * the file being read where it has a name; the last call has `done === total`.
 */
export interface ImportModelOptions extends ReadSourceOptions {
  /**
   * Where external-data files come from. Default: beside the model (its URL's folder; in Node its
   * file's folder, confined to it). Needed for models given as bytes, Blob or stream whose weights
   * are external.
   */
  readonly externalData?: ExternalDataSourceResolver;
}

/** How a runtime entry reads sources and finds a model's sibling files (the Node entry adds paths). */
export interface SourceAccess {
  read(source: ByteSource, o: ReadSourceOptions): Promise<Uint8Array>;
  /** The source of `location` beside the model, or undefined when the model has no folder. */
  sibling(model: ByteSource, location: string): ByteSource | undefined;
}

/** Siblings of URL sources (http, https); blob:, data: and in-memory sources have none. */
export function urlSibling(model: ByteSource, location: string): ByteSource | undefined {
  const url = sourceUrl(model);
  return url && (url.protocol === 'http:' || url.protocol === 'https:') ? new URL(location, url) : undefined;
}

/** Refuses external-data locations that could leave the model's folder (same rules in Node and browsers). */
export function checkExternalLocation(location: string): void {
  if (location === '' || location.startsWith('/') || location.startsWith('\\') || /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(location)) {
    throw new LeanformerError('UNSAFE_PATH', `External data location '${location}' must be a relative path inside the model's folder`, { details: { location } });
  }
  if (location.split(/[\\/]/).some((seg) => seg === '..')) throw new LeanformerError('UNSAFE_PATH', `External data location '${location}' must not contain '..'`, { details: { location } });
}

/**
 * Imports an ONNX model into the IR from a URL (fetch), `Blob`/`File`, `ArrayBuffer`/`Uint8Array`
 * or `ReadableStream`, with progress; external data is fetched relative to the model URL, or from
 * `options.externalData`. File paths are read by `importModel` from '@leanformer/onnx/node'.
 *
 * @example
 * ```ts
 * const graph = await importModel('https://example.com/model.onnx', {
 *   onProgress: ({ done, total }) => console.log(`${done} / ${total ?? '?'} bytes`),
 * });
 * const fromPicker = await importModel(input.files[0], { externalData: (name) => filesByName[name] });
 * ```
 */
export async function importModel(source: ByteSource, options: ImportModelOptions = {}): Promise<Graph> {
  return importWith({ read: readSource, sibling: urlSibling }, source, options);
}

/** {@link importModel} over a {@link SourceAccess} (the browser-safe one, or the Node entry's). */
export async function importWith(access: SourceAccess, source: ByteSource, o: ImportModelOptions): Promise<Graph> {
  let done = 0; // bytes of files already read
  let known = 0; // their sizes, plus the current file's once known
  const read = async (s: ByteSource): Promise<Uint8Array> => {
    let fileTotal: number | undefined;
    const bytes = await access.read(s, {
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onProgress ? {
        onProgress: (p: ProgressEvent) => {
          if (p.total !== null && fileTotal === undefined) { fileTotal = p.total; known += p.total; }
          o.onProgress!({ ...p, done: done + p.done, total: fileTotal !== undefined ? known : null });
        },
      } : {}),
    });
    if (fileTotal !== bytes.byteLength) known += bytes.byteLength - (fileTotal ?? 0); // a stream without a total, or a size that was wrong
    done += bytes.byteLength;
    return bytes;
  };
  const bytes = await read(source);
  // Bytes the caller handed over (ArrayBuffer, typed array) stay untouched; bytes read here may be moved in place.
  const ownBytes = !(source instanceof ArrayBuffer) && !ArrayBuffer.isView(source);
  const wanted: { info: ExternalDataInfo; expected: number; name: string }[] = [];
  const files = new Map<string, Uint8Array>();
  const graph = decodeModel(bytes, {
    mayMutateInput: ownBytes,
    externalData: (info, expected, name) => {
      checkExternalLocation(info.location);
      wanted.push({ info, expected, name });
      // Read after decoding; every range is checked below before anyone can load it.
      return { byteLength: expected, load: () => files.get(info.location)!.subarray(info.offset, info.offset + expected) };
    },
  });
  for (const location of new Set(wanted.map((w) => w.info.location))) {
    const from = o.externalData ? await o.externalData(location) : access.sibling(source, location);
    if (from === undefined) {
      const names = wanted.filter((w) => w.info.location === location).map((w) => `'${w.name}'`);
      throw new LeanformerError('EXTERNAL_DATA', `tensor ${names[0]}${names.length > 1 ? ` (and ${names.length - 1} more)` : ''} is stored in external data file '${location}', and the model came from ${describeSource(source)}, which has no folder to find it in: pass externalData: (location) => source (a URL, Blob, bytes or stream)`, { details: { location } });
    }
    files.set(location, await read(from));
  }
  for (const { info, expected, name } of wanted) {
    const size = files.get(info.location)!.byteLength;
    const length = info.length ?? size - info.offset;
    if (length !== expected) throw new LeanformerError('EXTERNAL_DATA', `tensor '${name}': external data holds ${length} bytes, its shape needs ${expected}`, { details: { location: info.location } });
    if (info.offset + length > size) throw new LeanformerError('EXTERNAL_DATA', `tensor '${name}': bytes ${info.offset}..${info.offset + length} lie past the end of '${info.location}' (${size} bytes)`, { details: { location: info.location } });
  }
  return graph;
}
