import { describe, expect, it } from 'vitest';
import { DTypes, Graph, LeanformerError, attr, tensorType } from '../index.js';
import { topologicalSort } from './topological-sort.js';

const f32 = (shape: (number | string)[]) => tensorType(DTypes.float32, shape);

describe('topologicalSort', () => {
  it('moves producers before consumers and keeps independent nodes in their order', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([4]));
    const a = g.addNode({ op: 'Relu', inputs: [x], outputs: ['a'] });
    // Consumers added first, then wired to values created later.
    const c = g.addNode({ op: 'Neg', inputs: [], outputs: ['c'] }, 0);
    const bIndep = g.addNode({ op: 'Exp', inputs: [x], outputs: ['b'] }, 1);
    const d = g.addNode({ op: 'Add', inputs: [c.output(), a.output()], outputs: ['d'] });
    c.setInput(0, a.output());
    g.addOutput(d.output());
    g.addOutput(bIndep.output());
    expect(g.nodes).toEqual([c, bIndep, a, d]);
    const r = topologicalSort().run(g, {});
    expect(r.modified).toBe(true);
    expect(g.nodes).toEqual([bIndep, a, c, d]);
  });

  it('is a no-op on a sorted graph', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([4]));
    const a = g.addNode({ op: 'Relu', inputs: [x] });
    const b = g.addNode({ op: 'Neg', inputs: [a.output()] });
    g.addOutput(b.output());
    expect(topologicalSort().run(g, {}).modified).toBe(false);
    expect(g.nodes).toEqual([a, b]);
  });

  it('orders a subgraph-holding node after the producers of outer values its body reads', () => {
    const g = new Graph('g');
    const cond = g.addInput('cond', tensorType(DTypes.bool, []));
    const x = g.addInput('x', f32([4]));
    const body = new Graph('then', g);
    const ifNode = g.addNode({ op: 'If', inputs: [cond], outputs: ['r'], attrs: { then_branch: attr.graph(body), else_branch: attr.graph(body) } });
    const p = g.addNode({ op: 'Neg', inputs: [x], outputs: ['nx'] });
    // The body reads the outer value 'nx' directly as its output: an implicit input of If.
    body.addOutput(p.output());
    g.addOutput(ifNode.output());
    expect(topologicalSort().run(g, {}).modified).toBe(true);
    expect(g.nodes).toEqual([p, ifNode]);
  });

  it('names the nodes of a cycle', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([4]));
    const a = g.addNode({ op: 'Add', name: 'a', inputs: [x], outputs: ['a'] });
    const b = g.addNode({ op: 'Relu', name: 'b', inputs: [a.output()], outputs: ['b'] });
    a.setInput(1, b.output());
    g.addOutput(b.output());
    let err: unknown;
    try { topologicalSort().run(g, {}); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(LeanformerError);
    expect((err as LeanformerError).code).toBe('INVALID_GRAPH');
    expect((err as LeanformerError).message).toBe("Graph 'g' has a cycle: Add node 'a' → Relu node 'b' → Add node 'a'");
  });
});
