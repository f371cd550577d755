import { describe, expect, it } from 'vitest';
import { GraphBuilder, Tensor, decomposeAttention, type Graph } from '@leanformer/core';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';
import { attentionOp } from './builder.js';
import type { AttentionPattern } from './pattern.js';
import { maxAbsDiff, rng } from '@leanformer/core';
import { attentionReference } from './reference.js';

const backend = createTfjsBackend('cpu');

function randn(n: number, seed: number): Float32Array {
  return rng(seed).normalTensor([n]).data as Float32Array;
}

/** [S, heads·D] (one batch) → [heads, S, D] */
function toHeads(x: Float32Array, S: number, heads: number, D: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let t = 0; t < S; t++) for (let h = 0; h < heads; h++) for (let d = 0; d < D; d++) y[(h * S + t) * D + d] = x[(t * heads + h) * D + d]!;
  return y;
}

function graphFor(H: number, G: number, D: number, pattern: AttentionPattern, past: boolean, seq: number | string = 'seq'): Graph {
  const b = new GraphBuilder('att');
  const q = b.input('q', 'float32', [1, seq, H * D]);
  const k = b.input('k', 'float32', [1, seq, G * D]);
  const v = b.input('v', 'float32', [1, seq, G * D]);
  const pk = past ? b.input('pk', 'float32', [1, G, 'past', D]) : undefined;
  const pv = past ? b.input('pv', 'float32', [1, G, 'past', D]) : undefined;
  const r = attentionOp(b, q, k, v, { numHeads: H, kvHeads: G, pattern, ...(pk && pv ? { pastKey: pk, pastValue: pv } : {}) });
  b.output(r.output, 'y');
  return b.build();
}

const H = 4, G = 2, D = 8;
const cases: AttentionPattern[] = [
  { kind: 'dense' },
  { kind: 'window', window: 5 },
  { kind: 'sinks-window', sinks: 2, window: 6 },
  { kind: 'block-sparse', blockSize: 4, localBlocks: 2, verticalStride: 3, strided: true },
  { kind: 'moa', spans: [{ alpha: 2, beta: 0 }, { alpha: 3, beta: 0.25 }, { alpha: 0, beta: 1 }, { alpha: 6, beta: 0.5 }] },
  { kind: 'topk', window: 3, topK: 4 },
];

describe('leanformer.Attention decompositions (run on tfjs-cpu) equal the dense masked reference', () => {
  for (const pattern of cases) {
    for (const form of ['masked', 'blocked'] as const) {
      const blockable = pattern.kind === 'window' || pattern.kind === 'sinks-window' || pattern.kind === 'moa';
      if (form === 'blocked' && !blockable) continue;
      it(`${pattern.kind} / ${form}`, async () => {
        const S = 37;
        const g = graphFor(H, G, D, pattern, false, pattern.kind === 'moa' && form === 'blocked' ? S : 'seq');
        const node = g.nodes.find((n) => n.op === 'Attention')!;
        decomposeAttention(node, { form, chunkSize: 4 });
        expect(g.nodes.some((n) => n.domain === 'leanformer')).toBe(false);
        const q = randn(S * H * D, 1), k = randn(S * G * D, 2), v = randn(S * G * D, 3);
        const exe = await backend.compile(g);
        const { y } = await exe.run({ q: new Tensor('float32', [1, S, H * D], q), k: new Tensor('float32', [1, S, G * D], k), v: new Tensor('float32', [1, S, G * D], v) });
        await exe.dispose();
        const ref = attentionReference({ q: toHeads(q, S, H, D), k: toHeads(k, S, G, D), v: toHeads(v, S, G, D), numHeads: H, kvHeads: G, headDim: D, qLen: S, kLen: S, pattern }).out;
        expect(maxAbsDiff(toHeads(y!.toFloat32(), S, H, D), ref)).toBeLessThan(2e-5);
      });
    }
  }

  it('masked form with past K/V: queries at positions P… over past + new keys (window)', async () => {
    const pattern: AttentionPattern = { kind: 'window', window: 6 };
    const g = graphFor(H, G, D, pattern, true);
    decomposeAttention(g.nodes.find((n) => n.op === 'Attention')!, { form: 'masked' });
    const P = 9, S = 3, T = P + S;
    const q = randn(S * H * D, 4), kAll = randn(T * G * D, 5), vAll = randn(T * G * D, 6);
    const kH = toHeads(kAll, T, G, D), vH = toHeads(vAll, T, G, D);
    const pk = new Float32Array(G * P * D), pv = new Float32Array(G * P * D);
    for (let gg = 0; gg < G; gg++) { pk.set(kH.subarray(gg * T * D, gg * T * D + P * D), gg * P * D); pv.set(vH.subarray(gg * T * D, gg * T * D + P * D), gg * P * D); }
    const exe = await backend.compile(g);
    const { y } = await exe.run({
      q: new Tensor('float32', [1, S, H * D], q), k: new Tensor('float32', [1, S, G * D], kAll.slice(P * G * D)), v: new Tensor('float32', [1, S, G * D], vAll.slice(P * G * D)),
      pk: new Tensor('float32', [1, G, P, D], pk), pv: new Tensor('float32', [1, G, P, D], pv),
    });
    await exe.dispose();
    const ref = attentionReference({ q: toHeads(q, S, H, D), k: kH, v: vH, numHeads: H, kvHeads: G, headDim: D, qLen: S, kLen: T, qOffset: P, pattern }).out;
    expect(maxAbsDiff(toHeads(y!.toFloat32(), S, H, D), ref)).toBeLessThan(2e-5);
  });

  it('the blocked form refuses past K/V and non-window patterns', () => {
    const g = graphFor(H, G, D, { kind: 'dense' }, false);
    expect(() => decomposeAttention(g.nodes.find((n) => n.op === 'Attention')!, { form: 'blocked' })).toThrow(/blocked form needs pattern window/);
  });
});
