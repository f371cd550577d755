import { describe, expect, it } from 'vitest';
import { Tensor, formatType, type Value } from '../index.js';
import { GraphBuilder } from '../builder/builder.js';
import { transformerDecoder, vit } from '../builder/blocks.js';
import { geluFusion, layerNormFusion, rmsNormFusion, standardFusions } from './fusions.js';
import { patternRewrite, tryRule } from './pattern-rewrite.js';

const vec = (b: GraphBuilder, name: string, n: number) => b.param(name, Tensor.from('float32', [n], Array.from({ length: n }, (_, i) => 1 + i / 10)));

/** The decomposed layer norm, written op by op as exporters emit it. */
function layerNormChain(b: GraphBuilder, x: Value, axes = [-1], withBias = true): Value {
  const d = b.sub(x, b.reduceMean(x, axes));
  const v = b.reduceMean(b.pow(d, 2), axes);
  const y = b.mul(b.div(d, b.sqrt(b.add(v, 1e-5))), vec(b, 'gamma', 8));
  return withBias ? b.add(y, vec(b, 'beta', 8)) : y;
}

function logs(): { log: (m: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { log: (m) => lines.push(m), lines };
}

describe('layerNormFusion', () => {
  it('rewrites the 9-node chain to one LayerNormalization and keeps the output name', () => {
    const b = new GraphBuilder('ln');
    const x = b.input('x', 'float32', ['batch', 'seq', 8]);
    b.output(layerNormChain(b, x), 'y');
    const g = b.build();
    const r = patternRewrite(layerNormFusion).run(g, {});
    expect(r.modified).toBe(true);
    expect(g.nodes.map((n) => n.op)).toEqual(['LayerNormalization']);
    const ln = g.nodes[0]!;
    expect(ln.inputs.map((v) => v!.name)).toEqual(['x', 'gamma', 'beta']);
    expect(ln.attrs.get('epsilon')!.type).toBe('float');
    expect(ln.attrs.get('epsilon')!.value).toBeCloseTo(1e-5, 10); // the float32 constant, as stored
    expect(ln.attrs.get('axis')).toEqual({ type: 'int', value: -1 });
    expect(g.outputs[0]!.name).toBe('y');
    expect(g.outputs[0]!.producer).toBe(ln);
    expect(formatType(g.outputs[0]!.type)).toBe('float32[batch, seq, 8]');
  });

  it('fuses the bias-free form', () => {
    const b = new GraphBuilder('ln');
    const x = b.input('x', 'float32', ['batch', 8]);
    b.output(layerNormChain(b, x, [-1], false), 'y');
    const g = b.build();
    expect(patternRewrite(layerNormFusion).run(g, {}).modified).toBe(true);
    expect(g.nodes.map((n) => `${n.op}(${n.inputs.map((v) => v!.name).join(',')})`)).toEqual(['LayerNormalization(x,gamma)']);
  });

  it('does not fuse a mean over another axis, and says why', () => {
    const b = new GraphBuilder('ln');
    const x = b.input('x', 'float32', ['batch', 8, 8]);
    b.output(layerNormChain(b, x, [1]), 'y');
    const g = b.build();
    const { log, lines } = logs();
    expect(patternRewrite(layerNormFusion).run(g, { log }).modified).toBe(false);
    expect(g.nodes).toHaveLength(9);
    expect(lines[0]).toMatch(/^layer-norm: Add node .* not rewritten: ReduceMean node .* reduces axis 1, not the last/);
  });

  it('does not fuse below opset 17', () => {
    const b = new GraphBuilder('ln', { opset: 16 });
    const x = b.input('x', 'float32', ['batch', 8]);
    const y = layerNormChain(b, x);
    b.output(y);
    const r = tryRule(layerNormFusion[0]!, y.producer!);
    expect(r.match).toBeUndefined();
    expect(r.match ? '' : r.reason).toBe('ai.onnx opset 16 < 17 has no LayerNormalization');
  });
});

describe('geluFusion', () => {
  const orderings: [string, (b: GraphBuilder, x: Value) => Value][] = [
    ['(x·0.5)·(1+erf(x/√2))', (b, x) => b.mul(b.mul(x, 0.5), b.add(b.erf(b.div(x, Math.SQRT2)), 1))],
    ['x·(0.5·(1+erf(x·(1/√2))))', (b, x) => b.mul(x, b.mul(b.add(1, b.erf(b.mul(x, Math.SQRT1_2))), 0.5))],
    ['((1+erf(x/√2))·x)·0.5', (b, x) => b.mul(b.mul(b.add(b.erf(b.div(x, 1.4142135)), 1), x), 0.5)],
  ];
  for (const [name, build] of orderings) {
    it(`fuses ${name} into ai.onnx Gelu at opset 21`, () => {
      const b = new GraphBuilder('gelu');
      const x = b.input('x', 'float32', ['batch', 4]);
      b.output(build(b, b.relu(x)), 'y');
      const g = b.build();
      expect(patternRewrite(geluFusion).run(g, {}).modified).toBe(true);
      expect(g.nodes.map((n) => n.qualifiedOp)).toEqual(['Relu', 'Gelu']);
      expect(g.nodes[1]!.inputs).toEqual([g.nodes[0]!.output()]);
      expect(g.outputs[0]!.name).toBe('y');
      // the constants are now unused initializers; DCE drops them
    });
  }

  it('uses com.microsoft Gelu below opset 20 and records the domain', () => {
    const b = new GraphBuilder('gelu', { opset: 18 });
    const x = b.input('x', 'float32', ['batch', 4]);
    b.output(b.gelu(x), 'y');
    const g = b.build();
    expect(patternRewrite(geluFusion).run(g, {}).modified).toBe(true);
    expect(g.nodes.map((n) => n.qualifiedOp)).toEqual(['com.microsoft::Gelu']);
    expect(g.opsets.get('com.microsoft')).toBe(1);
  });

  it('leaves a near-GELU with a wrong constant alone', () => {
    const b = new GraphBuilder('gelu');
    const x = b.input('x', 'float32', ['batch', 4]);
    b.output(b.mul(b.mul(x, 0.6), b.add(b.erf(b.div(x, Math.SQRT2)), 1)), 'y');
    const g = b.build();
    const { log, lines } = logs();
    expect(patternRewrite(geluFusion).run(g, { log }).modified).toBe(false);
    expect(lines).toEqual([expect.stringMatching(/gelu-half-x-first: .* scale constant is 0\.6000000238418579, not 0\.5$/)]);
  });
});

describe('rmsNormFusion', () => {
  it('fuses the builder form (Pow/ReduceMean/Add/Sqrt/Div/Mul)', () => {
    const b = new GraphBuilder('rms');
    const x = b.input('x', 'float32', ['batch', 'seq', 8]);
    b.output(b.rmsNorm(x, vec(b, 'gamma', 8), { epsilon: 1e-6 }), 'y');
    const g = b.build();
    expect(patternRewrite(rmsNormFusion).run(g, {}).modified).toBe(true);
    expect(g.nodes.map((n) => `${n.qualifiedOp}(${n.inputs.map((v) => v!.name).join(',')})`)).toEqual(['SimplifiedLayerNormalization(x,gamma)']);
    expect(g.nodes[0]!.attrs.get('epsilon')!.value).toBeCloseTo(1e-6, 12);
    expect(formatType(g.outputs[0]!.type)).toBe('float32[batch, seq, 8]');
  });

  it('fuses the x·Reciprocal(√…) form into RMSNormalization at opset 23', () => {
    const b = new GraphBuilder('rms', { opset: 23 });
    const x = b.input('x', 'float32', ['batch', 8]);
    const std = b.sqrt(b.add(b.reduceMean(b.mul(x, x), [-1]), 1e-6));
    b.output(b.mul(vec(b, 'gamma', 8), b.mul(x, b.reciprocal(std))), 'y');
    const g = b.build();
    expect(patternRewrite(rmsNormFusion).run(g, {}).modified).toBe(true);
    expect(g.nodes.map((n) => n.op)).toEqual(['RMSNormalization']);
  });

  it('does not fuse when an intermediate is used outside the pattern', () => {
    const b = new GraphBuilder('rms');
    const x = b.input('x', 'float32', ['batch', 8]);
    const ms = b.reduceMean(b.pow(x, 2), [-1]);
    b.output(b.mul(b.div(x, b.sqrt(b.add(ms, 1e-6))), vec(b, 'gamma', 8)), 'y');
    b.output(ms, 'mean_square');
    const g = b.build();
    const { log, lines } = logs();
    expect(patternRewrite(rmsNormFusion).run(g, { log }).modified).toBe(false);
    expect(lines).toEqual([expect.stringMatching(/intermediate %mean_square is a graph output$/)]);
  });
});

describe('standardFusions on built models', () => {
  it('fuses every norm of a LLaMA-style decoder and every GELU of a ViT', () => {
    const dec = transformerDecoder({ vocabSize: 32, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 32, seed: 1 });
    const before = dec.nodes.length;
    expect(patternRewrite(standardFusions).run(dec, {}).modified).toBe(true);
    expect(dec.nodes.filter((n) => n.op === 'SimplifiedLayerNormalization')).toHaveLength(5);
    expect(dec.nodes.some((n) => n.op === 'Pow' || n.op === 'Sqrt')).toBe(false);
    expect(dec.nodes.length).toBe(before - 5 * 5);
    expect(formatType(dec.outputs[0]!.type)).toBe('float32[batch, seq, 32]');

    const v = vit({ imageSize: 8, patch: 4, hidden: 16, layers: 2, heads: 2, numClasses: 3, seed: 1, opset: 16 });
    expect(patternRewrite(standardFusions).run(v, {}).modified).toBe(true);
    // opset 16: the layer norms stay decomposed; GELU goes to the contrib op
    expect(v.nodes.filter((n) => n.qualifiedOp === 'com.microsoft::Gelu')).toHaveLength(2);
    expect(v.nodes.some((n) => n.op === 'Erf')).toBe(false);
  });
});
