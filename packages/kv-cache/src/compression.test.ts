import { describe, expect, it } from 'vitest';
import { rng } from '@leanformer/core';
import { buildRetrievalDecoder, makeRetrievalExamples, prefill, decodeStep } from '@leanformer/attention';
import { compressedProvider, h2oKeep, selectTokens, snapkvKeep, streamingKeep } from './eviction.js';
import { evaluateKVMethod } from './harness.js';
import { dequantizeKeysPerChannel, hadamardRotate, quantizeKeysPerChannel, quantizeKV, dequantizeKV, smoothKeys } from './quant.js';
import { buildShadowLayer, shadowProvider, symmetricEigen } from './shadowkv.js';

const gauss = (n: number, seed: number) => rng(seed).normalTensor([n]).data as Float32Array;
const dot = (a: Float32Array, b: Float32Array, i: number, j: number, D: number) => { let s = 0; for (let d = 0; d < D; d++) s += a[i * D + d]! * b[j * D + d]!; return s; };

describe('score-preserving transforms', () => {
  it('Hadamard rotation keeps every q·k and is its own inverse', () => {
    const D = 16, q = gauss(3 * D, 1), k = gauss(5 * D, 2);
    const qr = hadamardRotate(q.slice(), D), kr = hadamardRotate(k.slice(), D);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 5; j++) expect(dot(qr, kr, i, j, D)).toBeCloseTo(dot(q, k, i, j, D), 4);
    const back = hadamardRotate(qr.slice(), D);
    for (let i = 0; i < q.length; i++) expect(back[i]).toBeCloseTo(q[i]!, 5);
    expect(() => hadamardRotate(new Float32Array(12), 12)).toThrow(/power of two/);
  });

  it('SmoothAttention: (q·λ)·(k/λ) = q·k', () => {
    const D = 8, N = 6, k = gauss(N * D, 3), q = gauss(D, 4);
    const { smoothed, lambda } = smoothKeys(k, 1, N, D);
    const qs = q.map((x, i) => x * lambda[i]!);
    for (let j = 0; j < N; j++) expect(dot(qs, smoothed, 0, j, D)).toBeCloseTo(dot(q, k, 0, j, D), 4);
  });

  it('per-channel key quantization round-trips within half a step per (channel, token group)', () => {
    const H = 2, N = 128, D = 8, k = gauss(H * N * D, 5);
    const back = dequantizeKeysPerChannel(quantizeKeysPerChannel(k, H, N, D, 64), H, N, D);
    let m = 0;
    for (let i = 0; i < k.length; i++) m = Math.max(m, Math.abs(back[i]! - k[i]!));
    expect(m).toBeLessThan(0.5);
    expect(() => quantizeKeysPerChannel(k, H, 100, D, 64)).toThrow(/multiple of tokenGroup/);
  });

  it('clip search never has a larger squared error than the full range', () => {
    const x = gauss(64 * 32, 6);
    const err = (c?: number[]) => { const y = dequantizeKV(quantizeKV(x, 32, 64, { bits: 4, ...(c ? { clipSearch: c } : {}) })); let s = 0; for (let i = 0; i < x.length; i++) s += (y[i]! - x[i]!) ** 2; return s; };
    expect(err([1, 0.9, 0.8, 0.7])).toBeLessThanOrEqual(err() + 1e-9);
  });
});

describe('eviction policies', () => {
  it('StreamingLLM keeps sinks and the recent window', () => {
    expect(streamingKeep(10, 5, 2)).toEqual([0, 1, 7, 8, 9]);
    expect(streamingKeep(4, 8)).toEqual([0, 1, 2, 3]);
  });

  it('H2O keeps the recent window and the most-attended earlier tokens', () => {
    const N = 6;
    const probs = new Float32Array(N * N);
    for (let i = 0; i < N; i++) { probs[i * N + Math.min(i, 2)] = 0.9; probs[i * N + i] += 0.1; } // everyone attends token 2
    expect(h2oKeep(probs, 1, 1, N, 3, 2)).toEqual([[2, 4, 5]]);
  });

  it('SnapKV: the observation window votes for the needle', () => {
    const D = 4, N = 20;
    const keys = new Float32Array(N * D), queries = new Float32Array(N * D);
    keys[5 * D] = 10; // token 5 matches the window's queries
    for (let i = 16; i < N; i++) queries[i * D] = 10;
    const keep = snapkvKeep(queries, keys, { numHeads: 1, kvHeads: 1, headDim: D, len: N, budget: 6, window: 4, kernel: 1 })[0]!;
    expect(keep).toContain(5);
    expect(keep.slice(-4)).toEqual([16, 17, 18, 19]);
    expect(keep.length).toBe(6);
  });

  it('a compressed cache that kept every token decodes exactly like the full cache', () => {
    const model = buildRetrievalDecoder({ maxLen: 128 });
    const [ex] = makeRetrievalExamples({ length: 40, count: 1, seed: 2 });
    const N = 39;
    const pre = prefill(model, ex!.tokens.subarray(0, N));
    const layers = pre.kv.map((kv, l) => selectTokens(kv, model.layers[l]!.kvHeads, 64, [...Array(N).keys()]));
    const got = decodeStep(model, ex!.tokens[N]!, N, compressedProvider(layers));
    const want = prefill(model, ex!.tokens).logits;
    let m = 0;
    for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(want[i]! - got[i]!));
    expect(m).toBeLessThan(1e-4);
  });
});

describe('ShadowKV', () => {
  it('symmetricEigen reconstructs the matrix (A = V Λ Vᵀ)', () => {
    const n = 6, x = gauss(n * n, 7);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = x[i * n + j]! + x[j * n + i]!;
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vectors[i * n + k]! * values[k]! * vectors[j * n + k]!;
      expect(s).toBeCloseTo(a[i * n + j]!, 8);
    }
    for (let k = 1; k < n; k++) expect(values[k - 1]!).toBeGreaterThanOrEqual(values[k]!);
  });

  it('full rank and every chunk selected equals exact attention (RoPE re-applied on rebuilt keys)', () => {
    const model = buildRetrievalDecoder({ maxLen: 128 });
    const [ex] = makeRetrievalExamples({ length: 64, count: 1, seed: 4 });
    const N = 63;
    const pre = prefill(model, ex!.tokens.subarray(0, N));
    const layers = pre.kv.map((kv, l) => buildShadowLayer(kv, 2, 64, { rank: 128, topChunks: 8, chunkSize: 8, local: 4, sinks: 0, outlierFraction: 0 }, model.layers[l]!.ropeInvFreq));
    const got = decodeStep(model, ex!.tokens[N]!, N, shadowProvider(layers, [2, 2]));
    const want = prefill(model, ex!.tokens).logits;
    let m = 0;
    for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(want[i]! - got[i]!));
    expect(m).toBeLessThan(1e-3);
  });
});

describe('retrieval harness', () => {
  it('full cache answers everything; a recent-only window cannot reach far needles', () => {
    const model = buildRetrievalDecoder({ maxLen: 160 });
    const ex = makeRetrievalExamples({ length: 128, count: 6, seed: 12 }).filter((e) => e.needlePos < 64);
    expect(evaluateKVMethod(model, ex, { kind: 'full' }).accuracy).toBe(1);
    const s = evaluateKVMethod(model, ex, { kind: 'streaming', budget: 16, sinks: 4 });
    expect(s.accuracy).toBeLessThan(0.5);
    expect(s.bytesRatio).toBeCloseTo(16 / 128, 6);
  });
});
