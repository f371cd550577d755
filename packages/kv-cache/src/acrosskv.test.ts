import { describe, expect, it } from 'vitest';
import { buildDecoderGraph, buildRetrievalDecoder } from '@leanformer/attention';
import { acrossKVPass, kvCacheBytes } from './acrosskv.js';

describe('SwiftKV AcrossKV rewrite', () => {
  const model = buildRetrievalDecoder({ maxLen: 64 });
  it('pairs of layers share one cache: half the KV bytes, the second layer reads the first layer\'s K/V', () => {
    const g = buildDecoderGraph(model, { kvCache: true, maxLen: 64 });
    const before = kvCacheBytes(g, 100);
    const projBefore = g.initializers.size;
    const { modified } = acrossKVPass().run(g, {});
    expect(modified).toBe(true);
    expect(kvCacheBytes(g, 100) / before).toBe(0.5);
    expect(g.inputs.map((v) => v.name)).toEqual(['tokens', 'past_key_0', 'past_value_0']);
    expect(g.outputs.map((v) => v.name)).toEqual(['present_key_0', 'present_value_0', 'logits']);
    const atts = g.nodes.filter((n) => n.op === 'Attention');
    expect(atts[1]!.inputs[1]).toBe(atts[0]!.inputs[1]);
    expect(atts[1]!.inputs[3]).toBe(atts[0]!.inputs[3]);
    // Layer 1's k/v projection weights are dead and removed.
    expect(g.initializers.has('layers.1.attn.k_proj.weight')).toBe(false);
    expect(g.initializers.size).toBeLessThan(projBefore);
  });
});
