import { describe, expect, it } from 'vitest';
import { isLeanformerError } from '@leanformer/core';
import { allowed, blockSparseLayout, patternDensity, patternMask, validatePattern, type AttentionPattern } from './pattern.js';
import { maxAbsDiff, rng } from '@leanformer/core';
import { attentionReference, sparseAttention } from './reference.js';

function randn(n: number, seed: number): Float32Array {
  return rng(seed).normalTensor([n]).data as Float32Array;
}

/** Independent dense masked attention: explicit mask array, float64, max-subtracted softmax. */
function maskedDense(q: Float32Array, k: Float32Array, v: Float32Array, H: number, G: number, D: number, S: number, T: number, mask: Uint8Array, off: number): Float64Array {
  const out = new Float64Array(H * S * D);
  for (let h = 0; h < H; h++) {
    const g = Math.floor(h / (H / G));
    for (let i = 0; i < S; i++) {
      const sc: number[] = [];
      for (let j = 0; j < T; j++) {
        let d = 0;
        for (let x = 0; x < D; x++) d += q[(h * S + i) * D + x]! * k[(g * T + j) * D + x]!;
        sc.push(mask[(h * S + i) * T + j] ? d / Math.sqrt(D) : -Infinity);
      }
      const m = Math.max(...sc);
      const e = sc.map((x) => (x === -Infinity ? 0 : Math.exp(x - m)));
      const z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < T; j++) for (let x = 0; x < D; x++) out[(h * S + i) * D + x] += (e[j]! / z) * v[(g * T + j) * D + x]!;
    }
  }
  return out;
}

const H = 4, G = 2, D = 8, T = 40;
const patterns: AttentionPattern[] = [
  { kind: 'dense' },
  { kind: 'window', window: 5 },
  { kind: 'sinks-window', sinks: 3, window: 6 },
  { kind: 'block-sparse', blockSize: 4, localBlocks: 2, verticalStride: 3 },
  { kind: 'block-sparse', blockSize: 4, localBlocks: 1, verticalStride: 2, strided: true },
  { kind: 'moa', spans: [{ alpha: 2, beta: 0 }, { alpha: 4, beta: 0.25 }, { alpha: 0, beta: 1 }, { alpha: 8, beta: 0.5 }] },
];

describe('attention patterns', () => {
  it('window mask rows are the last w keys, causal', () => {
    const m = patternMask({ kind: 'window', window: 2 }, { heads: 1, qLen: 3, kLen: 3 });
    expect([...m]).toEqual([1, 0, 0, 1, 1, 0, 0, 1, 1]);
  });

  it('sinks + window keeps the first sinks and the recent window', () => {
    const m = patternMask({ kind: 'sinks-window', sinks: 1, window: 2 }, { heads: 1, qLen: 1, kLen: 6, qOffset: 5 });
    expect([...m]).toEqual([1, 0, 0, 0, 1, 1]);
  });

  it('strided block-sparse differs per head (vertical columns shift)', () => {
    const p: AttentionPattern = { kind: 'block-sparse', blockSize: 2, localBlocks: 1, verticalStride: 2, strided: true };
    expect(allowed(p, 0, 9, 2)).toBe(true); // block 1: (1+1+0)%2==0
    expect(allowed(p, 1, 9, 2)).toBe(false);
    expect(allowed(p, 1, 9, 0)).toBe(true); // block 0: (0+1+1)%2==0
  });

  for (const p of patterns) {
    for (const [S, off] of [[T, 0], [7, T - 7], [1, T - 1]] as const) {
      it(`${p.kind}${'strided' in p && p.strided ? ' strided' : ''}: skipping kernel equals dense masked reference (qLen ${S}, offset ${off})`, () => {
        const q = randn(H * S * D, 1 + S), k = randn(G * T * D, 2), v = randn(G * T * D, 3);
        const mask = patternMask(p, { heads: H, qLen: S, kLen: T, qOffset: off });
        const want = maskedDense(q, k, v, H, G, D, S, T, mask, off);
        const inp = { q, k, v, numHeads: H, kvHeads: G, headDim: D, qLen: S, kLen: T, qOffset: off, pattern: p };
        expect(maxAbsDiff(attentionReference(inp).out, want)).toBeLessThan(1e-5);
        expect(maxAbsDiff(sparseAttention(inp), want)).toBeLessThan(1e-5);
      });
    }
  }

  it('topk keeps window + the top-k scored keys per query (checked against an explicit mask)', () => {
    const S = T;
    const q = randn(H * S * D, 11), k = randn(G * T * D, 12), v = randn(G * T * D, 13);
    const p: AttentionPattern = { kind: 'topk', window: 4, topK: 3 };
    // Build the mask independently: per (h, i), scores of earlier keys outside the window, take the 3 best.
    const mask = new Uint8Array(H * S * T);
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / 2);
      for (let i = 0; i < S; i++) {
        const cand: [number, number][] = [];
        for (let j = 0; j <= i; j++) {
          if (i - j < 4) { mask[(h * S + i) * T + j] = 1; continue; }
          let d = 0;
          for (let x = 0; x < D; x++) d += q[(h * S + i) * D + x]! * k[(g * T + j) * D + x]!;
          cand.push([d, j]);
        }
        cand.sort((a, b) => b[0] - a[0]).slice(0, 3).forEach(([, j]) => { mask[(h * S + i) * T + j] = 1; });
      }
    }
    const want = maskedDense(q, k, v, H, G, D, S, T, mask, 0);
    const got = attentionReference({ q, k, v, numHeads: H, kvHeads: G, headDim: D, qLen: S, kLen: T, pattern: p }).out;
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
  });

  it('density: dense 1, window w at length L = (wL - w(w-1)/2) / (L(L+1)/2)', () => {
    expect(patternDensity({ kind: 'dense' }, 100)).toBe(1);
    const w = 10, L = 100;
    expect(patternDensity({ kind: 'window', window: w }, L)).toBeCloseTo((w * L - (w * (w - 1)) / 2) / ((L * (L + 1)) / 2), 12);
  });

  it('ORT block layout is CSR of the allowed blocks', () => {
    const lay = blockSparseLayout({ kind: 'block-sparse', blockSize: 4, localBlocks: 1, verticalStride: 2 }, 2, 16);
    expect(lay.numLayouts).toBe(1);
    expect([...lay.rowIndices]).toEqual([0, 1, 2, 4, 6]);
    expect([...lay.colIndices]).toEqual([0, 1, 1, 2, 1, 3]);
  });

  it('rejects bad patterns with INVALID_ARGUMENT naming the field', () => {
    expect(() => validatePattern({ kind: 'window', window: 0 })).toThrow(/'window' must be an integer ≥ 1/);
    expect(() => validatePattern({ kind: 'moa', spans: [{ alpha: 1, beta: 0 }] }, 2)).toThrow(/1 spans for 2 heads/);
    let err: unknown;
    try { validatePattern({ kind: 'nope' } as never); } catch (e) { err = e; }
    expect(isLeanformerError(err, 'INVALID_ARGUMENT')).toBe(true);
  });
});
