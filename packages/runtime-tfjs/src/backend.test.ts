import { attr, DTypes, Graph, isLeanformerError, Tensor, tensorType } from '@leanformer/core';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend } from './backend.js';
import { tf } from './setup.js';

const F = DTypes.float32;
const I64 = DTypes.int64;

/** y = softmax(reshape(x @ w + b, [shape(x)[0], -1])) with the shape computed in-graph. */
function mlpGraph(w: number[], b: number[]): Graph {
  const g = new Graph('mlp');
  g.opsets.set('', 17);
  const x = g.addInput('x', tensorType(F, ['batch', 3]));
  const W = g.addInitializer('w', Tensor.from('float32', [3, 2], w));
  const B = g.addInitializer('b', Tensor.from('float32', [2], b));
  const mm = g.addNode({ op: 'MatMul', inputs: [x, W] }).output();
  const add = g.addNode({ op: 'Add', inputs: [mm, B] }).output();
  const shp = g.addNode({ op: 'Shape', inputs: [x] }).output();
  const zero = g.addInitializer('zero', Tensor.from('int64', [1], [0n]));
  const first = g.addNode({ op: 'Gather', inputs: [shp, zero], attrs: { axis: attr.int(0) } }).output();
  const minus1 = g.addInitializer('m1', Tensor.from('int64', [1], [-1n]));
  const target = g.addNode({ op: 'Concat', inputs: [first, minus1], attrs: { axis: attr.int(0) } }).output();
  const r = g.addNode({ op: 'Reshape', inputs: [add, target] }).output();
  const y = g.addNode({ op: 'Softmax', inputs: [r], attrs: { axis: attr.int(-1) }, outputs: ['y'] }).output();
  g.addOutput(y);
  const n = g.addNode({ op: 'Shape', inputs: [y], outputs: ['n'] }).output();
  g.addOutput(n);
  y.type = tensorType(F, ['batch', 2]);
  n.type = tensorType(I64, [2]);
  return g;
}

function reference(x: number[][], w: number[], b: number[]): number[][] {
  return x.map((row) => {
    const z = [0, 1].map((j) => row.reduce((s, xi, i) => s + xi * w[i * 2 + j]!, 0) + b[j]!);
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, c) => a + c, 0);
    return e.map((v) => v / s);
  });
}

describe('TfjsBackend (cpu)', () => {
  it('runs a graph with in-graph shape arithmetic and matches a float64 reference', async () => {
    const w = [0.5, -1, 2, 0.25, -0.75, 1.5];
    const b = [0.1, -0.2];
    const exe = await createTfjsBackend('cpu').compile(mlpGraph(w, b));
    const xs = [[1, 2, 3], [-1, 0.5, 2], [0, 0, 0], [3, -2, 1]];
    const out = await exe.run({ x: Tensor.from('float32', [4, 3], xs.flat()) });
    const ref = reference(xs, w, b).flat();
    const got = out.y!.toFloat32();
    ref.forEach((r, i) => expect(Math.abs(got[i]! - r)).toBeLessThan(1e-6));
    expect(out.n!.dtype).toBe(I64);
    expect(out.n!.toArray()).toEqual([4n, 2n]);
    await exe.dispose();
  });

  it('leaks no tensors across compile, runs and dispose', async () => {
    const backend = createTfjsBackend('cpu');
    await backend.ready();
    const before = tf.memory().numTensors;
    const exe = await backend.compile(mlpGraph([1, 2, 3, 4, 5, 6], [0, 0]));
    const afterCompile = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await exe.run({ x: Tensor.from('float32', [2, 3], [1, 2, 3, 4, 5, 6]) });
    expect(tf.memory().numTensors).toBe(afterCompile);
    await exe.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('folds shape arithmetic at compile time when shapes are static', async () => {
    const g = mlpGraph([1, 2, 3, 4, 5, 6], [0, 0]);
    const dyn = await createTfjsBackend('cpu').compile(g);
    // Symbolic batch: Shape → Gather → Concat run at run time, on the host.
    expect(dyn.compiled.stepCount).toBe(g.nodes.length);
    await dyn.dispose();
    g.inputs[0]!.type = tensorType(F, [4, 3]);
    g.outputs[0]!.type = tensorType(F, [4, 2]);
    const stat = await createTfjsBackend('cpu').compile(g);
    // Static batch: both Shapes, the Gather and the Concat fold; MatMul, Add, Reshape, Softmax remain.
    expect(stat.compiled.stepCount).toBe(g.nodes.length - 4);
    const out = await stat.run({ x: Tensor.from('float32', [4, 3], new Array(12).fill(1)) });
    expect(out.n!.toArray()).toEqual([4n, 2n]);
    await stat.dispose();
  });

  it('writes into preallocated outputs and checks their type', async () => {
    const exe = await createTfjsBackend('cpu').compile(mlpGraph([1, 0, 0, 1, 1, 1], [0, 0]));
    const buf = Tensor.zeros('float32', [2, 2]);
    const out = await exe.run({ x: Tensor.from('float32', [2, 3], [0, 0, 0, 1, 0, 0]) }, { outputs: { y: buf } });
    expect(out.y).toBe(buf);
    expect(Array.from(buf.toFloat32())).toEqual([0.5, 0.5, expect.closeTo(0.7310586, 6), expect.closeTo(0.2689414, 6)]);
    await expect(exe.run({ x: Tensor.from('float32', [1, 3], [0, 0, 0]) }, { outputs: { y: buf } })).rejects.toThrow(/preallocated output 'y'/);
    await exe.dispose();
  });

  it('lists every unsupported op at compile time', async () => {
    const g = new Graph('bad');
    const x = g.addInput('x', tensorType(F, [2]));
    const a = g.addNode({ op: 'FancyOp', inputs: [x] }).output();
    const b = g.addNode({ op: 'Relu', inputs: [a] }).output();
    const c = g.addNode({ op: 'Other', domain: 'com.example', inputs: [b] }).output();
    g.addOutput(c);
    try {
      await createTfjsBackend('cpu').compile(g);
      throw new Error('compiled');
    } catch (e) {
      expect(isLeanformerError(e, 'NOT_SUPPORTED')).toBe(true);
      expect((e as Error).message).toContain('FancyOp, com.example::Other');
    }
  });

  it('refuses int64 feeds outside the int32 range, and wrong shapes', async () => {
    const g = new Graph('id');
    const x = g.addInput('x', tensorType(I64, [2]));
    const y = g.addNode({ op: 'Neg', inputs: [x], outputs: ['y'] }).output();
    y.type = tensorType(I64, [2]);
    g.addOutput(y);
    const exe = await createTfjsBackend('cpu').compile(g);
    const ok = await exe.run({ x: Tensor.from('int64', [2], [5n, -7n]) });
    expect(ok.y!.toArray()).toEqual([-5n, 7n]);
    await expect(exe.run({ x: Tensor.from('int64', [2], [2n ** 40n, 0n]) })).rejects.toThrow(/outside the int32 range/);
    await expect(exe.run({ x: Tensor.from('int64', [3], [1n, 2n, 3n]) })).rejects.toThrow(/shape \[3\]/);
    await exe.dispose();
  });

  it('runs on wasm with the .wasm files of the installed package, matching cpu (executors share one process)', async () => {
    const g = () => mlpGraph([0.5, -1, 2, 0.25, -0.75, 1.5], [0.1, -0.2]);
    const x = Tensor.from('float32', [3, 3], [1, 2, 3, -1, 0.5, 2, 0, 4, -3]);
    const cpu = await createTfjsBackend('cpu').compile(g());
    const wasm = await createTfjsBackend('wasm').compile(g());
    expect(wasm.info).toEqual({ backend: 'tfjs', device: 'wasm' });
    const a = (await cpu.run({ x })).y!.toFloat32();
    const b = (await wasm.run({ x })).y!.toFloat32();
    expect(tf.getBackend()).toBe('wasm');
    const a2 = (await cpu.run({ x })).y!.toFloat32();
    expect(tf.getBackend()).toBe('cpu');
    a.forEach((v, i) => { expect(Math.abs(v - b[i]!)).toBeLessThan(1e-6); expect(a2[i]).toBe(v); });
    await cpu.dispose();
    await wasm.dispose();
  });

  it('takes the backend name alone or inside an options object', () => {
    expect(createTfjsBackend('wasm').name).toBe('tfjs-wasm');
    expect(createTfjsBackend({ backend: 'cpu' }).device).toBe('cpu');
    expect(() => createTfjsBackend('metal' as never)).toThrow(/allowed: cpu, wasm, webgpu, tensorflow/);
  });

  it('names the package to install for an absent backend', async () => {
    await expect(createTfjsBackend('tensorflow').ready()).rejects.toThrow(/npm install @tensorflow\/tfjs-node/);
  });
});

describe('leanformer ops', () => {
  it('run through their core reference decompositions (QMatMul, 8-bit, float zero points)', async () => {
    const { ensureQMatMulSchema } = await import('@leanformer/core') as unknown as { ensureQMatMulSchema?: () => void };
    ensureQMatMulSchema?.();
    const M = 2, K = 20, N = 3, bs = 16, kb = 2;
    const codes = Array.from({ length: N * kb * bs }, (_, i) => (i * 37 + 11) % 256);
    const scales = Array.from({ length: N * kb }, (_, i) => (i - 2.5) / 50);
    const zps = Array.from({ length: N * kb }, (_, i) => 120 + i * 3.5);
    const a = Array.from({ length: M * K }, (_, i) => ((i * 7) % 13) - 6);
    const g = new Graph('q');
    g.opsets.set('', 21);
    g.opsets.set('leanformer', 1);
    const A = g.addInput('A', tensorType(F, [M, K]));
    const inputs = [A, g.addInitializer('B', Tensor.from('uint8', [N, kb, bs], codes)), g.addInitializer('scales', Tensor.from('float32', [N * kb], scales)), g.addInitializer('zp', Tensor.from('float32', [N * kb], zps))];
    const node = g.addNode({ op: 'QMatMul', domain: 'leanformer', inputs, outputs: ['Y'], attrs: { K: attr.int(K), N: attr.int(N), bits: attr.int(8), block_size: attr.int(bs) } });
    node.output(0).type = tensorType(F, [M, N]);
    g.addOutput(node.output(0));
    const exe = await createTfjsBackend('cpu').compile(g);
    expect(g.nodes.map((n) => n.op)).toEqual(['QMatMul']); // the caller's graph is untouched
    const y = (await exe.run({ A: Tensor.from('float32', [M, K], a) })).Y!.toFloat32();
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let ref = 0;
        for (let k = 0; k < K; k++) {
          const blk = Math.floor(k / bs);
          ref += a[m * K + k]! * (codes[(n * kb + blk) * bs + (k % bs)]! - zps[n * kb + blk]!) * scales[n * kb + blk]!;
        }
        expect(Math.abs(y[m * N + n]! - ref)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref)));
      }
    }
    await exe.dispose();
  });
});

describe('integer kernels', () => {
  it('MatMulInteger is exact when K·255² exceeds float32 integers (K split into exact chunks)', async () => {
    const M = 2, K = 2000, N = 3;
    const a = Array.from({ length: M * K }, (_, i) => (i * 97 + 13) % 256);
    const b = Array.from({ length: K * N }, (_, i) => (i * 31 + 7) % 256);
    const g = new Graph('mmi');
    g.opsets.set('', 13);
    const A = g.addInput('A', tensorType(DTypes.uint8, [M, K]));
    const B = g.addInitializer('B', Tensor.from('uint8', [K, N], b));
    const azp = g.addInitializer('azp', Tensor.from('uint8', [], [3]));
    const y = g.addNode({ op: 'MatMulInteger', inputs: [A, B, azp], outputs: ['Y'] }).output();
    y.type = tensorType(DTypes.int32, [M, N]);
    g.addOutput(y);
    const exe = await createTfjsBackend('cpu').compile(g);
    const got = (await exe.run({ A: Tensor.from('uint8', [M, K], a) })).Y!.toArray();
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let ref = 0;
        for (let k = 0; k < K; k++) ref += (a[m * K + k]! - 3) * b[k * N + n]!;
        expect(got[m * N + n]).toBe(ref);
      }
    }
    expect(Math.max(...(got as number[]).map(Math.abs))).toBeGreaterThan(2 ** 24); // beyond float32's exact integers
    await exe.dispose();
  });
});

describe('run options', () => {
  it('fetches intermediate values, which early freeing keeps alive', async () => {
    const exe = await createTfjsBackend('cpu').compile(mlpGraph([1, 0, 0, 1, 1, 1], [0, 0]));
    const mm = exe.compiled.graph.nodes.find((n) => n.op === 'MatMul')!.output(0).name;
    const out = await exe.run({ x: Tensor.from('float32', [1, 3], [1, 2, 3]) }, { fetches: [mm, 'y'] });
    expect(Array.from(out[mm]!.toFloat32())).toEqual([4, 5]);
    expect(out.y!.shape).toEqual([1, 2]);
    await exe.dispose();
  });

  it('does not fold through initializers that are also graph inputs (feedable defaults)', async () => {
    const g = new Graph('defaults');
    g.opsets.set('', 17);
    const k = g.addInitializer('k', Tensor.from('int64', [1], [2n]));
    g.inputs.push(k); // old-style: an input with a default value
    const one = g.addInitializer('one', Tensor.from('int64', [1], [1n]));
    const y = g.addNode({ op: 'Add', inputs: [k, one], outputs: ['y'] }).output();
    y.type = tensorType(I64, [1]);
    g.addOutput(y);
    const exe = await createTfjsBackend('cpu').compile(g);
    expect((await exe.run({})).y!.toArray()).toEqual([3n]);
    expect((await exe.run({ k: Tensor.from('int64', [1], [41n]) })).y!.toArray()).toEqual([42n]);
    await exe.dispose();
  });
});
