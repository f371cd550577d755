// importModel from every source kind; external data fetched beside a model URL (a local HTTP
// server), read beside a file, or given by a resolver; progress over model + data; bad locations.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DTypes, Graph, Tensor, graphDiff, tensorType, type ProgressEvent } from '@leanformer/core';
import { importModel } from './import.js';
import { decodeModel, encodeModel } from './model.js';
import { importModel as importModelNode, saveModelSync } from './node.js';

const dir = mkdtempSync(join(tmpdir(), 'lf-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function model(): Graph {
  const g = new Graph('ext');
  const x = g.addInput('x', tensorType(DTypes.float32, [1, 256]));
  const w = g.addInitializer('w', Tensor.from('float32', [256, 64], Array.from({ length: 256 * 64 }, (_, i) => Math.sin(i))));
  const b = g.addInitializer('b', Tensor.from('float32', [64], Array.from({ length: 64 }, (_, i) => i))); // below the threshold: inline
  const mm = g.addNode({ op: 'MatMul', inputs: [x, w] }).output();
  g.addOutput(g.addNode({ op: 'Add', inputs: [mm, b], outputs: ['y'] }).output());
  g.opsets.set('', 17);
  return g;
}

// models/m.onnx + models/m.onnx.data (external), plus the same model in one file.
const ref = decodeModel(encodeModel(model()));
const modelsDir = join(dir, 'models');
let onnx: Uint8Array<ArrayBuffer>, ext: Uint8Array<ArrayBuffer>, single: Uint8Array<ArrayBuffer>;
let server: Server;
let base = '';
const served: string[] = [];

beforeAll(async () => {
  const { mkdirSync } = await import('node:fs');
  mkdirSync(modelsDir);
  saveModelSync(model(), join(modelsDir, 'm.onnx'), { externalData: true });
  onnx = new Uint8Array(readFileSync(join(modelsDir, 'm.onnx')));
  ext = new Uint8Array(readFileSync(join(modelsDir, 'm.onnx.data')));
  single = new Uint8Array(encodeModel(model()));
  const files: Record<string, Uint8Array> = { '/models/m.onnx': onnx, '/models/m.onnx.data': ext, '/single.onnx': single };
  server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    served.push(path);
    const body = files[path];
    if (!body) { res.writeHead(404, 'Not Found').end(); return; }
    res.writeHead(200, { 'Content-Length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));

function recorder() {
  const calls: ProgressEvent[] = [];
  return { calls, onProgress: (p: ProgressEvent) => calls.push({ ...p }) };
}
/** Core's progress contract over all files: phase 'read' in bytes, done never decreasing nor past total, ending at done === total === size. */
function checkProgress(calls: ProgressEvent[], size: number): void {
  expect(calls[0]).toMatchObject({ phase: 'read', unit: 'bytes', done: 0 });
  for (const c of calls) {
    expect(c).toMatchObject({ phase: 'read', unit: 'bytes' });
    if (c.total !== null) expect(c.done).toBeLessThanOrEqual(c.total);
  }
  for (let i = 1; i < calls.length; i++) expect(calls[i]!.done).toBeGreaterThanOrEqual(calls[i - 1]!.done);
  expect(calls.at(-1)).toMatchObject({ done: size, total: size });
}

describe('importModel', () => {
  it('fetches a model URL and its external data beside it, with progress over both files', async () => {
    served.length = 0;
    const p = recorder();
    const g = await importModel(`${base}/models/m.onnx`, { onProgress: p.onProgress });
    expect(graphDiff(ref, g)).toBeNull();
    expect(served).toEqual(['/models/m.onnx', '/models/m.onnx.data']);
    checkProgress(p.calls, onnx.length + ext.length);
    expect(p.calls.some((c) => c.total === onnx.length)).toBe(true); // the total grew when the data file started
    expect(new Set(p.calls.map((c) => c.item))).toEqual(new Set([`${base}/models/m.onnx`, `${base}/models/m.onnx.data`]));
  });

  it('reads a Blob, a File, bytes, an ArrayBuffer and a ReadableStream (single-file model)', async () => {
    const sources = [
      new Blob([single]), new File([single], 'single.onnx'), single.slice(), single.slice().buffer,
      new ReadableStream<Uint8Array>({ start(c) { c.enqueue(single.subarray(0, 1000)); c.enqueue(single.subarray(1000)); c.close(); } }),
      `${base}/single.onnx`, new URL('/single.onnx', base),
    ];
    for (const s of sources) {
      const p = recorder();
      expect(graphDiff(ref, await importModel(s, { onProgress: p.onProgress }))).toBeNull();
      checkProgress(p.calls, single.length);
    }
  });

  it('leaves a caller\'s buffer as it was (decoding may only move bytes it read itself)', async () => {
    const mine = single.slice();
    await importModel(mine);
    expect(Buffer.from(mine).equals(Buffer.from(single))).toBe(true);
  });

  it('takes external data from a resolver for in-memory models, and asks for one when missing', async () => {
    const asked: string[] = [];
    const g = await importModel(new Blob([onnx]), { externalData: async (location) => { asked.push(location); return new Blob([ext]); } });
    expect(asked).toEqual(['m.onnx.data']);
    expect(graphDiff(ref, g)).toBeNull();
    const e = await importModel(onnx.slice()).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'EXTERNAL_DATA', details: { location: 'm.onnx.data' } });
    expect((e as Error).message).toContain("tensor 'w' is stored in external data file 'm.onnx.data'");
    expect((e as Error).message).toContain('pass externalData: (location) => source');
  });

  it('checks external ranges against the file it got, and names a missing one by URL and status', async () => {
    const short = await importModel(new Blob([onnx]), { externalData: () => ext.subarray(0, 100) }).catch((x: unknown) => x);
    expect(short).toMatchObject({ code: 'EXTERNAL_DATA', message: expect.stringContaining("tensor 'w'") });
    const g = decodeModel(onnx.slice(), { externalData: (info, n) => new Uint8Array(n) }); // same model, data at another name
    const moved = new Uint8Array(encodeModel(g, { externalData: (t, name) => (name === 'w' ? { location: 'gone.data', offset: 0, length: t.byteLength } : undefined) }));
    const e = await importModel(new Blob([moved]), { externalData: (loc) => `${base}/models/${loc}` }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'IO_ERROR', details: { status: 404, url: `${base}/models/gone.data` } });
  });

  it('refuses external locations that leave the model folder, before reading anything', async () => {
    for (const location of ['../secret.bin', '/etc/passwd', 'https://evil.example/x.data', 'a/../../b']) {
      const g = decodeModel(onnx.slice(), { externalData: (info, n) => new Uint8Array(n) });
      const bad = new Uint8Array(encodeModel(g, { externalData: (t, name) => (name === 'w' ? { location, offset: 0, length: t.byteLength } : undefined) }));
      await expect(importModel(new Blob([bad]), { externalData: () => { throw new Error('must not be asked'); } })).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    }
  });

  it('Node entry: reads a path with external data beside it, and URLs like the browser entry', async () => {
    const p = recorder();
    expect(graphDiff(ref, await importModelNode(join(modelsDir, 'm.onnx'), { onProgress: p.onProgress }))).toBeNull();
    checkProgress(p.calls, onnx.length + ext.length);
    expect(p.calls.at(-1)!.item).toBe(join(modelsDir, 'm.onnx.data'));
    expect(graphDiff(ref, await importModelNode(`${base}/models/m.onnx`))).toBeNull();
    await expect(importModelNode(join(dir, 'missing.onnx'))).rejects.toMatchObject({ code: 'IO_ERROR' });
  });
});
