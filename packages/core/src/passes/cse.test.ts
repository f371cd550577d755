import { describe, expect, it } from 'vitest';
import { DTypes, Graph, attr, tensorType } from '../index.js';
import { commonSubexpressionElimination } from './cse.js';

const f32 = (shape: (number | string)[]) => tensorType(DTypes.float32, shape);

describe('commonSubexpressionElimination', () => {
  it('merges identical nodes and then their identical consumers', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32(['batch', 4]));
    const a = g.addNode({ op: 'Softmax', inputs: [x], attrs: { axis: attr.int(1) }, outputs: ['a'] });
    const b = g.addNode({ op: 'Softmax', inputs: [x], attrs: { axis: attr.int(1) }, outputs: ['b'] });
    const na = g.addNode({ op: 'Neg', inputs: [a.output()], outputs: ['na'] });
    const nb = g.addNode({ op: 'Neg', inputs: [b.output()], outputs: ['nb'] });
    const sum = g.addNode({ op: 'Add', inputs: [na.output(), nb.output()], outputs: ['s'] });
    g.addOutput(sum.output());
    const r = commonSubexpressionElimination().run(g, {});
    expect(r.modified).toBe(true);
    expect(g.nodes).toEqual([a, na, sum]);
    expect(sum.inputs).toEqual([na.output(), na.output()]);
    expect(g.lookup('b')).toBeUndefined();
  });

  it('is a no-op when attributes differ', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([2, 4]));
    const a = g.addNode({ op: 'Softmax', inputs: [x], attrs: { axis: attr.int(0) } });
    const b = g.addNode({ op: 'Softmax', inputs: [x], attrs: { axis: attr.int(1) } });
    g.addOutput(g.addNode({ op: 'Add', inputs: [a.output(), b.output()] }).output());
    expect(commonSubexpressionElimination().run(g, {}).modified).toBe(false);
    expect(g.nodes).toHaveLength(3);
  });

  it('never merges non-deterministic ops', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([4]));
    const a = g.addNode({ op: 'RandomNormalLike', inputs: [x] });
    const b = g.addNode({ op: 'RandomNormalLike', inputs: [x] });
    g.addOutput(g.addNode({ op: 'Add', inputs: [a.output(), b.output()] }).output());
    expect(commonSubexpressionElimination().run(g, {}).modified).toBe(false);
    expect(g.nodes.map((n) => n.op)).toEqual(['RandomNormalLike', 'RandomNormalLike', 'Add']);
  });

  it('keeps a duplicate whose output is a graph output (the name is the interface)', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([4]));
    const a = g.addNode({ op: 'Relu', inputs: [x], outputs: ['y1'] });
    const b = g.addNode({ op: 'Relu', inputs: [x], outputs: ['y2'] });
    g.addOutput(a.output());
    g.addOutput(b.output());
    expect(commonSubexpressionElimination().run(g, {}).modified).toBe(false);
    expect(g.outputs.map((v) => v.name)).toEqual(['y1', 'y2']);
  });
});
