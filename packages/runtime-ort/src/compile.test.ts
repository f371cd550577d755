// OrtBackend.compile: IR graph → lowerToOnnx (per EP) → encodeModel → ORT session.
import { GraphBuilder, rng, Tensor } from '@leanformer/core';
import { describe, expect, it } from 'vitest';
import { createOrtBackend } from './node.js';

/** Deterministic values in [-1, 1). */
function lcg(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => 2 * r.uniform() - 1);
}

/** y = relu(x·W + b), x float32 [batch, 5], W [5, 3]. */
function tinyGraph(w: number[], bias: number[]) {
  const b = new GraphBuilder('tiny');
  const x = b.input('x', 'float32', ['batch', 5]);
  const y = b.relu(b.add(b.matmul(x, b.param('w', Tensor.from('float32', [5, 3], w))), b.param('b', Tensor.from('float32', [3], bias))));
  b.output(y, 'y');
  return b.build();
}

describe('OrtBackend.compile (through the IR)', () => {
  const w = lcg(15, 11), bias = lcg(3, 12), xs = lcg(20, 13);

  it('matches a float64 reference within 1e-5', async () => {
    const exe = await createOrtBackend({ intraOpNumThreads: 1 }).compile(tinyGraph(w, bias));
    expect(exe.info.device).toBe('cpu');
    const { y } = await exe.run({ x: Tensor.from('float32', [4, 5], xs) });
    expect(y!.shape).toEqual([4, 3]);
    const got = y!.toFloat64();
    for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) {
      let ref = Math.fround(bias[j]!);
      for (let k = 0; k < 5; k++) ref += Math.fround(xs[i * 5 + k]!) * Math.fround(w[k * 3 + j]!);
      expect(Math.abs(got[i * 3 + j]! - Math.max(0, ref))).toBeLessThan(1e-5);
    }
    await exe.dispose();
  });

  it("with eps ['tensorrt', 'cuda', 'cpu'] runs on cpu here and records why the others fell back", async () => {
    const exe = await createOrtBackend({ eps: ['tensorrt', 'cuda', 'cpu'] }).compile(tinyGraph(w, bias));
    expect(exe.info.device).toBe('cpu');
    expect(exe.info.fallbacks.map((f) => f.ep)).toEqual(['tensorrt', 'cuda']);
    for (const f of exe.info.fallbacks) expect(f.reason.length).toBeGreaterThan(10);
    await exe.dispose();
  });

  it('writes a preallocated output in place', async () => {
    const exe = await createOrtBackend().compile(tinyGraph(w, bias));
    const out = Tensor.zeros('float32', [2, 3]);
    const storage = out.data;
    const r = await exe.run({ x: Tensor.from('float32', [2, 5], xs.slice(0, 10)) }, { outputs: { y: out } });
    expect(r['y']).toBe(out);
    expect(out.data).toBe(storage);
    const fresh = (await exe.run({ x: Tensor.from('float32', [2, 5], xs.slice(0, 10)) }))['y']!;
    expect(Array.from(out.toFloat32())).toEqual(Array.from(fresh.toFloat32()));
    expect(Array.from(out.toFloat32()).some((v) => v !== 0)).toBe(true);
    await exe.dispose();
  });
});

describe('the ./web entry (onnxruntime-web, WebAssembly; also runs in Node)', () => {
  it('compiles through the IR on wasm and agrees with onnxruntime-node CPU', async () => {
    const { createOrtBackend: createWebBackend } = await import('./web.js');
    const w = lcg(15, 21), bias = lcg(3, 22), xs = lcg(10, 23);
    const web = await createWebBackend({ eps: ['wasm'] }).compile(tinyGraph(w, bias));
    const cpu = await createOrtBackend().compile(tinyGraph(w, bias));
    expect(web.info.device).toBe('wasm');
    const x = Tensor.from('float32', [2, 5], xs);
    const a = (await web.run({ x }))['y']!.toFloat32();
    const b = (await cpu.run({ x }))['y']!.toFloat32();
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-6);
    await web.dispose();
    await cpu.dispose();
  });
});
