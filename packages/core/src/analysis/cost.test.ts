import { describe, expect, it } from 'vitest';
import { DTypes } from '../dtype.js';
import { Graph } from '../ir/graph.js';
import { attr } from '../ir/attribute.js';
import { tensorType } from '../ir/types.js';
import { Tensor } from '../tensor.js';
import { PassManager } from '../passes/pass.js';
import { analyzeGraph, COST_META_KEY, costAnalysisPass, formatCount, type GraphCost } from './index.js';

const f32 = (shape: (number | string)[]) => tensorType(DTypes.float32, shape);

/** conv(3→8, k3, s2, pad1) → BN → Relu → grouped 1×1 conv(8→8, group 2) on a [1,3,32,32] input. */
function convNet(): Graph {
  const g = new Graph('conv');
  const x = g.addInput('x', f32(['batch', 3, 32, 32]));
  const w = g.addInitializer('w', Tensor.zeros('float32', [8, 3, 3, 3]));
  const c = g.addNode({ op: 'Conv', inputs: [x, w], attrs: { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) } }).output();
  c.type = f32(['batch', 8, 16, 16]);
  const bn = ['scale', 'bias', 'mean', 'var'].map((n) => g.addInitializer(`bn.${n}`, Tensor.zeros('float32', [8])));
  const y = g.addNode({ op: 'BatchNormalization', inputs: [c, ...bn] }).output();
  y.type = f32(['batch', 8, 16, 16]);
  const r = g.addNode({ op: 'Relu', inputs: [y] }).output();
  r.type = f32(['batch', 8, 16, 16]);
  const w2 = g.addInitializer('w2', Tensor.zeros('float32', [8, 4, 1, 1]));
  const b2 = g.addInitializer('b2', Tensor.zeros('float32', [8]));
  const o = g.addNode({ op: 'Conv', inputs: [r, w2, b2], attrs: { group: attr.int(2) } }).output();
  o.type = f32(['batch', 8, 16, 16]);
  g.addOutput(o);
  return g;
}

describe('analyzeGraph', () => {
  it('counts conv MACs per output element and leaves BN running stats out of params', () => {
    const cost = analyzeGraph(convNet(), { dims: { batch: 2 } });
    // conv1: 2*8*16*16 outputs × 3*3*3; conv2: 2*8*16*16 outputs × 4 (grouped).
    expect(cost.flops).toBe(2 * 8 * 256 * 27 + 2 * 8 * 256 * 4);
    expect(cost.byOp.Conv).toEqual({ count: 2, flops: cost.flops });
    // w 216 + bn scale/bias 16 + w2 32 + b2 8; bn mean/var are buffers.
    expect(cost.params).toBe(216 + 16 + 32 + 8);
    expect(cost.paramBytes).toBe(cost.params * 4);
    // BN and Relu outputs are element-wise work.
    expect(cost.elementwise).toBe(2 * (2 * 8 * 256));
    expect(cost.uncounted).toEqual([]);
  });

  it('reports nodes with unbound symbolic dims as uncounted instead of guessing', () => {
    const cost = analyzeGraph(convNet());
    expect(cost.flops).toBe(0);
    expect(cost.uncounted).toHaveLength(2);
    expect(cost.uncounted[0]).toMatch(/Conv node.*shapes unknown/);
  });

  it('counts broadcast batched MatMul and Gemm with transA', () => {
    const g = new Graph('mm');
    const a = g.addInput('a', f32([2, 4, 5, 6]));
    const b = g.addInitializer('b', Tensor.zeros('float32', [6, 7]));
    const m = g.addNode({ op: 'MatMul', inputs: [a, b] }).output();
    m.type = f32([2, 4, 5, 7]);
    const x = g.addInput('x', f32([6, 3]));
    const w = g.addInitializer('w', Tensor.zeros('float32', [6, 9]));
    const gm = g.addNode({ op: 'Gemm', inputs: [x, w], attrs: { transA: attr.int(1) } }).output();
    gm.type = f32([3, 9]);
    const idx = g.addInitializer('idx', Tensor.from('int64', [2], [0n, 1n]));
    const ga = g.addNode({ op: 'Gather', inputs: [gm, idx] }).output();
    ga.type = f32([2, 9]);
    g.addOutput(m); g.addOutput(ga);
    const cost = analyzeGraph(g);
    expect(cost.flops).toBe(2 * 4 * 5 * 7 * 6 + 3 * 9 * 6);
    expect(cost.params).toBe(42 + 54); // the int64 index is not a parameter
  });

  it('honours the leanformer.param override and counts MatMulNBits logically', () => {
    const g = new Graph('q');
    const x = g.addInput('x', f32([1, 64]));
    const packed = g.addInitializer('B', Tensor.zeros('uint8', [32, 2, 16])); // N=32, K=64, block 32, 4-bit
    const scales = g.addInitializer('scales', Tensor.zeros('float32', [64]));
    const y = g.addNode({ op: 'MatMulNBits', domain: 'com.microsoft', inputs: [x, packed, scales], attrs: { K: attr.int(64), N: attr.int(32), bits: attr.int(4), block_size: attr.int(32) } }).output();
    y.type = f32([1, 32]);
    const c = g.addInitializer('table', Tensor.zeros('float32', [10]));
    c.meta.set('leanformer.param', false);
    const z = g.addNode({ op: 'Add', inputs: [y, c] }).output();
    g.addOutput(z);
    const cost = analyzeGraph(g);
    expect(cost.params).toBe(32 * 64);
    expect(cost.paramBytes).toBe(32 * 2 * 16);
    expect(cost.flops).toBe(32 * 64);
  });

  it('counts leanformer.Attention as QKᵀ + PV MACs, with past keys, and flags sparse patterns as upper bounds', () => {
    const g = new Graph('la');
    const q = g.addInput('q', f32([2, 5, 64])); // B=2, S=5, H·D=64
    const kv = g.addInput('kv', f32([2, 5, 32]));
    const past = g.addInput('past', f32([2, 2, 7, 16])); // P=7
    const y = g.addNode({ op: 'Attention', domain: 'leanformer', inputs: [q, kv, kv, past, past], outputs: ['y', 'pk', 'pv'], attrs: { num_heads: attr.int(4), kv_num_heads: attr.int(2), pattern: attr.string('window'), window: attr.int(4) } }).output();
    y.type = f32([2, 5, 64]);
    g.addOutput(y);
    const cost = analyzeGraph(g);
    expect(cost.flops).toBe(2 * 2 * 5 * (5 + 7) * 64);
    expect(cost.approximate).toEqual(["leanformer::Attention node (pattern 'window' counted as dense)"]);
  });

  it('lists attention kernels as uncounted rather than free', () => {
    const g = new Graph('attn');
    const q = g.addInput('q', f32([1, 8, 16]));
    const y = g.addNode({ op: 'MultiHeadAttention', domain: 'com.microsoft', inputs: [q, q, q] }).output();
    y.type = f32([1, 8, 16]);
    g.addOutput(y);
    expect(analyzeGraph(g).uncounted).toEqual(["com.microsoft::MultiHeadAttention node (cost not modelled)"]);
  });

  it('rejects bad dim bindings with a named argument', () => {
    expect(() => analyzeGraph(convNet(), { dims: { batch: -1 } })).toThrow(/dims.batch must be a non-negative integer/);
  });

  it('runs as a read-only pass that stores its result in graph.meta', () => {
    const { graph, modified } = new PassManager([costAnalysisPass({ dims: { batch: 1 } })]).run(convNet());
    expect(modified).toBe(false);
    expect((graph.meta.get(COST_META_KEY) as GraphCost).flops).toBe(8 * 256 * 31);
  });

  it('formats counts with SI suffixes', () => {
    expect(formatCount(2_157_000)).toBe('2.16M');
    expect(formatCount(79_000_000, 0)).toBe('79M');
    expect(formatCount(512)).toBe('512');
  });
});

describe('symbolic products', () => {
  it('resolves dims written as products of names and integers', () => {
    const g = new Graph('win');
    const x = g.addInput('x', f32(['batch*4', 16, 49]));
    const w = g.addInitializer('w', Tensor.zeros('float32', [49, 49]));
    const y = g.addNode({ op: 'MatMul', inputs: [x, w] }).output();
    y.type = f32(['batch*4', 16, 49]);
    g.addOutput(y);
    expect(analyzeGraph(g, { dims: { batch: 3 } }).flops).toBe(12 * 16 * 49 * 49);
    expect(analyzeGraph(g, { dims: {} }).uncounted).toHaveLength(1);
  });
});
