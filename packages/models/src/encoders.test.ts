// Encoders (BERT, RoBERTa, ViT, DeiT) against transformers (PyTorch): tiny random-weight checkpoints
// and their fp32 outputs, made by fixtures/make_encoder_fixtures.py (transformers 5.17, torch 2.11).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Tensor, type Backend } from '@leanformer/core';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';
import { loadPretrained, tokenizerIn, type PretrainedEncoder } from './node.js';

const FIX = fileURLToPath(new URL('../fixtures/encoders/', import.meta.url));
interface Flat { shape: number[]; data: number[] }
interface Ref { inputs: Record<string, Flat>; last_hidden_state: Flat; pooler_output?: Flat; sentences?: { text: string; ids: number[] }[] }
const refOf = (name: string): Ref => JSON.parse(readFileSync(`${FIX}${name}/reference.json`, 'utf8')) as Ref;

/** The reference's inputs as feeds; inputs the reference left out (BERT's token_type_ids) take transformers' default, zeros. */
export function feedsOf(m: PretrainedEncoder, ref: Ref): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const name of m.inputs) {
    const r = ref.inputs[name];
    if (name === 'pixel_values') feeds[name] = new Tensor('float32', r!.shape, Float32Array.from(r!.data));
    else if (r) feeds[name] = new Tensor('int64', r.shape, BigInt64Array.from(r.data, BigInt));
    else feeds[name] = new Tensor('int64', ref.inputs['input_ids']!.shape, new BigInt64Array(ref.inputs['input_ids']!.data.length));
  }
  return feeds;
}

export function maxAbsDiff(got: Tensor, want: Flat): number {
  expect(got.shape).toEqual(want.shape);
  const g = got.toFloat32();
  let err = 0;
  for (let i = 0; i < g.length; i++) err = Math.max(err, Math.abs(g[i]! - want.data[i]!));
  return err;
}

const ENCODERS = ['bert', 'roberta', 'vit', 'deit'];
const BACKENDS: readonly [string, () => Backend][] = [['ort-cpu', () => createOrtBackend({ eps: ['cpu'] })], ['tfjs-cpu', () => createTfjsBackend('cpu')]];

describe.each(BACKENDS)('encoder parity with transformers on tiny random checkpoints (%s, fp32)', (_b, backend) => {
  for (const name of ENCODERS) {
    it(`${name}: last_hidden_state and pooler_output within 1e-4`, async () => {
      const ref = refOf(name);
      const m = await loadPretrained(`${FIX}${name}`, { kind: 'encoder', backend: backend() });
      try {
        expect(m.outputs).toEqual(['last_hidden_state', 'pooler_output']);
        const out = await m.executor.run(feedsOf(m, ref));
        expect(maxAbsDiff(out['last_hidden_state']!, ref.last_hidden_state)).toBeLessThanOrEqual(1e-4);
        expect(maxAbsDiff(out['pooler_output']!, ref.pooler_output!)).toBeLessThanOrEqual(1e-4);
      } finally {
        await m.dispose();
      }
    }, 60_000);
  }
});

describe('encoder inputs', () => {
  it('BERT takes token_type_ids, RoBERTa (one token type) does not; ViT/DeiT take pixel_values; DeiT keeps its distillation token', async () => {
    const want: Record<string, { inputs: string[]; tokens?: number }> = {
      bert: { inputs: ['input_ids', 'attention_mask', 'token_type_ids'] },
      roberta: { inputs: ['input_ids', 'attention_mask'] },
      vit: { inputs: ['pixel_values'], tokens: 16 + 1 },
      deit: { inputs: ['pixel_values'], tokens: 16 + 2 },
    };
    for (const [name, w] of Object.entries(want)) {
      const m = await loadPretrained(`${FIX}${name}`, { kind: 'encoder' });
      try {
        expect(m.inputs).toEqual(w.inputs);
        if (w.tokens) expect(refOf(name).last_hidden_state.shape[1]).toBe(w.tokens);
      } finally { await m.dispose(); }
    }
  });
});

describe('encoder tokenizers (@huggingface/tokenizers) against the Rust tokenizers', () => {
  for (const name of ['bert', 'roberta']) {
    it(`${name}: ids equal on sentences with Unicode, emoji, tabs, newlines and repeated spaces`, () => {
      const tok = tokenizerIn(`${FIX}${name}`)!;
      const ref = refOf(name);
      expect(ref.sentences!.length).toBeGreaterThan(0);
      for (const s of ref.sentences!) expect(tok.encode(s.text), JSON.stringify(s.text)).toEqual(s.ids);
    });
  }
});
