import { describe, expect, it } from 'vitest';
import { DTypes, LeanformerError, Tensor, attr, evaluateNode, formatType, getSchema } from '../index.js';
import { GraphBuilder, toAttribute } from './builder.js';

function thrown(f: () => unknown): LeanformerError {
  try { f(); } catch (e) { if (e instanceof LeanformerError) return e; throw e; }
  throw new Error('expected a LeanformerError');
}

describe('GraphBuilder', () => {
  it('infers symbolic shapes through a small MLP and builds a model', () => {
    const b = new GraphBuilder('mlp');
    const x = b.input('x', 'float32', ['batch', 'seq', 4]);
    const w = b.param('w', Tensor.from('float32', [4, 3], new Float32Array(12)));
    const bias = b.param('b', Tensor.zeros('float32', [3]));
    const h = b.gelu(b.linear(x, w, bias));
    expect(formatType(h.type)).toBe('float32[batch, seq, 3]');
    const s = b.softmax(b.mul(h, 2));
    const y = b.output(s, 'y');
    const g = b.build();
    expect(y.name).toBe('y');
    expect(g.outputs).toEqual([y]);
    expect(g.opsets.get('')).toBe(21);
    expect(g.model?.producerName).toBe('leanformer');
    expect(g.model?.irVersion).toBe(10);
    // gelu is the erf form from standard ops
    expect(g.nodes.map((n) => n.op)).toEqual(['MatMul', 'Add', 'Mul', 'Div', 'Erf', 'Add', 'Mul', 'Mul', 'Softmax']);
  });

  it('throws SHAPE_MISMATCH naming the op and the input types', () => {
    const b = new GraphBuilder('bad');
    const x = b.input('x', 'float32', ['batch', 4]);
    const w = b.param('w', Tensor.zeros('float32', [5, 2]));
    const e = thrown(() => b.matmul(x, w));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toMatch(/^MatMul: /);
    expect(e.message).toContain('float32[batch, 4]');
    expect(e.message).toContain('float32[5, 2]');
    // the failed node is not left in the graph
    expect(b.graph.nodes).toHaveLength(0);
    const e2 = thrown(() => b.add(x, b.param('v', Tensor.zeros('float32', [3]))));
    expect(e2.code).toBe('SHAPE_MISMATCH');
  });

  it('rejects mixed dtypes under one type constraint', () => {
    const b = new GraphBuilder('bad');
    const x = b.input('x', 'float32', [4]);
    const i = b.input('i', 'int64', [4]);
    const e = thrown(() => b.add(x, i));
    expect(e.code).toBe('INVALID_DTYPE');
    expect(e.message).toMatch(/Add input 1 'B' is int64 but input 0 already bound type T to float32/);
  });

  it('converts plain attribute values by the schema type', () => {
    const layerNorm = getSchema('', 'LayerNormalization', 21)!;
    expect(toAttribute('LayerNormalization', 'epsilon', 1, layerNorm)).toEqual({ type: 'float', value: 1 });
    expect(toAttribute('LayerNormalization', 'axis', -1, layerNorm)).toEqual({ type: 'int', value: -1 });
    expect(() => toAttribute('LayerNormalization', 'axis', 0.5, layerNorm)).toThrowError(/must be an integer/);
    expect(() => toAttribute('LayerNormalization', 'axes', [1], layerNorm)).toThrowError(/has no attribute 'axes'; allowed: /);
    // without a schema: inferred from JS, or explicit
    expect(toAttribute('Custom', 'a', 1)).toEqual({ type: 'int', value: 1 });
    expect(toAttribute('Custom', 'a', 1.5)).toEqual({ type: 'float', value: 1.5 });
    expect(toAttribute('Custom', 'a', [1, 2])).toEqual({ type: 'ints', value: [1, 2] });
    expect(toAttribute('Custom', 'a', [1, 2.5])).toEqual({ type: 'floats', value: [1, 2.5] });
    expect(toAttribute('Custom', 'a', ['p'])).toEqual({ type: 'strings', value: ['p'] });
    expect(toAttribute('Custom', 'a', attr.float(1))).toEqual({ type: 'float', value: 1 });
    expect(() => toAttribute('Custom', 'a', [])).toThrowError(/empty array/);
  });

  it('runs custom-domain ops without a schema and records the domain opset', () => {
    const b = new GraphBuilder('custom');
    const x = b.input('x', 'float32', ['batch', 8]);
    const [p, q] = b.op('Thing', [x], { alpha: 0.5, mode: 'fast' }, { domain: 'com.example', outputs: 2 });
    expect(p!.type).toBeNull();
    expect(p!.producer!.attrs.get('alpha')).toEqual({ type: 'float', value: 0.5 });
    expect(q!.producer).toBe(p!.producer);
    b.output(p!);
    expect(b.build().opsets.get('com.example')).toBe(1);
  });

  it('covers the shape helpers with symbolic dims', () => {
    const b = new GraphBuilder('shapes');
    const x = b.input('x', 'float32', ['batch', 'seq', 8]);
    const t = (v: { type: unknown }) => formatType(v.type as never);
    expect(t(b.transpose(x, [0, 2, 1]))).toBe('float32[batch, 8, seq]');
    expect(t(b.reshape(x, [0, 0, 2, 4]))).toBe('float32[batch, seq, 2, 4]');
    expect(t(b.concat([x, x], -1))).toBe('float32[batch, seq, 16]');
    const [s0, s1] = b.split(x, { axis: -1, sizes: [3, 5] });
    expect([t(s0!), t(s1!)]).toEqual(['float32[batch, seq, 3]', 'float32[batch, seq, 5]']);
    expect(b.split(x, { axis: 2, num: 2 }).map(t)).toEqual(['float32[batch, seq, 4]', 'float32[batch, seq, 4]']);
    expect(t(b.slice(x, [1], [5], [2]))).toBe('float32[batch, seq, 4]');
    expect(t(b.unsqueeze(x, [1]))).toBe('float32[batch, 1, seq, 8]');
    expect(t(b.squeeze(b.unsqueeze(x, [1]), [1]))).toBe('float32[batch, seq, 8]');
    expect(t(b.reduceMean(x, [-1]))).toBe('float32[batch, seq, 1]');
    expect(t(b.reduceMean(x, [-1], false))).toBe('float32[batch, seq]');
    expect(t(b.reduceSum(x, [1]))).toBe('float32[batch, 1, 8]');
    expect(t(b.reduceMax(x))).toBe('float32[1, 1, 1]');
    expect(t(b.max(b.abs(x), b.log(b.floor(x))))).toBe('float32[batch, seq, 8]');
    expect(t(b.greaterOrEqual(x, 1))).toBe('bool[batch, seq, 8]');
    expect(t(b.cast(x, 'float16'))).toBe('float16[batch, seq, 8]');
    expect(t(b.shape(x))).toBe('int64[3]');
    expect(t(b.flatten(x, 2))).toMatch(/^float32\[.*, 8\]$/);
    const table = b.param('emb', Tensor.zeros('float32', [10, 8]));
    const ids = b.input('ids', 'int64', ['batch', 'seq']);
    expect(t(b.gather(table, ids))).toBe('float32[batch, seq, 8]');
    expect(t(b.gather(x, 0, 1))).toBe('float32[batch, 8]');
    expect(t(b.where(b.greater(x, 0), x, 0))).toBe('float32[batch, seq, 8]');
    expect(t(b.expand(b.param('one', Tensor.zeros('float32', [1, 8])), [3, 8]))).toBe('float32[3, 8]');
  });

  it('covers convolution, pooling, norms and gemm', () => {
    const b = new GraphBuilder('cnn');
    const t = (v: { type: unknown }) => formatType(v.type as never);
    const x = b.input('x', 'float32', ['batch', 4, 16, 16]);
    const w = b.param('w', Tensor.zeros('float32', [8, 2, 3, 3]));
    const c = b.conv(x, w, null, { group: 2, pads: [1, 1, 1, 1], strides: [2, 2] });
    expect(t(c)).toBe('float32[batch, 8, 8, 8]');
    const ch = (n: number, v = 0) => b.param(`p${b.graph.initializers.size}`, Tensor.from('float32', [n], new Float32Array(n).fill(v)));
    expect(t(b.batchNorm(c, ch(8, 1), ch(8), ch(8), ch(8, 1)))).toBe('float32[batch, 8, 8, 8]');
    expect(t(b.maxPool(c, { kernelShape: [2, 2], strides: [2, 2] }))).toBe('float32[batch, 8, 4, 4]');
    expect(t(b.avgPool(c, { kernelShape: [3, 3], pads: [1, 1, 1, 1] }))).toBe('float32[batch, 8, 8, 8]');
    expect(t(b.globalAvgPool(c))).toBe('float32[batch, 8, 1, 1]');
    const f = b.flatten(b.globalAvgPool(c));
    expect(t(f)).toBe('float32[batch, 8]');
    expect(t(b.gemm(f, b.param('gw', Tensor.zeros('float32', [3, 8])), null, { transB: true }))).toBe('float32[batch, 3]');
    const seq = b.input('h', 'float32', ['batch', 'seq', 8]);
    expect(t(b.layerNorm(seq, ch(8, 1), ch(8)))).toBe('float32[batch, seq, 8]');
    expect(t(b.rmsNorm(seq, ch(8, 1)))).toBe('float32[batch, seq, 8]');
    expect(t(b.silu(seq))).toBe('float32[batch, seq, 8]');
    expect(t(b.range(0, b.squeeze(b.shape(seq, 1, 2), [0])))).toMatch(/^int64\[/);
  });

  it('pads, takes the top k and gathers elements (values from the core evaluator)', () => {
    const b = new GraphBuilder('sel', { opset: 17 });
    const t = (v: { type: unknown }) => formatType(v.type as never);
    const x = b.constant(Tensor.from('float32', [2, 3], [1, 5, 3, 9, 7, 8]));
    const p = b.pad(x, [0, 1, 0, 2], { value: -1 });
    expect(t(p)).toBe('float32[2, 6]');
    const { values, indices } = b.topK(x, 2);
    expect([t(values), t(indices)]).toEqual(['float32[2, 2]', 'int64[2, 2]']);
    const g = b.gatherElements(x, indices, 1);
    expect(t(g)).toBe('float32[2, 2]');
    const run = (v: typeof x, ins: (Tensor | undefined)[]) => evaluateNode(v.producer!, ins, 17)!;
    const xt = x.const!;
    expect(Array.from(run(p, [xt, p.producer!.inputs[1]!.const!, p.producer!.inputs[2]!.const!])[0]!.toFloat32())).toEqual([-1, 1, 5, 3, -1, -1, -1, 9, 7, 8, -1, -1]);
    const [vals, idx] = run(values, [xt, values.producer!.inputs[1]!.const!]);
    expect(Array.from(vals!.toFloat32())).toEqual([5, 3, 9, 8]);
    expect(Array.from(idx!.data as BigInt64Array)).toEqual([1n, 2n, 0n, 2n]);
    expect(Array.from(run(g, [xt, idx])[0]!.toFloat32())).toEqual([5, 3, 9, 8]);
    const smallest = b.topK(x, 1, { largest: false });
    expect(smallest.indices.producer!.attrs.get('largest')).toEqual({ type: 'int', value: 0 });
  });

  it('falls back to the LayerNorm decomposition below opset 17', () => {
    const b = new GraphBuilder('ln16', { opset: 16 });
    const x = b.input('x', 'float32', ['batch', 8]);
    const y = b.layerNorm(x, b.param('g', Tensor.zeros('float32', [8])), b.param('b', Tensor.zeros('float32', [8])));
    expect(formatType(y.type)).toBe('float32[batch, 8]');
    expect(b.graph.nodes.map((n) => n.op)).toEqual(['ReduceMean', 'Sub', 'Pow', 'ReduceMean', 'Add', 'Sqrt', 'Div', 'Mul', 'Add']);
    expect(b.graph.nodes[0]!.attrs.get('axes')).toEqual({ type: 'ints', value: [-1] });
  });

  it('names outputs: renames a node output, or adds an Identity for inputs and initializers', () => {
    const b = new GraphBuilder('out');
    const x = b.input('x', 'float32', [2]);
    const r = b.relu(x);
    expect(b.output(r, 'y').name).toBe('y');
    const passthrough = b.output(x, 'x_copy');
    expect(passthrough.producer!.op).toBe('Identity');
    expect(passthrough.producer!.inputs).toEqual([x]);
    expect(b.build().outputs.map((v) => v.name)).toEqual(['y', 'x_copy']);
  });

  it('edits an existing graph, inserting before a node so the order stays topological', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['n', 4]);
    const r = b.relu(x);
    const out = b.output(b.neg(r), 'y');
    const g = b.build();
    const e = GraphBuilder.editing(g, out.producer!);
    const s = e.sigmoid(r);
    out.producer!.setInput(0, s);
    expect(g.nodes.map((n) => n.op)).toEqual(['Relu', 'Sigmoid', 'Neg']);
    expect(formatType(s.type)).toBe('float32[n, 4]');
    expect(e.opset).toBe(21);
  });

  it('refuses bad arguments with clear errors', () => {
    const b = new GraphBuilder('bad');
    const x = b.input('x', 'float32', [4]);
    expect(thrown(() => b.op('Relu', [])).message).toMatch(/Relu input 0 'X' is required/);
    expect(thrown(() => b.op('Relu', [x, x])).message).toMatch(/Relu takes at most 1 inputs/);
    expect(() => b.param('w', Tensor.zeros('float32', [1]))).not.toThrow();
    expect(thrown(() => b.param('w', Tensor.zeros('float32', [1]))).code).toBe('INVALID_GRAPH');
    expect(thrown(() => new GraphBuilder('e').build()).message).toMatch(/has no outputs/);
    expect(DTypes.float32).toBeDefined();
  });
});
