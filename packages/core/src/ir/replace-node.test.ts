import { describe, expect, it } from 'vitest';
import { DTypes, Graph, GraphBuilder, Tensor, tensorType } from '../index.js';

/** x → Relu → y → Neg → z (graph output). */
function chain() {
  const g = new Graph('g');
  const x = g.addInput('x', tensorType(DTypes.float32, [4]));
  const relu = g.addNode({ op: 'Relu', inputs: [x], outputs: ['y'] });
  const y = relu.output();
  const neg = g.addNode({ op: 'Neg', inputs: [y], outputs: ['z'] });
  g.addOutput(neg.output());
  return { g, x, relu, y, neg, z: neg.output() };
}

describe('Graph.replaceNode with a NodeInit', () => {
  it('puts the new node in the old place, producing the same output values', () => {
    const { g, x, relu, y, neg } = chain();
    const sig = g.replaceNode(relu, { op: 'Sigmoid', inputs: [x] });
    expect(g.nodes).toEqual([sig, neg]);
    expect(sig.outputs).toEqual([y]);
    expect(y.producer).toBe(sig);
    expect(y.name).toBe('y');
    expect(neg.inputs).toEqual([y]);
    expect(x.uses).toEqual([{ node: sig, index: 0 }]);
    expect(relu.inputs).toEqual([]);
  });

  it('keeps a graph output produced by the replaced node', () => {
    const { g, y, neg, z } = chain();
    const abs = g.replaceNode(neg, { op: 'Abs', inputs: [y] });
    expect(g.outputs).toEqual([z]);
    expect(z.producer).toBe(abs);
    expect(y.uses).toEqual([{ node: abs, index: 0 }]);
  });

  it('refuses a node of another graph, explicit outputs and a self-loop', () => {
    const { g, x, relu, y } = chain();
    const other = new Graph('other');
    const n = other.addNode({ op: 'Relu', inputs: [other.addInput('a', null)] });
    expect(() => g.replaceNode(n, { op: 'Abs', inputs: [x] })).toThrowError(/not in graph 'g'/);
    expect(() => g.replaceNode(relu, { op: 'Abs', inputs: [x], outputs: ['w'] } as never)).toThrowError(/do not pass 'outputs'/);
    expect(() => g.replaceNode(relu, { op: 'Abs', inputs: [y] })).toThrowError(/its own output/);
    expect(g.nodes.map((m) => m.op)).toEqual(['Relu', 'Neg']);
  });
});

describe('Graph.replaceNode with replacement values', () => {
  it('moves uses and the name to a value built before the node', () => {
    const { g, x, relu, neg } = chain();
    const b = GraphBuilder.editing(g, relu);
    const r = b.mul(x, b.param('two', Tensor.from('float32', [], [2])));
    g.replaceNode(relu, [r]);
    expect(g.nodes.map((m) => m.op)).toEqual(['Mul', 'Neg']);
    expect(r.name).toBe('y');
    expect(neg.inputs).toEqual([r]);
    expect(g.lookup('y')).toBe(r);
  });

  it('wraps a graph input in an Identity when it replaces a graph output, keeping the name', () => {
    const { g, x, neg } = chain();
    g.replaceNode(neg, [x]);
    expect(g.nodes.map((m) => m.op)).toEqual(['Relu', 'Identity']);
    expect(g.outputs[0]!.name).toBe('z');
    expect(g.outputs[0]!.producer!.inputs).toEqual([x]);
    expect(x.name).toBe('x');
    // An unused output needs no Identity: the input simply takes over.
    const h = new Graph('h');
    const a = h.addInput('a', null);
    const id = h.addNode({ op: 'Identity', inputs: [a] });
    const tail = h.addNode({ op: 'Neg', inputs: [id.output()] });
    h.replaceNode(id, [a]);
    expect(h.nodes).toEqual([tail]);
    expect(tail.inputs).toEqual([a]);
    expect(a.name).toBe('a');
  });

  it('drops an unused output given null and refuses to drop a used one', () => {
    const g = new Graph('g');
    const x = g.addInput('x', null);
    const split = g.addNode({ op: 'Split', inputs: [x], outputs: ['a', 'b'] });
    const use = g.addNode({ op: 'Neg', inputs: [split.output(0)] });
    expect(() => g.replaceNode(split, [null, null])).toThrowError(/which is used/);
    expect(() => g.replaceNode(split, [x])).toThrowError(/has 2 outputs, got 1/);
    expect(() => g.replaceNode(split, [split.output(1), null])).toThrowError(/an output of the node itself/);
    g.replaceNode(split, [x, null]);
    expect(g.nodes).toEqual([use]);
    expect(use.inputs).toEqual([x]);
    expect(g.lookup('b')).toBeUndefined();
  });

  it('gives an untyped replacement the old type', () => {
    const { g, x, relu } = chain();
    relu.output().type = tensorType(DTypes.float32, [4]);
    const r = g.insertBefore(relu, { op: 'Abs', inputs: [x] }).output();
    g.replaceNode(relu, [r]);
    expect(r.type).toEqual(tensorType(DTypes.float32, [4]));
  });
});
