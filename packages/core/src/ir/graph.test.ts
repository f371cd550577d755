import { describe, expect, it } from 'vitest';
import { DTypes, Graph, Tensor, tensorType } from '../index.js';

describe('Graph', () => {
  it('tracks producers and uses through rewiring', () => {
    const g = new Graph('g');
    const x = g.addInput('x', tensorType(DTypes.float32, ['batch', 4]));
    const relu = g.addNode({ op: 'Relu', inputs: [x] });
    const y = relu.output();
    const neg = g.addNode({ op: 'Neg', inputs: [y, y] });
    g.addOutput(neg.output());
    expect(y.producer).toBe(relu);
    expect(y.uses.map((u) => u.index)).toEqual([0, 1]);
    y.replaceAllUsesWith(x);
    expect(y.uses).toHaveLength(0);
    expect(x.uses).toHaveLength(3);
    g.removeNode(relu);
    expect(g.nodes).toEqual([neg]);
    expect(g.lookup(y.name)).toBeUndefined();
  });

  it('refuses to remove a node whose output is used', () => {
    const g = new Graph('g');
    const w = g.addInitializer('w', Tensor.from('float32', [2], [1, 2]));
    const n = g.addNode({ op: 'Neg', inputs: [w] });
    g.addOutput(n.output());
    expect(() => g.removeNode(n)).toThrowError(/still used/);
  });

  it('gives each of several outputs its own name', () => {
    const g = new Graph('g');
    const x = g.addInput('x', null);
    const split = g.addNode({ op: 'Split', inputs: [x], outputs: 3 });
    expect(new Set(split.outputs.map((o) => o!.name)).size).toBe(3);
  });

  it('keeps names unique', () => {
    const g = new Graph('g');
    g.addInput('a', null);
    expect(() => g.addInput('a', null)).toThrowError(/already has a value/);
    expect(g.uniqueName('a')).toBe('a_1');
  });
});
