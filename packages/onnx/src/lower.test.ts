import { describe, expect, it } from 'vitest';
import {
  attr, cloneGraph, DTypes, Graph, graphDiff, LeanformerError, registerDecomposition, Tensor, tensorType, type Node, type Target,
} from '@leanformer/core';
import { epsForNode, explainLowering, lowerToOnnx, nodesOutsideEp, ONNX_LOWERINGS, registerOnnxLowering, type LoweringForm } from './lower.js';

const cpu: Target = { runtime: 'ort', ep: 'cpu' };
const trt: Target = { runtime: 'ort', ep: 'tensorrt' };

/** Replaces `node` by one node of `op` in `domain` with the same inputs and output names. */
function swap(node: Node, op: string, domain = ''): void {
  const g = node.graph;
  const old = node.output();
  const n = g.insertBefore(node, { op, domain, inputs: [...node.inputs], outputs: [g.uniqueName(`${old.name}_l`)] });
  old.replaceAllUsesWith(n.output());
  g.removeNode(node, true);
}

/** A form that always applies and runs `fn`. */
const always = (name: string, fn: (n: Node) => void): LoweringForm => ({ name, applies: () => null, lower: fn });

// Test-only ops, registered once for the whole file.
const fused = always('fused', (n) => swap(n, 'FusedThing', 'com.microsoft'));
registerOnnxLowering({ domain: 'leanformer', op: 'TestFused', forms: { 'ort-cpu': [fused], 'ort-cuda': [fused] } });
registerDecomposition('leanformer', 'TestDecomposed', (node, b) => b.op('Relu', [node.input(0)]));
registerOnnxLowering({ domain: 'leanformer', op: 'TestDeclines', forms: { 'ort-cpu': [{ name: 'picky', applies: () => 'declines every node', lower: () => { throw new Error('unreachable'); } }] } });
registerDecomposition('leanformer', 'TestDeclines', (node, b) => b.op('Neg', [node.input(0)]));
registerOnnxLowering({ domain: 'leanformer', op: 'TestChain', forms: { 'ort-cpu': [always('chain', (n) => swap(n, 'TestFused', 'leanformer'))] } }); // emits another leanformer op
// Re-encodes its weight input into a new initializer (as Q/DQ lowerings of packed weights do).
registerOnnxLowering({ domain: 'leanformer', op: 'TestReencode', forms: { 'ort-cpu': [always('reencode', (n) => {
  const g = n.graph;
  const w2 = g.addInitializer(g.uniqueName('w_reencoded'), n.input(1).const!);
  g.addInitializer(g.uniqueName('made_but_unused'), Tensor.from('int64', [1], [0n]));
  const out = n.output();
  const m = g.insertBefore(n, { op: 'Add', inputs: [n.input(0), w2], outputs: [g.uniqueName(`${out.name}_l`)] });
  out.replaceAllUsesWith(m.output());
  g.removeNode(n, true);
})] } });
// Three forms: the first never applies, the second applies to nodes named 'target_node', the third always.
registerDecomposition('leanformer', 'TestPick', (node, b) => b.op('Neg', [node.input(0)]));
registerOnnxLowering({ domain: 'leanformer', op: 'TestPick', forms: { 'ort-cpu': [
  { name: 'never', applies: () => 'needs something this node lacks', lower: () => { throw new Error('unreachable'); } },
  { name: 'named', applies: (n) => (n.name === 'target_node' ? null : 'only for target_node'), lower: (n) => swap(n, 'Sigmoid') },
  always('any', (n) => swap(n, 'Tanh')),
] } });
// A required form that refuses: lowering must stop with its reason, not fall back to the decomposition.
registerDecomposition('leanformer', 'TestRequired', (node, b) => b.op('Neg', [node.input(0)]));
registerOnnxLowering({ domain: 'leanformer', op: 'TestRequired', forms: { 'ort-tensorrt': [{ name: 'strict', required: true, applies: () => 'this EP needs symmetric weights', lower: () => { throw new Error('unreachable'); } }] } });

function model(op: string): Graph {
  const g = new Graph('m');
  g.opsets.set('', 21).set('leanformer', 1);
  const x = g.addInput('x', tensorType(DTypes.float32, [2, 3]));
  const a = g.addNode({ op: 'Abs', inputs: [x] }).output();
  const y = g.addNode({ op, domain: 'leanformer', name: 'target_node', inputs: [a] }).output();
  g.addOutput(g.addNode({ op: 'Identity', inputs: [y], outputs: ['y'] }).output());
  return g;
}

describe('lowerToOnnx', () => {
  it('applies the per-EP lowering, imports com.microsoft and leaves the input untouched', () => {
    const g = model('TestFused');
    const before = cloneGraph(g);
    const low = lowerToOnnx(g, cpu);
    expect(low.nodes.map((n) => n.qualifiedOp)).toEqual(['Abs', 'com.microsoft::FusedThing', 'Identity']);
    expect(low.opsets.get('com.microsoft')).toBe(1);
    expect(low.opsets.has('leanformer')).toBe(false);
    expect(low.opsets.get('')).toBe(21);
    expect(graphDiff(before, g)).toBeNull();
  });

  it('drops the initializers lowering left unread or made unread, and keeps ones the model already carried unread', () => {
    const g = new Graph('m');
    g.opsets.set('', 21).set('leanformer', 1);
    const x = g.addInput('x', tensorType(DTypes.float32, [3]));
    const w = g.addInitializer('w', Tensor.from('float32', [3], [1, 2, 3]));
    g.addInitializer('spare', Tensor.from('float32', [1], [0]));
    g.addOutput(g.addNode({ op: 'TestReencode', domain: 'leanformer', inputs: [x, w], outputs: ['y'] }).output());
    const low = lowerToOnnx(g, cpu);
    expect(low.nodes.map((n) => n.op)).toEqual(['Add']);
    expect([...low.initializers.keys()].sort()).toEqual(['spare', 'w_reencoded']);
    expect([...g.initializers.keys()].sort()).toEqual(['spare', 'w']); // the input graph is untouched
  });

  it('falls back to the reference decomposition where the table has no form', () => {
    const low = lowerToOnnx(model('TestDecomposed'), trt);
    expect(low.nodes.map((n) => n.op)).toEqual(['Abs', 'Relu', 'Identity']);
    const declined = lowerToOnnx(model('TestDeclines'), cpu);
    expect(declined.nodes.map((n) => n.op)).toEqual(['Abs', 'Neg', 'Identity']);
  });

  it('lowers ops that a lowering emits, and ops inside subgraphs', () => {
    expect(lowerToOnnx(model('TestChain'), cpu).nodes.map((n) => n.qualifiedOp)).toEqual(['Abs', 'com.microsoft::FusedThing', 'Identity']);
    const g = new Graph('outer');
    const c = g.addInput('c', tensorType(DTypes.bool, []));
    const x = g.addInput('x', tensorType(DTypes.float32, [1]));
    const body = new Graph('then', g);
    body.addOutput(body.addNode({ op: 'TestDecomposed', domain: 'leanformer', inputs: [x] }).output());
    const other = new Graph('else', g);
    other.addOutput(x);
    g.addOutput(g.addNode({ op: 'If', inputs: [c], attrs: { then_branch: attr.graph(body), else_branch: attr.graph(other) } }).output());
    const low = lowerToOnnx(g, cpu);
    expect(low.nodes[0]!.attr<Graph>('then_branch').nodes.map((n) => n.op)).toEqual(['Relu']);
  });

  it('fails with LOWERING_FAILED naming the op and the target', () => {
    let err: unknown;
    try { lowerToOnnx(model('TestFused'), trt); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(LeanformerError);
    expect((err as LeanformerError).code).toBe('LOWERING_FAILED');
    expect((err as LeanformerError).message).toMatch(/TestFused.*ort-tensorrt/);
    expect(() => lowerToOnnx(model('NoSuchOp'), cpu)).toThrowError(/NoSuchOp/);
  });

  it('passes standard and unknown-domain ops through', () => {
    const g = new Graph('m');
    const x = g.addInput('x', tensorType(DTypes.float32, [1]));
    const y = g.addNode({ op: 'Custom', domain: 'com.example', inputs: [x] }).output();
    g.addOutput(g.addNode({ op: 'Relu', inputs: [y] }).output());
    const low = lowerToOnnx(g, trt);
    expect(low.nodes.map((n) => n.qualifiedOp)).toEqual(['com.example::Custom', 'Relu']);
    expect(low.opsets.get('com.example')).toBe(1);
  });
});

describe('lowering table', () => {
  it('is data keyed by domain::op with ordered forms per target, and refuses a form twice', () => {
    expect(ONNX_LOWERINGS.get('leanformer::TestFused')?.forms['ort-cpu']?.map((f) => f.name)).toEqual(['fused']);
    expect(ONNX_LOWERINGS.get('leanformer::QMatMul')?.forms['ort-tensorrt']?.map((f) => f.name)).toEqual(['codebook', 'qdq']); // built-in entries from lowerings/index.ts
    expect(() => registerOnnxLowering({ domain: 'leanformer', op: 'TestFused', forms: { 'ort-cpu': [always('fused', () => {})] } })).toThrowError(/form 'fused' for leanformer::TestFused on ort-cpu is already registered/);
    expect(() => registerOnnxLowering({ domain: 'leanformer', op: 'TestFused', forms: { 'ort-cpu': [always('reference', () => {})] } })).toThrowError(/reserved/);
    expect(() => registerOnnxLowering({ domain: 'leanformer', op: 'TestFused', forms: { 'ort-metal': [] } as never })).toThrowError(/unknown target 'ort-metal'; allowed: ort-cpu/);
    registerOnnxLowering({ domain: 'leanformer', op: 'TestFused', forms: { 'ort-webgpu': [fused] } });
    expect(Object.keys(ONNX_LOWERINGS.get('leanformer::TestFused')!.forms).sort()).toEqual(['ort-cpu', 'ort-cuda', 'ort-webgpu']);
  });

  it('takes the first form that applies and reports why each earlier one did not', () => {
    expect(lowerToOnnx(model('TestPick'), cpu).nodes.map((n) => n.op)).toEqual(['Abs', 'Sigmoid', 'Identity']);
    expect(explainLowering(model('TestPick'), cpu)).toEqual([{ node: 'target_node', op: 'leanformer::TestPick', form: 'named', skipped: [{ form: 'never', reason: 'needs something this node lacks' }] }]);
    const other = model('TestPick');
    other.nodes[1]!.name = 'elsewhere';
    expect(lowerToOnnx(other, cpu).nodes.map((n) => n.op)).toEqual(['Abs', 'Tanh', 'Identity']);
    expect(explainLowering(other, cpu)[0]!.skipped.map((s) => s.reason)).toEqual(['needs something this node lacks', 'only for target_node']);
    // A target without forms goes to core's reference decomposition, the last form of every list.
    expect(explainLowering(model('TestPick'), trt)).toEqual([{ node: 'target_node', op: 'leanformer::TestPick', form: 'reference', skipped: [] }]);
    expect(lowerToOnnx(model('TestPick'), trt).nodes.map((n) => n.op)).toEqual(['Abs', 'Neg', 'Identity']);
  });

  it('a required form that does not apply stops lowering with its reason instead of falling back', () => {
    expect(() => lowerToOnnx(model('TestRequired'), trt)).toThrowError(/target_node.*cannot be lowered for ort-tensorrt: form 'strict': this EP needs symmetric weights/);
    expect(explainLowering(model('TestRequired'), trt)).toEqual([{ node: 'target_node', op: 'leanformer::TestRequired', form: null, skipped: [{ form: 'strict', reason: 'this EP needs symmetric weights' }], refusal: 'this EP needs symmetric weights' }]);
    expect(lowerToOnnx(model('TestRequired'), cpu).nodes.map((n) => n.op)).toEqual(['Abs', 'Neg', 'Identity']); // not listed on cpu
  });

  it('reports which EPs can run a node', () => {
    const g = model('TestFused');
    const [abs, fused] = g.nodes;
    expect(epsForNode(abs!)).toEqual(['cpu', 'cuda', 'tensorrt', 'webgpu', 'wasm']);
    expect(epsForNode(fused!)).toEqual(expect.arrayContaining(['cpu', 'cuda']));
    expect(epsForNode(fused!)).not.toContain('tensorrt');
    expect(epsForNode(model('TestDecomposed').nodes[1]!)).toHaveLength(5); // decomposable anywhere
    const low = lowerToOnnx(g, cpu);
    expect(epsForNode(low.nodes[1]!)).not.toContain('tensorrt');
    expect(nodesOutsideEp(low, 'tensorrt').map((n) => n.op)).toEqual(['FusedThing']);
  });
});
