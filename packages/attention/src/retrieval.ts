import { LeanformerError, rng } from '@leanformer/core';
import type { AttentionPattern } from './pattern.js';
import { attentionReference, sparseAttention } from './reference.js';
import { applyRope } from './rope.js';

/** Weights of one attention-only decoder layer (row-major, `x · W`). */
export interface DecoderLayerWeights {
  readonly numHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** `[dModel, numHeads·headDim]` */ readonly wq: Float32Array;
  /** `[dModel, kvHeads·headDim]` */ readonly wk: Float32Array;
  /** `[dModel, kvHeads·headDim]` */ readonly wv: Float32Array;
  /** `[numHeads·headDim, dModel]` */ readonly wo: Float32Array;
  /** RoPE inverse frequencies (`headDim/2`), or undefined for no RoPE in this layer. */
  readonly ropeInvFreq?: Float64Array;
}

/**
 * A tiny attention-only decoder: `x = embed[token]`; per layer `x += Attn(x)`; `logits = x · unembed`.
 * No norms or MLPs, so every weight has a readable role (see {@link buildRetrievalDecoder}).
 */
export interface TinyDecoder {
  readonly vocab: number;
  readonly dModel: number;
  /** `[vocab, dModel]` */ readonly embed: Float32Array;
  /** `[dModel, vocab]` */ readonly unembed: Float32Array;
  readonly layers: readonly DecoderLayerWeights[];
  /** Token ids that are answers: the argmax is taken over `[answerIds[0], answerIds[1])`. */
  readonly answerIds: readonly [number, number];
}

/** Vocabulary layout of the retrieval task: keys, then values, then haystack fillers. */
export interface RetrievalVocab {
  readonly numKeys: number;
  readonly numValues: number;
  readonly numFillers: number;
}

/** Default vocabulary: 16 keys, 16 values, 32 fillers (64 tokens = the head size). */
export const DEFAULT_RETRIEVAL_VOCAB: RetrievalVocab = { numKeys: 16, numValues: 16, numFillers: 32 };

/** Periods (in tokens) of the previous-token head's rotation pairs; co-prime, so `Δ = 1` is the unique peak up to their product. */
const PREV_PERIODS = [3, 4, 5, 7, 11, 13, 17, 19];

/**
 * Builds a 2-layer attention-only decoder whose weights are constructed (not trained) to solve
 * key→value retrieval by an induction circuit:
 *
 * - residual stream = `[tok (V) | prev (V) | ans (V) | 1]`, one-hot token embedding in `tok`, a constant 1;
 * - layer 0, 2 previous-token heads: RoPE with frequencies `2π/p` for co-prime periods p; q and k read the
 *   constant so that the score peaks at relative distance 1 (scale set so the next-best distance up to
 *   `maxLen` is ≥ 30 logits lower); values copy `tok`, output writes `prev` (each head half);
 * - layer 1, 2 induction heads, no RoPE: q reads `tok`, k reads `prev`, score 40 on a match; values copy
 *   `tok`, output writes `ans` (each head half); logits = `ans`.
 *
 * So the last token (a key) attends to the position right after that key's earlier occurrence — its value.
 * Layer 0 needs a window of 2; layer 1 needs the whole context: heterogeneous heads, as MoA assumes.
 *
 * @example
 * ```ts
 * const model = buildRetrievalDecoder({ maxLen: 1024 });
 * const [ex] = makeRetrievalExamples({ length: 256, count: 1, seed: 1 });
 * predictAnswer(model, ex.tokens) === ex.answer; // true
 * ```
 */
export function buildRetrievalDecoder(o: { vocab?: RetrievalVocab; maxLen?: number } = {}): TinyDecoder {
  const voc = o.vocab ?? DEFAULT_RETRIEVAL_VOCAB;
  const V = voc.numKeys + voc.numValues + voc.numFillers;
  const D = 64;
  if (V > D) throw new LeanformerError('INVALID_ARGUMENT', `buildRetrievalDecoder: vocabulary of ${V} tokens exceeds the head size ${D}`);
  const maxLen = o.maxLen ?? 8192;
  const dModel = 3 * V + 1;
  const TOK = 0, PREV = V, ANS = 2 * V, ONE = 3 * V;
  const H = 2;
  const embed = new Float32Array(V * dModel);
  for (let t = 0; t < V; t++) { embed[t * dModel + TOK + t] = 1; embed[t * dModel + ONE] = 1; }
  const unembed = new Float32Array(dModel * V);
  for (let t = 0; t < V; t++) unembed[(ANS + t) * V + t] = 1;

  // Layer 0: previous-token heads.
  const half = D / 2;
  const inv = new Float64Array(half);
  PREV_PERIODS.forEach((p, i) => { inv[i] = (2 * Math.PI) / p; });
  // score(Δ) = s · Σ_i cos((Δ-1)·θ_i) when q_i = s·(cos θ_i, -sin θ_i)·√D and k_i = (1, 0).
  let minGap = Infinity;
  for (let delta = 0; delta < maxLen; delta++) {
    if (delta === 1) continue;
    let g = 0;
    for (let i = 0; i < PREV_PERIODS.length; i++) g += 1 - Math.cos((delta - 1) * inv[i]!);
    minGap = Math.min(minGap, g);
  }
  const s0 = 30 / minGap;
  const l0 = { wq: new Float32Array(dModel * H * D), wk: new Float32Array(dModel * H * D), wv: new Float32Array(dModel * H * D), wo: new Float32Array(H * D * dModel) };
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < PREV_PERIODS.length; i++) {
      // rotate-half layout: pair (i, i + D/2). q = R(-θ)·(1,0) scaled, so q_p·k_{p-Δ} ∝ cos((Δ-1)θ).
      l0.wq[ONE * H * D + h * D + i] = s0 * Math.sqrt(D) * Math.cos(inv[i]!);
      l0.wq[ONE * H * D + h * D + i + half] = -s0 * Math.sqrt(D) * Math.sin(inv[i]!);
      l0.wk[ONE * H * D + h * D + i] = 1;
    }
    for (let t = 0; t < V; t++) {
      l0.wv[(TOK + t) * H * D + h * D + t] = 1;
      l0.wo[(h * D + t) * dModel + PREV + t] = 1 / H;
    }
  }
  // Layer 1: induction heads.
  const s1 = 40;
  const l1 = { wq: new Float32Array(dModel * H * D), wk: new Float32Array(dModel * H * D), wv: new Float32Array(dModel * H * D), wo: new Float32Array(H * D * dModel) };
  for (let h = 0; h < H; h++) {
    for (let t = 0; t < V; t++) {
      l1.wq[(TOK + t) * H * D + h * D + t] = s1 * Math.sqrt(D);
      l1.wk[(PREV + t) * H * D + h * D + t] = 1;
      l1.wv[(TOK + t) * H * D + h * D + t] = 1;
      l1.wo[(h * D + t) * dModel + ANS + t] = 1 / H;
    }
  }
  return {
    vocab: V,
    dModel,
    embed,
    unembed,
    layers: [
      { numHeads: H, kvHeads: H, headDim: D, ...l0, ropeInvFreq: inv },
      { numHeads: H, kvHeads: H, headDim: D, ...l1 },
    ],
    answerIds: [voc.numKeys, voc.numKeys + voc.numValues],
  };
}

/** One retrieval prompt: `tokens` ends with the queried key; the model must output `answer`. */
export interface RetrievalExample {
  readonly tokens: Int32Array;
  readonly answer: number;
  /** Position of the answer (value) token inside the prompt. */
  readonly needlePos: number;
}

/**
 * Synthetic key–value retrieval in a haystack: `length - 1` tokens of fillers with `numKeys` distinct
 * (key, value) pairs planted at random positions, then one of the keys as the question. The queried
 * pair's position is uniform over the context, so a method that sees only part of the context fails
 * in proportion. Values are random (repeats allowed); keys are distinct.
 */
export function makeRetrievalExamples(o: { length: number; count: number; seed?: number; vocab?: RetrievalVocab; pairs?: number }): RetrievalExample[] {
  const voc = o.vocab ?? DEFAULT_RETRIEVAL_VOCAB;
  const pairs = o.pairs ?? voc.numKeys;
  if (pairs > voc.numKeys) throw new LeanformerError('INVALID_ARGUMENT', `makeRetrievalExamples: ${pairs} pairs need distinct keys but the vocabulary has ${voc.numKeys}`);
  if (o.length < 2 * pairs + 2) throw new LeanformerError('INVALID_ARGUMENT', `makeRetrievalExamples: length ${o.length} cannot hold ${pairs} pairs and a question (need ≥ ${2 * pairs + 2})`);
  const random = rng(o.seed ?? 1);
  const r = (): number => random.uniform();
  const out: RetrievalExample[] = [];
  const ctx = o.length - 1;
  for (let n = 0; n < o.count; n++) {
    const tokens = new Int32Array(o.length);
    for (let i = 0; i < ctx; i++) tokens[i] = voc.numKeys + voc.numValues + Math.floor(r() * voc.numFillers);
    // Pick pair start positions on a grid of disjoint slots so pairs never overlap.
    const slots = Math.floor(ctx / 2);
    const chosen = new Set<number>();
    while (chosen.size < pairs) chosen.add(Math.floor(r() * slots));
    const keys = [...Array(voc.numKeys).keys()].sort(() => r() - 0.5).slice(0, pairs);
    const starts = [...chosen];
    const vals: number[] = [];
    starts.forEach((s, i) => {
      const v = voc.numKeys + Math.floor(r() * voc.numValues);
      tokens[2 * s] = keys[i]!;
      tokens[2 * s + 1] = v;
      vals.push(v);
    });
    const qi = Math.floor(r() * pairs);
    tokens[ctx] = keys[qi]!;
    out.push({ tokens, answer: vals[qi]!, needlePos: 2 * starts[qi]! + 1 });
  }
  return out;
}

/** Per-layer K/V of a sequence: `k` (after RoPE), `kPre` (before RoPE), `v`, each `[kvHeads, len, headDim]`. */
export interface LayerKV {
  readonly k: Float32Array;
  readonly kPre: Float32Array;
  readonly v: Float32Array;
  readonly len: number;
}

/** What {@link prefill} returns. */
export interface PrefillResult {
  /** Logits of the last position. */
  readonly logits: Float32Array;
  readonly kv: LayerKV[];
  /** Per layer, post-RoPE queries `[numHeads, len, headDim]` (SnapKV's observation window reads them). */
  readonly queries: Float32Array[];
  /** Per layer attention probabilities `[numHeads, len, len]`, when `probs: true`. */
  readonly probs?: Float32Array[];
}

function matmulRows(x: Float32Array, rows: number, inDim: number, w: Float32Array, outDim: number): Float32Array {
  const y = new Float32Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < inDim; i++) {
      const a = x[r * inDim + i]!;
      if (a === 0) continue;
      const wb = i * outDim;
      const yb = r * outDim;
      for (let o = 0; o < outDim; o++) y[yb + o] += a * w[wb + o]!;
    }
  }
  return y;
}

/** `[len, heads·D]` → `[heads, len, D]` */
function toHeads(x: Float32Array, len: number, heads: number, D: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let t = 0; t < len; t++) for (let h = 0; h < heads; h++) y.set(x.subarray((t * heads + h) * D, (t * heads + h + 1) * D), (h * len + t) * D);
  return y;
}

/** `[heads, len, D]` → `[len, heads·D]` */
function fromHeads(x: Float32Array, len: number, heads: number, D: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let h = 0; h < heads; h++) for (let t = 0; t < len; t++) y.set(x.subarray((h * len + t) * D, (h * len + t + 1) * D), (t * heads + h) * D);
  return y;
}

function embedTokens(m: TinyDecoder, tokens: ArrayLike<number>): Float32Array {
  const x = new Float32Array(tokens.length * m.dModel);
  for (let t = 0; t < tokens.length; t++) {
    const id = tokens[t]!;
    if (!Number.isInteger(id) || id < 0 || id >= m.vocab) throw new LeanformerError('INVALID_ARGUMENT', `token ${id} at position ${t} is outside the vocabulary [0, ${m.vocab})`);
    x.set(m.embed.subarray(id * m.dModel, (id + 1) * m.dModel), t * m.dModel);
  }
  return x;
}

/**
 * Runs the whole prompt with per-layer attention patterns (default dense) and returns the last
 * logits, every layer's K/V (for a cache) and queries. Static patterns use {@link sparseAttention}
 * (only visited scores are computed); `topk` and `probs: true` use the dense reference.
 */
export function prefill(m: TinyDecoder, tokens: ArrayLike<number>, o: { patterns?: readonly (AttentionPattern | undefined)[]; probs?: boolean } = {}): PrefillResult {
  const N = tokens.length;
  let x = embedTokens(m, tokens);
  const kv: LayerKV[] = [];
  const queries: Float32Array[] = [];
  const probs: Float32Array[] = [];
  m.layers.forEach((L, li) => {
    const { numHeads: H, kvHeads: G, headDim: D } = L;
    const q = toHeads(matmulRows(x, N, m.dModel, L.wq, H * D), N, H, D);
    const kPre = toHeads(matmulRows(x, N, m.dModel, L.wk, G * D), N, G, D);
    const v = toHeads(matmulRows(x, N, m.dModel, L.wv, G * D), N, G, D);
    const k = kPre.slice();
    if (L.ropeInvFreq) { applyRope(q, H, N, D, L.ropeInvFreq); applyRope(k, G, N, D, L.ropeInvFreq); }
    const pattern = o.patterns?.[li];
    const inputs = { q, k, v, numHeads: H, kvHeads: G, headDim: D, qLen: N, kLen: N, scale: 1 / Math.sqrt(D), ...(pattern ? { pattern } : {}) };
    let out: Float32Array;
    if (o.probs || pattern?.kind === 'topk') {
      const r = attentionReference(inputs, { probs: !!o.probs });
      out = r.out;
      if (r.probs) probs.push(r.probs);
    } else {
      out = sparseAttention(inputs);
    }
    const y = matmulRows(fromHeads(out, N, H, D), N, H * D, L.wo, m.dModel);
    for (let i = 0; i < x.length; i++) x[i] += y[i]!;
    kv.push({ k, kPre, v, len: N });
    queries.push(q);
  });
  const logits = matmulRows(x.subarray((N - 1) * m.dModel), 1, m.dModel, m.unembed, m.vocab);
  return o.probs ? { logits, kv, queries, probs } : { logits, kv, queries };
}

/** A chunk's projections handed to a {@link KVProvider}, for `n` new tokens at `position … position+n-1`. */
export interface StepKV {
  readonly layer: number;
  /** Absolute position of the first new token. */
  readonly position: number;
  /** Number of new tokens. */
  readonly n: number;
  /**
   * The layer's input `[n, dModel]`: the residual stream the q/k/v projections read (this decoder has no
   * norms), so a provider can later recompute these tokens' K/V with {@link projectKV} (ALISA stores it).
   * Borrowed: the layer's output is added into it after the provider returns, so copy what you keep.
   */
  readonly x: Float32Array;
  /** Post-RoPE queries `[numHeads, n, headDim]`. */ readonly q: Float32Array;
  /** Post-RoPE keys `[kvHeads, n, headDim]`. */ readonly k: Float32Array;
  /** Pre-RoPE keys `[kvHeads, n, headDim]`. */ readonly kPre: Float32Array;
  /** Values `[kvHeads, n, headDim]`. */ readonly v: Float32Array;
}

/** The keys a chunk attends over (the new tokens included), from a cache of any kind. */
export interface KVView {
  /** `[kvHeads, kLen, headDim]` */ readonly k: Float32Array;
  /** `[kvHeads, kLen, headDim]` */ readonly v: Float32Array;
  readonly kLen: number;
  /** Absolute positions of the keys: `kLen` entries, or `kvHeads·kLen` when heads kept different tokens (default 0…kLen-1). */
  readonly keyPositions?: ArrayLike<number>;
  /** Pattern applied on top (default dense). */
  readonly pattern?: AttentionPattern;
  /**
   * The chunk's attention output `[numHeads, n, headDim]` when the provider attended itself (ALISA does:
   * it ranks tokens by the attention probabilities); `k`/`v` then only say what was attended and
   * {@link forwardChunk} takes this output as is.
   */
  readonly out?: Float32Array;
}

/** Stores a chunk's K/V in a cache and returns what the chunk should attend over. */
export type KVProvider = (step: StepKV) => KVView;

/**
 * Runs `tokens` (a prefill chunk, or one decode token) at positions `position…` against a cache:
 * per layer it hands the chunk's layer input and q/k/v to `provider` (which stores them however it
 * likes — contiguous, paged, quantized, evicted, low-rank, or as inputs to recompute from) and attends
 * over the view it returns, causally by absolute position (or takes the view's own `out`). Returns the
 * logits of the chunk's last token.
 *
 * @example
 * ```ts
 * const logits = forwardChunk(model, [tok], pos, (s) => cache.appendAndView(s));
 * ```
 */
export function forwardChunk(m: TinyDecoder, tokens: ArrayLike<number>, position: number, provider: KVProvider): Float32Array {
  const n = tokens.length;
  if (n < 1) throw new LeanformerError('INVALID_ARGUMENT', 'forwardChunk: tokens must not be empty');
  const x = embedTokens(m, tokens);
  m.layers.forEach((L, li) => {
    const { numHeads: H, kvHeads: G, headDim: D } = L;
    const q = toHeads(matmulRows(x, n, m.dModel, L.wq, H * D), n, H, D);
    const kPre = toHeads(matmulRows(x, n, m.dModel, L.wk, G * D), n, G, D);
    const v = toHeads(matmulRows(x, n, m.dModel, L.wv, G * D), n, G, D);
    const k = kPre.slice();
    if (L.ropeInvFreq) { applyRope(q, H, n, D, L.ropeInvFreq, undefined, position); applyRope(k, G, n, D, L.ropeInvFreq, undefined, position); }
    const view = provider({ layer: li, position, n, x, q, k, kPre, v });
    if (view.out && view.out.length !== H * n * D) throw new LeanformerError('SHAPE_MISMATCH', `forwardChunk: layer ${li}'s provider returned an attention output of ${view.out.length} values, expected numHeads·n·headDim = ${H * n * D}`);
    const out = view.out ?? attentionReference({
      q, k: view.k, v: view.v, numHeads: H, kvHeads: G, headDim: D, qLen: n, kLen: view.kLen, qOffset: position,
      scale: 1 / Math.sqrt(D),
      ...(view.keyPositions ? { keyPositions: view.keyPositions } : {}),
      ...(view.pattern ? { pattern: view.pattern } : {}),
    }).out;
    const y = matmulRows(fromHeads(out, n, H, D), n, H * D, L.wo, m.dModel);
    for (let i = 0; i < x.length; i++) x[i] += y[i]!;
  });
  return matmulRows(x.subarray((n - 1) * m.dModel), 1, m.dModel, m.unembed, m.vocab);
}

/**
 * K (post-RoPE) and V `[kvHeads, m, headDim]` of layer `layer` for `m` tokens from their layer inputs
 * `x [m, dModel]` (what {@link StepKV} `x` held) at absolute `positions`: the same float32 arithmetic as
 * the forward, so recomputed K/V equal the ones computed the first time.
 *
 * @example
 * ```ts
 * const { k, v } = projectKV(model, 1, storedInputs, [3, 17]);
 * ```
 */
export function projectKV(m: TinyDecoder, layer: number, x: Float32Array, positions: ArrayLike<number>): { k: Float32Array; v: Float32Array } {
  const L = m.layers[layer];
  if (!L) throw new LeanformerError('INVALID_ARGUMENT', `projectKV: layer ${layer} does not exist (the model has ${m.layers.length})`);
  const n = positions.length, { kvHeads: G, headDim: D } = L;
  if (x.length !== n * m.dModel) throw new LeanformerError('SHAPE_MISMATCH', `projectKV: x holds ${x.length} values, expected positions·dModel = ${n * m.dModel}`);
  const k = toHeads(matmulRows(x, n, m.dModel, L.wk, G * D), n, G, D);
  const v = toHeads(matmulRows(x, n, m.dModel, L.wv, G * D), n, G, D);
  if (L.ropeInvFreq) applyRope(k, G, n, D, L.ropeInvFreq, positions);
  return { k, v };
}

/** One decode step: {@link forwardChunk} with a single token. */
export function decodeStep(m: TinyDecoder, token: number, position: number, provider: KVProvider): Float32Array {
  return forwardChunk(m, [token], position, provider);
}

/** Argmax over the model's answer ids. */
export function argmaxAnswer(m: TinyDecoder, logits: Float32Array): number {
  let best = m.answerIds[0];
  for (let t = m.answerIds[0]; t < m.answerIds[1]; t++) if (logits[t]! > logits[best]!) best = t;
  return best;
}

/** The model's answer for a prompt under per-layer patterns (prefill only). */
export function predictAnswer(m: TinyDecoder, tokens: ArrayLike<number>, patterns?: readonly (AttentionPattern | undefined)[]): number {
  return argmaxAnswer(m, prefill(m, tokens, patterns ? { patterns } : {}).logits);
}

/** Fraction of examples answered correctly under per-layer patterns. */
export function retrievalAccuracy(m: TinyDecoder, examples: readonly RetrievalExample[], patterns?: readonly (AttentionPattern | undefined)[]): number {
  let ok = 0;
  for (const ex of examples) if (predictAnswer(m, ex.tokens, patterns) === ex.answer) ok++;
  return ok / examples.length;
}
