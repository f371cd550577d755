import { describe, expect, it } from 'vitest';
import { LeanformerError, Tensor, formatType } from '../index.js';
import { GraphBuilder } from './builder.js';
import { decoderLayer, mlp, multiHeadAttention, transformerDecoder, transformerEncoder, vit } from './blocks.js';
import { rng } from './rng.js';

describe('rng', () => {
  it('truncNormalTensor keeps the normal stream\'s draws within ±bound, redrawing the rest', () => {
    const t = rng(3).truncNormalTensor([2000], 0.5, 1.5).toFloat32();
    // Reference: the same seed's standard normals, those beyond 1.5 skipped, scaled by 0.5.
    const src = rng(3);
    const want: number[] = [];
    while (want.length < 2000) { const z = src.normal(); if (Math.abs(z) <= 1.5) want.push(Math.fround(0.5 * z)); }
    expect(Array.from(t)).toEqual(want);
    expect(Math.max(...t.map(Math.abs))).toBeLessThanOrEqual(0.75);
    expect(() => rng(1).truncNormalTensor([2], 1, 0)).toThrow(/bound must be a positive number/);
  });

  it('is deterministic per seed and roughly standard normal', () => {
    const a = rng(7).normalTensor([4096]).toFloat32();
    const b = rng(7).normalTensor([4096]).toFloat32();
    const c = rng(8).normalTensor([4096]).toFloat32();
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    const variance = a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length;
    // 4096 samples: the standard error of the mean is 1/64, of the variance about 0.022.
    expect(Math.abs(mean)).toBeLessThan(0.06);
    expect(Math.abs(variance - 1)).toBeLessThan(0.1);
    const u = rng(1).uniformTensor([1000], -2, 3).toFloat32();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u)).toBeLessThan(3);
  });
});

describe('blocks', () => {
  it('builds GQA attention with RoPE and keeps [batch, seq, hidden]', () => {
    const b = new GraphBuilder('attn');
    const x = b.input('x', 'float32', ['batch', 'seq', 32]);
    const y = multiHeadAttention(b, x, { prefix: 'attn', rng: rng(0), hidden: 32, heads: 8, kvHeads: 2, rope: true });
    expect(formatType(y.type)).toBe('float32[batch, seq, 32]');
    expect(b.graph.initializers.get('attn.k_proj.weight')!.const!.shape).toEqual([32, 8]);
    expect(b.graph.nodes.filter((n) => n.op === 'Where')).toHaveLength(1);
    expect(b.graph.nodes.some((n) => n.domain !== '')).toBe(false);
  });

  it('rejects heads that do not divide', () => {
    const b = new GraphBuilder('attn');
    const x = b.input('x', 'float32', ['batch', 'seq', 32]);
    expect(() => multiHeadAttention(b, x, { prefix: 'a', rng: rng(0), hidden: 32, heads: 8, kvHeads: 3 })).toThrowError(LeanformerError);
    expect(() => multiHeadAttention(b, x, { prefix: 'a', rng: rng(0), hidden: 30, heads: 8 })).toThrowError(/not divisible/);
  });

  it('builds GELU and SwiGLU MLPs with the documented parameter names', () => {
    const b = new GraphBuilder('mlp');
    const x = b.input('x', 'float32', ['batch', 16]);
    expect(formatType(mlp(b, x, { prefix: 'g', rng: rng(0), hidden: 16, ffn: 64, activation: 'gelu' }).type)).toBe('float32[batch, 16]');
    expect(formatType(mlp(b, x, { prefix: 's', rng: rng(0), hidden: 16, ffn: 64, activation: 'swiglu' }).type)).toBe('float32[batch, 16]');
    expect([...b.graph.initializers.keys()].filter((k) => !k.startsWith('scalar'))).toEqual([
      'g.fc1.weight', 'g.fc1.bias', 'g.fc2.weight', 'g.fc2.bias', 's.gate_proj.weight', 's.up_proj.weight', 's.down_proj.weight',
    ]);
  });

  it('builds pre- and post-norm layers', () => {
    for (const normPosition of ['pre', 'post'] as const) {
      const b = new GraphBuilder('layer');
      const x = b.input('x', 'float32', ['batch', 'seq', 16]);
      const y = decoderLayer(b, x, { prefix: 'l', rng: rng(0), hidden: 16, heads: 2, ffn: 32, norm: 'layer', mlp: 'gelu', normPosition });
      expect(formatType(y.type)).toBe('float32[batch, seq, 16]');
      const last = b.graph.nodes.at(-1)!;
      expect(last.op).toBe(normPosition === 'pre' ? 'Add' : 'LayerNormalization');
    }
  });

  it('builds the model graphs with symbolic batch/seq outputs', () => {
    const dec = transformerDecoder({ vocabSize: 50, hidden: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 32, seed: 3 });
    expect(dec.inputs.map((v) => `${v.name}: ${formatType(v.type)}`)).toEqual(['input_ids: int64[batch, seq]']);
    expect(dec.outputs.map((v) => `${v.name}: ${formatType(v.type)}`)).toEqual(['logits: float32[batch, seq, 50]']);
    expect(JSON.parse(dec.model!.metadataProps.get('leanformer.config')!).kvHeads).toBe(2);
    // One causal mask and one RoPE table shared by both layers.
    expect(dec.nodes.filter((n) => n.op === 'Greater')).toHaveLength(1);
    expect(dec.nodes.filter((n) => n.op === 'Cos')).toHaveLength(1);
    const gpt = transformerDecoder({ vocabSize: 50, hidden: 16, layers: 1, heads: 4, ffn: 32, seed: 3, rope: false, norm: 'layer', mlp: 'gelu', maxSeq: 64 });
    expect(formatType(gpt.outputs[0]!.type)).toBe('float32[batch, seq, 50]');
    expect(gpt.initializers.get('model.embed_positions.weight')!.const!.shape).toEqual([64, 16]);

    const enc = transformerEncoder({ vocabSize: 50, hidden: 16, layers: 1, heads: 4, ffn: 32, seed: 3 });
    expect(enc.outputs.map((v) => `${v.name}: ${formatType(v.type)}`)).toEqual(['last_hidden_state: float32[batch, seq, 16]']);
    expect(enc.nodes.some((n) => n.op === 'Where')).toBe(false);

    const v = vit({ imageSize: 16, patch: 4, hidden: 16, layers: 1, heads: 2, numClasses: 7, seed: 3 });
    expect(v.inputs.map((x) => formatType(x.type))).toEqual(['float32[batch, 3, 16, 16]']);
    expect(v.outputs.map((x) => `${x.name}: ${formatType(x.type)}`)).toEqual(['logits: float32[batch, 7]']);
    expect(v.initializers.get('embeddings.position_embeddings')!.const!.shape).toEqual([1, 17, 16]);
  });

  it('is deterministic: the same seed gives the same weights', () => {
    const a = transformerDecoder({ vocabSize: 20, hidden: 8, layers: 1, heads: 2, ffn: 16, seed: 9 });
    const b = transformerDecoder({ vocabSize: 20, hidden: 8, layers: 1, heads: 2, ffn: 16, seed: 9 });
    const w = (g: typeof a) => (g.initializers.get('model.layers.0.self_attn.q_proj.weight')!.const as Tensor).toFloat32();
    expect(w(a)).toEqual(w(b));
    expect(() => vit({ imageSize: 15, patch: 4, hidden: 8, layers: 1, heads: 2, numClasses: 2, seed: 0 })).toThrowError(/multiple of patch/);
  });
});
