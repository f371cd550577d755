// The ORT-CPU window forms (chunked GroupQueryAttention, Scan over chunks) and the forms table, run on
// onnxruntime-node CPU through OrtBackend, equal the dense masked reference: sequence lengths that are
// not a multiple of the chunk or shorter than the window, chunk larger than the window, GQA and MQA
// head ratios, batch 2.
import { describe, expect, it } from 'vitest';
import { GraphBuilder, Tensor } from '@leanformer/core';
import { lowerAttention, type AttentionForm } from '@leanformer/onnx';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { attentionOp } from './builder.js';
import { maxAbsDiff } from '@leanformer/core';
import { attentionReference } from './reference.js';

const backend = createOrtBackend({ eps: ['cpu'] });
const wave = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.37 + s * 2.9) * 1.5);

/** [B, S, heads·D] → per batch row, heads-major [heads, S, D]. */
function toHeads(x: Float32Array, B: number, S: number, heads: number, D: number): Float32Array[] {
  return Array.from({ length: B }, (_, bi) => {
    const y = new Float32Array(heads * S * D);
    for (let t = 0; t < S; t++) for (let h = 0; h < heads; h++) for (let d = 0; d < D; d++) y[(h * S + t) * D + d] = x[((bi * S + t) * heads + h) * D + d]!;
    return y;
  });
}

async function check(o: { B?: number; S: number; H: number; G: number; D: number; window: number; chunk?: number; form: AttentionForm | 'table' }): Promise<number> {
  const B = o.B ?? 1;
  const q = wave(B * o.S * o.H * o.D, 1), k = wave(B * o.S * o.G * o.D, 2), v = wave(B * o.S * o.G * o.D, 3);
  const b = new GraphBuilder('window_layer');
  const qi = b.input('q', 'float32', [B, o.S, o.H * o.D]);
  const ki = b.input('k', 'float32', [B, o.S, o.G * o.D]);
  const vi = b.input('v', 'float32', [B, o.S, o.G * o.D]);
  b.output(attentionOp(b, qi, ki, vi, { numHeads: o.H, kvHeads: o.G, pattern: { kind: 'window', window: o.window } }).output, 'y');
  const g = b.build();
  if (o.form !== 'table') lowerAttention(g.nodes.find((n) => n.op === 'Attention')!, { runtime: 'ort', ep: 'cpu' }, { form: o.form, ...(o.chunk ? { chunkSize: o.chunk } : {}) });
  const exe = await backend.compile(g);
  let got: Float32Array;
  try {
    got = (await exe.run({ q: new Tensor('float32', [B, o.S, o.H * o.D], q), k: new Tensor('float32', [B, o.S, o.G * o.D], k), v: new Tensor('float32', [B, o.S, o.G * o.D], v) })).y!.toFloat32();
  } finally { await exe.dispose(); }
  const [qh, kh, vh, yh] = [toHeads(q, B, o.S, o.H, o.D), toHeads(k, B, o.S, o.G, o.D), toHeads(v, B, o.S, o.G, o.D), toHeads(got, B, o.S, o.H, o.D)];
  let m = 0;
  for (let bi = 0; bi < B; bi++) {
    const ref = attentionReference({ q: qh[bi]!, k: kh[bi]!, v: vh[bi]!, numHeads: o.H, kvHeads: o.G, headDim: o.D, qLen: o.S, kLen: o.S, pattern: { kind: 'window', window: o.window } }).out;
    m = Math.max(m, maxAbsDiff(yh[bi]!, ref));
  }
  return m;
}

const shapes = [
  { name: 'S not a multiple of the chunk', S: 45, H: 4, G: 4, D: 8, window: 7, chunk: 8 },
  { name: 'GQA 4:2, S = 45, chunk 8, window 16', S: 45, H: 4, G: 2, D: 8, window: 16, chunk: 8 },
  { name: 'MQA 4:1, chunk 16, window 12', S: 37, H: 4, G: 1, D: 8, window: 12, chunk: 16 },
  { name: 'chunk larger than the window', S: 40, H: 2, G: 2, D: 8, window: 5, chunk: 16 },
  { name: 'sequence shorter than the window', S: 10, H: 2, G: 2, D: 8, window: 32, chunk: 8 },
  { name: 'exact multiple, window = chunk', S: 64, H: 4, G: 2, D: 16, window: 16, chunk: 16 },
  { name: 'batch 2, GQA 4:2', B: 2, S: 29, H: 4, G: 2, D: 8, window: 9, chunk: 8 },
];

describe('ORT CPU window forms equal the dense masked reference', () => {
  for (const form of ['chunked_gqa', 'scan_window', 'blocked', 'table'] as const) {
    for (const s of shapes) {
      it(`${form}: ${s.name}`, async () => {
        expect(await check({ ...s, form })).toBeLessThan(1e-5);
      });
    }
  }

  it('the chunked GQA and Scan forms refuse a dynamic sequence length, naming why', () => {
    const b = new GraphBuilder('dyn');
    const q = b.input('q', 'float32', [1, 'seq', 16]), k = b.input('k', 'float32', [1, 'seq', 16]), v = b.input('v', 'float32', [1, 'seq', 16]);
    b.output(attentionOp(b, q, k, v, { numHeads: 2, pattern: { kind: 'window', window: 4 } }).output, 'y');
    const g = b.build();
    const node = g.nodes.find((n) => n.op === 'Attention')!;
    expect(() => lowerAttention(node, { runtime: 'ort', ep: 'cpu' }, { form: 'chunked_gqa' })).toThrow(/static batch, sequence length/);
    expect(() => lowerAttention(node, { runtime: 'ort', ep: 'cpu' }, { form: 'scan_window' })).toThrow(/static batch, sequence length/);
  });
});
