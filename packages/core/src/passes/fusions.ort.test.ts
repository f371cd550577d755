// The fused graphs must compute what the unfused ones do: both run on onnxruntime-node 1.30 (CPU).
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '@leanformer/onnx';
import type { Graph, Value } from '../index.js';
import { GraphBuilder } from '../builder/builder.js';
import { transformerDecoder, transformerEncoder, vit } from '../builder/blocks.js';
import { PassManager } from './pass.js';
import { optimizationPasses } from './presets.js';
import { rng } from '../builder/rng.js';
import { maxAbsDiff } from '../numeric.js';
import { deadCodeElimination } from './dce.js';
import { geluFusion, layerNormFusion, rmsNormFusion, standardFusions } from './fusions.js';
import { patternRewrite, type RewriteRule } from './pattern-rewrite.js';

async function run(g: Graph, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(encodeModel(g));
  try {
    const out = await session.run(feeds);
    return out[g.outputs[0]!.name]!.data as Float32Array;
  } finally { await session.release(); }
}

/** Builds the graph twice (builders are deterministic), fuses one copy, runs both, returns the max difference. */
async function fusedVsUnfused(build: () => Graph, rules: readonly RewriteRule[], feeds: Record<string, ort.Tensor>, expectOps: string[]): Promise<number> {
  const plain = build();
  const fused = build();
  expect(patternRewrite(rules).run(fused, {}).modified).toBe(true);
  deadCodeElimination().run(fused, {});
  for (const op of expectOps) expect(fused.nodes.some((n) => n.qualifiedOp === op), `fused graph has ${op}`).toBe(true);
  return maxAbsDiff(await run(plain, feeds), await run(fused, feeds));
}

const xFeed = (shape: number[], seed = 1) => ({ x: new ort.Tensor('float32', rng(seed).normalTensor(shape, 2, 0.5).toFloat32(), shape) });
const vec = (b: GraphBuilder, name: string, n: number, seed: number) => b.param(name, rng(seed).normalTensor([n], 0.5, 1));

describe('fusions on onnxruntime-node (fused output = unfused output within 1e-5)', () => {
  it('RMSNorm → SimplifiedLayerNormalization (opset 21) in a LLaMA-style decoder', async () => {
    const build = () => transformerDecoder({ vocabSize: 64, hidden: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 64, seed: 4, initStd: 0.2 });
    const ids = new ort.Tensor('int64', BigInt64Array.from([3, 1, 4, 1, 5, 9, 2, 6].map(BigInt)), [2, 4]);
    expect(await fusedVsUnfused(build, rmsNormFusion, { input_ids: ids }, ['SimplifiedLayerNormalization'])).toBeLessThan(1e-5);
  });

  it('RMSNorm → RMSNormalization (opset 23)', async () => {
    const build = () => {
      const b = new GraphBuilder('rms', { opset: 23 });
      const x = b.input('x', 'float32', ['batch', 16]);
      b.output(b.rmsNorm(x, vec(b, 'g', 16, 2), { epsilon: 1e-6 }), 'y');
      return b.build();
    };
    expect(await fusedVsUnfused(build, rmsNormFusion, xFeed([3, 16]), ['RMSNormalization'])).toBeLessThan(1e-5);
  });

  it('decomposed LayerNorm → LayerNormalization (opset 21)', async () => {
    const build = () => {
      const b = new GraphBuilder('ln');
      const x = b.input('x', 'float32', ['batch', 'seq', 16]);
      const d = b.sub(x, b.reduceMean(x, [-1]));
      const v = b.reduceMean(b.pow(d, 2), [-1]);
      b.output(b.add(b.mul(b.div(d, b.sqrt(b.add(v, 1e-5))), vec(b, 'g', 16, 2)), vec(b, 'b', 16, 3)), 'y');
      return b.build();
    };
    expect(await fusedVsUnfused(build, layerNormFusion, xFeed([2, 3, 16]), ['LayerNormalization'])).toBeLessThan(1e-5);
  });

  for (const opset of [21, 18]) {
    it(`GELU (three orderings) → ${opset >= 20 ? 'ai.onnx Gelu' : 'com.microsoft Gelu'} (opset ${opset})`, async () => {
      const build = () => {
        const b = new GraphBuilder('gelu', { opset });
        const x = b.input('x', 'float32', ['batch', 8]);
        const g1: Value = b.gelu(x);
        const g2 = b.mul(x, b.mul(b.add(1, b.erf(b.mul(x, Math.SQRT1_2))), 0.5));
        const g3 = b.mul(b.mul(b.add(b.erf(b.div(x, Math.SQRT2)), 1), x), 0.5);
        b.output(b.concat([g1, g2, g3], 1), 'y');
        return b.build();
      };
      const op = opset >= 20 ? 'Gelu' : 'com.microsoft::Gelu';
      const g = build();
      patternRewrite(geluFusion).run(g, {});
      expect(g.nodes.filter((n) => n.qualifiedOp === op)).toHaveLength(3);
      expect(await fusedVsUnfused(build, geluFusion, xFeed([4, 8]), [op])).toBeLessThan(1e-5);
    });
  }

  it('all standard fusions on a ViT (opset 16: LayerNorm chains stay, GELU → contrib op)', async () => {
    const build = () => vit({ imageSize: 16, patch: 8, hidden: 32, layers: 2, heads: 4, numClasses: 5, seed: 3, opset: 16 });
    const px = new ort.Tensor('float32', rng(9).normalTensor([2, 3, 16, 16]).toFloat32(), [2, 3, 16, 16]);
    expect(await fusedVsUnfused(build, standardFusions, { pixel_values: px }, ['com.microsoft::Gelu'])).toBeLessThan(1e-5);
  });

  it('the whole optimizationPasses pipeline keeps decoder, encoder and ViT outputs', async () => {
    const ids = new ort.Tensor('int64', BigInt64Array.from([3, 1, 4, 1, 5, 9, 2, 6].map(BigInt)), [2, 4]);
    const px = new ort.Tensor('float32', rng(9).normalTensor([2, 3, 16, 16]).toFloat32(), [2, 3, 16, 16]);
    const models: [() => Graph, Record<string, ort.Tensor>][] = [
      [() => transformerDecoder({ vocabSize: 64, hidden: 32, layers: 2, heads: 4, kvHeads: 1, ffn: 64, seed: 5, initStd: 0.2 }), { input_ids: ids }],
      [() => transformerEncoder({ vocabSize: 64, hidden: 32, layers: 2, heads: 4, ffn: 64, seed: 5, initStd: 0.2, opset: 16 }), { input_ids: ids }],
      [() => vit({ imageSize: 16, patch: 4, hidden: 32, layers: 2, heads: 4, numClasses: 5, seed: 5 }), { pixel_values: px }],
    ];
    for (const [build, feeds] of models) {
      const plain = build();
      const opt = build();
      expect(new PassManager(optimizationPasses(), { fixedPoint: true }).run(opt).modified).toBe(true);
      expect(opt.nodes.length).toBeLessThan(plain.nodes.length);
      expect(maxAbsDiff(await run(plain, feeds), await run(opt, feeds))).toBeLessThan(1e-5);
    }
  });
});
