import { describe, expect, it } from 'vitest';
import { rng } from '@leanformer/core';
import { buildDecoderGraph, buildRetrievalDecoder, makeRetrievalExamples } from '@leanformer/attention';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { Tensor, type Executor } from '@leanformer/core';
import { generateIds, generateByRecomputation, sampleToken } from './decode.js';

const model = buildRetrievalDecoder({ maxLen: 128 });
const spec = { layers: 2, kvHeads: 2, headDim: 64 };

describe('decode loop over a Backend', () => {
  it('tfjs-cpu: the KV-cache loop produces the same tokens as full recomputation, first token = the answer', async () => {
    const backend = createTfjsBackend('cpu');
    const [ex] = makeRetrievalExamples({ length: 48, count: 1, seed: 8 });
    const cached = await backend.compile(buildDecoderGraph(model, { kvCache: true, maxLen: 128 }));
    const plain = await backend.compile(buildDecoderGraph(model, { maxLen: 128 }));
    const r = await generateIds(cached, ex!.tokens, spec, { maxNewTokens: 6 });
    const ref = await generateByRecomputation(plain, ex!.tokens, 6);
    expect(r.tokens).toEqual(ref);
    expect(r.tokens[0]).toBe(ex!.answer);
    expect(r.stepMs.length).toBe(5);
    await cached.dispose(); await plain.dispose();
  });
});

describe('decode loop over ORT CPU', () => {
  it('GroupQueryAttention with past K/V in preallocated buffers: same tokens as recomputation and as tfjs', async () => {
    const backend = createOrtBackend({ eps: ['cpu'] });
    const [ex] = makeRetrievalExamples({ length: 64, count: 1, seed: 9 });
    const cachedGraph = buildDecoderGraph(model, { kvCache: true, maxLen: 128 });
    const cached = await backend.compile(cachedGraph);
    const plain = await backend.compile(buildDecoderGraph(model, { maxLen: 128 }));
    const r = await generateIds(cached, ex!.tokens, spec, { maxNewTokens: 8 });
    expect(r.tokens).toEqual(await generateByRecomputation(plain, ex!.tokens, 8));
    expect(r.tokens[0]).toBe(ex!.answer);
    const tf = await createTfjsBackend('cpu').compile(buildDecoderGraph(model, { kvCache: true, maxLen: 128 }));
    expect((await generateIds(tf, ex!.tokens, spec, { maxNewTokens: 8 })).tokens).toEqual(r.tokens);
    await cached.dispose(); await plain.dispose(); await tf.dispose();
  });
});

describe('repetition penalty', () => {
  // An executor whose last-position logits never change: [1, 3, 2.8, -1].
  const fixed = { run: async (feeds: Record<string, Tensor>) => ({ logits: new Tensor('float32', [1, feeds.tokens!.shape[1]!, 4], Float32Array.from({ length: feeds.tokens!.shape[1]! * 4 }, (_, i) => [1, 3, 2.8, -1][i % 4]!)) }), dispose: async () => {} } as unknown as Executor;
  const kv = { layers: 0, kvHeads: 1, headDim: 1 };
  it('off: greedy repeats the argmax', async () => {
    expect((await generateIds(fixed, [0], kv, { maxNewTokens: 3 })).tokens).toEqual([1, 1, 1]);
  });
  it('1.2: seen tokens are divided (positive) by 1.2 — by hand: 3/1.2 = 2.5 < 2.8, then 2.8/1.2 = 2.33 < 2.5', async () => {
    expect((await generateIds(fixed, [0], kv, { maxNewTokens: 3, repetitionPenalty: 1.2 })).tokens).toEqual([1, 2, 1]);
  });
  it('negative logits are multiplied: a seen −1 becomes −1.2, below an unseen −1.1', async () => {
    const neg = { run: async () => ({ logits: new Tensor('float32', [1, 1, 2], Float32Array.from([-1, -1.1])) }), dispose: async () => {} } as unknown as Executor;
    expect((await generateIds(neg, [0], kv, { maxNewTokens: 1, repetitionPenalty: 1.2 })).tokens).toEqual([1]);
    expect((await generateIds(neg, [0], kv, { maxNewTokens: 1 })).tokens).toEqual([0]);
  });
  it('rejects a non-positive penalty', async () => {
    await expect(generateIds(fixed, [0], kv, { maxNewTokens: 1, repetitionPenalty: 0 })).rejects.toThrow(/repetitionPenalty/);
  });
});

describe('sampling', () => {
  const logits = [0, 3, 1, 2.5, -1];
  it('greedy picks the argmax; top-k with k=1 equals greedy', () => {
    expect(sampleToken(logits, { kind: 'greedy' })).toBe(1);
    for (let i = 0; i < 20; i++) expect(sampleToken(logits, { kind: 'top-k', k: 1 }, () => rng(i).uniform())).toBe(1);
  });
  it('top-k draws only from the k best, with frequencies near the renormalized softmax', () => {
    const g = rng(3), r = (): number => g.uniform();
    const counts = new Map<number, number>();
    for (let i = 0; i < 4000; i++) { const t = sampleToken(logits, { kind: 'top-k', k: 2 }, r); counts.set(t, (counts.get(t) ?? 0) + 1); }
    expect([...counts.keys()].sort()).toEqual([1, 3]);
    const p1 = Math.exp(3) / (Math.exp(3) + Math.exp(2.5));
    expect(Math.abs(counts.get(1)! / 4000 - p1)).toBeLessThan(0.03);
  });
  it('top-p keeps the smallest nucleus reaching p', () => {
    const g = rng(5), r = (): number => g.uniform();
    const seen = new Set<number>();
    // softmax mass: token1 ≈ 0.53, token3 ≈ 0.32 → p = 0.8 needs {1, 3}.
    for (let i = 0; i < 500; i++) seen.add(sampleToken(logits, { kind: 'top-p', p: 0.8 }, r));
    expect([...seen].sort()).toEqual([1, 3]);
    expect(() => sampleToken(logits, { kind: 'top-p', p: 0 })).toThrow(/0 < p ≤ 1/);
  });
});
