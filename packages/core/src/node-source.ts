// Node side of readSource: file paths and file: URLs are read from disk (streamed, with progress);
// every other source goes to core's browser-safe readSource.
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { LeanformerError } from './errors.js';
import { readSource as readWebSource, sourceUrl, type ByteSource, type ReadSourceOptions } from './source.js';

/**
 * Reads a source into memory: everything core's readSource reads (URL via fetch, Blob/File,
 * ArrayBuffer/typed array, ReadableStream), plus file paths and file: URLs, read in chunks with
 * progress (`{ phase: 'read', unit: 'bytes', done, total: <file size>, item: <path> }`, from
 * `done: 0` to `done === total`). A missing or unreadable file is IO_ERROR naming the path.
 *
 * @example
 * ```ts
 * import { readSource } from '@leanformer/core/node';
 * const bytes = await readSource('model.onnx', { onProgress: ({ done, total }) => console.log(done, total) });
 * ```
 */
export async function readSource(source: ByteSource, options: ReadSourceOptions = {}): Promise<Uint8Array> {
  const path = sourcePath(source);
  return path === undefined ? readWebSource(source, options) : readFileWithProgress(path, options);
}

/**
 * The file path a source names in Node: a string without a URL scheme, or a file: URL. Undefined
 * for other URLs and non-string sources.
 *
 * @example
 * ```ts
 * sourcePath('file:///tmp/m.onnx'); // '/tmp/m.onnx'
 * ```
 */
export function sourcePath(source: unknown): string | undefined {
  const url = sourceUrl(source);
  if (url) return url.protocol === 'file:' ? fileURLToPath(url) : undefined;
  return typeof source === 'string' ? source : undefined;
}

const CHUNK = 4 << 20;

async function readFileWithProgress(path: string, o: ReadSourceOptions): Promise<Uint8Array> {
  if (path === '') throw new LeanformerError('INVALID_ARGUMENT', 'readSource: the path is empty; give a file path, a URL, a Blob, bytes or a ReadableStream');
  let fh;
  try { fh = await open(path, 'r'); } catch (e) {
    throw new LeanformerError('IO_ERROR', `Cannot read '${path}': ${(e as Error).message}`, { cause: e, details: { path } });
  }
  try {
    const { size } = await fh.stat();
    const out = new Uint8Array(size);
    let loaded = 0;
    const report = (done: number): void => { o.onProgress?.({ phase: 'read', done, total: size, unit: 'bytes', item: path }); };
    report(0);
    while (loaded < size) {
      if (o.signal?.aborted) throw o.signal.reason;
      let n: number;
      try { ({ bytesRead: n } = await fh.read(out, loaded, Math.min(CHUNK, size - loaded), loaded)); } catch (e) {
        throw new LeanformerError('IO_ERROR', `Cannot read '${path}': ${(e as Error).message}`, { cause: e, details: { path } });
      }
      if (n === 0) throw new LeanformerError('IO_ERROR', `'${path}' ended after ${loaded} of ${size} bytes (it shrank while being read)`, { details: { path } });
      loaded += n;
      report(loaded);
    }
    return out;
  } finally {
    await fh.close();
  }
}
