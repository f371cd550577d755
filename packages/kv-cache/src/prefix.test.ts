import { describe, expect, it } from 'vitest';
import { buildRetrievalDecoder, makeRetrievalExamples, prefill } from '@leanformer/attention';
import { PagedKVCache } from './managers.js';
import { buildPrefixTree, prefillWithPrefixSharing, prefixSharingCost } from './prefix.js';
import { serve, percentile } from './scheduler.js';

const model = buildRetrievalDecoder({ maxLen: 256 });
const shape = { layers: 2, kvHeads: 2, headDim: 64 };

describe('prefix sharing', () => {
  it('builds a radix tree with one edge per distinct prefix', () => {
    const root = buildPrefixTree([[1, 2, 3], [1, 2, 4], [1, 2], [5]]);
    expect(root.children.map((c) => c.tokens)).toEqual([[1, 2], [5]]);
    expect(root.children[0]!.ends).toEqual([2]);
    expect(root.children[0]!.children.map((c) => c.tokens)).toEqual([[3], [4]]);
    expect(prefixSharingCost([[1, 2, 3], [1, 2, 4], [1, 2], [5]])).toEqual({ shared: 5, naive: 9, ratio: 5 / 9 });
  });

  it('changes no output: shared-prefix prefill equals independent prefills, and later decode reads the right KV', () => {
    const base = makeRetrievalExamples({ length: 60, count: 1, seed: 3 })[0]!.tokens;
    const tails = makeRetrievalExamples({ length: 20, count: 3, seed: 4, pairs: 4 }).map((e) => e.tokens);
    const prompts = [Int32Array.from([...base, ...tails[0]!]), Int32Array.from([...base, ...tails[1]!]), Int32Array.from([...base.subarray(0, 45)]), Int32Array.from([...base, ...tails[2]!.subarray(0, 7)])];
    const cache = new PagedKVCache(shape, { blockSize: 16, numBlocks: 64 });
    const r = prefillWithPrefixSharing(model, cache, prompts);
    prompts.forEach((p, i) => {
      const want = prefill(model, p).logits;
      let m = 0;
      for (let j = 0; j < want.length; j++) m = Math.max(m, Math.abs(want[j]! - r.logits[i]![j]!));
      expect(m).toBeLessThan(1e-4);
      expect(cache.length(r.sequences[i]!)).toBe(p.length);
      // Each sequence's cached keys equal an independent prefill's keys.
      const ref = prefill(model, p).kv[1]!;
      const got = cache.gather(r.sequences[i]!, 1);
      let mk = 0;
      for (let j = 0; j < ref.k.length; j++) mk = Math.max(mk, Math.abs(ref.k[j]! - got.k[j]!));
      expect(mk).toBeLessThan(1e-4);
    });
    expect(r.computedTokens).toBe(prefixSharingCost(prompts).shared);
    expect(r.computedTokens).toBeLessThan(prompts.reduce((s, p) => s + p.length, 0));
  });
});

describe('chunked prefill (Sarathi-style) vs prefill-first', () => {
  it('same greedy outputs; chunking bounds the decode stall', () => {
    const reqs = [
      ...[0, 1].map((i) => ({ prompt: makeRetrievalExamples({ length: 24, count: 1, seed: 10 + i, pairs: 4 })[0]!.tokens, maxNewTokens: 24, arrival: 0 })),
      ...[0, 1].map((i) => ({ prompt: makeRetrievalExamples({ length: 160, count: 1, seed: 20 + i })[0]!.tokens, maxNewTokens: 4, arrival: 4 + 6 * i })),
    ];
    const mk = () => new PagedKVCache(shape, { blockSize: 16, numBlocks: 128 });
    const a = serve(model, mk, reqs, { kind: 'prefill-first' });
    const b = serve(model, mk, reqs, { kind: 'chunked', chunkTokens: 16 });
    expect(b.outputs).toEqual(a.outputs);
    expect(a.outputs.every((o, i) => o.length === reqs[i]!.maxNewTokens)).toBe(true);
    expect(a.itlMs.length).toBe(2 * 23 + 2 * 3);
    expect(b.itlMs.length).toBe(a.itlMs.length);
    expect(percentile([1, 2, 3, 4, 100], 99)).toBe(100);
  });
});
