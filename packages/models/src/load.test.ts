// loadPretrained from every folder source: a folder URL (local HTTP server), File objects (as a
// folder picker gives them), a name → source map; the tiny Llama's 32 greedy tokens must equal
// transformers' (fixtures/llama/reference.json) whichever way it came in. Plus progress, the
// quantize option and the errors for bad folder sources.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor, type ProgressEvent } from '@leanformer/core';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { loadPretrained as loadPretrainedWeb, readFolder } from './load.js';
import { loadModel, saveModel } from '@leanformer/onnx/node';
import { convertCheckpoint, folderFiles, loadPretrained } from './node.js';
import { quantizeModel } from '@leanformer/quant';
import { buildCausalLM } from './build.js';
import { generate, readCheckpoint } from './pretrained.js';
import type { PretrainedModel } from './load.js';

const LLAMA = fileURLToPath(new URL('../fixtures/llama/', import.meta.url));
const ref = JSON.parse(readFileSync(`${LLAMA}reference.json`, 'utf8')) as { promptIds: number[]; greedyIds: number[] };
const files = Object.fromEntries(readdirSync(LLAMA).map((f) => [f, new Uint8Array(readFileSync(`${LLAMA}${f}`))]));
// What loading reads: everything but reference.json (the test's own file).
const neededBytes = Object.entries(files).filter(([n]) => n !== 'reference.json').reduce((n, [, b]) => n + b.length, 0);

// A folder written by convert (int4 RTN), its model.onnx re-saved with external data (model.onnx.data).
const tmp = mkdtempSync(join(tmpdir(), 'lf-load-'));
const CONVERTED = join(tmp, 'llama-int4');
let converted: Record<string, Uint8Array<ArrayBuffer>> = {};
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let server: Server;
let base = '';
const served: string[] = [];
beforeAll(async () => {
  await convertCheckpoint(LLAMA, CONVERTED, { precision: 'int4', method: 'rtn' });
  await saveModel(await loadModel(join(CONVERTED, 'model.onnx')), join(CONVERTED, 'model.onnx'), { externalData: { sizeThreshold: 1024 } });
  converted = Object.fromEntries(readdirSync(CONVERTED).map((f) => [f, new Uint8Array(readFileSync(join(CONVERTED, f)))]));
  server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    served.push(path);
    const m = /^\/(llama|converted|broken)\/([\w.-]+)$/.exec(path);
    if (m?.[1] === 'broken') { res.writeHead(500, 'Internal Server Error').end(); return; }
    const body = m ? (m[1] === 'converted' ? converted : files)[m[2]!] : undefined;
    if (!body) { res.writeHead(404, 'Not Found').end(); return; }
    res.writeHead(200, { 'Content-Length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));

async function greedy(m: PretrainedModel, n = 32): Promise<number[]> {
  const ids: number[] = [];
  try {
    for await (const t of generate(m, m.tokenizer, { promptIds: ref.promptIds, maxNewTokens: n, stopAtEos: false })) ids.push(t.id);
  } finally { await m.dispose(); }
  return ids;
}

/** Core's progress contract over all files read: phase 'read' in bytes, done never decreasing nor past total, ending at done === total === size. */
function checkProgress(calls: ProgressEvent[], size: number): void {
  expect(calls.length).toBeGreaterThan(1);
  expect(calls[0]!.done).toBe(0);
  for (const c of calls) {
    expect(c).toMatchObject({ phase: 'read', unit: 'bytes' });
    if (c.total !== null) expect(c.done).toBeLessThanOrEqual(c.total);
  }
  for (let i = 1; i < calls.length; i++) expect(calls[i]!.done).toBeGreaterThanOrEqual(calls[i - 1]!.done);
  expect(calls.at(-1)).toMatchObject({ done: size, total: size });
}

describe('loadPretrained from anywhere', () => {
  it('a folder URL: fetches the files it needs (404 for absent optional ones), greedy ids equal transformers\'', async () => {
    served.length = 0;
    const calls: ProgressEvent[] = [];
    const m = await loadPretrainedWeb(`${base}/llama`, { backend: createOrtBackend({ eps: ['cpu'] }), onProgress: (p) => calls.push(p) });
    expect(await greedy(m)).toEqual(ref.greedyIds);
    checkProgress(calls, neededBytes);
    expect(served).not.toContain('/llama/reference.json');
    expect(served).toContain('/llama/model.safetensors');
  }, 60_000);

  it('File objects as a folder picker gives them, and a name → source map (Node entry, default backend)', async () => {
    const picked = Object.entries(files).map(([n, b]) => new File([b], n));
    const calls: ProgressEvent[] = [];
    expect(await greedy(await loadPretrained(picked, { onProgress: (p) => calls.push(p) }))).toEqual(ref.greedyIds);
    checkProgress(calls, neededBytes);
    expect(calls.every((c) => c.total === neededBytes)).toBe(true); // Files: the total is known from the start
    expect(calls.find((c) => c.done === files['config.json']!.length)?.item).toBe('config.json');
    expect(calls.slice(0, -1).at(-1)!.item).toBe('model.safetensors');
    const map = { ...files, 'model.safetensors': new Blob([files['model.safetensors']!]) };
    expect(await greedy(await loadPretrained(map), 4)).toEqual(ref.greedyIds.slice(0, 4));
  }, 60_000);

  it('quantize: the checkpoint graph through quantizeModel before compiling (int4 RTN changes the logits)', async () => {
    const logits = async (m: Pick<PretrainedModel, 'executor' | 'layers' | 'kvHeads' | 'headDim' | 'dispose'>) => {
      const feeds: Record<string, Tensor> = { tokens: new Tensor('int64', [1, ref.promptIds.length], BigInt64Array.from(ref.promptIds, BigInt)) };
      for (let l = 0; l < m.layers; l++) for (const k of ['key', 'value']) feeds[`past_${k}_${l}`] = new Tensor('float32', [1, m.kvHeads, 0, m.headDim], new Float32Array(0));
      try { return (await m.executor.run(feeds)).logits!.toFloat32(); } finally { await m.dispose(); }
    };
    const opts = { method: 'rtn', bits: 4, target: 'ort-cpu' } as const;
    const f = await logits(await loadPretrained(LLAMA));
    const q = await logits(await loadPretrained(`${base}/llama/`, { quantize: opts }));
    // The same steps by hand: read, build, quantizeModel, compile.
    const ck = readCheckpoint(folderFiles(LLAMA));
    const executor = await createOrtBackend({ eps: ['cpu'] }).compile((await quantizeModel(buildCausalLM(ck.spec, ck.weights), opts)).graph);
    const byHand = await logits({ executor, layers: ck.spec.layers, kvHeads: ck.spec.kvHeads, headDim: ck.spec.headDim, dispose: () => executor.dispose() });
    expect(Buffer.from(q.buffer).equals(Buffer.from(byHand.buffer))).toBe(true);
    let dot = 0, nf = 0, nq = 0, diff = 0;
    for (let i = 0; i < f.length; i++) { dot += f[i]! * q[i]!; nf += f[i]! ** 2; nq += q[i]! ** 2; diff = Math.max(diff, Math.abs(f[i]! - q[i]!)); }
    expect(diff).toBeGreaterThan(1e-3); // quantized for real
    expect(dot / Math.sqrt(nf * nq)).toBeGreaterThan(0.95); // measured 0.968 (int4 RTN, block 32, on 64-wide random weights)
  }, 60_000);

  it('a folder written by convert, by URL (external data fetched beside model.onnx) and as Files: the same tokens as from disk', async () => {
    expect(Object.keys(converted).sort()).toContain('model.onnx.data');
    const want = await greedy(await loadPretrained(CONVERTED), 16);
    served.length = 0;
    const calls: ProgressEvent[] = [];
    const viaUrl = await loadPretrainedWeb(`${base}/converted/`, { backend: createOrtBackend({ eps: ['cpu'] }), onProgress: (p) => calls.push(p) });
    expect(viaUrl.source).toBe('converted');
    expect(await greedy(viaUrl, 16)).toEqual(want);
    expect(served).toEqual(expect.arrayContaining(['/converted/leanformer.json', '/converted/model.onnx', '/converted/model.onnx.data', '/converted/tokenizer.json']));
    checkProgress(calls, converted['model.onnx']!.length + converted['model.onnx.data']!.length);
    const picked = Object.entries(converted).map(([n, b]) => new File([b], n));
    expect(await greedy(await loadPretrained(picked), 16)).toEqual(want);
    const noData = picked.filter((f) => f.name !== 'model.onnx.data');
    await expect(loadPretrained(noData)).rejects.toMatchObject({ code: 'EXTERNAL_DATA', message: "model.onnx names external data 'model.onnx.data', which is missing from the given files" });
    await expect(loadPretrained(`${base}/converted/`, { quantize: { method: 'rtn' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { argument: 'quantize' } });
  }, 60_000);

  it('refuses bad folder sources, naming what was given', async () => {
    const backend = createOrtBackend({ eps: ['cpu'] });
    await expect(loadPretrainedWeb(`${base}/nothing/`, { backend })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: `config.json: missing from ${base}/nothing/; a Hugging Face checkpoint folder needs config.json` });
    await expect(loadPretrainedWeb(`${base}/broken/`, { backend })).rejects.toMatchObject({ code: 'IO_ERROR', details: { status: 500, url: `${base}/broken/leanformer.json` } });
    await expect(loadPretrainedWeb(LLAMA, { backend })).rejects.toMatchObject({ code: 'NOT_SUPPORTED', message: expect.stringContaining("from '@leanformer/models/node'") });
    await expect(loadPretrainedWeb(`${base}/llama/`)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { argument: 'backend' } });
    await expect(readFolder([new Blob([]) as File])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('give File objects') });
    await expect(readFolder(42 as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('got a number') });
    const noShard = Object.fromEntries(Object.entries(files).filter(([n]) => n !== 'model.safetensors'));
    await expect(loadPretrained(noShard)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('model.safetensors: missing') });
  });
});
