import { describe, expect, it } from 'vitest';
import { applyRope, ropeInvFreq } from './rope.js';
import { buildRetrievalDecoder, decodeStep, makeRetrievalExamples, prefill, retrievalAccuracy, argmaxAnswer } from './retrieval.js';

describe('RoPE', () => {
  it('rotate-half equals complex multiplication by e^{i·p·θ} (float64 reference)', () => {
    const D = 8, inv = ropeInvFreq(D, 100);
    const x = Float32Array.from({ length: 2 * D }, (_, i) => Math.sin(i + 1));
    const y = applyRope(x.slice(), 1, 2, D, inv, [3, 17]);
    for (let t = 0; t < 2; t++) {
      const p = [3, 17][t]!;
      for (let i = 0; i < D / 2; i++) {
        const re = x[t * D + i]!, im = x[t * D + i + D / 2]!;
        const a = p * inv[i]!;
        expect(y[t * D + i]).toBeCloseTo(re * Math.cos(a) - im * Math.sin(a), 5);
        expect(y[t * D + i + D / 2]).toBeCloseTo(re * Math.sin(a) + im * Math.cos(a), 5);
      }
    }
  });
});

describe('retrieval harness', () => {
  const model = buildRetrievalDecoder({ maxLen: 512 });

  it('the constructed decoder retrieves every needle with dense attention', () => {
    const ex = makeRetrievalExamples({ length: 160, count: 8, seed: 7 });
    expect(retrievalAccuracy(model, ex)).toBe(1);
  });

  it('a window that cannot reach the needle fails; one that can succeeds', () => {
    const ex = makeRetrievalExamples({ length: 160, count: 8, seed: 9 });
    const far = ex.filter((e) => e.tokens.length - 1 - e.needlePos > 40);
    expect(far.length).toBeGreaterThan(2);
    // Layer 0 (previous-token heads) only needs 2 keys; layer 1 needs to reach the needle.
    expect(retrievalAccuracy(model, far, [{ kind: 'window', window: 2 }, { kind: 'dense' }])).toBe(1);
    expect(retrievalAccuracy(model, far, [{ kind: 'dense' }, { kind: 'window', window: 16 }])).toBeLessThan(0.5);
  });

  it('decode with a growing KV cache gives the same logits as full recomputation', () => {
    const [ex] = makeRetrievalExamples({ length: 64, count: 1, seed: 5 });
    const toks = ex!.tokens;
    const split = 40;
    const pre = prefill(model, toks.subarray(0, split));
    const caches = pre.kv.map((kv, l) => {
      const L = model.layers[l]!;
      return { k: Array.from({ length: L.kvHeads }, (_, g) => Array.from(kv.k.subarray(g * split * L.headDim, (g + 1) * split * L.headDim))), v: Array.from({ length: L.kvHeads }, (_, g) => Array.from(kv.v.subarray(g * split * L.headDim, (g + 1) * split * L.headDim))) };
    });
    let logits = pre.logits;
    for (let p = split; p < toks.length; p++) {
      logits = decodeStep(model, toks[p]!, p, (s) => {
        const L = model.layers[s.layer]!, c = caches[s.layer]!;
        for (let g = 0; g < L.kvHeads; g++) { c.k[g]!.push(...s.k.subarray(g * L.headDim, (g + 1) * L.headDim)); c.v[g]!.push(...s.v.subarray(g * L.headDim, (g + 1) * L.headDim)); }
        return { k: Float32Array.from(c.k.flat()), v: Float32Array.from(c.v.flat()), kLen: p + 1 };
      });
    }
    const full = prefill(model, toks).logits;
    let m = 0;
    for (let i = 0; i < full.length; i++) m = Math.max(m, Math.abs(full[i]! - logits[i]!));
    expect(m).toBeLessThan(1e-4);
    expect(argmaxAnswer(model, logits)).toBe(ex!.answer);
  });
});
