import { LeanformerError, rng, Tensor } from '@leanformer/core';
import type { TrainBatch } from './train.js';

/** Options of {@link syntheticSequenceTask}. */
export interface SyntheticSequenceOptions {
  /** Vocabulary size (≥ 4). */
  readonly vocab: number;
  /** Tokens per sequence (≥ 3). */
  readonly seqLen: number;
  readonly batch: number;
  readonly seed: number;
  /** Strides a sequence may use (default [1, 2, 3]). */
  readonly strides?: readonly number[];
}

/**
 * A built-in next-token task for smoke-training decoders: each sequence counts from a random
 * start with a random stride, modulo `vocab` (`s, s+k, s+2k, …`). After two tokens the next one
 * is determined, so a decoder that attends to the previous two tokens drives the loss from
 * ln(vocab) toward (ln vocab + ln |strides|) / (seqLen − 1). Batches are a pure function of
 * (seed, step, micro-batch), so training on it is reproducible.
 *
 * Returns a data function for {@link train}: `input_ids` int64 `[batch, seqLen]` and `labels`
 * int64 `[batch, seqLen]` (the next token; the last position is ignored as -100).
 *
 * @example
 * ```ts
 * const data = syntheticSequenceTask({ vocab: 16, seqLen: 12, batch: 16, seed: 0 });
 * const { input_ids, labels } = data(0, 0);
 * ```
 */
export function syntheticSequenceTask(o: SyntheticSequenceOptions): (step: number, micro: number) => TrainBatch {
  if (!(o.vocab >= 4) || !(o.seqLen >= 3) || !(o.batch >= 1)) throw new LeanformerError('INVALID_ARGUMENT', `syntheticSequenceTask: need vocab >= 4, seqLen >= 3, batch >= 1 (got ${o.vocab}, ${o.seqLen}, ${o.batch})`);
  const strides = o.strides ?? [1, 2, 3];
  return (step, micro) => {
    const r = rng((o.seed * 1_000_003 + step * 7919 + micro * 104_729) >>> 0);
    const ids: bigint[] = [];
    const labels: bigint[] = [];
    for (let b = 0; b < o.batch; b++) {
      const start = Math.floor(r.uniform() * o.vocab);
      const k = strides[Math.floor(r.uniform() * strides.length)]!;
      for (let t = 0; t < o.seqLen; t++) {
        ids.push(BigInt((start + t * k) % o.vocab));
        labels.push(t === o.seqLen - 1 ? -100n : BigInt((start + (t + 1) * k) % o.vocab));
      }
    }
    return { input_ids: Tensor.from('int64', [o.batch, o.seqLen], ids), labels: Tensor.from('int64', [o.batch, o.seqLen], labels) };
  };
}
