import { describe, expect, it } from 'vitest';
import { DTypes, Graph, Tensor, attr, tensorType } from '../index.js';
import { deadCodeElimination } from './dce.js';

const f32 = (shape: (number | string)[]) => tensorType(DTypes.float32, shape);

describe('deadCodeElimination', () => {
  it('removes a dead chain and its unused initializer, keeps the live path', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32(['batch', 4]));
    const w = g.addInitializer('w', Tensor.from('float32', [4], [1, 2, 3, 4]));
    const live = g.addNode({ op: 'Relu', inputs: [x], outputs: ['y'] });
    const dead1 = g.addNode({ op: 'Mul', inputs: [x, w], outputs: ['d1'] });
    const dead2 = g.addNode({ op: 'Neg', inputs: [dead1.output()], outputs: ['d2'] });
    g.addOutput(live.output());
    const r = deadCodeElimination().run(g, {});
    expect(r.modified).toBe(true);
    expect(g.nodes).toEqual([live]);
    expect(g.initializers.has('w')).toBe(false);
    expect(x.uses.map((u) => u.node)).toEqual([live]);
    expect(g.lookup('d1')).toBeUndefined();
    expect(dead2.inputs).toEqual([]);
  });

  it('is a no-op when everything is live', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([4]));
    const w = g.addInitializer('w', Tensor.from('float32', [4], [1, 2, 3, 4]));
    const a = g.addNode({ op: 'Add', inputs: [x, w] });
    const b = g.addNode({ op: 'Relu', inputs: [a.output()] });
    g.addOutput(b.output());
    const r = deadCodeElimination().run(g, {});
    expect(r.modified).toBe(false);
    expect(g.nodes).toEqual([a, b]);
    expect(g.initializers.has('w')).toBe(true);
  });

  it('keeps subgraph nodes and the outer values they read, but cleans dead nodes inside bodies', () => {
    const g = new Graph('g');
    const c = g.addInput('cond', tensorType(DTypes.bool, []));
    const x = g.addInput('x', f32([4]));
    const outer = g.addNode({ op: 'Neg', inputs: [x], outputs: ['nx'] });
    const thenG = new Graph('then', g);
    const tn = thenG.addNode({ op: 'Relu', inputs: [outer.output()], outputs: ['t'] });
    thenG.addNode({ op: 'Exp', inputs: [outer.output()], outputs: ['t_dead'] });
    thenG.addOutput(tn.output());
    const elseG = new Graph('else', g);
    const en = elseG.addNode({ op: 'Identity', inputs: [x], outputs: ['e'] });
    elseG.addOutput(en.output());
    // The If's output is unused, yet the node is kept: bodies are treated as side-effecting.
    g.addNode({ op: 'If', inputs: [c], outputs: ['ifout'], attrs: { then_branch: attr.graph(thenG), else_branch: attr.graph(elseG) } });
    g.addOutput(x);
    const r = deadCodeElimination().run(g, {});
    expect(r.modified).toBe(true);
    expect(thenG.nodes).toEqual([tn]);
    expect(g.nodes.map((n) => n.op)).toEqual(['Neg', 'If']);
    expect(outer.output().uses.map((u) => u.node)).toEqual([tn]);
  });

  it('keeps initializers that are also graph inputs (overridable defaults)', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([2]));
    const w = g.addInitializer('w', Tensor.from('float32', [2], [1, 2]));
    g.inputs.push(w);
    g.addOutput(g.addNode({ op: 'Relu', inputs: [x] }).output());
    expect(deadCodeElimination().run(g, {}).modified).toBe(false);
    expect(g.initializers.get('w')).toBe(w);
  });
});
