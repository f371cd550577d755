// The com.microsoft attention forms our ORT lowerings emit (GroupQueryAttention dense / window / with
// past, MultiHeadAttention causal, the blocked MultiHeadAttention and chunked GQA window forms) run on
// tfjs-cpu and tfjs-wasm from the same ONNX bytes as ONNX Runtime CPU, within 1e-4 of ORT's output scale.
import { describe, expect, it } from 'vitest';
import { GraphBuilder, isLeanformerError, Tensor } from '@leanformer/core';
import { decodeModel, encodeModel, lowerAttention, type AttentionForm } from '@leanformer/onnx';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';
import { attentionOp, ropeTables, type AttentionOpOptions } from './builder.js';
import { ropeInvFreq } from './rope.js';

const ort = createOrtBackend({ eps: ['cpu'] });
const wave = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.37 + s * 2.9) * 1.5);

interface Case { name: string; form: AttentionForm; B: number; S: number; H: number; G: number; D: number; P?: number; pattern?: AttentionOpOptions['pattern']; chunk?: number; rope?: boolean }

function lowered(c: Case): { bytes: Uint8Array; feeds: Record<string, Tensor>; outputs: string[] } {
  const b = new GraphBuilder('attn');
  const q = b.input('q', 'float32', [c.B, c.S, c.H * c.D]);
  const k = b.input('k', 'float32', [c.B, c.S, c.G * c.D]);
  const v = b.input('v', 'float32', [c.B, c.S, c.G * c.D]);
  const past = c.P ? { pastKey: b.input('pk', 'float32', [c.B, c.G, c.P, c.D]), pastValue: b.input('pv', 'float32', [c.B, c.G, c.P, c.D]) } : {};
  const rope = c.rope ? { rope: ropeTables(b, ropeInvFreq(c.D), 64, 'rope') } : {};
  const r = attentionOp(b, q, k, v, { numHeads: c.H, kvHeads: c.G, ...(c.pattern ? { pattern: c.pattern } : {}), ...past, ...rope });
  b.output(r.output, 'y');
  if (r.presentKey) { b.output(r.presentKey, 'present_k'); b.output(r.presentValue!, 'present_v'); }
  const g = b.build();
  lowerAttention(g.nodes.find((n) => n.op === 'Attention')!, { runtime: 'ort', ep: 'cpu' }, { form: c.form, ...(c.chunk ? { chunkSize: c.chunk } : {}) });
  const feeds: Record<string, Tensor> = {
    q: new Tensor('float32', [c.B, c.S, c.H * c.D], wave(c.B * c.S * c.H * c.D, 1)),
    k: new Tensor('float32', [c.B, c.S, c.G * c.D], wave(c.B * c.S * c.G * c.D, 2)),
    v: new Tensor('float32', [c.B, c.S, c.G * c.D], wave(c.B * c.S * c.G * c.D, 3)),
  };
  if (c.P) {
    feeds.pk = new Tensor('float32', [c.B, c.G, c.P, c.D], wave(c.B * c.G * c.P * c.D, 4));
    feeds.pv = new Tensor('float32', [c.B, c.G, c.P, c.D], wave(c.B * c.G * c.P * c.D, 5));
  }
  return { bytes: encodeModel(g), feeds, outputs: r.presentKey ? ['y', 'present_k', 'present_v'] : ['y'] };
}

function relErr(a: Float32Array, ref: Float32Array): number {
  expect(a.length).toBe(ref.length);
  let scale = 0, err = 0;
  for (let i = 0; i < ref.length; i++) { scale = Math.max(scale, Math.abs(ref[i]!)); err = Math.max(err, Math.abs(a[i]! - ref[i]!)); }
  return err / scale;
}

const cases: Case[] = [
  { name: 'GroupQueryAttention dense, GQA 4:2, batch 2', form: 'gqa', B: 2, S: 9, H: 4, G: 2, D: 8 },
  { name: 'GroupQueryAttention with past K/V, one new token, batch 2', form: 'gqa', B: 2, S: 1, H: 4, G: 1, D: 8, P: 6 },
  // ORT 1.30 CPU: "batch_size must be 1 when sequence_length > 1 and past context is given".
  { name: 'GroupQueryAttention with past K/V, 3 new tokens', form: 'gqa', B: 1, S: 3, H: 4, G: 2, D: 8, P: 5 },
  { name: 'GroupQueryAttention local_window_size 5', form: 'gqa', B: 1, S: 13, H: 2, G: 2, D: 8, pattern: { kind: 'window', window: 5 } },
  // ORT's rotary needs head_size % 16 = 0.
  { name: 'GroupQueryAttention do_rotary (the node\'s RoPE), GQA 4:2', form: 'gqa', B: 1, S: 9, H: 4, G: 2, D: 16, rope: true },
  { name: 'GroupQueryAttention do_rotary with past K/V, one new token, batch 2', form: 'gqa', B: 2, S: 1, H: 4, G: 2, D: 16, P: 6, rope: true },
  { name: 'GroupQueryAttention do_rotary with past K/V, 3 new tokens', form: 'gqa', B: 1, S: 3, H: 4, G: 2, D: 16, P: 5, rope: true },
  { name: 'MultiHeadAttention causal', form: 'mha', B: 2, S: 7, H: 2, G: 2, D: 16 },
  { name: 'blocked MultiHeadAttention window 6 (attention_bias)', form: 'blocked_mha', B: 2, S: 21, H: 2, G: 2, D: 8, pattern: { kind: 'window', window: 6 }, chunk: 16 },
  { name: 'chunked GroupQueryAttention window 7', form: 'chunked_gqa', B: 1, S: 30, H: 4, G: 2, D: 8, pattern: { kind: 'window', window: 7 }, chunk: 8 },
];

describe('com.microsoft attention ops on tfjs vs ORT CPU', () => {
  for (const c of cases) {
    it(`${c.name}: tfjs-cpu and tfjs-wasm within 1e-4 relative of ORT`, async () => {
      const { bytes, feeds, outputs } = lowered(c);
      const ops = decodeModel(bytes).nodes.map((n) => n.qualifiedOp);
      expect(ops).toContain(c.form === 'mha' || c.form === 'blocked_mha' ? 'com.microsoft::MultiHeadAttention' : 'com.microsoft::GroupQueryAttention');
      const ref = await ort.createExecutorFromBytes(bytes);
      const want = await ref.run(feeds);
      await ref.dispose();
      for (const device of ['cpu', 'wasm'] as const) {
        const exe = await createTfjsBackend(device).compile(decodeModel(bytes));
        const got = await exe.run(feeds);
        await exe.dispose();
        for (const o of outputs) {
          expect(got[o]!.shape).toEqual(want[o]!.shape);
          expect(relErr(got[o]!.toFloat32(), want[o]!.toFloat32()), `${device} ${o}`).toBeLessThan(1e-4);
        }
      }
    });
  }

  // The node's RoPE two ways on ORT CPU: GroupQueryAttention's own rotary (do_rotary) and core's masked
  // decomposition (RoPE as standard ops, then attention): same outputs and present K/V.
  for (const c of cases.filter((x) => x.rope)) {
    it(`${c.name}: ORT's do_rotary equals core's standard-op RoPE (masked form) within 1e-5`, async () => {
      const a = lowered(c), m = lowered({ ...c, form: 'masked' });
      expect(decodeModel(m.bytes).nodes.some((n) => n.op === 'GroupQueryAttention')).toBe(false);
      const [x, y] = [await ort.createExecutorFromBytes(a.bytes), await ort.createExecutorFromBytes(m.bytes)];
      const [gx, gy] = [await x.run(a.feeds), await y.run(m.feeds)];
      await x.dispose(); await y.dispose();
      for (const o of a.outputs) expect(relErr(gx[o]!.toFloat32(), gy[o]!.toFloat32()), o).toBeLessThan(1e-5);
    });
  }

  it('a GroupQueryAttention feature we do not emit (softcap) fails naming it and the alternative target', async () => {
    const { bytes, feeds } = lowered(cases[0]!);
    const g = decodeModel(bytes);
    const n = g.nodes.find((x) => x.op === 'GroupQueryAttention')!;
    n.attrs.set('softcap', { type: 'float', value: 30 });
    const exe = await createTfjsBackend('cpu').compile(g);
    const err = await exe.run(feeds).catch((e: unknown) => e);
    await exe.dispose();
    expect(isLeanformerError(err, 'EXECUTION_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/GroupQueryAttention.*attribute softcap=30 is not supported on tfjs; lower the model for target tfjs/);
  });
});
