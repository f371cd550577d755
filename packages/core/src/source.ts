// Reading bytes from wherever a user has them: a URL (fetch), a Blob or File, an ArrayBuffer or typed
// array, a ReadableStream. Browser-safe: file paths (and file: URLs) are read by the readSource of
// '@leanformer/core/node', which accepts everything this one does plus those.
import { LeanformerError } from './errors.js';
import type { ProgressCallback } from './progress.js';

/**
 * Where bytes can come from. A string is a URL when it starts with a scheme (`https:`, `http:`,
 * `blob:`, `data:`, `file:`); otherwise it is a URL relative to the page in a browser or worker
 * (where `location` exists) and a file path in Node.
 */
export type ByteSource = string | URL | Blob | ArrayBuffer | ArrayBufferView | ReadableStream<Uint8Array>;

/** Options of {@link readSource}. */
export interface ReadSourceOptions {
  /**
   * Called with `{ phase: 'read', unit: 'bytes', done, total, item? }`: `done: 0` once the read
   * starts, then after each chunk. `total` is the size when known (Blob size, HTTP Content-Length,
   * file size), else null; `done` never decreases; the last call has `done === total`, the size of
   * what was read. `item` names the URL, File or path (not given for bytes and streams).
   */
  readonly onProgress?: ProgressCallback;
  /** Cancels a fetch or a stream read (the error is the signal's reason). */
  readonly signal?: AbortSignal;
}

/** URL schemes {@link readSource} fetches (file: is read from disk by '@leanformer/core/node'). */
export const FETCH_SCHEMES: readonly string[] = Object.freeze(['http:', 'https:', 'blob:', 'data:']);

const ALLOWED = 'a URL (string or URL: http, https, blob, data), a Blob or File, an ArrayBuffer or Uint8Array (any typed array), or a ReadableStream of Uint8Array; in Node also a file path or file: URL (readSource from @leanformer/core/node)';

/**
 * The URL a source names: a URL object, a string that starts with a scheme, or (in a browser or
 * worker) any other string, resolved against the page's `location`. Undefined for file paths in
 * Node (including Windows `C:\…`) and for non-string sources.
 *
 * @example
 * ```ts
 * sourceUrl('https://example.com/m.onnx')?.href; // 'https://example.com/m.onnx'
 * sourceUrl('models/m.onnx'); // undefined (a path)
 * ```
 */
export function sourceUrl(source: unknown): URL | undefined {
  if (source instanceof URL) return source;
  if (typeof source !== 'string') return undefined;
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  try {
    if (/^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(source)) return new URL(source); // two+ letters: 'C:' is a drive
    return page !== undefined ? new URL(source, page) : undefined;
  } catch { return undefined; }
}

/**
 * A short description of a source for messages: `URL 'https://…'`, `File 'config.json' (714 bytes)`,
 * `Uint8Array (12 bytes)`, `path 'm.onnx'`…
 *
 * @example
 * ```ts
 * describeSource(new Uint8Array(12)); // 'Uint8Array (12 bytes)'
 * ```
 */
export function describeSource(source: unknown): string {
  const url = sourceUrl(source);
  if (url) return `URL '${url.protocol === 'data:' ? `${url.href.slice(0, 40)}…` : url.href}'`;
  if (typeof source === 'string') return `path '${source}'`;
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as Partial<File>).name;
    return `${typeof name === 'string' ? `File '${name}'` : 'Blob'} (${source.size} bytes)`;
  }
  if (source instanceof ArrayBuffer) return `ArrayBuffer (${source.byteLength} bytes)`;
  if (ArrayBuffer.isView(source)) return `${source.constructor.name} (${source.byteLength} bytes)`;
  if (isReadableStream(source)) return 'ReadableStream';
  if (source === null) return 'null';
  if (Array.isArray(source)) return 'an array';
  return typeof source === 'object' ? `an object (${(source as object).constructor?.name ?? 'no prototype'})` : `a ${typeof source}`;
}

function isReadableStream(x: unknown): x is ReadableStream<Uint8Array> {
  return typeof x === 'object' && x !== null && typeof (x as ReadableStream).getReader === 'function';
}

/**
 * Reads a whole source into memory, reporting progress. Typed arrays and ArrayBuffers are returned
 * as a view (no copy). HTTP errors name the URL and status (IO_ERROR, `details.status`); anything
 * that is not a source is INVALID_ARGUMENT naming what was given and what is allowed; file paths
 * are NOT_SUPPORTED here (use readSource from '@leanformer/core/node').
 *
 * @example
 * ```ts
 * const bytes = await readSource('https://example.com/model.onnx', { onProgress: ({ done, total }) => console.log(done, total) });
 * const same = await readSource(fileInput.files[0]);
 * ```
 */
export async function readSource(source: ByteSource, options: ReadSourceOptions = {}): Promise<Uint8Array> {
  const url = sourceUrl(source);
  if (url) return fetchBytes(url, options);
  if (typeof source === 'string') {
    throw new LeanformerError('NOT_SUPPORTED', `readSource: '${source}' is a file path; paths are read in Node by readSource from '@leanformer/core/node' (here give ${ALLOWED.split('; in Node')[0]})`, { details: { source } });
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as Partial<File>).name;
    return readStream(source.stream() as ReadableStream<Uint8Array>, source.size, describeSource(source), typeof name === 'string' ? name : undefined, options);
  }
  if (source instanceof ArrayBuffer) return inMemory(new Uint8Array(source), options);
  if (ArrayBuffer.isView(source)) return inMemory(new Uint8Array(source.buffer, source.byteOffset, source.byteLength), options);
  if (isReadableStream(source)) return readStream(source, undefined, 'ReadableStream', undefined, options);
  throw new LeanformerError('INVALID_ARGUMENT', `readSource: got ${describeSource(source)}; give ${ALLOWED}`, { details: { given: describeSource(source) } });
}

/** Reports one read's progress as core's ProgressEvent (phase 'read', unit 'bytes'). */
function reportRead(o: ReadSourceOptions, done: number, total: number | null, item: string | undefined): void {
  o.onProgress?.({ phase: 'read', done, total, unit: 'bytes', ...(item !== undefined ? { item } : {}) });
}

function inMemory(bytes: Uint8Array, o: ReadSourceOptions): Uint8Array {
  reportRead(o, 0, bytes.byteLength, undefined);
  reportRead(o, bytes.byteLength, bytes.byteLength, undefined);
  return bytes;
}

async function fetchBytes(url: URL, o: ReadSourceOptions): Promise<Uint8Array> {
  if (url.protocol === 'file:') throw new LeanformerError('NOT_SUPPORTED', `readSource: ${url.href} is a file: URL; read it in Node with readSource from '@leanformer/core/node'`, { details: { url: url.href } });
  if (!FETCH_SCHEMES.includes(url.protocol)) throw new LeanformerError('INVALID_ARGUMENT', `readSource: URL scheme '${url.protocol}' of ${url.href} is not one of ${FETCH_SCHEMES.join(', ')} (or file: in Node)`, { details: { url: url.href } });
  let res: Response;
  try {
    res = await fetch(url, o.signal ? { signal: o.signal } : {});
  } catch (e) {
    if (o.signal?.aborted) throw o.signal.reason;
    const why = (e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message;
    throw new LeanformerError('IO_ERROR', `GET ${url.href} failed: ${why}`, { cause: e, details: { url: url.href } });
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new LeanformerError('IO_ERROR', `GET ${url.href}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, { details: { url: url.href, status: res.status } });
  }
  // Content-Length counts the encoded bytes when the response is compressed: no total then.
  const length = res.headers.get('content-encoding') ? null : res.headers.get('content-length');
  const total = length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
  const item = url.protocol === 'data:' ? 'data: URL' : url.href;
  if (!res.body) {
    reportRead(o, 0, total ?? null, item);
    const bytes = new Uint8Array(await res.arrayBuffer());
    reportRead(o, bytes.byteLength, bytes.byteLength, item);
    return bytes;
  }
  return readStream(res.body, total, `GET ${url.href}`, item, o);
}

/** Reads a stream to its end; preallocates `total` bytes when known and grows past it if needed. */
async function readStream(stream: ReadableStream<Uint8Array>, total: number | undefined, what: string, item: string | undefined, o: ReadSourceOptions): Promise<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try { reader = stream.getReader(); } catch (e) {
    throw new LeanformerError('INVALID_ARGUMENT', `readSource: ${what} cannot be read (${(e as Error).message}; is it locked or already read?)`, { cause: e });
  }
  const abort = () => { void reader.cancel(o.signal?.reason).catch(() => {}); };
  o.signal?.addEventListener('abort', abort, { once: true });
  let buf = new Uint8Array(total ?? 1 << 16);
  let loaded = 0;
  reportRead(o, 0, total ?? null, item);
  try {
    for (;;) {
      if (o.signal?.aborted) throw o.signal.reason;
      let r: ReadableStreamReadResult<Uint8Array>;
      try { r = await reader.read(); } catch (e) {
        if (o.signal?.aborted) throw o.signal.reason;
        throw new LeanformerError('IO_ERROR', `${what}: reading failed after ${loaded} bytes: ${(e as Error).message}`, { cause: e });
      }
      if (r.done) break;
      const chunk = r.value;
      if (!(chunk instanceof Uint8Array)) throw new LeanformerError('INVALID_ARGUMENT', `${what}: the stream gave ${describeSource(chunk)}; a ReadableStream source must give Uint8Array chunks`);
      if (loaded + chunk.byteLength > buf.byteLength) {
        const grown = new Uint8Array(Math.max(buf.byteLength * 2, loaded + chunk.byteLength));
        grown.set(buf.subarray(0, loaded));
        buf = grown;
      }
      buf.set(chunk, loaded);
      loaded += chunk.byteLength;
      // Past a wrong Content-Length, the total is unknown again (done never exceeds total).
      if (chunk.byteLength > 0) reportRead(o, loaded, total !== undefined && loaded <= total ? total : null, item);
    }
  } finally {
    o.signal?.removeEventListener('abort', abort);
    reader.releaseLock();
  }
  if (total !== undefined && loaded < total) throw new LeanformerError('IO_ERROR', `${what}: ended after ${loaded} of ${total} bytes`, { details: { loaded, total } });
  reportRead(o, loaded, loaded, item);
  return buf.byteLength === loaded ? buf : buf.subarray(0, loaded);
}
