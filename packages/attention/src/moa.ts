import { LeanformerError, Tensor, type Backend } from '@leanformer/core';
import { buildDecoderGraph } from './builder.js';
import { attentionDecompositionPass } from './lower.js';
import { patternDensity, type AttentionPattern, type HeadSpan } from './pattern.js';
import { prefill, type RetrievalExample, type TinyDecoder } from './retrieval.js';

/**
 * Loss of the model on calibration data at sequence length `len` when layer `l`'s heads use
 * `spans[l]` (MoA elastic windows). Lower is better.
 */
export type MoAEvaluator = (spans: readonly (readonly HeadSpan[])[], len: number) => Promise<number> | number;

/** Options of {@link profileMoA}. */
export interface MoAProfileOptions {
  /** Heads per layer. */
  readonly heads: readonly number[];
  /** Candidate spans every head may take (the full span `{ alpha: 0, beta: 1 }` is added if missing). */
  readonly candidates: readonly HeadSpan[];
  /** Calibration lengths; sensitivities are averaged over them (MoA profiles several lengths to fit the growth β). */
  readonly lengths: readonly number[];
  /** Average attention density allowed (fraction of causal scores, mean over all heads and lengths). */
  readonly density: number;
  readonly evaluate: MoAEvaluator;
}

/** The profile and the chosen configuration. */
export interface MoAProfile {
  /** Chosen span per layer and head. */
  readonly spans: HeadSpan[][];
  /** Mean density of the choice over the calibration lengths. */
  readonly density: number;
  /** Loss increase of each (layer, head, candidate) with only that head restricted: `[layer][head][candidate]`. */
  readonly sensitivity: number[][][];
  readonly candidates: readonly HeadSpan[];
  readonly baseLoss: number;
}

const FULL: HeadSpan = { alpha: 0, beta: 1 };

function spanDensity(s: HeadSpan, lengths: readonly number[]): number {
  return lengths.reduce((acc, L) => acc + patternDensity({ kind: 'moa', spans: [s] }, L, 1), 0) / lengths.length;
}

/**
 * MoA profiling: measures, for each head and candidate elastic span `alpha + beta·L`, how much the
 * calibration loss grows when only that head is restricted (the paper estimates this with
 * attention × gradient; we measure it directly through `evaluate`, which may run any Backend), then
 * picks one span per head under the density budget by a greedy multiple-choice knapsack: every head
 * starts at its cheapest candidate and the upgrade with the best loss reduction per unit of density
 * is applied until the budget is spent.
 *
 * @example
 * ```ts
 * const prof = await profileMoA({ heads: [2, 2], candidates, lengths: [128, 256], density: 0.4,
 *   evaluate: referenceEvaluator(model, examplesByLength) });
 * const patterns = prof.spans.map((spans) => ({ kind: 'moa', spans }));
 * ```
 */
export async function profileMoA(o: MoAProfileOptions): Promise<MoAProfile> {
  if (!(o.density > 0 && o.density <= 1)) throw new LeanformerError('INVALID_ARGUMENT', `profileMoA: 'density' must be in (0, 1], got ${o.density}`);
  if (!o.lengths.length) throw new LeanformerError('INVALID_ARGUMENT', 'profileMoA: give at least one calibration length');
  const cands = o.candidates.some((c) => c.alpha === 0 && c.beta === 1) ? [...o.candidates] : [...o.candidates, FULL];
  const dens = cands.map((c) => spanDensity(c, o.lengths));
  const dense = o.heads.map((h) => Array.from({ length: h }, () => FULL));
  let base = 0;
  for (const L of o.lengths) base += await o.evaluate(dense, L);
  base /= o.lengths.length;
  const sens: number[][][] = [];
  for (let l = 0; l < o.heads.length; l++) {
    sens.push([]);
    for (let h = 0; h < o.heads[l]!; h++) {
      const row: number[] = [];
      for (const c of cands) {
        if (c.alpha === 0 && c.beta === 1) { row.push(0); continue; }
        const spans = dense.map((layer, li) => layer.map((s, hi) => (li === l && hi === h ? c : s)));
        let loss = 0;
        for (const L of o.lengths) loss += await o.evaluate(spans, L);
        row.push(Math.max(0, loss / o.lengths.length - base));
      }
      sens[l]!.push(row);
    }
  }
  // Greedy multiple-choice knapsack over density.
  const flat: { l: number; h: number }[] = [];
  o.heads.forEach((n, l) => { for (let h = 0; h < n; h++) flat.push({ l, h }); });
  const order = cands.map((_, i) => i).sort((a, b) => dens[a]! - dens[b]!);
  const choice = flat.map(() => order[0]!);
  const mean = (): number => choice.reduce((s, c) => s + dens[c]!, 0) / flat.length;
  for (;;) {
    let best = -1, bestCand = -1, bestGain = 0;
    for (let i = 0; i < flat.length; i++) {
      const { l, h } = flat[i]!;
      const cur = choice[i]!;
      for (const c of order) {
        const dd = dens[c]! - dens[cur]!;
        if (dd <= 0) continue;
        if (mean() + dd / flat.length > o.density + 1e-12) continue;
        const gain = (sens[l]![h]![cur]! - sens[l]![h]![c]!) / dd;
        if (gain > bestGain) { bestGain = gain; best = i; bestCand = c; }
      }
    }
    if (best < 0) break;
    choice[best] = bestCand;
  }
  const spans = o.heads.map((n, l) => Array.from({ length: n }, (_, h) => cands[choice[flat.findIndex((f) => f.l === l && f.h === h)]!]!));
  return { spans, density: mean(), sensitivity: sens, candidates: cands, baseLoss: base };
}

function answerLoss(logits: Float32Array, answer: number, offset = 0, vocab = logits.length): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]!);
  let z = 0;
  for (let i = 0; i < vocab; i++) z += Math.exp(logits[offset + i]! - max);
  return -(logits[offset + answer]! - max - Math.log(z));
}

/** An evaluator that runs the TypeScript reference forward: mean answer cross-entropy over `examples[len]`. */
export function referenceEvaluator(m: TinyDecoder, examples: ReadonlyMap<number, readonly RetrievalExample[]>): MoAEvaluator {
  return (spans, len) => {
    const exs = examples.get(len);
    if (!exs?.length) throw new LeanformerError('INVALID_ARGUMENT', `referenceEvaluator: no calibration examples of length ${len}`);
    const patterns: AttentionPattern[] = spans.map((s) => ({ kind: 'moa', spans: s }));
    let loss = 0;
    for (const ex of exs) loss += answerLoss(prefill(m, ex.tokens, { patterns }).logits, ex.answer);
    return loss / exs.length;
  };
}

/**
 * An evaluator that builds the decoder graph with the spans and runs it on `backend` (ORT, tfjs, …),
 * all examples of a length in one batch. Mean answer cross-entropy.
 */
export function backendEvaluator(backend: Backend, m: TinyDecoder, examples: ReadonlyMap<number, readonly RetrievalExample[]>): MoAEvaluator {
  return async (spans, len) => {
    const exs = examples.get(len);
    if (!exs?.length) throw new LeanformerError('INVALID_ARGUMENT', `backendEvaluator: no calibration examples of length ${len}`);
    const graph = buildDecoderGraph(m, { patterns: spans.map((s) => ({ kind: 'moa', spans: s })), seqLen: len, batch: exs.length, maxLen: len });
    // Decomposed to standard ops so any backend runs it (the blocked form where it applies).
    attentionDecompositionPass().run(graph, {});
    const exe = await backend.compile(graph);
    try {
      const tokens = new BigInt64Array(exs.length * len);
      exs.forEach((ex, i) => { for (let t = 0; t < len; t++) tokens[i * len + t] = BigInt(ex.tokens[t]!); });
      const { logits } = await exe.run({ tokens: new Tensor('int64', [exs.length, len], tokens) });
      const lg = logits!.toFloat32();
      let loss = 0;
      exs.forEach((ex, i) => { loss += answerLoss(lg, ex.answer, (i * len + len - 1) * m.vocab, m.vocab); });
      return loss / exs.length;
    } finally {
      await exe.dispose();
    }
  };
}

/** Smallest uniform window whose density at `len` reaches `density` (for a like-for-like baseline). */
export function windowForDensity(density: number, lengths: readonly number[]): number {
  let lo = 1, hi = Math.max(...lengths);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const d = lengths.reduce((s, L) => s + patternDensity({ kind: 'window', window: mid }, L), 0) / lengths.length;
    if (d >= density) hi = mid; else lo = mid + 1;
  }
  return lo;
}
