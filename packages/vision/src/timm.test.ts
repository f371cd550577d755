import { describe, expect, it } from 'vitest';
import { Tensor, writeSafetensors } from '@leanformer/core';
import { efficientvit } from './efficientvit.js';
import { fasternet } from './fasternet.js';
import { loadTimmSafetensors, loadTimmWeights } from './timm.js';

/** A synthetic timm-style state dict for a model: every parameter with distinct values, linears in [out, in]. */
function stateDictFor(seedModel: ReturnType<typeof fasternet>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  let k = 0;
  for (const v of seedModel.graph.initializers.values()) {
    if (v.meta.get('leanformer.param') === false) continue;
    const t = v.const!;
    const data = new Float32Array(t.size).map(() => (k++ % 97) / 97 - 0.5);
    out.set(v.name, new Tensor('float32', t.shape, data));
  }
  out.set('stages.0.blocks.0.mlp.1.num_batches_tracked', Tensor.from('int64', [], [0n]));
  return out;
}

describe('timm weight loading', () => {
  it('replaces every parameter of FasterNet-T0 from safetensors bytes', () => {
    const m = fasternet('t0', { numClasses: 10, seed: 1 });
    const sd = stateDictFor(fasternet('t0', { numClasses: 10, seed: 2 }));
    const report = loadTimmSafetensors(m, writeSafetensors(sd));
    expect(report.missing).toEqual([]);
    expect(report.unexpected).toEqual([]);
    expect(report.loaded.length).toBe(sd.size - 1);
    const w = m.graph.initializers.get('classifier.weight')!.const!;
    expect(Array.from(w.toFloat32())).toEqual(Array.from(sd.get('classifier.weight')!.toFloat32()));
  });

  it('names missing and unexpected keys, and allows a non-strict partial load', () => {
    const m = efficientvit('m0', { numClasses: 10 });
    const sd = new Map([['head.linear.bias', Tensor.zeros('float32', [10])], ['head.extra', Tensor.zeros('float32', [1])]]);
    expect(() => loadTimmWeights(m, sd)).toThrow(/missing: patch_embed\.conv1\.conv\.weight.*unexpected: head\.extra/);
    const r = loadTimmWeights(m, sd, { strict: false });
    expect(r.loaded).toEqual(['head.linear.bias']);
    expect(r.unexpected).toEqual(['head.extra']);
  });

  it('rejects a tensor of the wrong shape, naming the key and both shapes', () => {
    const m = efficientvit('m0', { numClasses: 10 });
    expect(() => loadTimmWeights(m, { 'head.linear.weight': Tensor.zeros('float32', [10, 100]) }, { strict: false }))
      .toThrow(/'head\.linear\.weight' has shape \[10, 100\].*needs \[10, 192\]/);
  });

  it('converts float16 tensors to float32', () => {
    const m = efficientvit('m0', { numClasses: 10 });
    const half = Tensor.from('float16', [10], Array.from({ length: 10 }, (_, i) => i / 4));
    loadTimmWeights(m, { 'head.linear.bias': half }, { strict: false });
    expect(Array.from(m.graph.initializers.get('head.linear.bias')!.const!.toFloat32())).toEqual(Array.from({ length: 10 }, (_, i) => i / 4));
  });
});

describe('timm weight loading into 1-D conv layouts', () => {
  it('accepts timm\'s [out, in, 1, 1] for the attention qkv convs stored as [out, in, 1]', () => {
    const m = efficientvit('m0', { numClasses: 10 });
    const key = 'stages.0.blocks.0.mixer.m.attn.qkvs.0.conv.weight';
    expect(m.graph.initializers.get(key)!.const!.shape).toEqual([48, 16, 1]);
    const t = new Tensor('float32', [48, 16, 1, 1], Float32Array.from({ length: 768 }, (_, i) => i));
    loadTimmWeights(m, { [key]: t }, { strict: false });
    expect(Array.from(m.graph.initializers.get(key)!.const!.toFloat32())).toEqual(Array.from(t.toFloat32()));
    expect(() => loadTimmWeights(m, { [key]: new Tensor('float32', [48, 16, 1], new Float32Array(768)) }, { strict: false })).toThrow(/needs \[48, 16, 1, 1\]/);
  });
});
