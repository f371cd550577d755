// com.microsoft::MatMulNBits and GatherBlockQuantized on tfjs-cpu against float64 references
// computed here from the codes (dequantize, then matmul / gather), independent of the kernels.
import { attr, DTypes, Graph, isLeanformerError, Tensor, tensorType, type Value } from '@leanformer/core';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend } from '../backend.js';
import { CompiledGraph } from '../compile.js';
import { tf } from '../setup.js';

const MS = 'com.microsoft';

/** Deterministic uniform [0, 1) (LCG) so the cases need no other package. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

interface NBitsCase { K: number; N: number; bits: 4 | 8; bs: number; zp: 'none' | 'uint8' | 'float'; bias: boolean }

/** Random codes/scales/zero points in MatMulNBits layout and the float64 W[k][n] they stand for. */
function nbitsWeight(c: NBitsCase, seed: number) {
  const r = rng(seed);
  const kb = Math.ceil(c.K / c.bs), levels = 2 ** c.bits, per = Math.ceil((kb * c.bits) / 8);
  const codes = Array.from({ length: c.N * kb * c.bs }, () => Math.floor(r() * levels));
  const B = new Uint8Array((c.N * kb * c.bs * c.bits) / 8);
  if (c.bits === 8) B.set(codes);
  else for (let i = 0; i < B.length; i++) B[i] = codes[2 * i]! | (codes[2 * i + 1]! << 4);
  const scales = Float32Array.from({ length: c.N * kb }, () => 0.01 + r() * 0.05);
  const zpv = Array.from({ length: c.N * kb }, () => (c.zp === 'float' ? Math.fround(r() * (levels - 1)) : Math.floor(r() * levels)));
  let zpBytes: Uint8Array | Float32Array | null = null;
  if (c.zp === 'float') zpBytes = Float32Array.from(zpv);
  else if (c.zp === 'uint8') {
    zpBytes = new Uint8Array(c.N * per);
    for (let n = 0; n < c.N; n++) for (let b = 0; b < kb; b++) {
      const v = zpv[n * kb + b]!;
      if (c.bits === 8) zpBytes[n * per + b] = v;
      else zpBytes[n * per + (b >> 1)]! |= v << ((b & 1) * 4);
    }
  }
  const W = (k: number, n: number) => {
    const b = Math.floor(k / c.bs);
    const z = c.zp === 'none' ? 2 ** (c.bits - 1) : zpv[n * kb + b]!;
    return (codes[n * kb * c.bs + k]! - z) * scales[n * kb + b]!;
  };
  return { B, bShape: [c.N, kb, (c.bs * c.bits) / 8], scales, zpBytes, W };
}

function nbitsGraph(c: NBitsCase, w: ReturnType<typeof nbitsWeight>, aShape: number[], bias: Float32Array | null): Graph {
  const g = new Graph('nbits');
  g.opsets.set('', 21);
  g.opsets.set(MS, 1);
  const a = g.addInput('a', tensorType(DTypes.float32, aShape));
  const zp = w.zpBytes instanceof Uint8Array ? g.addInitializer('zp', new Tensor(DTypes.uint8, [w.zpBytes.length], w.zpBytes))
    : w.zpBytes ? g.addInitializer('zp', new Tensor(DTypes.float32, [w.zpBytes.length], w.zpBytes)) : null;
  const inputs: (Value | null)[] = [a, g.addInitializer('B', new Tensor(DTypes.uint8, w.bShape, w.B)), g.addInitializer('s', new Tensor(DTypes.float32, [w.scales.length], w.scales)), zp];
  if (bias) inputs.push(null, g.addInitializer('bias', new Tensor(DTypes.float32, [c.N], bias)));
  const n = g.addNode({
    op: 'MatMulNBits', domain: MS, inputs, outputs: ['y'],
    attrs: { K: attr.int(c.K), N: attr.int(c.N), bits: attr.int(c.bits), block_size: attr.int(c.bs), accuracy_level: attr.int(4) },
  });
  n.output(0).type = tensorType(DTypes.float32, [...aShape.slice(0, -1), c.N]);
  g.addOutput(n.output(0));
  return g;
}

/** max |got − want| ≤ rel · max |want|. */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rel: number): void {
  expect(got.length).toBe(want.length);
  let scale = 0, err = 0;
  for (let i = 0; i < want.length; i++) { scale = Math.max(scale, Math.abs(want[i]!)); err = Math.max(err, Math.abs(got[i]! - want[i]!)); }
  expect(scale).toBeGreaterThan(0);
  expect(err).toBeLessThanOrEqual(rel * scale);
}

describe('com.microsoft::MatMulNBits on tfjs-cpu', () => {
  const cases: NBitsCase[] = [
    { K: 64, N: 24, bits: 4, bs: 32, zp: 'none', bias: false },
    { K: 200, N: 40, bits: 4, bs: 32, zp: 'uint8', bias: true }, // K not a multiple of the block: padded last block
    { K: 96, N: 16, bits: 4, bs: 16, zp: 'float', bias: false }, // HQQ-style fractional zero points
    { K: 300, N: 8, bits: 8, bs: 256, zp: 'uint8', bias: true },
    { K: 130, N: 12, bits: 8, bs: 128, zp: 'none', bias: false },
    { K: 48, N: 20, bits: 4, bs: 64, zp: 'uint8', bias: false }, // one block wider than K (per-channel)
  ];
  for (const c of cases) {
    it(`matches float64 dequantize-then-matmul: bits ${c.bits}, block ${c.bs}, K ${c.K}, zero points ${c.zp}${c.bias ? ', bias' : ''}`, async () => {
      const w = nbitsWeight(c, c.K * 7 + c.N);
      const r = rng(99);
      const bias = c.bias ? Float32Array.from({ length: c.N }, () => r() - 0.5) : null;
      const aShape = [2, 3, c.K]; // rank 3: leading dims flattened and restored
      const a = Float32Array.from({ length: 6 * c.K }, () => r() * 2 - 1);
      const exe = await createTfjsBackend('cpu').compile(nbitsGraph(c, w, aShape, bias));
      const got = (await exe.run({ a: new Tensor(DTypes.float32, aShape, a) })).y!.toFloat32();
      await exe.dispose();
      const want = new Float64Array(6 * c.N);
      for (let m = 0; m < 6; m++) for (let n = 0; n < c.N; n++) {
        let acc = bias ? bias[n]! : 0;
        for (let k = 0; k < c.K; k++) acc += a[m * c.K + k]! * w.W(k, n);
        want[m * c.N + n] = acc;
      }
      expectClose(got, want, 1e-5);
    });
  }

  it('dequantizes the constant weight once per compiled graph and frees the packed copy: no new tensors after the first run, none left after dispose', async () => {
    const c: NBitsCase = { K: 256, N: 64, bits: 4, bs: 32, zp: 'uint8', bias: false }; // B: 8192 bytes, a device tensor
    const backend = createTfjsBackend('cpu');
    await backend.ready();
    const before = tf.memory();
    const exe = await backend.compile(nbitsGraph(c, nbitsWeight(c, 5), [1, c.K], null));
    const afterCompile = tf.memory();
    const feed = { a: Tensor.from('float32', [1, c.K], new Array(c.K).fill(0.5)) };
    const y1 = (await exe.run(feed)).y!.toFloat32();
    const afterFirst = tf.memory();
    // + the cached [N, K] float32 weight, − B's int32 upload (this node was its only reader).
    expect(afterFirst.numTensors).toBe(afterCompile.numTensors);
    expect(afterFirst.numBytes - afterCompile.numBytes).toBe(c.N * c.K * 4 - 8192 * 4);
    for (let i = 0; i < 3; i++) expect((await exe.run(feed)).y!.toFloat32()).toEqual(y1);
    expect(tf.memory().numTensors).toBe(afterFirst.numTensors);
    await exe.dispose();
    expect(tf.memory().numTensors).toBe(before.numTensors);
  });

  it('does not cache a weight whose scales are trained: a changed variable changes the next output', async () => {
    const c: NBitsCase = { K: 64, N: 16, bits: 4, bs: 32, zp: 'none', bias: false };
    await createTfjsBackend('cpu').ready();
    const g = nbitsGraph(c, nbitsWeight(c, 3), [1, c.K], null);
    const compiled = new CompiledGraph(tf, g, { trainable: ['s'] });
    const a = tf.tensor2d(Array.from({ length: c.K }, (_, i) => Math.sin(i)), [1, c.K]);
    const run = () => tf.tidy(() => compiled.execute(new Map([['a', a]])).get('y') as tf.Tensor).dataSync();
    const y1 = Float32Array.from(run());
    const s = compiled.variables.get('s')!;
    s.assign(tf.mul(s, 2));
    const y2 = run();
    y1.forEach((v, i) => expect(y2[i]).toBeCloseTo(2 * v, 5));
    a.dispose();
    compiled.dispose();
  });

  it('two nodes on the same packed weight (tied) share one decoded copy, and the packed one stays while both read it', async () => {
    const c: NBitsCase = { K: 256, N: 64, bits: 8, bs: 64, zp: 'none', bias: false };
    const g = nbitsGraph(c, nbitsWeight(c, 8), [2, c.K], null);
    const n1 = g.nodes[0]!;
    const y2 = g.addNode({ op: 'MatMulNBits', domain: MS, inputs: [n1.input(0), n1.input(1), n1.input(2)], outputs: ['y2'], attrs: { K: attr.int(c.K), N: attr.int(c.N), bits: attr.int(8), block_size: attr.int(64) } }).output();
    g.addOutput(y2);
    const backend = createTfjsBackend('cpu');
    await backend.ready();
    const exe = await backend.compile(g);
    const afterCompile = tf.memory().numTensors;
    const a = Tensor.from('float32', [2, c.K], Array.from({ length: 2 * c.K }, (_, i) => Math.cos(i)));
    for (let i = 0; i < 2; i++) {
      const out = await exe.run({ a });
      expect(out.y2!.toFloat32()).toEqual(out.y!.toFloat32());
      expect(tf.memory().numTensors).toBe(afterCompile + 1);
    }
    await exe.dispose();
  });

  it('refuses a B whose size does not match K, N, bits and block_size, naming the op', async () => {
    const c: NBitsCase = { K: 64, N: 8, bits: 4, bs: 32, zp: 'none', bias: false };
    const w = nbitsWeight(c, 1);
    const g = nbitsGraph({ ...c, K: 96 }, w, [1, 96], null);
    const exe = await createTfjsBackend('cpu').compile(g);
    const err = await exe.run({ a: Tensor.zeros('float32', [1, 96]) }).catch((e: unknown) => e);
    await exe.dispose();
    expect(isLeanformerError(err, 'EXECUTION_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/MatMulNBits.*B has 256 bytes.*need \[8, 3, 16\]/);
  });
});

interface GbqCase { V: number; D: number; bits: 4 | 8; bs: number; zp: boolean; gatherAxis: 0 | 1 }

describe('com.microsoft::GatherBlockQuantized on tfjs-cpu', () => {
  const cases: GbqCase[] = [
    { V: 50, D: 64, bits: 4, bs: 32, zp: true, gatherAxis: 0 },
    { V: 50, D: 64, bits: 4, bs: 16, zp: false, gatherAxis: 0 },
    { V: 30, D: 128, bits: 8, bs: 128, zp: true, gatherAxis: 0 },
    { V: 20, D: 96, bits: 4, bs: 64, zp: true, gatherAxis: 0 }, // width not a multiple of the block
    { V: 6, D: 32, bits: 4, bs: 16, zp: true, gatherAxis: 1 }, // 3-D table [2, V, D], gather along axis 1
  ];
  for (const c of cases) {
    it(`matches a float64 gather of the dequantized table: bits ${c.bits}, block ${c.bs}, width ${c.D}, zero points ${c.zp}, gather_axis ${c.gatherAxis}`, async () => {
      const r = rng(c.V * 31 + c.D);
      const lead = c.gatherAxis === 1 ? [2, c.V] : [c.V];
      const rows = lead.reduce((p, q) => p * q, 1);
      const blocks = Math.ceil(c.D / c.bs), per = Math.ceil((blocks * c.bits) / 8), levels = 2 ** c.bits;
      const codes = Array.from({ length: rows * c.D }, () => Math.floor(r() * levels));
      const data = new Uint8Array((rows * c.D * c.bits) / 8);
      if (c.bits === 8) data.set(codes); else for (let i = 0; i < data.length; i++) data[i] = codes[2 * i]! | (codes[2 * i + 1]! << 4);
      const scales = Float32Array.from({ length: rows * blocks }, () => 0.01 + r() * 0.1);
      const zpv = Array.from({ length: rows * blocks }, () => Math.floor(r() * levels));
      const zpb = new Uint8Array(rows * per);
      for (let i = 0; i < rows; i++) for (let b = 0; b < blocks; b++) {
        if (c.bits === 8) zpb[i * per + b] = zpv[i * blocks + b]!; else zpb[i * per + (b >> 1)]! |= zpv[i * blocks + b]! << ((b & 1) * 4);
      }
      const deq = (row: number, d: number) => {
        const b = Math.floor(d / c.bs);
        return (codes[row * c.D + d]! - (c.zp ? zpv[row * blocks + b]! : 2 ** (c.bits - 1))) * scales[row * blocks + b]!;
      };
      const idx = [3, 0, c.V - 1, -1, 2, 3]; // −1: the last row, as ORT
      const g = new Graph('gbq');
      g.opsets.set('', 21);
      g.opsets.set(MS, 1);
      const ids = g.addInput('ids', tensorType(DTypes.int64, [2, 3]));
      const n = g.addNode({
        op: 'GatherBlockQuantized', domain: MS, outputs: ['y'],
        inputs: [
          g.addInitializer('data', new Tensor(DTypes.uint8, [...lead, (c.D * c.bits) / 8], data)), ids,
          g.addInitializer('scales', new Tensor(DTypes.float32, [...lead, blocks], scales)),
          c.zp ? g.addInitializer('zp', new Tensor(DTypes.uint8, [...lead, per], zpb)) : null,
        ],
        attrs: { gather_axis: attr.int(c.gatherAxis), quantize_axis: attr.int(lead.length), block_size: attr.int(c.bs), bits: attr.int(c.bits) },
      });
      if (!c.zp) n.truncateInputs(3);
      g.addOutput(n.output(0));
      const exe = await createTfjsBackend('cpu').compile(g);
      const y = (await exe.run({ ids: Tensor.from('int64', [2, 3], idx.map(BigInt)) })).y!;
      await exe.dispose();
      const want: number[] = [];
      const norm = (i: number) => (i < 0 ? i + c.V : i);
      if (c.gatherAxis === 0) for (const i of idx) for (let d = 0; d < c.D; d++) want.push(deq(norm(i), d));
      else for (let t = 0; t < 2; t++) for (const i of idx) for (let d = 0; d < c.D; d++) want.push(deq(t * c.V + norm(i), d));
      expect(y.shape).toEqual(c.gatherAxis === 0 ? [2, 3, c.D] : [2, 2, 3, c.D]);
      expectClose(y.toFloat32(), want, 1e-6);
    });
  }

  it('refuses an index outside the table, naming it and the range (tfjs-cpu and tfjs-wasm)', async () => {
    const g = new Graph('gbq');
    g.opsets.set(MS, 1);
    const ids = g.addInput('ids', tensorType(DTypes.int64, [3]));
    const n = g.addNode({
      op: 'GatherBlockQuantized', domain: MS, outputs: ['y'],
      inputs: [g.addInitializer('data', new Tensor(DTypes.uint8, [10, 8], new Uint8Array(80))), ids, g.addInitializer('scales', Tensor.zeros('float32', [10, 1]))],
      attrs: { block_size: attr.int(16), bits: attr.int(4) },
    });
    g.addOutput(n.output(0));
    for (const device of ['cpu', 'wasm'] as const) {
      const exe = await createTfjsBackend(device).compile(g);
      for (const bad of [10n, -11n]) {
        const err = await exe.run({ ids: Tensor.from('int64', [3], [0n, bad, 1n]) }).catch((e: unknown) => e);
        expect(isLeanformerError(err, 'EXECUTION_FAILED')).toBe(true);
        expect((err as Error).message).toMatch(new RegExp(`GatherBlockQuantized.*index ${bad} is out of range \\[-10, 9\\] along gather_axis 0`));
      }
      await exe.dispose();
    }
  });

  it('refuses a quantize_axis other than the packed last axis, naming the op', async () => {
    const g = new Graph('gbq');
    g.opsets.set(MS, 1);
    const ids = g.addInput('ids', tensorType(DTypes.int64, [2]));
    const n = g.addNode({
      op: 'GatherBlockQuantized', domain: MS, outputs: ['y'],
      inputs: [g.addInitializer('data', new Tensor(DTypes.uint8, [32, 8], new Uint8Array(256))), ids, g.addInitializer('scales', Tensor.zeros('float32', [2, 8]))],
      attrs: { gather_axis: attr.int(1), quantize_axis: attr.int(0), block_size: attr.int(16), bits: attr.int(4) },
    });
    g.addOutput(n.output(0));
    const exe = await createTfjsBackend('cpu').compile(g);
    const err = await exe.run({ ids: Tensor.from('int64', [2], [0n, 1n]) }).catch((e: unknown) => e);
    await exe.dispose();
    expect(isLeanformerError(err, 'EXECUTION_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/GatherBlockQuantized.*quantize_axis must be the last axis/);
  });
});

describe('com.microsoft ops without a tfjs kernel', () => {
  it('fail at compile time naming the op and the alternative target', async () => {
    const g = new Graph('ms');
    g.opsets.set(MS, 1);
    const x = g.addInput('x', tensorType(DTypes.float32, [2, 4]));
    const n = g.addNode({ op: 'SkipSimplifiedLayerNormalization', domain: MS, inputs: [x, x, g.addInitializer('gamma', Tensor.from('float32', [4], [1, 1, 1, 1]))], outputs: ['y'] });
    g.addOutput(n.output(0));
    const err = await createTfjsBackend('cpu').compile(g).catch((e: unknown) => e);
    expect(isLeanformerError(err, 'NOT_SUPPORTED')).toBe(true);
    expect((err as Error).message).toMatch(/no kernel for com\.microsoft::SkipSimplifiedLayerNormalization; .*lower the model for target tfjs/);
  });
});
