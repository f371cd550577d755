// A user's first install, outside the monorepo (issue 17, scope 1): every package is packed as npm
// would publish it, the tarballs are installed into an empty project under os.tmpdir() (npm's own
// resolution, no workspace links, no vitest aliases), and that project
//   - runs an ES module script that builds a one-MatMul model, quantizes it to int4 (RTN, blocks of
//     32) and runs it on ONNX Runtime CPU;
//   - runs a CommonJS script that does the same through a file (saveModel → loadModel) first;
//   - type-checks a TypeScript consumer with `tsc --strict` under module node16 (an .mts and a .cts
//     file: the `import` and the `require` types) and under moduleResolution bundler.
// Both scripts compare the int4 output against a float64 X·W and the RTN error bound (below).
// Slow (an npm install, ~20 s, and two tsc runs): it runs when LEANFORMER_PACK_TESTS=1, which .ci/run
// sets, so `npm test` on CI runs it. Needs a build (the tarballs ship dist/).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM tool script without type declarations
import { packTarballs } from '../tools/pack-check/check.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(join(root, 'packages/core/dist/index.js'));
const enabled = process.env.LEANFORMER_PACK_TESTS === '1';
if (!enabled) console.warn('consumer: skipped; LEANFORMER_PACK_TESTS=1 (set by .ci/run) installs the packed tarballs into an empty project and runs ESM, CommonJS and tsc --strict consumers');
else if (!built) console.warn('consumer: skipped, packages are not built; run `npx nx run-many -t build` first');

interface Run { code: number | null; out: string; err: string }
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d; });
    p.stderr.on('data', (d: Buffer) => { err += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

// The model and its check, shared by the ESM and the CommonJS script (core, onnxNode, quant, ortNode,
// path, LOAD and DIR are bound by each wrapper). Reference in float64: y = X·W. RTN int4 symmetric
// rounds each weight to a step of max|w| (over its block of 32 along K) / 7, so it moves by at most
// half a step and |Δy[m,n]| <= Σ_k |x[m,k]| · step(k,n) / 2 (+1e-5 for fp32 arithmetic). The output
// must also move by more than fp32 rounding would (> 1e-3; int4 moves it by ~0.1 here), or nothing
// was quantized.
const BODY = String.raw`
const K = 64, N = 32, M = 2, BLOCK = 32;
let s = 7;
const rnd = () => { s = (s * 1103515245 + 12345) % 2 ** 31; return s / 2 ** 31 - 0.5; };
const W = Float32Array.from({ length: K * N }, rnd);
const X = Float32Array.from({ length: M * K }, rnd);
const b = new core.GraphBuilder('consumer');
const x = b.input('x', 'float32', [M, K]);
b.output(b.op('MatMul', [x, b.param('w', core.Tensor.from('float32', [K, N], W))]), 'y');
let graph = b.build();
if (LOAD) {
  const file = path.join(DIR, 'model.onnx');
  await onnxNode.saveModel(graph, file);
  graph = await onnxNode.loadModel(file);
}
const { graph: q, report } = await quant.quantizeModel(graph, { method: 'rtn', bits: 4, blockSize: BLOCK, accuracyLevel: 0 });
const exe = await ortNode.createOrtBackend({ eps: ['cpu'] }).compile(q);
const y = (await exe.run({ x: core.Tensor.from('float32', [M, K], X) })).y.toFloat32();
await exe.dispose();
let worst = 0, moved = 0;
for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
  let ref = 0, bound = 1e-5;
  for (let k0 = 0; k0 < K; k0 += BLOCK) {
    let amax = 0;
    for (let k = k0; k < k0 + BLOCK; k++) amax = Math.max(amax, Math.abs(W[k * N + n]));
    for (let k = k0; k < k0 + BLOCK; k++) { ref += X[m * K + k] * W[k * N + n]; bound += Math.abs(X[m * K + k]) * (amax / 7) / 2; }
  }
  const d = Math.abs(y[m * N + n] - ref);
  worst = Math.max(worst, d / bound);
  moved = Math.max(moved, d);
}
process.stdout.write(JSON.stringify({ layers: report.layersQuantized, ops: q.nodes.map((n) => n.op), worstOverBound: worst, maxAbsDiff: moved }));
`;

const ESM = `import * as core from '@leanformer/core';
import * as onnxNode from '@leanformer/onnx/node';
import * as quant from '@leanformer/quant';
import * as ortNode from '@leanformer/runtime-ort/node';
import * as path from 'node:path';
const LOAD = false, DIR = process.cwd();
${BODY}`;

const CJS = `const core = require('@leanformer/core');
const onnxNode = require('@leanformer/onnx/node');
const quant = require('@leanformer/quant');
const ortNode = require('@leanformer/runtime-ort/node');
const path = require('node:path');
const LOAD = true, DIR = process.cwd();
(async () => {
${BODY}
})().catch((e) => { console.error(e); process.exit(1); });`;

// Types, not just a compile: the @ts-expect-error line fails the check if the types were `any`.
const TS = `import { dtype, GraphBuilder, Tensor, type Graph } from '@leanformer/core';
import { quantizeModel, type QuantizeResult } from '@leanformer/quant';
import { createOrtBackend } from '@leanformer/runtime-ort/node';

export async function run(): Promise<Float32Array> {
  const bits: number = dtype('int4').bits;
  // @ts-expect-error: dtype takes a dtype name or a DType, not a number
  dtype(4);
  const b = new GraphBuilder('ts');
  const x = b.input('x', 'float32', [1, 32]);
  b.output(b.op('MatMul', [x, b.param('w', Tensor.from('float32', [32, 8], new Float32Array(256).fill(bits / 100)))]), 'y');
  const g: Graph = b.build();
  const r: QuantizeResult = await quantizeModel(g, { method: 'rtn', bits: 4, blockSize: 32 });
  const exe = await createOrtBackend({ eps: ['cpu'] }).compile(r.graph);
  const out = await exe.run({ x: Tensor.from('float32', [1, 32], new Float32Array(32).fill(1)) });
  return out.y!.toFloat32();
}
`;

const tmp = mkdtempSync(join(tmpdir(), 'lf-consumer-'));
const app = join(tmp, 'app');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.runIf(enabled && built)('packed tarballs installed into an empty project', () => {
  let install: Run = { code: null, out: '', err: '' };
  beforeAll(async () => {
    const tgz = join(tmp, 'tgz');
    mkdirSync(tgz);
    mkdirSync(app);
    const packed = packTarballs(tgz) as { name: string; tarball: string }[];
    writeFileSync(join(app, 'package.json'), JSON.stringify({
      name: 'lf-consumer', version: '0.0.0', private: true,
      dependencies: Object.fromEntries(packed.map((p) => [p.name, `file:${p.tarball}`])),
      // npm 11 would skip it anyway (unreviewed); older npm runs it unless the env var below says skip.
      allowScripts: { 'onnxruntime-node': false },
    }, null, 2));
    // Offline-safe: everything comes from npm's cache when it can (the repo's install filled it).
    install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], app, { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' });
    writeFileSync(join(app, 'esm.mjs'), ESM);
    writeFileSync(join(app, 'cjs.cjs'), CJS);
    for (const ext of ['ts', 'mts', 'cts']) writeFileSync(join(app, `consumer.${ext}`), TS);
    const types = { typeRoots: [join(root, 'node_modules/@types')], types: ['node'] };
    const opts = { strict: true, noEmit: true, target: 'es2022', skipLibCheck: false, ...types };
    writeFileSync(join(app, 'tsconfig.node16.json'), JSON.stringify({ compilerOptions: { ...opts, module: 'node16', moduleResolution: 'node16' }, files: ['consumer.mts', 'consumer.cts'] }));
    writeFileSync(join(app, 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: { ...opts, module: 'esnext', moduleResolution: 'bundler' }, files: ['consumer.ts'] }));
  }, 180_000);

  it('npm install of the tarballs succeeds offline-safe, with onnxruntime-node at the version we test', async () => {
    expect(install.code, install.err).toBe(0);
    expect(install.err).not.toMatch(/nuget|ENOTFOUND|Unknown (project|user) config/i);
    const ort = await run(process.execPath, ['-p', "require('onnxruntime-node/package.json').version"], app);
    expect(ort.out.trim()).toMatch(/^1\.30\.\d+$/);
  });

  for (const [label, file] of [['an ES module', 'esm.mjs'], ['a CommonJS (through saveModel/loadModel)', 'cjs.cjs']] as const) {
    it(`${label} script quantizes a MatMul to int4 and runs it on ORT CPU within the RTN error bound`, async () => {
      const r = await run(process.execPath, [file], app);
      expect(r.code, r.err).toBe(0);
      const res = JSON.parse(r.out) as { layers: number; ops: string[]; worstOverBound: number; maxAbsDiff: number };
      expect(res.layers).toBe(1);
      expect(res.ops).toEqual(['QMatMul']);
      expect(res.worstOverBound).toBeLessThanOrEqual(1);
      expect(res.maxAbsDiff).toBeGreaterThan(1e-3);
    }, 60_000);
  }

  it('tsc --strict accepts a TypeScript consumer under node16 (ESM .mts and CommonJS .cts) and bundler resolution', async () => {
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const [node16, bundler] = await Promise.all([
      run(process.execPath, [tsc, '-p', 'tsconfig.node16.json'], app),
      run(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], app),
    ]);
    expect(node16.out + node16.err, 'module node16').toBe('');
    expect(node16.code).toBe(0);
    expect(bundler.out + bundler.err, 'moduleResolution bundler').toBe('');
    expect(bundler.code).toBe(0);
  }, 120_000);
});
