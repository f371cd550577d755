// readSource over every source kind, against a local HTTP server for URLs: the bytes, progress
// (never decreasing, last call = size) and the errors for bad sources and HTTP failures.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeanformerError } from './errors.js';
import { readSource as readNodeSource } from './node-source.js';
import type { ProgressEvent } from './progress.js';
import { readSource, sourceUrl } from './source.js';

// 300 000 bytes: several network and stream chunks.
const data = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919) & 255);
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    if (path === '/data.bin') { res.writeHead(200, { 'Content-Length': data.length }); res.end(data); return; }
    if (path === '/chunked.bin') { // no Content-Length: Transfer-Encoding chunked, total unknown
      res.writeHead(200);
      for (let at = 0; at < data.length; at += 50_000) res.write(data.subarray(at, at + 50_000));
      res.end();
      return;
    }
    if (path === '/short.bin') { // declares more than it sends, then closes
      res.writeHead(200, { 'Content-Length': data.length });
      res.end(data.subarray(0, 1000));
      res.socket?.destroy();
      return;
    }
    res.writeHead(404, 'Not Found').end('no');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));

const dir = mkdtempSync(join(tmpdir(), 'lf-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Reads with a progress recorder; checks the progress contract and returns the bytes and calls. */
async function withProgress(read: (o: { onProgress: (p: ProgressEvent) => void }) => Promise<Uint8Array>): Promise<{ bytes: Uint8Array; calls: ProgressEvent[] }> {
  const calls: ProgressEvent[] = [];
  const bytes = await read({ onProgress: (p) => calls.push({ ...p }) });
  expect(calls.length).toBeGreaterThan(1);
  expect(calls[0]!.done).toBe(0); // a phase starts with done: 0
  for (const c of calls) {
    expect(c).toMatchObject({ phase: 'read', unit: 'bytes' });
    if (c.total !== null) expect(c.done).toBeLessThanOrEqual(c.total);
  }
  for (let i = 1; i < calls.length; i++) expect(calls[i]!.done).toBeGreaterThanOrEqual(calls[i - 1]!.done);
  expect(calls.at(-1)).toMatchObject({ done: bytes.byteLength, total: bytes.byteLength });
  return { bytes, calls };
}

/** Byte equality without vitest's element-by-element diff (slow on 300 kB). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({ start(c) { for (const x of chunks) c.enqueue(x); c.close(); } });
}

describe('readSource', () => {
  it('reads a URL (string and URL object), reporting Content-Length as total as bytes arrive', async () => {
    for (const src of [`${base}/data.bin`, new URL('/data.bin', base)]) {
      const { bytes, calls } = await withProgress((o) => readSource(src, o));
      expect(same(bytes, data)).toBe(true);
      expect(calls.length).toBeGreaterThan(2); // several chunks, not one call at the end
      expect(calls.every((c) => c.total === data.length)).toBe(true);
      expect(calls.every((c) => c.item === `${base}/data.bin`)).toBe(true);
    }
  });

  it('reads a chunked response with no total until the end', async () => {
    const { bytes, calls } = await withProgress((o) => readSource(`${base}/chunked.bin`, o));
    expect(same(bytes, data)).toBe(true);
    expect(calls.slice(0, -1).every((c) => c.total === null)).toBe(true);
  });

  it('names the URL and status of an HTTP error, and the URL of a connection failure', async () => {
    const e404 = await readSource(`${base}/missing.onnx`).catch((e: unknown) => e);
    expect(e404).toBeInstanceOf(LeanformerError);
    expect(e404).toMatchObject({ code: 'IO_ERROR', details: { status: 404, url: `${base}/missing.onnx` } });
    expect((e404 as Error).message).toBe(`GET ${base}/missing.onnx: HTTP 404 Not Found`);
    const short = await readSource(`${base}/short.bin`).catch((e: unknown) => e);
    expect(short).toMatchObject({ code: 'IO_ERROR' });
    expect((short as Error).message).toContain(`GET ${base}/short.bin`);
    const refused = await readSource('http://127.0.0.1:1/m.onnx').catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'IO_ERROR' });
    expect((refused as Error).message).toMatch(/^GET http:\/\/127\.0\.0\.1:1\/m\.onnx failed: /);
  });

  it('reads a Blob and a File with their size as total', async () => {
    const blob = new Blob([data.subarray(0, 100_000), data.subarray(100_000)]);
    const { bytes, calls } = await withProgress((o) => readSource(blob, o));
    expect(same(bytes, data)).toBe(true);
    expect(calls.every((c) => c.total === data.length && c.item === undefined)).toBe(true);
    const file = await withProgress((o) => readSource(new File([data], 'model.onnx'), o));
    expect(same(file.bytes, data)).toBe(true);
    expect(file.calls.every((c) => c.item === 'model.onnx')).toBe(true);
  });

  it('returns ArrayBuffer and typed-array sources as views, without copying', async () => {
    const u8 = (await withProgress((o) => readSource(data, o))).bytes;
    expect(u8.buffer).toBe(data.buffer);
    const sub = new Float32Array(data.buffer, 8, 10);
    const v = await readSource(sub);
    expect([v.buffer, v.byteOffset, v.byteLength]).toEqual([data.buffer, 8, 40]);
    expect((await readSource(data.buffer)).byteLength).toBe(data.length);
  });

  it('reads a ReadableStream of Uint8Array chunks (growing past its first buffer)', async () => {
    const chunks = Array.from({ length: 6 }, (_, i) => data.subarray(i * 50_000, (i + 1) * 50_000));
    const { bytes, calls } = await withProgress((o) => readSource(streamOf(chunks), o));
    expect(same(bytes, data)).toBe(true);
    expect(calls.map((c) => c.done)).toEqual([0, 50_000, 100_000, 150_000, 200_000, 250_000, 300_000, 300_000]);
  });

  it('stops a stream read when its signal aborts, with the signal\'s reason', async () => {
    const ctl = new AbortController();
    let pulls = 0;
    const endless = new ReadableStream<Uint8Array>({ pull(c) { pulls++; c.enqueue(new Uint8Array(1000)); } });
    const reading = readSource(endless, { signal: ctl.signal, onProgress: ({ done }) => { if (done >= 5000) ctl.abort(new Error('user cancelled')); } });
    await expect(reading).rejects.toThrow('user cancelled');
    expect(pulls).toBeLessThan(10);
  });

  it('refuses what is not a source, naming what was given and what is allowed', async () => {
    for (const [bad, given] of [[42, 'a number'], [null, 'null'], [{ url: 'x' }, 'an object (Object)'], [['a'], 'an array']] as const) {
      const e = await readSource(bad as never).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect((e as Error).message).toContain(`got ${given}`);
      expect((e as Error).message).toContain('a Blob or File');
    }
    const chunk = await readSource(streamOf(['text' as never])).catch((x: unknown) => x);
    expect(chunk).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('must give Uint8Array chunks') });
    const scheme = await readSource('ftp://example.com/m.onnx').catch((x: unknown) => x);
    expect(scheme).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining("scheme 'ftp:'") });
  });

  it('sends file paths to the Node entry (the browser-safe one refuses them by name)', async () => {
    const e = await readSource('models/m.onnx').catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'NOT_SUPPORTED', message: expect.stringContaining("'models/m.onnx' is a file path") });
    expect(sourceUrl('C:\\models\\m.onnx')).toBeUndefined(); // a drive letter, not a scheme
  });
});

describe('readSource (Node entry)', () => {
  it('reads a path and a file: URL with progress; a missing file is IO_ERROR naming it', async () => {
    const p = join(dir, 'data.bin');
    writeFileSync(p, data);
    const read = await withProgress((o) => readNodeSource(p, o));
    expect(same(read.bytes, data)).toBe(true);
    expect(read.calls.every((c) => c.item === p && c.total === data.length)).toBe(true);
    const empty = join(dir, 'empty.bin');
    writeFileSync(empty, new Uint8Array(0));
    const calls: ProgressEvent[] = [];
    expect((await readNodeSource(empty, { onProgress: (e) => calls.push(e) })).byteLength).toBe(0);
    expect(calls).toEqual([{ phase: 'read', done: 0, total: 0, unit: 'bytes', item: empty }]);
    expect(same(await readNodeSource(pathToFileURL(p)), data)).toBe(true);
    expect(same(await readNodeSource(pathToFileURL(p).href), data)).toBe(true);
    expect(same(await readNodeSource(`${base}/data.bin`), data)).toBe(true); // and everything else through core's
    const missing = join(dir, 'nope.onnx');
    await expect(readNodeSource(missing)).rejects.toMatchObject({ code: 'IO_ERROR', details: { path: missing }, message: expect.stringContaining(`Cannot read '${missing}'`) });
    await expect(readNodeSource(dir)).rejects.toMatchObject({ code: 'IO_ERROR' });
  });
});
