import { describe, expect, it } from 'vitest';
import { DTypes, Graph, Tensor, attr, tensorType } from '../index.js';
import { constantFolding } from './constant-folding.js';

const f32 = (shape: (number | string)[]) => tensorType(DTypes.float32, shape);

describe('constantFolding', () => {
  it('folds a constant subexpression into an initializer and rewires nothing else', () => {
    const g = new Graph('g');
    g.opsets.set('', 21);
    const x = g.addInput('x', f32(['batch', 2]));
    const a = g.addInitializer('a', Tensor.from('float32', [2], [1, 2]));
    const c = g.addNode({ op: 'Constant', attrs: { value_float: attr.float(3) }, outputs: ['c'] });
    const mul = g.addNode({ op: 'Mul', inputs: [a, c.output()], outputs: ['ac'] });
    const add = g.addNode({ op: 'Add', inputs: [x, mul.output()], outputs: ['y'] });
    g.addOutput(add.output());
    const r = constantFolding().run(g, {});
    expect(r.modified).toBe(true);
    expect(g.nodes).toEqual([add]);
    const folded = add.inputs[1]!;
    expect(folded.name).toBe('ac');
    expect(folded.isInitializer).toBe(true);
    expect(Array.from(folded.const!.toFloat32())).toEqual([3, 6]);
    expect(add.inputs[0]).toBe(x);
  });

  it('folds Shape of a static value and chains through Gather', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([3, 5]));
    const s = g.addNode({ op: 'Shape', inputs: [x], attrs: { start: attr.int(-1) }, outputs: ['s'] });
    const r = g.addNode({ op: 'Reshape', inputs: [x, g.addInitializer('t', Tensor.from('int64', [2], [5n, 3n]))], outputs: ['r'] });
    const e = g.addNode({ op: 'Expand', inputs: [r.output(), s.output()], outputs: ['e'] });
    g.addOutput(e.output());
    expect(constantFolding().run(g, {}).modified).toBe(true);
    expect(g.nodes.map((n) => n.op)).toEqual(['Reshape', 'Expand']);
    expect(g.value('s').const!.toArray()).toEqual([5n]);
  });

  it('is a no-op when an input is not constant, the result is a graph output, or too large', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32(['n']));
    const a = g.addInitializer('a', Tensor.from('float32', [1], [1]));
    g.addOutput(g.addNode({ op: 'Add', inputs: [x, a] }).output());
    g.addOutput(g.addNode({ op: 'Neg', inputs: [a], outputs: ['neg_a'] }).output());
    const big = g.addNode({ op: 'Expand', inputs: [a, g.addInitializer('shape', Tensor.from('int64', [1], [4096n]))] });
    g.addOutput(g.addNode({ op: 'Add', inputs: [big.output(), x] }).output());
    expect(constantFolding({ maxElements: 1024 }).run(g, {}).modified).toBe(false);
    expect(g.nodes.map((n) => n.op)).toEqual(['Add', 'Neg', 'Expand', 'Add']);
    // Within the limit the Expand folds (and only it).
    expect(constantFolding({ maxElements: 4096 }).run(g, {}).modified).toBe(true);
    expect(g.nodes.map((n) => n.op)).toEqual(['Add', 'Neg', 'Add']);
  });

  it('never folds non-deterministic ops', () => {
    const g = new Graph('g');
    const r = g.addNode({ op: 'RandomNormal', attrs: { shape: attr.ints([2]) } });
    g.addOutput(g.addNode({ op: 'Relu', inputs: [r.output()] }).output());
    expect(constantFolding().run(g, {}).modified).toBe(false);
  });
});
