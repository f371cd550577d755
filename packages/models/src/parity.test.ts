// Parity with transformers (PyTorch): tiny random-weight checkpoints of each family and their fp32
// logits / 32 greedy tokens, made by fixtures/make_fixtures.py (transformers 5.17, torch 2.11, CPU).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Backend } from '@leanformer/core';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';
import { generate } from './pretrained.js';
import { loadPretrained, type PretrainedModel } from './node.js';
import { prefillLogits } from './decode.test-support.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
interface Ref { family: string; promptIds: number[]; logits: number[]; logitsShape: [number, number]; greedyIds: number[]; windowCheck?: { altPromptIds: number[]; maxAbsDiffLast: number } }

const FAMILIES = ['llama', 'llama3-rope', 'llama-linear-fp16', 'mistral-window-bf16', 'qwen2', 'gpt2', 'phi3', 'gemma', 'llama-trained'];

// Measured max abs error: 1.6e-6 … 3.3e-6 (ORT CPU), 1.8e-6 … 3.8e-6 (tfjs-cpu); the references hold 7 digits.
const BACKENDS: readonly [string, () => Backend][] = [['ort-cpu', () => createOrtBackend({ eps: ['cpu'] })], ['tfjs-cpu', () => createTfjsBackend('cpu')]];

describe.each(BACKENDS)('parity with transformers on tiny random checkpoints (%s, fp32)', (_name, backend) => {
  for (const name of FAMILIES) {
    it(`${name}: prompt logits within 1e-4, 32 greedy tokens identical`, async () => {
      const dir = `${FIX}${name}`;
      const ref = JSON.parse(readFileSync(`${dir}/reference.json`, 'utf8')) as Ref;
      const m = await loadPretrained(dir, { backend: backend() });
      try {
        const got = await prefillLogits(m, ref.promptIds);
        expect(got.length).toBe(ref.logits.length);
        let err = 0;
        for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i]! - ref.logits[i]!));
        expect(err).toBeLessThanOrEqual(1e-4);
        const ids: number[] = [];
        for await (const t of generate(m, m.tokenizer, { promptIds: ref.promptIds, maxNewTokens: 32, stopAtEos: false })) ids.push(t.id);
        expect(ids).toEqual(ref.greedyIds);
        if (ref.windowCheck) {
          // The prompt (24) is longer than the window (8) reaches through 2 layers (15): the first token cannot matter.
          expect(ref.windowCheck.maxAbsDiffLast).toBe(0);
          const alt = await prefillLogits(m, ref.windowCheck.altPromptIds);
          const V = ref.logitsShape[1];
          const S = ref.promptIds.length;
          let d = 0;
          for (let i = 0; i < V; i++) d = Math.max(d, Math.abs(alt[(S - 1) * V + i]! - got[(S - 1) * V + i]!));
          expect(d).toBeLessThan(1e-6);
        }
      } finally {
        await m.dispose();
      }
    }, 60_000);
  }
});

describe('checkpoint from memory (the browser path)', () => {
  it('memoryFiles + readCheckpoint + buildCausalLM give the same logits as the folder', async () => {
    const { readdirSync } = await import('node:fs');
    const { memoryFiles, readCheckpoint } = await import('./pretrained.js');
    const { buildCausalLM } = await import('./build.js');
    const dir = `${FIX}llama3-rope`; // sharded
    const ref = JSON.parse(readFileSync(`${dir}/reference.json`, 'utf8')) as Ref;
    const contents = Object.fromEntries(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(`${dir}/${f}`))]));
    const ck = readCheckpoint(memoryFiles(contents));
    const exe = await createOrtBackend({ eps: ['cpu'] }).compile(buildCausalLM(ck.spec, ck.weights));
    const m = { executor: exe, layers: ck.spec.layers, kvHeads: ck.spec.kvHeads, headDim: ck.spec.headDim } as unknown as PretrainedModel;
    const got = await prefillLogits(m, ref.promptIds);
    let err = 0;
    for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i]! - ref.logits[i]!));
    expect(err).toBeLessThanOrEqual(1e-4);
    expect(ck.tokenizer!.encode('Hello world')).toEqual([446, 434]);
    await exe.dispose();
  });
});

describe('generate() stops at EOS', () => {
  it('stops right after the first token that is one of the model\'s EOS ids (unless stopAtEos is false)', async () => {
    const ref = JSON.parse(readFileSync(`${FIX}llama/reference.json`, 'utf8')) as Ref;
    const m = await loadPretrained(`${FIX}llama`);
    try {
      const eos = ref.greedyIds[3]!;
      const first = ref.greedyIds.indexOf(eos);
      const ids: number[] = [];
      for await (const t of generate({ ...m, eosTokenIds: [eos] }, m.tokenizer, { promptIds: ref.promptIds, maxNewTokens: 32 })) ids.push(t.id);
      expect(ids).toEqual(ref.greedyIds.slice(0, first + 1));
      const all: number[] = [];
      for await (const t of generate({ ...m, eosTokenIds: [eos] }, m.tokenizer, { promptIds: ref.promptIds, maxNewTokens: 8, stopAtEos: false })) all.push(t.id);
      expect(all).toEqual(ref.greedyIds.slice(0, 8));
    } finally { await m.dispose(); }
  });
});
