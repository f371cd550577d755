// The peft module transforms as Pass factories: composed in a PassManager with a core pass, they give
// exactly the graph the plain functions give.
import { describe, expect, it } from 'vitest';
import { cloneGraph, deadCodeElimination, graphDiff, PassManager, rng, transformerDecoder } from '@leanformer/core';
import { createLoraAdapter, injectLora, injectLoraPass, loraParamNames, mergeLora, mergeLoraPass, weloreCompress, weloreCompressPass, type LoraAdapter } from './index.js';

const cfg = { vocabSize: 32, hidden: 16, layers: 2, heads: 2, ffn: 32, seed: 3 };

/** B random too (PEFT starts B at zero, which would make a merge a no-op). */
function adapter(seed: number): LoraAdapter {
  const base = transformerDecoder(cfg);
  const a = createLoraAdapter(base, { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'], seed }, 'a');
  const g = rng(seed + 100);
  return { ...a, modules: new Map([...a.modules].map(([m, w]) => [m, { ...w, B: g.normalTensor(w.B.shape, 0.2) }])) };
}

describe('peft Pass factories', () => {
  it('injectLoraPass + DCE in a PassManager equals injectLora', () => {
    const base = transformerDecoder(cfg), ad = adapter(1);
    const { graph, applied } = new PassManager([injectLoraPass({ adapters: ad }), deadCodeElimination()]).run(base);
    expect(applied).toContain('lora-inject');
    const direct = injectLora(base, ad).graph;
    deadCodeElimination().run(direct, {});
    expect(graphDiff(graph, direct)).toBeNull();
    // Not vacuous: every adapter module's A and B are in the graph.
    for (const m of ad.modules.keys()) expect(graph.initializers.has(loraParamNames(m, 'a').A) && graph.initializers.has(loraParamNames(m, 'a').B)).toBe(true);
  });

  it('mergeLoraPass then weloreCompressPass then DCE equals weloreCompress(mergeLora(·))', () => {
    const base = transformerDecoder(cfg), ad = adapter(2);
    const opts = { targetModules: 'all-linear' as const, compression: 0.3 };
    const pm = new PassManager([mergeLoraPass({ adapter: ad, weight: 0.5 }), weloreCompressPass(opts), deadCodeElimination()]);
    const { graph, applied } = pm.run(cloneGraph(base));
    expect(applied.slice(0, 2)).toEqual(['lora-merge', 'welore-compress']);
    const direct = weloreCompress(mergeLora(base, ad, { weight: 0.5 }), opts).graph;
    deadCodeElimination().run(direct, {});
    expect(graphDiff(graph, direct)).toBeNull();
    // Not vacuous: the merge changed weights and WeLore factorised some matrix.
    expect(graphDiff(graph, base)).not.toBeNull();
    expect([...graph.initializers.keys()].some((k) => k.endsWith('.welore_A'))).toBe(true);
  });

  it('a failing module transform is named by the PassManager', () => {
    const pm = new PassManager([deadCodeElimination(), weloreCompressPass({ targetModules: 'all-linear', compression: 2 })]);
    expect(() => pm.run(transformerDecoder(cfg))).toThrowError(/Pass 'welore-compress' failed after \[dead-code-elimination\]: welore: compression must be in \(0, 1\)/);
  });
});
