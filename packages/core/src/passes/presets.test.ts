import { describe, expect, it } from 'vitest';
import { PassManager, formatType } from '../index.js';
import { transformerDecoder } from '../builder/blocks.js';
import { optimizationPasses } from './presets.js';

describe('optimizationPasses', () => {
  it('fuses, folds and cleans a built decoder, keeping its interface', () => {
    const g = transformerDecoder({ vocabSize: 32, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 32, seed: 1 });
    const nodes = g.nodes.length;
    const inits = g.initializers.size;
    const r = new PassManager(optimizationPasses(), { fixedPoint: true }).run(g);
    expect(r.applied).toEqual(expect.arrayContaining(['fusions', 'dead-code-elimination', 'initializer-dedup']));
    expect(g.nodes.filter((n) => n.op === 'SimplifiedLayerNormalization')).toHaveLength(5);
    expect(g.nodes.length).toBeLessThan(nodes - 20);
    expect(g.initializers.size).toBeLessThan(inits);
    expect(g.inputs.map((v) => v.name)).toEqual(['input_ids']);
    expect(g.outputs.map((v) => `${v.name}: ${formatType(v.type)}`)).toEqual(['logits: float32[batch, seq, 32]']);
    // A second run finds nothing left to do.
    expect(new PassManager(optimizationPasses()).run(g).modified).toBe(false);
  });

  it('can run without fusions', () => {
    expect(optimizationPasses({ fusions: [] }).map((p) => p.name)).toEqual([
      'topological-sort', 'constant-folding', 'initializer-dedup', 'common-subexpression-elimination', 'dead-code-elimination',
    ]);
  });
});
