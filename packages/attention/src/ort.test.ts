// Lowered forms on onnxruntime-node CPU (through OrtBackend + @leanformer/onnx's lowering) equal the
// dense masked reference; the core decompose pass handles leanformer.Attention.
import { describe, expect, it } from 'vitest';
import { Tensor, decompose } from '@leanformer/core';
import { lowerAttention, type AttentionForm } from '@leanformer/onnx';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { attentionLayerGraph } from './builder.js';
import type { AttentionPattern } from './pattern.js';
import { maxAbsDiff } from '@leanformer/core';
import { attentionReference } from './reference.js';

const S = 45, H = 4, D = 8;
const r = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.37 + s * 2.9) * 1.5);
const q = r(S * H * D, 1), k = r(S * H * D, 2), v = r(S * H * D, 3);
const toHeads = (x: Float32Array) => { const y = new Float32Array(x.length); for (let t = 0; t < S; t++) for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) y[(h * S + t) * D + d] = x[(t * H + h) * D + d]!; return y; };
const feeds = { q: new Tensor('float32', [1, S, H * D], q), k: new Tensor('float32', [1, S, H * D], k), v: new Tensor('float32', [1, S, H * D], v) };
const backend = createOrtBackend({ eps: ['cpu'] });

async function runForm(pattern: AttentionPattern, form: AttentionForm | 'table' | 'decompose'): Promise<Float32Array> {
  const g = attentionLayerGraph({ seq: S, heads: H, headDim: D, pattern });
  const node = g.nodes.find((n) => n.op === 'Attention')!;
  if (form === 'decompose') decompose().run(g, {});
  else if (form !== 'table') lowerAttention(node, { runtime: 'ort', ep: 'cpu' }, { form, chunkSize: 8 });
  const exe = await backend.compile(g);
  try { return toHeads((await exe.run(feeds)).y!.toFloat32()); } finally { await exe.dispose(); }
}

const cases: [AttentionPattern, (AttentionForm | 'table' | 'decompose')[]][] = [
  [{ kind: 'dense' }, ['gqa', 'mha', 'masked', 'table', 'decompose']],
  [{ kind: 'window', window: 7 }, ['gqa', 'chunked_gqa', 'scan_window', 'blocked_mha', 'blocked', 'masked', 'table', 'decompose']],
  [{ kind: 'sinks-window', sinks: 3, window: 5 }, ['blocked', 'masked', 'table']],
  [{ kind: 'block-sparse', blockSize: 4, localBlocks: 2, verticalStride: 3, strided: true }, ['masked', 'table']],
  [{ kind: 'moa', spans: [{ alpha: 2, beta: 0 }, { alpha: 3, beta: 0.25 }, { alpha: 0, beta: 1 }, { alpha: 5, beta: 0.5 }] }, ['blocked', 'masked']],
  [{ kind: 'topk', window: 3, topK: 4 }, ['masked', 'table']],
];

describe('leanformer.Attention on ORT CPU equals the dense masked reference', () => {
  for (const [pattern, forms] of cases) {
    const ref = attentionReference({ q: toHeads(q), k: toHeads(k), v: toHeads(v), numHeads: H, kvHeads: H, headDim: D, qLen: S, kLen: S, pattern }).out;
    for (const form of forms) {
      it(`${pattern.kind} via ${form}`, async () => {
        expect(maxAbsDiff(await runForm(pattern, form), ref)).toBeLessThan(1e-5);
      });
    }
  }

  it('a form that does not apply fails with LOWERING_FAILED naming the reason', () => {
    const g = attentionLayerGraph({ seq: S, heads: H, headDim: D, pattern: { kind: 'topk', window: 3, topK: 2 } });
    expect(() => lowerAttention(g.nodes.find((n) => n.op === 'Attention')!, { runtime: 'ort', ep: 'cpu' }, { form: 'gqa' })).toThrow(/GroupQueryAttention has no 'topk' pattern/);
  });
});
