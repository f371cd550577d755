// createQuantWorkerPool against the single-thread quantizeRtn + packMatMulNBits: the same bytes
// for split and unsplit weights, errors rethrown from the workers, and disposal. The worker
// script is bundled from src/workers/rtn-worker.ts with esbuild, so no build is needed.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeanformerError, transformerDecoder } from '@leanformer/core';
import { packMatMulNBits, quantizeRtn, quantizeRtnPacked, type BlockQuantOptions } from '../blockwise.js';
import { quantizeModel } from '../quantize-model.js';
import { Rng } from '../synthetic.js';
import { createQuantWorkerPool } from './pool.js';
import type { QuantWorkerPool } from './types.js';

const pkg = fileURLToPath(new URL('../../', import.meta.url));
let dir = '';
let workerUrl: URL;
const pools: QuantWorkerPool[] = [];
const makePool = (o: { threads?: number; minSliceElements?: number } = {}): QuantWorkerPool => {
  const p = createQuantWorkerPool({ threads: 3, ...o, workerUrl });
  pools.push(p);
  return p;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lf-quant-pool-'));
  const out = join(dir, 'rtn-worker.mjs');
  await build({
    entryPoints: [join(pkg, 'src/workers/rtn-worker.ts')], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'warning',
    alias: { '@leanformer/core': join(pkg, '../core/src/index.ts') },
  });
  workerUrl = pathToFileURL(out);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.dispose()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function weight(K: number, N: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const w = new Float32Array(K * N);
  for (let i = 0; i < w.length; i++) w[i] = rng.normal() * 0.05 + (i % 7 === 0 ? 0.01 : 0);
  return w;
}

const cases: [string, number, number, BlockQuantOptions][] = [
  ['int4 asym, K not a multiple of the block', 100, 37, { bits: 4, blockSize: 32 }],
  ['int4 sym, N not divisible by the threads', 256, 1000, { bits: 4, blockSize: 64, symmetric: true }],
  ['int8 asym, odd K and N', 70, 129, { bits: 8, blockSize: 16 }],
  ['int8 sym, one block per column', 64, 5, { bits: 8, blockSize: 128, symmetric: true }],
  ['int4 asym with clipping search, odd block count', 80, 301, { bits: 4, blockSize: 16, clip: true }],
];

describe('createQuantWorkerPool: byte-identical to quantizeRtn + packMatMulNBits', () => {
  for (const [name, K, N, options] of cases) {
    for (const minSliceElements of [1, 1 << 17]) {
      it(`${name} [${K}, ${N}], ${minSliceElements === 1 ? 'split over 3 threads' : 'one slice'}`, async () => {
        const pool = makePool({ minSliceElements });
        const w = weight(K, N, K * 31 + N);
        const q = quantizeRtn(w, K, N, options);
        const p = packMatMulNBits(q, { forceUint8ZeroPoints: options.bits === 8 });
        const r = await pool.quantizeRtn({ w, K, N, options, forceUint8ZeroPoints: options.bits === 8 });
        expect(r.weight).toEqual(q);
        expect(r.packed).toEqual(p);
        expect(r.packed!.zeroPoints === null).toBe(options.symmetric === true);
      });
    }
  }

  it("returns only what 'output' asks for, and reads a SharedArrayBuffer weight in place", async () => {
    const pool = makePool({ minSliceElements: 1 });
    const K = 96, N = 50, options = { bits: 4, blockSize: 32 } as const;
    const w = new Float32Array(new SharedArrayBuffer(K * N * 4 + 64), 64, K * N);
    w.set(weight(K, N, 5));
    const q = quantizeRtn(w, K, N, options);
    const packed = await pool.quantizeRtn({ w, K, N, options, output: 'packed' });
    expect(packed.weight).toBeNull();
    expect(packed.packed).toEqual(packMatMulNBits(q));
    const only = await pool.quantizeRtn({ w, K, N, options, output: 'weight' });
    expect(only.packed).toBeNull();
    expect(only.weight).toEqual(q);
  });

  it('runs many jobs at once and keeps each result with its own weight', async () => {
    const pool = makePool({ threads: 2, minSliceElements: 1000 });
    const shapes = Array.from({ length: 12 }, (_, i) => [32 + 16 * i, 17 + 9 * i] as const);
    const ws = shapes.map(([K, N], i) => weight(K, N, 100 + i));
    const rs = await Promise.all(shapes.map(([K, N], i) => pool.quantizeRtn({ w: ws[i]!, K, N, options: { bits: 4, blockSize: 16 }, output: 'packed' })));
    rs.forEach((r, i) => expect(r.packed).toEqual(packMatMulNBits(quantizeRtn(ws[i]!, shapes[i]![0], shapes[i]![1], { bits: 4, blockSize: 16 }))));
  });

  it('quantizeModel with a pool emits the same graph bytes as without', async () => {
    const model = transformerDecoder({ vocabSize: 300, hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 160, seed: 9 });
    const pool = makePool({ minSliceElements: 512 });
    for (const opts of [{ method: 'rtn', bits: 4, blockSize: 32 }, { method: 'rtn', bits: 8, blockSize: 0, symmetric: true }] as const) {
      const a = await quantizeModel(model, opts);
      const b = await quantizeModel(model, { ...opts, pool });
      expect(b.report.layersQuantized).toBe(a.report.layersQuantized);
      expect(b.report.bytesAfter).toBe(a.report.bytesAfter);
      expect(b.graph.nodes.map((n) => `${n.op}:${n.name}:${n.inputs.map((v) => v?.name).join(',')}`)).toEqual(a.graph.nodes.map((n) => `${n.op}:${n.name}:${n.inputs.map((v) => v?.name).join(',')}`));
      for (const [name, v] of a.graph.initializers) expect(b.graph.initializers.get(name)?.const!.bytes(), name).toEqual(v.const!.bytes());
    }
  });
});

describe('createQuantWorkerPool: errors and disposal', () => {
  it("rethrows quantizeRtn's own LeanformerError from the workers, and keeps working", async () => {
    const pool = makePool({ minSliceElements: 1 });
    const w = weight(64, 40, 1);
    const bad: unknown = await pool.quantizeRtn({ w, K: 64, N: 40, options: { bits: 3 as 4, blockSize: 32 } }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(LeanformerError);
    expect(bad).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'bits must be 4 or 8, got 3', details: { argument: 'bits', allowed: [4, 8] } });
    await expect(pool.quantizeRtn({ w, K: 64, N: 40, options: { bits: 4, blockSize: 48 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('blockSize must be 16, 32, 64, 128 or 256') });
    const ok = await pool.quantizeRtn({ w, K: 64, N: 40, options: { bits: 4, blockSize: 32 } });
    expect(ok.packed).toEqual(packMatMulNBits(quantizeRtn(w, 64, 40, { bits: 4, blockSize: 32 })));
  });

  it('checks the shape on the calling thread', async () => {
    const pool = makePool();
    await expect(pool.quantizeRtn({ w: new Float32Array(10), K: 4, N: 4, options: { bits: 4, blockSize: 16 } })).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await expect(pool.quantizeRtn({ w: new Float32Array(16), K: 4, N: 4, options: { bits: 4, blockSize: 16 }, output: 'codes' as 'both' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => createQuantWorkerPool({ threads: 0, workerUrl })).toThrow(/threads must be a positive integer/);
    expect(() => createQuantWorkerPool({ workerUrl: join(dir, 'missing.mjs') })).toThrow(/does not exist/);
  });

  it('reports a worker script that cannot start as BACKEND_UNAVAILABLE', async () => {
    const broken = join(dir, 'broken-worker.mjs');
    writeFileSync(broken, "throw new Error('boom at load');\n");
    const pool = createQuantWorkerPool({ threads: 2, workerUrl: pathToFileURL(broken) });
    pools.push(pool);
    const r = pool.quantizeRtn({ w: weight(32, 8, 2), K: 32, N: 8, options: { bits: 4, blockSize: 32 } });
    await expect(r).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(/failed to start: boom at load/) });
    await expect(pool.quantizeRtn({ w: weight(32, 8, 2), K: 32, N: 8, options: { bits: 4, blockSize: 32 } })).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
  });

  it('dispose rejects running jobs, refuses new ones, and is idempotent', async () => {
    const pool = createQuantWorkerPool({ threads: 2, workerUrl });
    const running = pool.quantizeRtn({ w: weight(1024, 512, 3), K: 1024, N: 512, options: { bits: 4, blockSize: 32 } }).catch((e: unknown) => e);
    await pool.dispose();
    expect(await running).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('disposed') });
    await expect(pool.quantizeRtn({ w: weight(32, 8, 2), K: 32, N: 8, options: { bits: 4, blockSize: 32 } })).rejects.toMatchObject({ message: expect.stringContaining('disposed') });
    await pool.dispose();
    await expect(pool.warmUp()).rejects.toMatchObject({ message: expect.stringContaining('disposed') });
  });

  it('warmUp runs one job over every thread and leaves the pool working', async () => {
    const pool = makePool();
    await pool.warmUp();
    const w = weight(64, 8, 5);
    expect((await pool.quantizeRtn({ w, K: 64, N: 8, options: { bits: 4, blockSize: 32 }, output: 'packed' })).packed!.B)
      .toEqual(quantizeRtnPacked(w, 64, 8, { bits: 4, blockSize: 32 }).B);
  });
});

describe('createQuantWorkerPool: a worker that crashes', () => {
  // Test-only worker: the real one, wrapped so that a weight with K = 1001 makes the worker call
  // process.exit(7) and K = 1002 makes it throw where nothing catches it, just as it would post the
  // slice's result (so the crash happens while the job is pending); K = 1003 replies, then exits
  // while idle. Production code has no crash hook.
  let crashUrl: URL;
  beforeAll(() => {
    // The hook is a module of its own, evaluated just before the real worker in the same tick, so
    // its listener sees every request first and no request arrives before the worker listens.
    writeFileSync(join(dir, 'crash-hook.mjs'), [
      "import { parentPort } from 'node:worker_threads';",
      'const mode = new Map();',
      'const post = parentPort.postMessage.bind(parentPort);',
      'parentPort.postMessage = (msg, transfer) => {',
      "  const m = msg.type === 'ready' ? undefined : mode.get(msg.id);",
      "  if (m === 'exit') process.exit(7);",
      "  if (m === 'throw') throw new RangeError('injected crash');",
      '  post(msg, transfer);',
      "  if (m === 'idle') setTimeout(() => process.exit(3), 20);",
      '};',
      "parentPort.on('message', (m) => { const k = { 1001: 'exit', 1002: 'throw', 1003: 'idle' }[m.K]; if (k) mode.set(m.id, k); });",
    ].join('\n'));
    const f = join(dir, 'crash-worker.mjs');
    writeFileSync(f, `import './crash-hook.mjs';\nimport ${JSON.stringify(workerUrl.href)};\n`);
    crashUrl = pathToFileURL(f);
  });
  const job = (K: number, N = 24) => ({ w: weight(K, N, K), K, N, options: { bits: 4 as const, blockSize: 32 } });
  const works = async (pool: QuantWorkerPool) => {
    const j = job(64, 40);
    expect((await pool.quantizeRtn(j)).packed).toEqual(packMatMulNBits(quantizeRtn(j.w, 64, 40, j.options)));
  };

  for (const [K, what, reason] of [[1001, 'process.exit in the worker', /it exited with code 7/], [1002, 'an uncaught throw in the worker', /uncaught RangeError: injected crash/]] as const) {
    it(`${what}: the pending job rejects with a LeanformerError naming the failure, and the pool keeps working`, async () => {
      // The job is split over both workers, so every worker dies at once.
      const pool = createQuantWorkerPool({ threads: 2, minSliceElements: 1, workerUrl: crashUrl });
      pools.push(pool);
      const e = await pool.quantizeRtn(job(K, 90)).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(LeanformerError);
      expect(e).toMatchObject({ code: 'EXECUTION_FAILED', message: expect.stringMatching(/^quant worker thread died while quantizing columns \d+…\d+ of a \[10\d\d, 90\] weight: /), details: { K, N: 90 } });
      expect((e as Error).message).toMatch(reason);
      await Promise.all([works(pool), works(pool)]);
    });
  }

  it('a worker that dies while idle is replaced: later jobs run, and dispose still closes the pool', async () => {
    const pool = createQuantWorkerPool({ threads: 1, workerUrl: crashUrl });
    const first = job(1003);
    expect((await pool.quantizeRtn(first)).packed).toEqual(packMatMulNBits(quantizeRtn(first.w, 1003, 24, first.options)));
    await new Promise((r) => setTimeout(r, 200));
    await works(pool);
    await pool.dispose();
    await expect(pool.quantizeRtn(job(64))).rejects.toMatchObject({ message: expect.stringContaining('disposed') });
  });
});

const builtWorker = join(pkg, 'dist/workers/rtn-worker.js');
describe.skipIf(!existsSync(builtWorker))('createQuantWorkerPool: default worker script (dist/workers/rtn-worker.js; skipped until @leanformer/quant is built)', () => {
  it('finds the built worker without workerUrl', async () => {
    const pool = createQuantWorkerPool({ threads: 2 });
    pools.push(pool);
    const w = weight(128, 64, 4);
    const r = await pool.quantizeRtn({ w, K: 128, N: 64, options: { bits: 4, blockSize: 32 }, output: 'packed' });
    expect(r.packed).toEqual(packMatMulNBits(quantizeRtn(w, 128, 64, { bits: 4, blockSize: 32 })));
  });
});
