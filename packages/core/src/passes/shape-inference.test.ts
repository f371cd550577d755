import { describe, expect, it } from 'vitest';
import { DTypes } from '../dtype.js';
import { isLeanformerError } from '../errors.js';
import { attr } from '../ir/attribute.js';
import { Graph } from '../ir/graph.js';
import { formatType, tensorType, type Dim } from '../ir/types.js';
import { Tensor } from '../tensor.js';
import { PassManager } from './pass.js';
import { inferShapes, shapeInference } from './shape-inference.js';

const f32 = (shape: Dim[] | null) => tensorType(DTypes.float32, shape);
const i64 = (v: number[]) => Tensor.from('int64', [v.length], v.map(BigInt));

describe('inferShapes', () => {
  it('types a chain of nodes in order, preserving symbolic dims', () => {
    const g = new Graph('g');
    g.opsets.set('', 20); // Gelu exists from opset 20
    const x = g.addInput('x', f32(['batch', 'seq', 768]));
    const w = g.addInitializer('w', Tensor.zeros('float32', [768, 3072]));
    const mm = g.addNode({ op: 'MatMul', inputs: [x, w], outputs: ['h'] }).output();
    const act = g.addNode({ op: 'Gelu', inputs: [mm], outputs: ['a'] }).output();
    const red = g.addNode({ op: 'ReduceMean', inputs: [act, g.addInitializer('axes', i64([-1]))], outputs: ['m'] }).output();
    g.addOutput(red);
    const r = inferShapes(g);
    expect(r).toEqual({ inferred: 3, unknownOps: [], warnings: [] });
    expect(formatType(act.type)).toBe('float32[batch, seq, 3072]');
    expect(formatType(red.type)).toBe('float32[batch, seq, 1]');
    expect(inferShapes(g).inferred).toBe(0); // idempotent
    g.opsets.set('', 17);
    expect(inferShapes(g).unknownOps).toEqual(['Gelu']); // the opset decides which ops exist
  });

  it('folds Shape → Gather → Concat on the side to resolve a Reshape target', () => {
    const g = new Graph('g');
    g.opsets.set('', 13);
    const x = g.addInput('x', f32([2, 3, 4]));
    const shape = g.addNode({ op: 'Shape', inputs: [x], outputs: ['s'] }).output();
    const first = g.addNode({ op: 'Gather', inputs: [shape, g.addInitializer('zero', i64([0]))], outputs: ['s0'] }).output();
    const tgt = g.addNode({ op: 'Concat', inputs: [first, g.addInitializer('m1', i64([-1]))], attrs: { axis: attr.int(0) }, outputs: ['t'] }).output();
    const y = g.addNode({ op: 'Reshape', inputs: [x, tgt], outputs: ['y'] }).output();
    inferShapes(g);
    expect(formatType(tgt.type)).toBe('int64[2]');
    expect(formatType(y.type)).toBe('float32[2, 12]');
    expect(g.initializers.size).toBe(2); // nothing was written into the graph
    expect(tgt.const).toBeUndefined();
  });

  it('tracks symbolic dims through Shape → Gather → Unsqueeze → Concat into Reshape and Expand', () => {
    const g = new Graph('g');
    g.opsets.set('', 13);
    const x = g.addInput('x', f32(['batch', 'seq', 768]));
    const shape = g.addNode({ op: 'Shape', inputs: [x], outputs: ['s'] }).output();
    const dim = (i: number, name: string) => {
      const d = g.addNode({ op: 'Gather', inputs: [shape, g.addInitializer(`i${i}`, Tensor.from('int64', [], [BigInt(i)]))], outputs: [name] }).output();
      return g.addNode({ op: 'Unsqueeze', inputs: [d, g.addInitializer(`ax${i}`, i64([0]))], outputs: [`${name}_1d`] }).output();
    };
    const b = dim(0, 'b');
    const s = dim(1, 'sq');
    const heads = g.addNode({ op: 'Concat', inputs: [b, s, g.addInitializer('hd', i64([12, 64]))], attrs: { axis: attr.int(0) }, outputs: ['t'] }).output();
    const y = g.addNode({ op: 'Reshape', inputs: [x, heads], outputs: ['y'] }).output();
    const t = g.addNode({ op: 'Transpose', inputs: [y], attrs: { perm: attr.ints([0, 2, 1, 3]) }, outputs: ['yt'] }).output();
    const back = g.addNode({ op: 'Concat', inputs: [b, g.addInitializer('m1', i64([-1])), g.addInitializer('c768', i64([768]))], attrs: { axis: attr.int(0) }, outputs: ['t2'] }).output();
    const z = g.addNode({ op: 'Reshape', inputs: [t, back], outputs: ['z'] }).output();
    const bs = g.addNode({ op: 'Mul', inputs: [b, s], outputs: ['bs'] }).output();
    const flat = g.addNode({ op: 'Concat', inputs: [bs, g.addInitializer('c7', i64([768]))], attrs: { axis: attr.int(0) }, outputs: ['t3'] }).output();
    const f = g.addNode({ op: 'Reshape', inputs: [x, flat], outputs: ['f'] }).output();
    const mask = g.addNode({ op: 'Expand', inputs: [g.addInitializer('one', Tensor.from('bool', [1, 1], [1])), g.addNode({ op: 'Concat', inputs: [s, s], attrs: { axis: attr.int(0) }, outputs: ['ss'] }).output()], outputs: ['mask'] }).output();
    inferShapes(g, { strict: true });
    expect(formatType(heads.type)).toBe('int64[4]');
    expect(formatType(y.type)).toBe('float32[batch, seq, 12, 64]');
    expect(formatType(t.type)).toBe('float32[batch, 12, seq, 64]');
    expect(formatType(z.type)).toBe('float32[batch, seq, 768]'); // symbols cancel, 12·64 / 768 = 1
    expect(formatType(f.type)).toBe('float32[?, 768]'); // batch·seq has no name
    expect(formatType(mask.type)).toBe('bool[seq, seq]');
  });

  it('lists unknown ops and leaves their outputs untyped', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([4]));
    const u = g.addNode({ op: 'Mystery', domain: 'example.com', inputs: [x], outputs: ['u'] }).output();
    const v = g.addNode({ op: 'Relu', inputs: [u], outputs: ['v'] }).output();
    const r = inferShapes(g, { strict: true });
    expect(r.unknownOps).toEqual(['example.com::Mystery']);
    expect(u.type).toBeNull();
    expect(v.type).toBeNull(); // Relu of an unknown input stays unknown
  });

  it('merges with declared types: declared static dims win, inferred ones sharpen', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32(['n', 4]));
    const n = g.addNode({ op: 'Relu', inputs: [x], outputs: ['y'] });
    n.output().type = f32([8, null]);
    inferShapes(g);
    expect(formatType(n.output().type)).toBe('float32[8, 4]');
  });

  it('reports conflicts: a warning by default, an error in strict mode', () => {
    const build = () => {
      const g = new Graph('g');
      const x = g.addInput('x', f32([2, 4]));
      const n = g.addNode({ op: 'Relu', inputs: [x], outputs: ['y'] });
      n.output().type = f32([3, 4]);
      return g;
    };
    const g = build();
    const r = inferShapes(g);
    expect(r.warnings[0]).toMatch(/'y' is declared float32\[3, 4\] but inferred float32\[2, 4\]/);
    expect(formatType(g.value('y').type)).toBe('float32[3, 4]');
    try { inferShapes(build(), { strict: true }); expect.unreachable(); } catch (e) {
      expect(isLeanformerError(e, 'SHAPE_INFERENCE')).toBe(true);
    }
  });

  it('infers inside If and Loop bodies and types the node from them', () => {
    const g = new Graph('g');
    g.opsets.set('', 17);
    const cond = g.addInput('c', tensorType(DTypes.bool, []));
    const x = g.addInput('x', f32([2, 3]));
    const thenG = new Graph('then', g);
    thenG.addOutput(thenG.addNode({ op: 'Relu', inputs: [x], outputs: ['t'] }).output());
    const elseG = new Graph('else', g);
    elseG.addOutput(elseG.addNode({ op: 'Neg', inputs: [x], outputs: ['e'] }).output());
    const ifOut = g.addNode({ op: 'If', inputs: [cond], attrs: { then_branch: attr.graph(thenG), else_branch: attr.graph(elseG) }, outputs: ['r'] }).output();

    const body = new Graph('body', g);
    body.addInput('i', null);
    const bc = body.addInput('cond_in', null);
    const acc = body.addInput('acc', null);
    body.addOutput(body.addNode({ op: 'Identity', inputs: [bc], outputs: ['cond_out'] }).output());
    body.addOutput(body.addNode({ op: 'Add', inputs: [acc, x], outputs: ['acc_out'] }).output());
    body.addOutput(body.addNode({ op: 'ReduceSum', inputs: [acc], attrs: { keepdims: attr.int(0) }, outputs: ['scan'] }).output());
    const loop = g.addNode({ op: 'Loop', inputs: [g.addInitializer('M', Tensor.from('int64', [], [5n])), null, x], attrs: { body: attr.graph(body) }, outputs: ['final', 'stacked'] });
    inferShapes(g, { strict: true });
    expect(formatType(ifOut.type)).toBe('float32[2, 3]');
    expect(formatType(acc.type)).toBe('float32[2, 3]');
    expect(formatType(loop.output(0).type)).toBe('float32[2, 3]');
    expect(formatType(loop.output(1).type)).toBe('float32[?]');
  });

  it('runs as a pass and reports modified only when something changed', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([4]));
    g.addOutput(g.addNode({ op: 'Sigmoid', inputs: [x], outputs: ['y'] }).output());
    const pass = shapeInference();
    expect(pass.name).toBe('shape-inference');
    expect(pass.run(g, {}).modified).toBe(true);
    expect(pass.run(g, {}).modified).toBe(false);
    const bad = new Graph('bad');
    bad.addNode({ op: 'Add', inputs: [bad.addInput('a', f32([2])), bad.addInput('b', f32([3]))] });
    expect(() => new PassManager([shapeInference({ strict: true })]).run(bad)).toThrow(/Pass 'shape-inference' failed.*broadcast/);
  });
});
