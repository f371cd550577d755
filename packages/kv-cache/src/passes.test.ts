// AcrossKV as a Pass composed in a PassManager with core passes gives exactly the graph of running it alone.
import { describe, expect, it } from 'vitest';
import { buildDecoderGraph, buildRetrievalDecoder } from '@leanformer/attention';
import { commonSubexpressionElimination, deadCodeElimination, graphDiff, PassManager } from '@leanformer/core';
import { acrossKVPass, kvCacheBytes } from './index.js';

describe('acrossKVPass in a PassManager', () => {
  const model = buildRetrievalDecoder({ maxLen: 64 });
  it('CSE + AcrossKV + DCE equals CSE, then AcrossKV, then DCE run by hand', () => {
    const viaManager = buildDecoderGraph(model, { kvCache: true, maxLen: 64 });
    const before = kvCacheBytes(viaManager, 100);
    const { graph, applied } = new PassManager([commonSubexpressionElimination(), acrossKVPass({ group: 2 }), deadCodeElimination()]).run(viaManager);
    expect(applied).toContain('swiftkv-acrosskv');
    expect(kvCacheBytes(graph, 100) / before).toBe(0.5);
    const direct = buildDecoderGraph(model, { kvCache: true, maxLen: 64 });
    commonSubexpressionElimination().run(direct, {});
    expect(acrossKVPass({ group: 2 }).run(direct, {}).modified).toBe(true);
    deadCodeElimination().run(direct, {});
    expect(graphDiff(graph, direct)).toBeNull();
  });

  it('is refused with its reason for a bad group, before any graph is touched', () => {
    expect(() => acrossKVPass({ group: 1 })).toThrowError(/'group' must be an integer ≥ 2, got 1/);
  });
});
