import { describe, expect, it } from 'vitest';
import { LeanformerError, formatType } from '../index.js';
import { GraphBuilder } from '../builder/builder.js';
import { decompose, getDecomposition, registerDecomposition } from './decompose.js';

// Test-only ops in the leanformer domain: Swish(x) = x·sigmoid(x); Twice(x) = Swish(Swish(x)) (nested);
// Pair(x) = (x + 1, x − 1) (two outputs).
registerDecomposition('leanformer', 'TestSwish', (node, b) => b.silu(node.input(0)));
registerDecomposition('leanformer', 'TestTwice', (node, b) => b.op('TestSwish', [b.op('TestSwish', [node.input(0)], {}, { domain: 'leanformer' })], {}, { domain: 'leanformer' }));
registerDecomposition('leanformer', 'TestPair', (node, b) => [b.add(node.input(0), 1), b.sub(node.input(0), 1)]);
registerDecomposition('leanformer', 'TestLoop', (node, b) => b.op('TestLoop', [node.input(0)], {}, { domain: 'leanformer' }));

describe('decompose', () => {
  it('replaces a leanformer node by its decomposition, keeping the output name and type', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', ['batch', 4]);
    const s = b.op('TestSwish', [x], {}, { domain: 'leanformer' });
    b.refine(s, ['batch', 4]);
    const y = b.output(b.relu(s), 'y');
    const g = b.build();
    const sName = s.name;
    expect(g.opsets.get('leanformer')).toBe(1);
    const r = decompose().run(g, {});
    expect(r.modified).toBe(true);
    expect(g.nodes.map((n) => n.qualifiedOp)).toEqual(['Sigmoid', 'Mul', 'Relu']);
    const mul = g.nodes[1]!;
    expect(mul.inputs).toEqual([x, g.nodes[0]!.output()]);
    expect(mul.output().name).toBe(sName);
    expect(y.producer!.inputs).toEqual([mul.output()]);
    expect(formatType(mul.output().type)).toBe('float32[batch, 4]');
    expect(g.opsets.has('leanformer')).toBe(false);
  });

  it('decomposes nested leanformer ops and multi-output ops', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [4]);
    const t = b.op('TestTwice', [x], {}, { domain: 'leanformer' });
    const [p, m] = b.op('TestPair', [t], {}, { domain: 'leanformer', outputs: 2 });
    b.output(p!, 'plus');
    b.output(m!, 'minus');
    const g = b.build();
    decompose().run(g, {});
    expect(g.nodes.map((n) => n.op)).toEqual(['Sigmoid', 'Mul', 'Sigmoid', 'Mul', 'Add', 'Sub']);
    expect(g.outputs.map((v) => `${v.name}<-${v.producer!.op}`)).toEqual(['plus<-Add', 'minus<-Sub']);
  });

  it('is a no-op on standard ops, and leaves or refuses ops without a decomposition', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [4]);
    b.output(b.op('Unknown', [b.relu(x)], {}, { domain: 'leanformer' }));
    const g = b.build();
    expect(decompose().run(g, {}).modified).toBe(false);
    expect(g.nodes.map((n) => n.op)).toEqual(['Relu', 'Unknown']);
    let err: unknown;
    try { decompose({ requireAll: true }).run(g, {}); } catch (e) { err = e; }
    expect((err as LeanformerError).code).toBe('NOT_SUPPORTED');
    expect((err as LeanformerError).message).toMatch(/No decomposition is registered for leanformer::Unknown/);
  });

  it('stops a decomposition that re-emits its own op', () => {
    const b = new GraphBuilder('g');
    b.output(b.op('TestLoop', [b.input('x', 'float32', [4])], {}, { domain: 'leanformer' }));
    expect(() => decompose({ maxDepth: 3 }).run(b.build(), {})).toThrowError(/still decomposable after 3 rounds/);
  });

  it('filters nodes and refuses duplicate registrations', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [4]);
    b.output(b.op('TestSwish', [x], {}, { domain: 'leanformer' }));
    const g = b.build();
    expect(decompose({ filter: (n) => n.op === 'Other' }).run(g, {}).modified).toBe(false);
    expect(getDecomposition('leanformer', 'TestSwish')).toBeTypeOf('function');
    expect(() => registerDecomposition('leanformer', 'TestSwish', (n) => n.input(0))).toThrowError(/already registered/);
  });
});
