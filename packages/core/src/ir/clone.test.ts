import { describe, expect, it } from 'vitest';
import { attr, cloneGraph, DTypes, Graph, graphDiff, graphsEqual, Tensor, tensorType } from '../index.js';

/** A small model with the features a copy must keep: initializers, an If with outer-scope use, functions, metadata. */
function sample(): Graph {
  const g = new Graph('main');
  g.docString = 'doc';
  g.opsets.set('', 21).set('com.example', 2);
  g.metadataProps.set('k', 'v');
  g.model = {
    irVersion: 10, producerName: 'test', producerVersion: '1', domain: 'd', modelVersion: 3, docString: 'model doc',
    metadataProps: new Map([['author', 'me']]), functions: [], trainingInfo: [new Uint8Array([1, 2])],
  };
  const x = g.addInput('x', tensorType(DTypes.float32, ['batch', 4]));
  const w = g.addInitializer('w', Tensor.from('float32', [4], [1, 2, 3, 4]));
  g.inputs.push(w); // an initializer that is also an input (IR < 4 style)
  const cond = g.addInput('cond', tensorType(DTypes.bool, []));
  const add = g.addNode({ op: 'Add', name: 'add', inputs: [x, w], docString: 'adds' });
  add.metadataProps.set('m', '1');
  add.meta.set('pass', 'note');

  const thenG = new Graph('then', g);
  const t = thenG.addNode({ op: 'Relu', inputs: [add.output()] }); // outer-scope use
  thenG.addOutput(t.output());
  const elseG = new Graph('else', g);
  elseG.addOutput(x); // outer value as an output

  const iff = g.addNode({
    op: 'If', inputs: [cond], outputs: ['y'],
    attrs: { then_branch: attr.graph(thenG), else_branch: attr.graph(elseG) },
  });
  const custom = g.addNode({ op: 'Thing', domain: 'com.example', overload: 'o', inputs: [iff.output(), null, x], outputs: ['z', null], attrs: { pads: attr.ints([0, 1n]), alpha: attr.float(0.5) } });
  custom.output(0).type = tensorType(DTypes.float32, ['batch', 4]);
  g.addOutput(custom.output(0));

  const body = new Graph('fbody');
  const fa = body.addInput('a', null);
  body.addOutput(body.addNode({ op: 'Neg', inputs: [fa] }).output());
  g.model.functions.push({
    domain: 'com.example', name: 'Fn', overload: '', attributes: ['k'], attributeDefaults: new Map([['alpha', attr.float(1)]]),
    opsets: new Map([['', 21]]), body, docString: 'fn', metadataProps: new Map(),
  });
  return g;
}

describe('cloneGraph', () => {
  it('copies everything so the copy equals the original', () => {
    const g = sample();
    const c = cloneGraph(g);
    expect(graphDiff(g, c)).toBeNull();
    // Identity checks as booleans: a failing `not.toBe` on graphs makes vitest deep-compare cyclic objects.
    expect(c === g).toBe(false);
    expect(c.nodes[0] === g.nodes[0]).toBe(false);
    expect(c.initializers.get('w')!.const).toBe(g.initializers.get('w')!.const); // tensors shared
    expect(c.inputs[1]).toBe(c.initializers.get('w')); // initializer-input identity kept
    expect(c.nodes[0]!.meta.get('pass')).toBe('note');
    expect(c.nodes[2]!.inputs[1]).toBeNull();
    expect(c.nodes[2]!.outputs[1]).toBeNull();
  });

  it('gives subgraphs the new graph as parent and rewires outer-scope uses', () => {
    const g = sample();
    const c = cloneGraph(g);
    const thenC = c.nodes[1]!.attr<Graph>('then_branch');
    expect(thenC.parent).toBe(c);
    const use = thenC.nodes[0]!.input(0);
    expect(use).toBe(c.nodes[0]!.output());
    expect(use.uses.map((u) => u.node)).toContain(thenC.nodes[0]);
    expect(c.nodes[1]!.attr<Graph>('else_branch').outputs[0]).toBe(c.inputs[0]);
    expect(c.model!.functions[0]!.body === g.model!.functions[0]!.body).toBe(false);
  });

  it('leaves the original untouched when the copy changes', () => {
    const g = sample();
    const c = cloneGraph(g);
    c.nodes[0]!.op = 'Sub';
    c.nodes[0]!.attrs.set('extra', attr.int(1));
    c.opsets.set('', 7);
    c.model!.metadataProps.set('author', 'other');
    expect(g.nodes[0]!.op).toBe('Add');
    expect(g.nodes[0]!.attrs.has('extra')).toBe(false);
    expect(g.opsets.get('')).toBe(21);
    expect(g.model!.metadataProps.get('author')).toBe('me');
    expect(graphsEqual(g, c)).toBe(false);
  });

  it('keeps a subgraph cloned alone under its original parent', () => {
    const g = sample();
    const thenG = g.nodes[1]!.attr<Graph>('then_branch');
    const c = cloneGraph(thenG);
    expect(c.parent).toBe(g);
    expect(c.nodes[0]!.input(0)).toBe(g.nodes[0]!.output());
    expect(graphsEqual(thenG, c)).toBe(true);
  });

  it('copies dangling values and forward references', () => {
    const g = new Graph('g');
    const x = g.addInput('x', null);
    const late = g.addNode({ op: 'Relu', inputs: [x], outputs: ['late'] });
    const early = g.addNode({ op: 'Neg', inputs: [late.output()], outputs: ['early'] }, 0); // uses a later node's output
    g.addOutput(early.output());
    const ghost = g.createValue('ghost', tensorType(DTypes.int64, [1]));
    early.setInput(1, ghost);
    const c = cloneGraph(g);
    expect(graphDiff(g, c)).toBeNull();
    expect(c.nodes[0]!.input(0).producer).toBe(c.nodes[1]);
    expect(c.value('ghost').type).toEqual(ghost.type);
  });
});
