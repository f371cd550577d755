import { describe, expect, it } from 'vitest';
import { buildRetrievalDecoder, forwardChunk, makeRetrievalExamples, prefill } from '@leanformer/attention';
import { cacheProvider, ContiguousKVCache, PagedKVCache, type KVCacheManager } from './managers.js';

const shape = { layers: 2, kvHeads: 2, headDim: 64 };
const model = buildRetrievalDecoder({ maxLen: 256 });

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Prefill in chunks then decode token by token through a manager; returns the last logits. */
function run(cache: KVCacheManager, tokens: Int32Array, chunk: number): Float32Array {
  const seq = cache.createSequence();
  let logits: Float32Array = new Float32Array(0);
  for (let p = 0; p < tokens.length; p += chunk) {
    const part = tokens.subarray(p, Math.min(tokens.length, p + chunk));
    logits = forwardChunk(model, part, p, cacheProvider(cache, seq));
  }
  return logits;
}

describe('KV managers', () => {
  const [ex] = makeRetrievalExamples({ length: 100, count: 1, seed: 21 });
  const toks = ex!.tokens;
  const full = prefill(model, toks).logits;

  it('decode with a contiguous cache (chunked prefill + single-token steps) equals full recomputation', () => {
    expect(maxDiff(run(new ContiguousKVCache(shape, { initialTokens: 8 }), toks, 1), full)).toBeLessThan(1e-4);
    expect(maxDiff(run(new ContiguousKVCache(shape, { initialTokens: 8 }), toks, 17), full)).toBeLessThan(1e-4);
  });

  it('paged and contiguous managers give identical outputs and identical gathered KV', () => {
    const c = new ContiguousKVCache(shape), p = new PagedKVCache(shape, { blockSize: 16, numBlocks: 16 });
    const a = run(c, toks, 7), b = run(p, toks, 7);
    expect(maxDiff(a, b)).toBe(0);
    for (let l = 0; l < 2; l++) {
      const x = c.gather(0, l), y = p.gather(0, l);
      expect(x.len).toBe(100);
      expect(maxDiff(x.k, y.k)).toBe(0);
      expect(maxDiff(x.v, y.v)).toBe(0);
    }
    expect(p.blockTable(0).length).toBe(7); // ceil(100 / 16)
  });

  it('fork shares blocks; appending copies the shared partial block (copy-on-write) and leaves the parent intact', () => {
    const p = new PagedKVCache({ layers: 1, kvHeads: 1, headDim: 2 }, { blockSize: 4, numBlocks: 8 });
    const a = p.createSequence();
    p.reserve(a, 6);
    p.write(a, 0, 0, 6, Float32Array.from({ length: 12 }, (_, i) => i), Float32Array.from({ length: 12 }, (_, i) => -i));
    const b = p.fork(a);
    expect(p.blockTable(b)).toEqual(p.blockTable(a));
    expect(p.freeBlocks).toBe(6);
    p.reserve(b, 1);
    p.write(b, 0, 6, 1, Float32Array.of(100, 101), Float32Array.of(-100, -101));
    expect(p.copies).toBe(1);
    expect(p.blockTable(b)[0]).toBe(p.blockTable(a)[0]); // full first block still shared
    expect(p.blockTable(b)[1]).not.toBe(p.blockTable(a)[1]);
    expect([...p.gather(a, 0).k]).toEqual([...Array(12).keys()]);
    expect([...p.gather(b, 0).k]).toEqual([...Array(12).keys(), 100, 101]);
    expect(() => p.write(b, 0, 0, 1, Float32Array.of(0, 0), Float32Array.of(0, 0))).toThrow(/shared block/);
    p.free(a); p.free(b);
    expect(p.freeBlocks).toBe(8);
  });

  it('runs out of blocks with SIZE_LIMIT', () => {
    const p = new PagedKVCache({ layers: 1, kvHeads: 1, headDim: 2 }, { blockSize: 4, numBlocks: 2 });
    const s = p.createSequence();
    expect(() => p.reserve(s, 9)).toThrow(/all 2 blocks/);
  });

  it('contiguous cache grows in place up to maxTokens', () => {
    const c = new ContiguousKVCache({ layers: 1, kvHeads: 1, headDim: 2 }, { initialTokens: 2, maxTokens: 8 });
    const s = c.createSequence();
    c.reserve(s, 5);
    c.write(s, 0, 0, 5, Float32Array.from({ length: 10 }, (_, i) => i), new Float32Array(10));
    expect([...c.gather(s, 0).k]).toEqual([...Array(10).keys()]);
    expect(() => c.reserve(s, 4)).toThrow(/maxTokens is 8/);
  });
});
