import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '@leanformer/core';
import { encodeModel } from '@leanformer/onnx';
import { main, type Io } from './index.js';

// A MatMul model made here ([3, 4] · [4, 3] → 'c', as ONNX's test_matmul_2d), so the tests need no ONNX test-data package.
const CASE = mkdtempSync(join(tmpdir(), 'lf-main-'));
{
  const b = new GraphBuilder('matmul_2d');
  b.output(b.matmul(b.input('a', 'float32', [3, 4]), b.input('b', 'float32', [4, 3])), 'c');
  writeFileSync(join(CASE, 'model.onnx'), encodeModel(b.build()));
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const io: Io = { out: (t) => { out += t; }, err: (t) => { err += t; }, stderrIsTTY: false };
  const code = await main(argv, io);
  return { code, out, err };
}

describe('leanformer main', () => {
  it('prints global and per-command help', async () => {
    const g = await cli('--help');
    expect(g.code).toBe(0);
    expect(g.out).toMatch(/Commands:\n {2}inspect .*\n {2}run .*\n {2}conformance /);
    for (const c of ['inspect', 'run', 'conformance']) {
      const h = await cli(c, '--help');
      expect(h.code).toBe(0);
      expect(h.out).toMatch(new RegExp(`^Usage: leanformer ${c} `));
      expect(h.out).toContain('--json');
    }
    expect((await cli()).code).toBe(2);
  });

  it('loads extension commands (quantize, sparsify, pack, unpack) from @leanformer/quant on demand', async () => {
    const h = await cli('quantize', '--help');
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^Usage: leanformer quantize <in.onnx> /);
    expect((await cli('--help')).out).toMatch(/\n {2}quantize +\S/);
    const bad = await cli('quantize', `${CASE}/model.onnx`);
    expect(bad.code).toBe(2); // a missing required flag is bad usage
    expect(bad.err).toMatch(/^leanformer quantize: .*--(output|method)/);
  });

  it('rejects bad usage with one line and exit 2', async () => {
    for (const argv of [['frobnicate'], ['run'], ['run', 'a.onnx', '--bogus'], ['run', CASE + '/model.onnx', '--backend', 'ort-metal'], ['run', 'a.onnx', 'b.onnx']]) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err.trim().split('\n'), argv.join(' ')).toHaveLength(1);
      expect(r.out).toBe('');
    }
    expect((await cli('run', 'x.onnx', '--backend', 'ort-metal')).err).toMatch(/Unknown backend 'ort-metal'; allowed: ort-cpu, ort-cuda, ort-tensorrt, ort-webgpu, ort-wasm, tfjs-cpu/);
  });

  it('reports a missing file with exit 1 and no stack', async () => {
    const r = await cli('run', '/nonexistent/model.onnx', '--direct');
    expect(r.code).toBe(1);
    expect(r.err).toBe('leanformer run: No such file: /nonexistent/model.onnx\n');
  });

  it('runs a model directly with generated inputs and prints one JSON object', async () => {
    const r = await cli('run', `${CASE}/model.onnx`, '--direct', '--json', '--repeat', '3', '--backend', 'ort-tensorrt');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(['backend', 'epUsed', 'msPerRun', 'outputs', 'placement']);
    expect(j.backend).toBe('ort-tensorrt');
    expect(j.epUsed).toBe('cpu'); // no TensorRT or CUDA libraries here
    expect(j.msPerRun).toBeGreaterThan(0);
    expect(j.outputs).toEqual([{ name: 'c', shape: [3, 3], maxAbsErr: null, maxRelErr: null, cosine: null }]);
    // ORT's profiler: the one MatMul ran on the EP that was used.
    expect(j.placement).toEqual({ nodes: 1, byProvider: { CPUExecutionProvider: 1 }, outside: [] });
  });
});
