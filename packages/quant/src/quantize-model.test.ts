import { describe, expect, it } from 'vitest';
import { attr, DTypes, Graph, Tensor, tensorType, transformerDecoder, type ProgressEvent } from '@leanformer/core';
import { syntheticWeight } from './synthetic.js';
import { cosine } from './linalg.js';
import { quantizeModel, sparsifyModel } from './quantize-model.js';
import { ReferenceBackend } from './reference-backend.js';
import { randomCalibrationFeeds } from './calibration.js';
import { is24Sparse } from './methods.js';
import { matmulStack } from './synthetic.js';

// A LLaMA-style decoder from the builder: RMSNorm, SwiGLU, RoPE, GQA; weights dominate its bytes.
const cfg = { vocabSize: 512, hidden: 128, layers: 2, heads: 4, kvHeads: 2, ffn: 256, seed: 3 };
const model = transformerDecoder(cfg);
const backend = new ReferenceBackend();
const ids = (seed: number): Record<string, Tensor> => ({
  input_ids: Tensor.from('int64', [1, 12], Array.from({ length: 12 }, (_, i) => BigInt((i * 37 + seed * 101) % cfg.vocabSize))),
});

async function logits(g: Graph, seed = 1): Promise<Float32Array> {
  const exe = await backend.compile(g);
  const V = Number(g.outputs[0]!.shape?.[2] ?? cfg.vocabSize);
  const feed = { input_ids: Tensor.from('int64', [1, 12], Array.from({ length: 12 }, (_, i) => BigInt((i * 37 + seed * 101) % V))) };
  return (await exe.run(feed)).logits!.toFloat32();
}

describe('quantizeModel on the builder decoder', () => {
  it('rewrites every linear layer and the embedding, and reports the CLI JSON fields', async () => {
    const { graph, report } = await quantizeModel(model, { method: 'rtn', bits: 4, blockSize: 32 });
    expect(Object.keys(report).sort()).toEqual(['bits', 'blockSize', 'bytesAfter', 'bytesBefore', 'layersQuantized', 'method', 'seconds', 'target'].sort());
    expect(graph.nodes.filter((n) => n.op === 'MatMul' && n.inputs[1]?.isInitializer)).toHaveLength(0);
    // 7 projections per layer + lm_head, + the embedding gather
    expect(report.layersQuantized).toBe(cfg.layers * 7 + 2);
    expect(graph.nodes.filter((n) => n.op === 'QGather')).toHaveLength(1);
    expect(model.nodes.some((n) => n.op === 'QMatMul')).toBe(false); // input untouched
  });

  it('int8 weight-only keeps output cosine ≥ 0.999; int4 block 32 ≥ 0.98 and ≤ 0.30× the bytes', async () => {
    const ref = await logits(model);
    const q8 = await quantizeModel(model, { method: 'rtn', bits: 8, blockSize: 0 });
    expect(cosine(await logits(q8.graph), ref)).toBeGreaterThanOrEqual(0.999);
    // Default: transformer blocks int4/32, embedding and LM head int8 (edgeBits).
    const q4 = await quantizeModel(model, { method: 'rtn', bits: 4, blockSize: 32 });
    expect(cosine(await logits(q4.graph), ref)).toBeGreaterThanOrEqual(0.98);
    expect(q4.report.bytesAfter / q4.report.bytesBefore).toBeLessThanOrEqual(0.30);
    // Everything int4: smaller still, and worse (random-init blocks compound error; see README).
    const all4 = await quantizeModel(model, { method: 'rtn', bits: 4, blockSize: 32, edgeBits: 4 });
    expect(all4.report.bytesAfter).toBeLessThan(q4.report.bytesAfter);
    expect(cosine(await logits(all4.graph), ref)).toBeGreaterThanOrEqual(0.97);
  });

  it('runs the calibrated methods through a Backend and folds AWQ scales into the RMSNorm weights', async () => {
    const small = transformerDecoder({ vocabSize: 256, hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128, seed: 5 });
    const calibration = { backend, feeds: randomCalibrationFeeds(small, 4, 9) };
    const ref = await logits(small);
    for (const method of ['gptq', 'awq', 'smoothquant'] as const) {
      const { graph, report, notes } = await quantizeModel(small, { method, bits: 4, blockSize: 32, calibration });
      expect(report.layersQuantized).toBe(2 * 7 + 2);
      expect(cosine(await logits(graph), ref)).toBeGreaterThanOrEqual(0.98);
      if (method === 'awq') expect(notes.some((n) => /folded input scales/.test(n))).toBe(true);
    }
    await expect(quantizeModel(model, { method: 'gptq' })).rejects.toThrow(/needs calibration data/);
  });

  it('HQQ, QServe and fp16 casting produce working models', async () => {
    const ref = await logits(model);
    const h = await quantizeModel(model, { method: 'hqq', bits: 4, blockSize: 32 });
    expect(cosine(await logits(h.graph), ref)).toBeGreaterThanOrEqual(0.98);
    const qs = await quantizeModel(model, { method: 'qserve' });
    expect(qs.graph.nodes.find((n) => n.op === 'QMatMul')!.attr('accuracy_level')).toBe(4);
    expect(cosine(await logits(qs.graph), ref)).toBeGreaterThanOrEqual(0.97);
    const f = await quantizeModel(model, { method: 'fp16' });
    expect(cosine(await logits(f.graph), ref)).toBeGreaterThanOrEqual(0.9999);
    expect(f.report.bytesAfter).toBeLessThan(f.report.bytesBefore * 0.6);
  });

  it('checks its options', async () => {
    await expect(quantizeModel(model, { method: 'rtn', blockSize: 48 })).rejects.toThrow(/blockSize must be/);
    await expect(quantizeModel(model, { method: 'qserve', bits: 8 })).rejects.toThrow(/4 bits/);
    await expect(quantizeModel(model, { method: 'hqq', target: 'ort-tensorrt' })).rejects.toThrow(/tensorrt/);
    const ex = await quantizeModel(model, { method: 'rtn', exclude: 'lm_head|mlp' });
    expect(ex.report.layersQuantized).toBe(cfg.layers * 4 + 1);
    await expect(quantizeModel(model, { method: 'rtn', edgeBits: 5 as 4 })).rejects.toThrow(/edgeBits/);
  });
});

describe('onProgress', () => {
  it('reports done 0, then each linear layer once in order, up to the total', async () => {
    const events: ProgressEvent[] = [];
    await quantizeModel(model, { method: 'rtn', bits: 4, blockSize: 32, onProgress: (e) => events.push(e) });
    const linear = cfg.layers * 7 + 1; // the projections and lm_head (the embedding gather is not a linear layer)
    expect(events[0]).toEqual({ phase: 'quantize', done: 0, total: linear, unit: 'layers' });
    expect(events.map((e) => e.done)).toEqual(Array.from({ length: linear + 1 }, (_, i) => i));
    expect(events.every((e) => e.phase === 'quantize' && e.total === linear && e.unit === 'layers')).toBe(true);
    const items = events.slice(1).map((e) => e.item);
    expect(new Set(items).size).toBe(linear);
    expect(items.every((n) => model.initializers.has(n!))).toBe(true); // weight names of the input model
  });

  it('sparsifyModel reports each pruned layer', () => {
    const events: ProgressEvent[] = [];
    const { report } = sparsifyModel(model, { pattern: '2:4', onProgress: (e) => events.push(e) });
    expect(events.map((e) => e.done)).toEqual(Array.from({ length: report.layersSparsified + 1 }, (_, i) => i));
    expect(events.every((e) => e.phase === 'sparsify' && e.total === report.layersSparsified)).toBe(true);
  });

  it('reports the calibration runs first for calibrated methods', async () => {
    const stack = matmulStack(64, 3, 2);
    const feed = (k: number) => ({ x: Tensor.from('float32', [1, 64], Array.from({ length: 64 }, (_, i) => Math.cos(i * k))) });
    const events: ProgressEvent[] = [];
    await quantizeModel(stack, { method: 'awq', bits: 8, blockSize: 32, calibration: { backend, feeds: [feed(1), feed(2), feed(3)] }, onProgress: (e) => events.push(e) });
    expect(events.filter((e) => e.phase === 'calibrate').map((e) => [e.done, e.total, e.unit])).toEqual([[0, 3, 'runs'], [1, 3, 'runs'], [2, 3, 'runs'], [3, 3, 'runs']]);
    expect(events.findIndex((e) => e.phase === 'quantize')).toBe(4);
    expect(events.at(-1)).toMatchObject({ phase: 'quantize', done: 3, total: 3 });
  });
});

describe('chained linear layers', () => {
  it('rewrites MatMul → MatMul chains without dangling values (rtn and awq)', async () => {
    const stack = matmulStack(64, 3, 2);
    const x = { x: Tensor.from('float32', [1, 64], Array.from({ length: 64 }, (_, i) => Math.cos(i))) };
    const run = async (g: Graph) => (await (await backend.compile(g)).run(x)).y!.toFloat32();
    const ref = await run(stack);
    for (const method of ['rtn', 'awq'] as const) {
      const { graph } = await quantizeModel(stack, { method, bits: 8, blockSize: 32, calibration: { backend, feeds: [x] } });
      for (const n of graph.nodes) for (const v of n.inputs) if (v && !v.isInitializer && !v.isGraphInput) expect(v.producer).not.toBeNull();
      expect(cosine(await run(graph), ref)).toBeGreaterThan(0.999);
    }
  });
});

describe('Gemm layers', () => {
  it('quantizes Gemm (transB, bias [1, N]) like MatMul + bias', async () => {
    const g = new Graph('gemm');
    g.opsets.set('', 21);
    const x = g.addInput('x', tensorType(DTypes.float32, [3, 48]));
    const w = syntheticWeight(20, 48, 4); // B is [N=20, K=48] with transB
    const n = g.addNode({ op: 'Gemm', inputs: [x, g.addInitializer('B', Tensor.from('float32', [20, 48], w)), g.addInitializer('C', Tensor.from('float32', [1, 20], Array.from({ length: 20 }, (_, i) => i / 10)))], outputs: ['y'], attrs: { transB: attr.int(1) } });
    n.output(0).type = tensorType(DTypes.float32, [3, 20]);
    g.addOutput(n.output(0));
    const feed = { x: Tensor.from('float32', [3, 48], Array.from({ length: 144 }, (_, i) => Math.sin(i))) };
    const run = async (m: Graph) => (await (await backend.compile(m)).run(feed)).y!.toFloat32();
    const { graph, report } = await quantizeModel(g, { method: 'rtn', bits: 8, blockSize: 16 });
    expect(report.layersQuantized).toBe(1);
    expect(graph.nodes.map((m) => m.op)).toEqual(['QMatMul']);
    expect(cosine(await run(graph), await run(g))).toBeGreaterThan(0.9999);
  });
});

describe('sparsifyModel', () => {
  it('prunes every linear layer to 2:4 and says the weights stay dense', async () => {
    const { graph, report } = sparsifyModel(model, { pattern: '2:4' });
    expect(report.layersSparsified).toBe(cfg.layers * 7 + 1);
    expect(report.sparsity).toBeCloseTo(0.5, 5);
    expect(report.note).toMatch(/dense/);
    const w = graph.nodes.find((n) => n.op === 'MatMul' && n.inputs[1]?.isInitializer)!.input(1).const!;
    expect(is24Sparse(w.toFloat32(), w.shape[0]!, w.shape[1]!)).toBe(true);
    const q = sparsifyModel(model, { pattern: '2:4', quantize: { bits: 4 } });
    expect(q.graph.nodes.find((n) => n.op === 'QMatMul')!.attr('sparsity')).toBe('2:4');
  });
});

describe('randomCalibrationFeeds', () => {
  it('draws token ids inside the embedding table', () => {
    const feeds = randomCalibrationFeeds(model, 2);
    expect(feeds).toHaveLength(2);
    const t = feeds[0]!.input_ids!;
    expect(t.shape).toEqual([1, 32]);
    expect((t.data as BigInt64Array).every((v) => v >= 0n && v < BigInt(cfg.vocabSize))).toBe(true);
  });
});

describe('quantizeEmbedding (RTN, chunked transpose)', () => {
  it('a table of more rows than one chunk gives the bytes of quantizing its whole transpose, 4 and 8 bits', async () => {
    const { quantizeEmbedding, resolveQuantOptions } = await import('./quantize-model.js');
    const { quantizeRtnPacked, transposeKN } = await import('./blockwise.js');
    const V = 4096 + 37, D = 32; // 2 chunks, the second partial
    const table = syntheticWeight(V, D, 3);
    for (const bits of [4, 8] as const) {
      const r = resolveQuantOptions({ method: 'rtn', bits, edgeBits: bits });
      const got = (await quantizeEmbedding(r, { V, D } as never, table, false))!.packed;
      const want = quantizeRtnPacked(transposeKN(table, V, D), D, V, { bits, blockSize: 32, symmetric: false });
      expect(got.bShape).toEqual(want.bShape);
      expect(Buffer.from(got.B).equals(Buffer.from(want.B))).toBe(true);
      expect(got.scales).toEqual(want.scales);
      expect(got.zeroPoints).toEqual(want.zeroPoints);
    }
  });
});
