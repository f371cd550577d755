// End-to-end on onnxruntime-node 1.30 (CPU): quantized graphs lowered per target form, encoded,
// and run by ONNX Runtime; results compared with float64 references of the op semantics.
import { describe, expect, it } from 'vitest';
import {
  attr, cloneGraph, DTypes, ensureQGatherSchema, ensureQMatMulSchema, Graph, Tensor, tensorType, transformerDecoder,
} from '@leanformer/core';
import { decodeModel, encodeModel, lowerQGather, lowerQMatMul, lowerToOnnx, type QMatMulForm } from '@leanformer/onnx';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { dequantize, packMatMulNBits, quantizeRtn, type QuantizedWeight } from './blockwise.js';
import { cosine } from './linalg.js';
import { quantizeHqq } from './methods.js';
import { quantizeModel } from './quantize-model.js';
import { packModel, unpackModel } from './lfpack.js';
import { ReferenceBackend } from './reference-backend.js';
import { randomCalibrationFeeds } from './calibration.js';
import { Rng, syntheticWeight } from './synthetic.js';

const ort = createOrtBackend();
// ORT's optimizer fuses blocked DequantizeLinear + MatMul into MatMulNBits with accuracy_level 4
// (int8 activations); the exact Q/DQ checks run with optimizations off.
const ortExact = createOrtBackend({ graphOptimizationLevel: 'disabled' });
const M = 3;

/** x·W graph with one QMatMul holding `q`, lowered in the given form (or by the backend when absent). */
function qmatmulGraph(q: QuantizedWeight, bias: Float32Array | null, form?: QMatMulForm): Graph {
  ensureQMatMulSchema();
  const g = new Graph('q');
  g.opsets.set('', 21);
  g.opsets.set('leanformer', 1);
  const x = g.addInput('x', tensorType(DTypes.float32, [M, q.K]));
  const t = packMatMulNBits(q);
  const zp = t.zeroPoints instanceof Uint8Array ? g.addInitializer('zp', new Tensor(DTypes.uint8, [t.zeroPoints.length], t.zeroPoints))
    : t.zeroPoints ? g.addInitializer('zp', new Tensor(DTypes.float32, [t.zeroPoints.length], t.zeroPoints)) : null;
  const n = g.addNode({
    op: 'QMatMul', domain: 'leanformer', outputs: ['y'],
    inputs: [x, g.addInitializer('B', new Tensor(DTypes.uint8, t.bShape, t.B)), g.addInitializer('s', new Tensor(DTypes.float32, [t.scales.length], t.scales)), zp, bias ? g.addInitializer('bias', new Tensor(DTypes.float32, [q.N], bias)) : null],
    attrs: { K: attr.int(q.K), N: attr.int(q.N), bits: attr.int(q.bits), block_size: attr.int(q.blockSize) },
  });
  n.output(0).type = tensorType(DTypes.float32, [M, q.N]);
  g.addOutput(n.output(0));
  if (form) lowerQMatMul(n, { runtime: 'ort', ep: 'cpu' }, { form });
  return g;
}

function reference(x: Float32Array, q: QuantizedWeight, bias: Float32Array | null): Float64Array {
  const w = dequantize(q);
  const y = new Float64Array(M * q.N);
  for (let m = 0; m < M; m++) for (let n = 0; n < q.N; n++) {
    let acc = bias ? bias[n]! : 0;
    for (let k = 0; k < q.K; k++) acc += x[m * q.K + k]! * w[k * q.N + n]!;
    y[m * q.N + n] = acc;
  }
  return y;
}

async function runOrt(g: Graph, x: Float32Array, K: number, backend = ort): Promise<Float32Array> {
  const exe = await backend.compile(g);
  try { return (await exe.run({ x: new Tensor(DTypes.float32, [M, K], x) })).y!.toFloat32(); } finally { await exe.dispose(); }
}

function expectClose(got: Float32Array, want: Float64Array, rel = 1e-4): void {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(rel * scale);
}

describe('QMatMul on onnxruntime-node (CPU)', () => {
  const K = 200, N = 48; // K not a multiple of the block: padding path
  const w = syntheticWeight(K, N, 21);
  const rng = new Rng(4);
  const x = Float32Array.from({ length: M * K }, () => rng.normal());
  const bias = Float32Array.from({ length: N }, () => rng.normal() * 0.1);

  for (const c of [
    { name: 'int4 asymmetric block 32', q: () => quantizeRtn(w, K, N, { bits: 4, blockSize: 32 }) },
    { name: 'int4 symmetric block 64 (default zero point)', q: () => quantizeRtn(w, K, N, { bits: 4, blockSize: 64, symmetric: true }) },
    { name: 'int8 asymmetric block 16', q: () => quantizeRtn(w, K, N, { bits: 8, blockSize: 16 }) },
    { name: 'int4 HQQ (float zero points)', q: () => quantizeHqq(w, K, N, { bits: 4, blockSize: 32 }) },
  ]) {
    it(`MatMulNBits matches X·dequant(W) + bias: ${c.name}`, async () => {
      const q = c.q();
      expectClose(await runOrt(qmatmulGraph(q, bias), x, K), reference(x, q, bias));
    });
  }

  it('the TensorRT form (symmetric blocked int4 DequantizeLinear + MatMul) computes the same on CPU', async () => {
    const q = quantizeRtn(w, K, N, { bits: 4, blockSize: 32, symmetric: true });
    const g = qmatmulGraph(q, bias, 'qdq');
    expect(g.nodes.map((n) => n.op)).toContain('DequantizeLinear');
    expect(g.nodes.some((n) => n.domain !== '')).toBe(false);
    expectClose(await runOrt(g, x, K, ortExact), reference(x, q, bias));
    expect(() => qmatmulGraph(quantizeRtn(w, K, N, { bits: 4, blockSize: 32 }), null, undefined) && lowerToOnnx(qmatmulGraph(quantizeRtn(w, K, N, { bits: 4, blockSize: 32 }), null), { runtime: 'ort', ep: 'tensorrt' })).toThrow(/symmetric/);
  });

  it('int8 forms: asymmetric DequantizeLinear exactly, and dynamic MatMulInteger within activation-quantization error', async () => {
    const q8 = quantizeRtn(w, K, N, { bits: 8, blockSize: 32 });
    expectClose(await runOrt(qmatmulGraph(q8, bias, 'qdq'), x, K, ortExact), reference(x, q8, bias));
    // With ORT's default optimizations the fused form differs only by int8 activation rounding.
    expect(cosine(await runOrt(qmatmulGraph(q8, bias, 'qdq'), x, K), reference(x, q8, bias))).toBeGreaterThan(0.9999);
    const pc = quantizeRtn(w, K, N, { bits: 8, blockSize: 256, symmetric: true });
    const g = qmatmulGraph(pc, bias, 'dynamic');
    expect(g.nodes.map((n) => n.op)).toContain('MatMulInteger');
    expect(cosine(await runOrt(g, x, K), reference(x, pc, bias))).toBeGreaterThan(0.999);
  });
});

describe('QGather on onnxruntime-node (CPU)', () => {
  for (const bits of [4, 8] as const) {
    it(`GatherBlockQuantized agrees with the reference decomposition (${bits}-bit, zero points)`, async () => {
      ensureQGatherSchema();
      const V = 40, D = 64, bs = 32;
      const table = syntheticWeight(V, D, 5); // rows are embeddings
      // quantize rows along D: transpose to [D, V] ("K = D")
      const wt = new Float32Array(D * V);
      for (let v = 0; v < V; v++) for (let d = 0; d < D; d++) wt[d * V + v] = table[v * D + d]!;
      const q = quantizeRtn(wt, D, V, { bits, blockSize: bs });
      const t = packMatMulNBits(q);
      const g = new Graph('emb');
      g.opsets.set('', 21);
      const ids = g.addInput('ids', tensorType(DTypes.int64, [2, 3]));
      const n = g.addNode({
        op: 'QGather', domain: 'leanformer', outputs: ['y'], attrs: { bits: attr.int(bits), block_size: attr.int(bs) },
        inputs: [g.addInitializer('data', new Tensor(DTypes.uint8, [V, (D * bits) / 8], t.B)), ids, g.addInitializer('s', new Tensor(DTypes.float32, [V, D / bs], t.scales)), g.addInitializer('z', new Tensor(DTypes.uint8, [V, (t.zeroPoints as Uint8Array).length / V], t.zeroPoints as Uint8Array))],
      });
      n.output(0).type = tensorType(DTypes.float32, [2, 3, D]);
      g.addOutput(n.output(0));
      const feed = { ids: Tensor.from('int64', [2, 3], [0n, 39n, 7n, 7n, 12n, 3n]) };
      const viaOrt = cloneGraph(g);
      lowerQGather(viaOrt.nodes[0]!, { runtime: 'ort', ep: 'cpu' });
      expect(viaOrt.nodes[0]!.op).toBe('GatherBlockQuantized');
      const exe = await ort.compile(viaOrt);
      const got = (await exe.run(feed)).y!.toFloat32();
      await exe.dispose();
      const deq = dequantize(q); // [D, V]
      const rows = [0, 39, 7, 7, 12, 3];
      rows.forEach((r, i) => { for (let d = 0; d < D; d++) expect(got[i * D + d]).toBeCloseTo(deq[d * V + r]!, 6); });
    });
  }
});

describe('quantized builder decoder on onnxruntime-node', () => {
  const model = transformerDecoder({ vocabSize: 512, hidden: 128, layers: 2, heads: 4, kvHeads: 2, ffn: 256, seed: 3 });
  const feed = { input_ids: Tensor.from('int64', [1, 12], Array.from({ length: 12 }, (_, i) => BigInt((i * 37 + 101) % 512))) };
  const run = async (g: Graph) => { const e = await ort.compile(g); const y = (await e.run(feed)).logits!.toFloat32(); await e.dispose(); return y; };

  it('loads and runs every method\'s output, and ORT agrees with the reference backend', async () => {
    const ref = await run(model);
    const viaRef = await (await new ReferenceBackend().compile(model)).run(feed);
    expect(cosine(ref, viaRef.logits!.toFloat32())).toBeGreaterThan(0.99999);
    for (const method of ['rtn', 'hqq', 'qserve'] as const) {
      const { graph } = await quantizeModel(model, { method });
      const lowered = lowerToOnnx(graph, { runtime: 'ort', ep: 'cpu' });
      expect(lowered.nodes.some((n) => n.op === 'MatMulNBits')).toBe(true);
      expect(lowered.nodes.some((n) => n.op === 'GatherBlockQuantized')).toBe(true);
      expect(cosine(await run(graph), ref)).toBeGreaterThan(method === 'qserve' ? 0.97 : 0.98);
    }
  });

  it('int8 per-channel on ORT CPU (default accuracy_level 4 for 8-bit) keeps cosine ≥ 0.999', async () => {
    const { graph, notes } = await quantizeModel(model, { method: 'rtn', bits: 8, blockSize: 0 });
    expect(graph.nodes.find((n) => n.op === 'QMatMul')!.attr('accuracy_level')).toBe(4);
    expect(notes.some((n) => /accuracy_level 4/.test(n))).toBe(true);
    expect(cosine(await run(graph), await run(model))).toBeGreaterThanOrEqual(0.999);
  });

  it('calibrates gptq, awq and smoothquant through the ORT backend', async () => {
    const small = transformerDecoder({ vocabSize: 256, hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128, seed: 5 });
    const f = { input_ids: Tensor.from('int64', [1, 12], Array.from({ length: 12 }, (_, i) => BigInt((i * 37 + 11) % 256))) };
    const runSmall = async (g: Graph) => { const e = await ort.compile(g); const y = (await e.run(f)).logits!.toFloat32(); await e.dispose(); return y; };
    const ref = await runSmall(small);
    const calibration = { backend: ort, feeds: randomCalibrationFeeds(small, 4, 9) };
    for (const method of ['gptq', 'awq', 'smoothquant'] as const) {
      const { graph } = await quantizeModel(small, { method, calibration });
      expect(cosine(await runSmall(graph), ref)).toBeGreaterThan(0.98);
    }
  });

  it('packs to .lfpack with the ONNX codec and unpacks bit-exactly', async () => {
    const codec = { encode: (g: Graph) => encodeModel(g), decode: (b: Uint8Array) => decodeModel(b) };
    const bytes = packModel(model, codec);
    expect(bytes.length).toBeLessThan(encodeModel(model).length * 0.9);
    const back = unpackModel(bytes, codec);
    for (const [name, v] of model.initializers) expect(Buffer.from(back.initializers.get(name)!.const!.bytes()).equals(Buffer.from(v.const!.bytes()))).toBe(true);
    expect(cosine(await run(back), await run(model))).toBe(1);
  });
});
