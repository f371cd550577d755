// Test support (not part of the package's entries): decoding helpers the models tests share.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '@leanformer/core';
import { generate } from './pretrained.js';
import type { PretrainedModel } from './load.js';
import type { TextTokenizer } from './tokenizer.js';

const TRAINED = fileURLToPath(new URL('../fixtures/llama-trained', import.meta.url));

/**
 * The int4 study's 29 prompts: fixtures/llama-trained's reference prompt, then the first 20 tokens of
 * each line of its study-prompts.txt (prose lines of the repository's READMEs, frozen).
 */
export function studyPrompts(tokenizer: TextTokenizer): number[][] {
  const ref = JSON.parse(readFileSync(join(TRAINED, 'reference.json'), 'utf8')) as { promptIds: number[] };
  const lines = readFileSync(join(TRAINED, 'study-prompts.txt'), 'utf8').split('\n').filter((l) => l.length > 0);
  return [ref.promptIds, ...lines.map((l) => tokenizer.encode(l).slice(0, 20))];
}

/** Logits of one prefill run over `ids` with an empty KV cache (float32 [ids.length · vocab]). */
export async function prefillLogits(m: PretrainedModel, ids: readonly number[]): Promise<Float32Array> {
  const feeds: Record<string, Tensor> = { tokens: new Tensor('int64', [1, ids.length], BigInt64Array.from(ids, BigInt)) };
  for (let l = 0; l < m.layers; l++) {
    feeds[`past_key_${l}`] = new Tensor('float32', [1, m.kvHeads, 0, m.headDim], new Float32Array(0));
    feeds[`past_value_${l}`] = new Tensor('float32', [1, m.kvHeads, 0, m.headDim], new Float32Array(0));
  }
  return (await m.executor.run(feeds)).logits!.toFloat32();
}

/** The first `n` greedy tokens after `promptIds` (EOS does not stop them). */
export async function greedyIds(m: PretrainedModel, n: number, promptIds: readonly number[]): Promise<number[]> {
  const ids: number[] = [];
  for await (const t of generate(m, m.tokenizer, { promptIds: [...promptIds], maxNewTokens: n, stopAtEos: false })) ids.push(t.id);
  return ids;
}
