// attentionBlock (GQA / MQA, RoPE, QK-norm, a pattern) run on ORT CPU and tfjs-cpu equals the same
// computation done step by step in TypeScript (projections, per-head RMS norm, RoPE, reference attention).
import { describe, expect, it } from 'vitest';
import { GraphBuilder, Tensor } from '@leanformer/core';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';
import { attentionBlock } from './builder.js';
import type { AttentionPattern } from './pattern.js';
import { maxAbsDiff } from '@leanformer/core';
import { attentionReference } from './reference.js';
import { applyRope } from './rope.js';

const S = 24, hidden = 32;
const w = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.77 + s) * 0.3);
const x = w(S * hidden, 9);

function expected(H: number, G: number, D: number, wts: Record<'wq' | 'wk' | 'wv' | 'wo', Float32Array>, pattern: AttentionPattern): Float32Array {
  const mm = (a: Float32Array, rows: number, inD: number, b: Float32Array, outD: number) => { const y = new Float32Array(rows * outD); for (let r = 0; r < rows; r++) for (let i = 0; i < inD; i++) for (let o = 0; o < outD; o++) y[r * outD + o] += a[r * inD + i]! * b[i * outD + o]!; return y; };
  const heads = (a: Float32Array, n: number) => { const y = new Float32Array(a.length); for (let t = 0; t < S; t++) for (let h = 0; h < n; h++) for (let d = 0; d < D; d++) y[(h * S + t) * D + d] = a[(t * n + h) * D + d]!; return y; };
  const rms = (a: Float32Array) => { for (let r = 0; r < a.length / D; r++) { let s = 0; for (let d = 0; d < D; d++) s += a[r * D + d]! ** 2; const f = 1 / Math.sqrt(s / D + 1e-6); for (let d = 0; d < D; d++) a[r * D + d]! *= f; } return a; };
  const inv = Array.from({ length: D / 2 }, (_, i) => 10000 ** (-(2 * i) / D));
  const q = applyRope(rms(heads(mm(x, S, hidden, wts.wq, H * D), H)), H, S, D, inv);
  const k = applyRope(rms(heads(mm(x, S, hidden, wts.wk, G * D), G)), G, S, D, inv);
  const v = heads(mm(x, S, hidden, wts.wv, G * D), G);
  const o = attentionReference({ q, k, v, numHeads: H, kvHeads: G, headDim: D, qLen: S, kLen: S, pattern }).out;
  const flat = new Float32Array(S * H * D);
  for (let h = 0; h < H; h++) for (let t = 0; t < S; t++) for (let d = 0; d < D; d++) flat[(t * H + h) * D + d] = o[(h * S + t) * D + d]!;
  return mm(flat, S, H * D, wts.wo, hidden);
}

describe('attentionBlock', () => {
  for (const [H, G, pattern] of [[4, 2, { kind: 'window', window: 5 }], [4, 1, { kind: 'sinks-window', sinks: 2, window: 4 }], [2, 2, { kind: 'dense' }]] as [number, number, AttentionPattern][]) {
    it(`${G === 1 ? 'MQA' : G < H ? 'GQA' : 'MHA'} ${H}/${G} heads, RoPE, QK-norm, ${pattern.kind}: ORT CPU and tfjs-cpu equal the step-by-step reference`, async () => {
      const D = hidden / H;
      const wts = { wq: w(hidden * H * D, 1), wk: w(hidden * G * D, 2), wv: w(hidden * G * D, 3), wo: w(H * D * hidden, 4) };
      const want = expected(H, G, D, wts, pattern);
      for (const backend of [createOrtBackend({ eps: ['cpu'] }), createTfjsBackend('cpu')]) {
        const b = new GraphBuilder('block');
        const xin = b.input('x', 'float32', [1, 'seq', hidden]);
        const { output } = attentionBlock(b, xin, { prefix: 'attn', hidden, numHeads: H, kvHeads: G, rope: true, qkNorm: true, pattern, weights: wts, maxLen: 64 });
        b.output(output, 'y');
        const exe = await backend.compile(b.build());
        const { y } = await exe.run({ x: new Tensor('float32', [1, S, hidden], x) });
        await exe.dispose();
        expect(maxAbsDiff(y!.toFloat32(), want)).toBeLessThan(1e-4);
      }
    });
  }

  it('rejects a head count that is not a multiple of kvHeads', () => {
    const b = new GraphBuilder('bad');
    const xin = b.input('x', 'float32', [1, 'seq', hidden]);
    expect(() => attentionBlock(b, xin, { prefix: 'a', hidden, numHeads: 4, kvHeads: 3 })).toThrow(/multiple of kvHeads/);
  });
});
