import { attr, GraphBuilder, LeanformerError, rng, Tensor, type Value } from '@leanformer/core';
import { encodeModel } from '@leanformer/onnx';
import { describe, expect, it } from 'vitest';
import { OrtBackend, createOrtBackend, ortNode } from './node.js';

/** A one-node model built here (the tests need no ONNX test-data package). */
function oneNode(name: string, inputs: [string, 'float32' | 'bool', number[]][], build: (b: GraphBuilder, xs: Value[]) => Value): Uint8Array {
  const b = new GraphBuilder(name);
  const xs = inputs.map(([n, dt, shape]) => b.input(n, dt, shape));
  b.output(build(b, xs), 'c');
  return encodeModel(b.build());
}
const MODELS: Record<string, () => Uint8Array> = {
  matmul_2d: () => oneNode('matmul_2d', [['a', 'float32', [3, 4]], ['b', 'float32', [4, 3]]], (b, [a, c]) => b.matmul(a!, c!)),
  cast_to_float16: () => oneNode('cast_to_float16', [['input', 'float32', [3, 4]]], (b, [x]) => b.op('Cast', [x!], { to: attr.int(10) })),
  and2d: () => oneNode('and2d', [['x', 'bool', [3, 4]], ['y', 'bool', [3, 4]]], (b, [x, y]) => b.op('And', [x!, y!])),
};
const model = (name: keyof typeof MODELS) => MODELS[name]!();

/** Deterministic values in [-1, 1). */
function lcg(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => 2 * r.uniform() - 1);
}

describe('OrtBackend (onnxruntime-node)', () => {
  it('falls back from tensorrt and cuda to cpu here, and says why', async () => {
    const backend = createOrtBackend({ eps: ['tensorrt', 'cuda', 'cpu'], intraOpNumThreads: 1 });
    const exe = await backend.createExecutorFromBytes(model('matmul_2d'));
    expect(exe.info.backend).toBe('ort');
    expect(exe.info.device).toBe('cpu');
    expect(exe.info.fallbacks.map((f) => [f.ep, f.stage])).toEqual([['tensorrt', 'session'], ['cuda', 'session']]);
    // This machine has no CUDA / TensorRT provider libraries: ORT says it could not load them.
    for (const f of exe.info.fallbacks) expect(f.reason).toMatch(/shared library|TensorRT|Cuda/i);
    await exe.dispose();
  });

  it('matches a float64 matmul reference within 1e-5', async () => {
    const exe = await createOrtBackend({ intraOpNumThreads: 1 }).createExecutorFromBytes(model('matmul_2d'));
    expect(exe.inputNames).toEqual(['a', 'b']);
    const a = lcg(12, 1), b = lcg(12, 2);
    const out = await exe.run({ a: Tensor.from('float32', [3, 4], a), b: Tensor.from('float32', [4, 3], b) });
    const c = out[exe.outputNames[0]!]!;
    expect(c.shape).toEqual([3, 3]);
    const got = c.toFloat64();
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      let ref = 0;
      for (let k = 0; k < 4; k++) ref += Math.fround(a[i * 4 + k]!) * Math.fround(b[k * 3 + j]!);
      expect(Math.abs(got[i * 3 + j]! - ref)).toBeLessThan(1e-5);
    }
    await exe.dispose();
  });

  it('writes preallocated outputs in place', async () => {
    const exe = await createOrtBackend().createExecutorFromBytes(model('matmul_2d'));
    const y = Tensor.zeros('float32', [3, 3]);
    const before = y.data;
    const a = Tensor.from('float32', [3, 4], lcg(12, 3));
    const eye = Tensor.from('float32', [4, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    const out = await exe.run({ a, b: eye }, { outputs: { [exe.outputNames[0]!]: y } });
    expect(out[exe.outputNames[0]!]).toBe(y);
    expect(y.data).toBe(before);
    const av = a.toFloat32();
    expect(Array.from(y.toFloat32())).toEqual([0, 1, 2, 4, 5, 6, 8, 9, 10].map((i) => av[i]));
    await exe.dispose();
  });

  it('round-trips float16 and bool through feeds and fetches', async () => {
    const toHalf = await createOrtBackend().createExecutorFromBytes(model('cast_to_float16'));
    const x = Tensor.from('float32', [3, 4], [0.5, -2, 1024, 65504, 0.1, 3, -0.25, 7, 8, 9, 10, 11]);
    const h = (await toHalf.run({ [toHalf.inputNames[0]!]: x }))[toHalf.outputNames[0]!]!;
    expect(h.dtype.name).toBe('float16');
    expect(h.data).toBeInstanceOf(Uint16Array);
    expect(h.toFloat32()[0]).toBe(0.5);
    expect(h.toFloat32()[3]).toBe(65504);
    expect(h.toFloat32()[4]).toBeCloseTo(0.1, 3);
    const and = await createOrtBackend().createExecutorFromBytes(model('and2d'));
    const p = Tensor.from('bool', [3, 4], [1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1]);
    const q = Tensor.from('bool', [3, 4], [1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0]);
    const r = (await and.run({ x: p, y: q }))[and.outputNames[0]!]!;
    expect(r.dtype.name).toBe('bool');
    expect(Array.from(r.data as Uint8Array)).toEqual([1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
  });

  it('refuses bfloat16 and int4 feeds with a clear error', async () => {
    const exe = await createOrtBackend().createExecutorFromBytes(model('matmul_2d'));
    const bf = Tensor.zeros('bfloat16', [3, 4]);
    await expect(exe.run({ a: bf, b: Tensor.zeros('float32', [4, 3]) })).rejects.toThrow(/'a' is bfloat16/);
    const i4 = Tensor.zeros('int4', [3, 4]);
    await expect(exe.run({ a: i4, b: Tensor.zeros('float32', [4, 3]) })).rejects.toThrow(/int4 only as initializers/);
  });

  it('names missing feeds and unknown fetches', async () => {
    const exe = await createOrtBackend().createExecutorFromBytes(model('matmul_2d'));
    await expect(exe.run({ a: Tensor.zeros('float32', [3, 4]) })).rejects.toThrow(/Missing feeds: b/);
    await expect(exe.run({ a: Tensor.zeros('float32', [3, 4]), b: Tensor.zeros('float32', [4, 3]) }, { fetches: ['nope'] })).rejects.toThrow(/Unknown fetch 'nope'/);
    await exe.dispose();
    await expect(exe.run({})).rejects.toThrow(/disposed/);
  });

  it('reports a model ORT cannot load as EXECUTION_FAILED, and bad EP names up front', async () => {
    const err = await createOrtBackend().createExecutorFromBytes(new Uint8Array([1, 2, 3, 4])).catch((e) => e);
    expect(err).toBeInstanceOf(LeanformerError);
    expect(err.code).toBe('EXECUTION_FAILED');
    expect(err.message).toMatch(/^ONNX Runtime could not load model \(4 bytes\) on cpu: /);
    expect(() => createOrtBackend({ eps: ['cpu', 'metal' as never] })).toThrow(/unknown execution provider 'metal'; allowed: cpu, cuda/);
    expect(() => new OrtBackend({} as never)).toThrow(/needs the ONNX Runtime module/);
    expect(ortNode.InferenceSession).toBeDefined();
  });
});
