import { describe, expect, it } from 'vitest';
import { DTypes, Graph, Tensor, tensorType } from '../index.js';
import { initializerDedup } from './initializer-dedup.js';

describe('initializerDedup', () => {
  it('points uses of an identical initializer at the first and removes it', () => {
    const g = new Graph('g');
    const x = g.addInput('x', tensorType(DTypes.float32, [3]));
    const w1 = g.addInitializer('w1', Tensor.from('float32', [3], [1, 2, 3]));
    const w2 = g.addInitializer('w2', Tensor.from('float32', [3], [1, 2, 3]));
    const w3 = g.addInitializer('w3', Tensor.from('float32', [3], [1, 2, 4]));
    const a = g.addNode({ op: 'Add', inputs: [x, w1] });
    const m = g.addNode({ op: 'Mul', inputs: [a.output(), w2] });
    const s = g.addNode({ op: 'Sub', inputs: [m.output(), w3] });
    g.addOutput(s.output());
    const r = initializerDedup().run(g, {});
    expect(r.modified).toBe(true);
    expect(m.inputs).toEqual([a.output(), w1]);
    expect(s.inputs[1]).toBe(w3);
    expect([...g.initializers.keys()]).toEqual(['w1', 'w3']);
    expect(w1.uses).toHaveLength(2);
  });

  it('is a no-op when equal bytes have different dtypes or shapes', () => {
    const g = new Graph('g');
    const a = g.addInitializer('a', Tensor.from('int32', [2], [1, 2]));
    const b = g.addInitializer('b', Tensor.from('uint32', [2], [1, 2]));
    const c = g.addInitializer('c', Tensor.from('int32', [2, 1], [1, 2]));
    g.addOutput(g.addNode({ op: 'Concat', inputs: [a, b, c] }).output());
    expect(initializerDedup().run(g, {}).modified).toBe(false);
    expect(g.initializers.size).toBe(3);
  });

  it('leaves initializers that are graph inputs alone', () => {
    const g = new Graph('g');
    const a = g.addInitializer('a', Tensor.from('float32', [2], [5, 6]));
    const b = g.addInitializer('b', Tensor.from('float32', [2], [5, 6]));
    g.inputs.push(b);
    g.addOutput(g.addNode({ op: 'Add', inputs: [a, b] }).output());
    expect(initializerDedup().run(g, {}).modified).toBe(false);
  });
});
