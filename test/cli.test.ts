// End-to-end: the built `leanformer` binary as a user runs it. Needs a build first
// (`npx nx run-many -t build`; the root `npm test` builds before testing).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformerDecoder } from '@leanformer/core';
import { saveModel } from '@leanformer/onnx/node';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(root, 'packages/cli/bin/leanformer.js');
const DATA = '/usr/share/libonnx-testdata/data';
const built = existsSync(join(root, 'packages/cli/dist/index.js'));
const haveData = existsSync(DATA);

function leanformer(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

if (!built) console.warn('cli e2e: skipped, packages/cli/dist is missing; run `npx nx run-many -t build` first');
else if (!haveData) console.warn(`cli e2e: skipped, ${DATA} is missing (Debian/Ubuntu: apt install libonnx-testdata; .ci/run installs it)`);

describe.skipIf(!built || !haveData)('leanformer CLI (built binary)', () => {
  it('inspect --json summarises a model', () => {
    // PyTorch's Conv2d(3, 4, kernel_size=(3, 2)) on a [2, 3, 7, 5] input: 4·3·3·2 weights + 4 biases.
    const r = leanformer('inspect', `${DATA}/pytorch-converted/test_Conv2d/model.onnx`, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ops).toEqual({ Conv: 1 });
    expect(j.parameters).toBe(4 * 3 * 3 * 2 + 4);
    expect(j.initializerBytes).toEqual({ float32: (4 * 3 * 3 * 2 + 4) * 4 });
    expect(j.inputs).toEqual([{ name: '0', type: 'float32[2, 3, 7, 5]' }]);
    expect(j.outputs).toEqual([{ name: '3', type: 'float32[2, 4, 5, 4]' }]);
    expect(j.opsets['ai.onnx']).toBeGreaterThan(0);
  });

  it('run --data --json reports errors against the expected outputs, through the IR and direct', () => {
    for (const extra of [[], ['--direct']]) {
      const c = `${DATA}/node/test_matmul_2d`;
      const r = leanformer('run', `${c}/model.onnx`, '--data', `${c}/test_data_set_0`, '--json', '--repeat', '2', ...extra);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j).toMatchObject({ backend: 'ort-cpu', epUsed: 'cpu' });
      expect(j.outputs).toHaveLength(1);
      expect(j.outputs[0].name).toBe('c');
      expect(j.outputs[0].shape).toEqual([3, 3]);
      expect(j.outputs[0].maxAbsErr).toBeLessThan(1e-5);
      expect(j.outputs[0].cosine).toBeGreaterThan(0.99999);
    }
  });

  it('conformance --json counts a folder of cases', () => {
    const r = leanformer('conformance', `${DATA}/simple`, '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.total).toBe(j.cases.length);
    expect(j.passed + j.failed + j.errored).toBe(j.total);
    expect(j.passed).toBeGreaterThan(0);
    expect(j.cases[0]).toHaveProperty('status');
  });

  it('fails cleanly: missing file, garbage bytes, unknown backend, unknown command', () => {
    const garbage = join(mkdtempSync(join(tmpdir(), 'leanformer-cli-')), 'garbage.onnx');
    writeFileSync(garbage, Buffer.from('this is not an onnx model at all, just text bytes'));
    const cases: [string[], number, RegExp][] = [
      [['run', '/no/such/model.onnx'], 1, /^leanformer run: No such file: \/no\/such\/model\.onnx$/],
      [['inspect', garbage], 1, /^leanformer inspect: .*garbage.onnx is not a readable ONNX model: /],
      [['run', garbage, '--json'], 1, /^leanformer run: .*garbage.onnx is not a readable ONNX model: /],
      [['run', garbage, '--direct'], 1, /^leanformer run: ONNX Runtime could not load/],
      [['run', `${DATA}/node/test_abs/model.onnx`, '--backend', 'ort-metal'], 2, /Unknown backend 'ort-metal'; allowed: ort-cpu/],
      [['quantise'], 2, /unknown command 'quantise'/],
      [['conformance', '/no/such/dir'], 1, /No such folder: \/no\/such\/dir/],
    ];
    for (const [args, code, msg] of cases) {
      const r = leanformer(...args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stdout, args.join(' ')).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0], args.join(' ')).toMatch(msg);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('quantize (from @leanformer/quant) writes a model that run and inspect read back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leanformer-cli-q-'));
    await saveModel(transformerDecoder({ vocabSize: 256, hidden: 64, layers: 1, heads: 4, kvHeads: 2, ffn: 128, seed: 3 }), join(dir, 'dec.onnx'));
    const q = leanformer('quantize', join(dir, 'dec.onnx'), '-o', join(dir, 'q4.onnx'), '--method', 'rtn', '--bits', '4');
    expect(q.code, q.stderr).toBe(0);
    const ins = JSON.parse(leanformer('inspect', join(dir, 'q4.onnx'), '--json').stdout);
    expect(Object.keys(ins.ops)).toContain('com.microsoft::MatMulNBits');
    for (const extra of [[], ['--direct']]) {
      const r = leanformer('run', join(dir, 'q4.onnx'), '--dim', 'seq=5', '--json', ...extra);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).outputs[0]).toMatchObject({ name: 'logits', shape: [1, 5, 256] });
    }
  });

  it('--help works for the tool and every command', () => {
    expect(leanformer('--help').stdout).toMatch(/inspect[\s\S]*run[\s\S]*conformance/);
    for (const c of ['inspect', 'run', 'conformance']) expect(leanformer(c, '--help').code).toBe(0);
  });
});
