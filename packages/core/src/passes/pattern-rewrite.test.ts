import { describe, expect, it } from 'vitest';
import { DTypes, Graph, Tensor, attr, tensorType } from '../index.js';
import { constantOf, pat, patternRewrite, scalarOf, tryRule, type RewriteRule } from './pattern-rewrite.js';

const f32 = (shape: (number | string)[]) => tensorType(DTypes.float32, shape);

// Neg(Neg(x)) → x
const doubleNeg: RewriteRule = {
  name: 'double-neg',
  pattern: pat.op('Neg', [pat.op('Neg', [pat.v('x')])]),
  rewrite: (m) => m.value('x'),
};

// x · sigmoid(x) → com.example Silu(x), only for constant-free x
const silu: RewriteRule = {
  name: 'silu',
  pattern: pat.op('Mul', [pat.v('x'), pat.op('Sigmoid', [pat.v('x')])]),
  check: (m) => (m.value('x').const ? 'x is a constant' : null),
  rewrite: (m, b) => b.op('Silu', [m.value('x')], {}, { domain: 'com.example' }),
};

describe('patternRewrite', () => {
  it('rewires consumers of the root and removes the covered nodes', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([4]));
    const n1 = g.addNode({ op: 'Neg', inputs: [x], outputs: ['n1'] });
    const n2 = g.addNode({ op: 'Neg', inputs: [n1.output()], outputs: ['n2'] });
    const r = g.addNode({ op: 'Relu', inputs: [n2.output()], outputs: ['r'] });
    g.addOutput(r.output());
    const res = patternRewrite([doubleNeg]).run(g, {});
    expect(res.modified).toBe(true);
    expect(g.nodes).toEqual([r]);
    expect(r.inputs).toEqual([x]);
  });

  it('keeps a graph output name through an Identity when the replacement is an existing value', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([4]));
    const n1 = g.addNode({ op: 'Neg', inputs: [x], outputs: ['n1'] });
    const n2 = g.addNode({ op: 'Neg', inputs: [n1.output()], outputs: ['y'] });
    g.addOutput(n2.output());
    patternRewrite([doubleNeg]).run(g, {});
    expect(g.nodes.map((n) => n.op)).toEqual(['Identity']);
    expect(g.outputs[0]!.name).toBe('y');
    expect(g.nodes[0]!.inputs).toEqual([x]);
  });

  it('matches commutative inputs in either order and binds a repeated name to one value', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([4]));
    const z = g.addInput('z', f32([4]));
    const s = g.addNode({ op: 'Sigmoid', inputs: [x], outputs: ['s'] });
    const m = g.addNode({ op: 'Mul', inputs: [s.output(), x], outputs: ['y'] });
    // Same shape, different x: Sigmoid(z) · x must not match.
    const s2 = g.addNode({ op: 'Sigmoid', inputs: [z], outputs: ['s2'] });
    const m2 = g.addNode({ op: 'Mul', inputs: [x, s2.output()], outputs: ['w'] });
    g.addOutput(m.output());
    g.addOutput(m2.output());
    expect(patternRewrite([silu]).run(g, {}).modified).toBe(true);
    expect(g.nodes.map((n) => n.qualifiedOp)).toEqual(['com.example::Silu', 'Sigmoid', 'Mul']);
    expect(g.outputs.map((v) => v.name)).toEqual(['y', 'w']);
    expect(g.outputs[0]!.producer!.inputs).toEqual([x]);
    expect(g.opsets.get('com.example')).toBe(1);
  });

  it('is a no-op without a match, and reports why a check rejected one', () => {
    const g = new Graph('g');
    const c = g.addInitializer('c', Tensor.from('float32', [4], [1, 2, 3, 4]));
    const s = g.addNode({ op: 'Sigmoid', inputs: [c] });
    const m = g.addNode({ op: 'Mul', inputs: [c, s.output()] });
    g.addOutput(m.output());
    const lines: string[] = [];
    expect(patternRewrite([silu, doubleNeg]).run(g, { log: (l) => lines.push(l) }).modified).toBe(false);
    expect(lines).toEqual(['silu: Mul node not rewritten: x is a constant']);
    expect(tryRule(doubleNeg, m)).toEqual({ reason: 'no structural match' });
  });

  it('refuses to remove an intermediate used outside the pattern', () => {
    const g = new Graph('g');
    const x = g.addInput('x', f32([4]));
    const n1 = g.addNode({ op: 'Neg', inputs: [x], outputs: ['n1'] });
    const n2 = g.addNode({ op: 'Neg', inputs: [n1.output()], outputs: ['n2'] });
    const other = g.addNode({ op: 'Exp', inputs: [n1.output()], outputs: ['e'] });
    g.addOutput(n2.output());
    g.addOutput(other.output());
    expect(tryRule(doubleNeg, n2)).toEqual({ reason: "intermediate %n1 is also used by Exp node outside the pattern" });
    expect(patternRewrite([doubleNeg]).run(g, {}).modified).toBe(false);
  });

  it('reads constants from initializers and Constant nodes', () => {
    const g = new Graph('g');
    const k = g.addNode({ op: 'Constant', attrs: { value_float: attr.float(2.5) } }).output();
    expect(scalarOf(constantOf(k))).toBe(2.5);
    const ints = g.addNode({ op: 'Constant', attrs: { value_ints: attr.ints([1, 2]) } }).output();
    expect(constantOf(ints)!.toArray()).toEqual([1n, 2n]);
    expect(constantOf(g.addInput('x', f32([1])))).toBeUndefined();
  });
});
