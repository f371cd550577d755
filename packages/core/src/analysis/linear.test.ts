import { describe, expect, it } from 'vitest';
import { attr, DTypes, Graph, Tensor, tensorType } from '../index.js';
import { findEmbeddings, findLinearLayers, weightsAsInitializers } from './linear.js';

const w = (r: number, c: number, v = 0.5) => new Tensor(DTypes.float32, [r, c], new Float32Array(r * c).fill(v));

/** x → MatMul(Constant W1) → MatMul(Identity(W2)) → Gemm(W3, transB) → MatMul(W1 again: shared) */
function exporterStyle(): Graph {
  const g = new Graph('paddle-like');
  g.opsets.set('', 17);
  const x = g.addInput('x', tensorType(DTypes.float32, [2, 8]));
  const c = g.addNode({ op: 'Constant', outputs: ['linear_0.w_0'], attrs: { value: attr.tensor(w(8, 8)) } }).output();
  const h1 = g.addNode({ op: 'MatMul', name: 'mm1', inputs: [x, c] }).output();
  const w2 = g.addInitializer('w2', w(8, 8));
  const id = g.addNode({ op: 'Identity', inputs: [w2], outputs: ['w2_id'] }).output();
  const h2 = g.addNode({ op: 'MatMul', name: 'mm2', inputs: [h1, id] }).output();
  const h3 = g.addNode({ op: 'Gemm', name: 'gemm', inputs: [h2, g.addInitializer('w3', w(4, 8))], attrs: { transB: attr.int(1) } }).output();
  const h4 = g.addNode({ op: 'MatMul', name: 'mm4', inputs: [h2, c] }).output();
  g.addOutput(h3);
  g.addOutput(h4);
  return g;
}

describe('findLinearLayers / weightsAsInitializers', () => {
  it('sees only initializer weights until Constant and Identity weights are moved, then all four layers', () => {
    const g = exporterStyle();
    expect(findLinearLayers(g).map((l) => l.node.name)).toEqual(['gemm']);
    expect(weightsAsInitializers(g)).toBe(2);
    const layers = findLinearLayers(g);
    expect(layers.map((l) => [l.node.name, l.weight.name, l.K, l.N, l.transposed])).toEqual([
      ['mm1', 'linear_0.w_0', 8, 8, false], ['mm2', 'w2', 8, 8, false], ['gemm', 'w3', 8, 4, true], ['mm4', 'linear_0.w_0', 8, 8, false],
    ]);
    // The Constant weight feeds two MatMuls: a shared weight the caller must not drop for one of them.
    expect(layers.map((l) => l.users)).toEqual([2, 1, 1, 2]);
    expect(g.nodes.some((n) => n.op === 'Constant' || n.op === 'Identity')).toBe(false);
  });

  it('excludes by node or weight name, skips activations as B, and finds Gather embeddings with their users', () => {
    const g = exporterStyle();
    weightsAsInitializers(g);
    expect(findLinearLayers(g, { exclude: /^mm|w3/ }).map((l) => l.node.name)).toEqual([]);
    const ids = g.addInput('ids', tensorType(DTypes.int64, [3]));
    const e = g.addNode({ op: 'Gather', inputs: [g.lookup('w2')!, ids] }).output();
    g.addOutput(g.addNode({ op: 'MatMul', name: 'act', inputs: [e, e] }).output()); // B is an activation: not a layer
    expect(findLinearLayers(g).some((l) => l.node.name === 'act')).toBe(false);
    expect(findEmbeddings(g).map((x) => [x.table.name, x.V, x.D, x.users])).toEqual([['w2', 8, 8, 2]]);
  });
});
