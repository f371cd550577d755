// A built-in instruction-style task for fine-tuning tests and demos: a prompt (an instruction
// token and some data tokens), a separator, then the answer. Loss is taken on the answer only,
// as instruction tuning does.

import { LeanformerError, rng, Tensor } from '@leanformer/core';

/** One batch of {@link syntheticInstructionTask}. */
export type InstructionBatch = { readonly input_ids: Tensor; readonly labels: Tensor };

/** Options of {@link syntheticInstructionTask}. */
export interface InstructionTaskOptions {
  /** Vocabulary size (≥ 12): 0 pad, 1 separator, 2 end, 3–5 instructions, the rest data tokens. */
  readonly vocab: number;
  /** Tokens per sequence (≥ 7); the prompt and answer hold ⌊(seqLen − 3) / 2⌋ data tokens each. */
  readonly seqLen: number;
  readonly batch: number;
  /** Different seeds give disjoint streams (use one for training, another for held-out loss). */
  readonly seed: number;
}

/** Token ids of the task's special tokens. */
export const INSTRUCTION_TOKENS = Object.freeze({ pad: 0, sep: 1, end: 2, copy: 3, reverse: 4, increment: 5, firstData: 6 });

/**
 * A data function `(step, micro) → { input_ids, labels }` (int64 `[batch, seqLen]`) for
 * `finetune`/`train`. Each row is `[instr, d₁ … d_L, SEP, f(d)₁ … f(d)_L, END, PAD…]` where the
 * instruction is copy, reverse, or increment (each data token + 1, wrapping within the data range).
 * Labels are the next token on the answer span (including END) and -100 elsewhere. Pure in
 * (seed, step, micro), so runs are reproducible.
 *
 * @example
 * ```ts
 * const data = syntheticInstructionTask({ vocab: 32, seqLen: 16, batch: 8, seed: 0 });
 * const heldOut = syntheticInstructionTask({ vocab: 32, seqLen: 16, batch: 8, seed: 1 });
 * ```
 */
export function syntheticInstructionTask(o: InstructionTaskOptions): (step: number, micro: number) => InstructionBatch {
  if (!(Number.isInteger(o.vocab) && o.vocab >= 12)) throw new LeanformerError('INVALID_ARGUMENT', `syntheticInstructionTask: vocab must be an integer >= 12, got ${o.vocab}`);
  if (!(Number.isInteger(o.seqLen) && o.seqLen >= 7)) throw new LeanformerError('INVALID_ARGUMENT', `syntheticInstructionTask: seqLen must be an integer >= 7, got ${o.seqLen}`);
  if (!(Number.isInteger(o.batch) && o.batch >= 1)) throw new LeanformerError('INVALID_ARGUMENT', `syntheticInstructionTask: batch must be a positive integer, got ${o.batch}`);
  const T = INSTRUCTION_TOKENS;
  const nData = o.vocab - T.firstData;
  const L = Math.floor((o.seqLen - 3) / 2);
  return (step, micro) => {
    const r = rng((o.seed * 2_654_435_761 + step * 40_503 + micro * 9_973 + 17) >>> 0);
    const ids = new Array<bigint>(o.batch * o.seqLen).fill(0n);
    const labels = new Array<bigint>(o.batch * o.seqLen).fill(-100n);
    for (let b = 0; b < o.batch; b++) {
      const instr = T.copy + Math.floor(r.uniform() * 3);
      const d = Array.from({ length: L }, () => Math.floor(r.uniform() * nData));
      const ans = instr === T.copy ? d : instr === T.reverse ? [...d].reverse() : d.map((x) => (x + 1) % nData);
      const row = [instr, ...d.map((x) => x + T.firstData), T.sep, ...ans.map((x) => x + T.firstData), T.end];
      const base = b * o.seqLen;
      row.forEach((tok, t) => { ids[base + t] = BigInt(tok); });
      // Position t predicts token t + 1: label the positions from SEP to the last answer token.
      for (let t = L + 1; t < row.length - 1; t++) labels[base + t] = BigInt(row[t + 1]!);
    }
    return { input_ids: Tensor.from('int64', [o.batch, o.seqLen], ids), labels: Tensor.from('int64', [o.batch, o.seqLen], labels) };
  };
}
