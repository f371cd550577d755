// Test support (not part of the package's entries): decoding helpers the models tests share.
import { Tensor } from '@leanformer/core';
import { generate } from './pretrained.js';
import type { PretrainedModel } from './load.js';

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
