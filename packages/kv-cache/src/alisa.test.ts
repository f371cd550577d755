import { describe, expect, it } from 'vitest';
import { rng } from '@leanformer/core';
import { applyRope, buildRetrievalDecoder, forwardChunk, makeRetrievalExamples, prefill, projectKV, ropeInvFreq, type TinyDecoder } from '@leanformer/attention';
import { AlisaSequence } from './alisa.js';
import { evaluateKVMethods } from './harness.js';
import { kvBytesPerToken } from './quant.js';

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!)); return m; };

/** K (post-RoPE) and V of one token from its layer input, in float64 (the test's own projection). */
function project(model: TinyDecoder, layer: number, x: ArrayLike<number>, pos: number): { k: Float64Array; v: Float64Array } {
  const L = model.layers[layer]!, C = L.kvHeads * L.headDim;
  const k = new Float64Array(C), v = new Float64Array(C);
  for (let i = 0; i < model.dModel; i++) for (let c = 0; c < C; c++) { k[c] += x[i]! * L.wk[i * C + c]!; v[c] += x[i]! * L.wv[i * C + c]!; }
  if (L.ropeInvFreq) { const kr = Float32Array.from(k); applyRope(kr, L.kvHeads, 1, L.headDim, L.ropeInvFreq, [pos]); k.set(kr); }
  return { k, v };
}

/** The retrieval decoder's shapes with random weights and RoPE in both layers: diffuse attention, so any wrong K/V shows. */
function randomDecoder(): TinyDecoder {
  const base = buildRetrievalDecoder({ maxLen: 128 });
  const r = rng(99);
  const g = (n: number, s: number) => r.normalTensor([n], s).data as Float32Array;
  const inv = ropeInvFreq(64);
  return {
    ...base,
    layers: base.layers.map((L) => ({ ...L, wq: g(L.wq.length, 0.3), wk: g(L.wk.length, 0.3), wv: g(L.wv.length, 0.3), wo: g(L.wo.length, 0.05), ropeInvFreq: inv })),
  };
}

describe('ALISA', () => {
  it('recompute basis: projectKV of the layer input a provider is handed gives the forward\'s K/V bit for bit', () => {
    const model = randomDecoder();
    const [ex] = makeRetrievalExamples({ length: 48, count: 1, seed: 2 });
    const seen: { x: Float32Array; k: Float32Array; v: Float32Array; position: number; n: number }[] = [];
    forwardChunk(model, ex!.tokens.subarray(20, 23), 20, (s) => {
      seen.push({ x: s.x.slice(), k: s.k, v: s.v, position: s.position, n: s.n });
      return { k: s.k, v: s.v, kLen: s.n, keyPositions: [20, 21, 22] };
    });
    expect(seen).toHaveLength(model.layers.length);
    seen.forEach(({ x, k, v, position, n }, l) => {
      const r = projectKV(model, l, x, Array.from({ length: n }, (_, i) => position + i));
      expect(r.k).toEqual(k);
      expect(r.v).toEqual(v);
    });
  });

  it('with the selection covering the context, decoding over a tiny cache + recompute equals dense attention', () => {
    const model = randomDecoder();
    const [ex] = makeRetrievalExamples({ length: 48, count: 1, seed: 3 });
    const N = 40;
    const seq = new AlisaSequence(model, { window: 4, topK: 1000, cacheTokens: 6 });
    seq.prefill(ex!.tokens.subarray(0, N));
    for (let p = N; p < 48; p++) {
      const got = seq.step([ex!.tokens[p]!], p);
      const want = prefill(model, ex!.tokens.subarray(0, p + 1)).logits;
      expect(maxDiff(got, want)).toBeLessThan(1e-4);
      for (const st of seq.stepStats.at(-1)!) {
        expect(st.selected).toBe(p + 1);
        expect(st.cached).toBe(6);
        expect(st.recomputed).toBeGreaterThan(0);
      }
    }
  });

  it('attention over cached + recomputed KV equals float64 attention over the exact KV of the selected set', () => {
    const model = randomDecoder();
    const [ex] = makeRetrievalExamples({ length: 72, count: 1, seed: 5 });
    const N = 64, steps = 4;
    const exact = prefill(model, ex!.tokens.subarray(0, N)).kv; // independent: the attention package's prefill
    const seq = new AlisaSequence(model, { window: 4, topK: 12, cacheTokens: 5 });
    seq.prefill(ex!.tokens.subarray(0, N));
    const decodedX = model.layers.map(() => new Map<number, Float32Array>());
    let recomputed = 0;
    for (let p = N; p < N + steps; p++) {
      seq.step([ex!.tokens[p]!], p);
      seq.layers.forEach((layer, l) => {
        const { selected, q, x, k, v, out, stats } = layer.last!;
        decodedX[l]!.set(p, x);
        recomputed += stats.recomputed;
        expect(stats.selected).toBe(16);
        expect(stats.cached).toBeLessThanOrEqual(5);
        const L = model.layers[l]!, { kvHeads: G, headDim: D, numHeads: H } = L;
        const S = selected.length;
        const kvAt = (pos: number) => pos < N
          ? { k: Float64Array.from({ length: G * D }, (_, c) => exact[l]!.k[(Math.floor(c / D) * N + pos) * D + (c % D)]!), v: Float64Array.from({ length: G * D }, (_, c) => exact[l]!.v[(Math.floor(c / D) * N + pos) * D + (c % D)]!) }
          : project(model, l, decodedX[l]!.get(pos)!, pos);
        const kv = [...selected].map(kvAt);
        // The attended K/V (cached, new or recomputed) are the exact ones…
        kv.forEach((ref, j) => {
          for (let g = 0; g < G; g++) for (let d = 0; d < D; d++) {
            expect(Math.abs(k[(g * S + j) * D + d]! - ref.k[g * D + d]!)).toBeLessThan(1e-5);
            expect(Math.abs(v[(g * S + j) * D + d]! - ref.v[g * D + d]!)).toBeLessThan(1e-5);
          }
        });
        // …and so is the attention over them.
        for (let h = 0; h < H; h++) {
          const g = Math.floor(h / (H / G));
          const s = kv.map(({ k: kk }) => { let d = 0; for (let i = 0; i < D; i++) d += q[h * D + i]! * kk[g * D + i]!; return d / Math.sqrt(D); });
          const m = Math.max(...s), e = s.map((z) => Math.exp(z - m)), Z = e.reduce((a, b) => a + b, 0);
          for (let i = 0; i < D; i++) {
            const want = kv.reduce((acc, { v: vv }, j) => acc + (e[j]! / Z) * vv[g * D + i]!, 0);
            expect(Math.abs(out[h * D + i]! - want)).toBeLessThan(1e-5);
          }
        }
      });
    }
    expect(recomputed).toBeGreaterThan(0);
  });

  it('a smaller cache changes the compute, not the output: same logits, more recompute', () => {
    const model = randomDecoder();
    const [ex] = makeRetrievalExamples({ length: 112, count: 1, seed: 8 });
    const N = 104;
    const big = new AlisaSequence(model, { window: 8, topK: 24, cacheTokens: 32 });
    big.prefill(ex!.tokens.subarray(0, N));
    const small = big.fork({ window: 8, topK: 24, cacheTokens: 4 });
    for (let p = N; p < 112; p++) expect(maxDiff(big.step([ex!.tokens[p]!], p), small.step([ex!.tokens[p]!], p))).toBeLessThan(1e-6);
    const rec = (s: AlisaSequence) => s.stepStats.flat().reduce((a, x) => a + x.recomputed, 0);
    expect(rec(big)).toBeLessThan(rec(small));
    expect(small.bytes().cached).toBe(4 * 2 * 2 * kvBytesPerToken(64, 'float16')); // 4 tokens × 2 layers × 2 kv heads
    expect(() => big.fork({ window: 8, topK: 24, cacheTokens: 4, observe: 3 })).toThrow(/observe/);
  });

  it('a byte budget holds about twice as many int8 tokens as fp16 ones, within the budget', () => {
    const model = buildRetrievalDecoder({ maxLen: 160 });
    const [ex] = makeRetrievalExamples({ length: 128, count: 1, seed: 9 });
    const bytes = 16 * 2 * kvBytesPerToken(64, 'float16'); // 16 fp16 tokens of 2 kv heads
    const fp16 = new AlisaSequence(model, { window: 8, topK: 40, cacheBytes: bytes });
    const int8 = new AlisaSequence(model, { window: 8, topK: 40, cacheBytes: bytes, kv: 'int8' });
    for (const s of [fp16, int8]) { s.prefill(ex!.tokens.subarray(0, 120)); for (let p = 120; p < 124; p++) s.step([ex!.tokens[p]!], p); }
    expect(fp16.layers[0]!.capacity).toBe(16);
    expect(int8.layers[0]!.capacity).toBe(Math.floor(bytes / (2 * kvBytesPerToken(64, { bits: 8 }))));
    expect(int8.layers[0]!.capacity).toBeGreaterThan(28);
    for (const st of int8.stepStats.flat()) expect(st.cachedBytes).toBeLessThanOrEqual(bytes);
    const rec = (s: AlisaSequence) => s.stepStats.flat().reduce((a, x) => a + x.recomputed, 0);
    expect(rec(int8)).toBeLessThan(rec(fp16));
  });

  it('retrieval: the recent queries vote for the needle, so a cache of 1/16 of the context answers the prompt\'s question', () => {
    const model = buildRetrievalDecoder({ maxLen: 272 });
    const ex = makeRetrievalExamples({ length: 256, count: 4, seed: 21 });
    const [alisa, streaming] = evaluateKVMethods(model, ex, [
      { kind: 'alisa', window: 8, topK: 24, cacheTokens: 16 },
      { kind: 'streaming', budget: 16, sinks: 4 },
    ], { questions: 1 });
    expect(alisa!.accuracy).toBe(1);
    expect(alisa!.bytesRatio).toBeCloseTo(16 / 257, 3);
    // 32 selected per layer, 16 cached, the new token computed: at least 15 recomputed, at most the 24 outside the window.
    expect(alisa!.extra.recomputeFraction).toBeGreaterThanOrEqual(15 / 32);
    expect(alisa!.extra.recomputeFraction).toBeLessThanOrEqual(24 / 32);
    expect(streaming!.accuracy).toBeLessThan(1);
  });

  it('rejects a config without exactly one budget', () => {
    const model = buildRetrievalDecoder({ maxLen: 64 });
    expect(() => new AlisaSequence(model, { window: 4, topK: 4 })).toThrow(/exactly one/);
    expect(() => new AlisaSequence(model, { window: 0, topK: 4, cacheTokens: 2 })).toThrow(/window/);
  });
});
