import { LeanformerError } from '@leanformer/core';
import { attentionReference, forwardChunk, projectKV, sparseAttention, type KVView, type StepKV, type TinyDecoder } from '@leanformer/attention';
import { dequantizeKV, kvBytesPerToken, quantizeKV, type QuantizedKV } from './quant.js';

/**
 * ALISA settings. Sparse window attention (SWA) attends, per layer and step, over the `window` most
 * recent tokens (locally static) plus the `topK` earlier tokens with the largest attention weight
 * summed over the last `observe` queries (globally dynamic). Of that selected set, at most the
 * device KV budget is cached; the rest is recomputed from the stored layer inputs (token ids for
 * layer 0, hidden states after it) when selected.
 */
export interface AlisaConfig {
  /** Most recent tokens always attended (the new token included). */
  readonly window: number;
  /** Earlier tokens attended: the top-k by summed attention weight of the recent queries. */
  readonly topK: number;
  /** Queries whose attention weights rank the tokens (default: `window`). */
  readonly observe?: number;
  /** Device KV budget per layer, in tokens. Exactly one of `cacheTokens` / `cacheBytes`. */
  readonly cacheTokens?: number;
  /** Device KV budget per layer, in bytes (tokens = ⌊bytes ÷ bytes per cached token⌋, all kv heads). */
  readonly cacheBytes?: number;
  /**
   * How cached KV is stored: `float16` (accounted at 2 bytes a value; held as float32 here so the
   * recompute can be checked exactly) or `int8` (per token and kv head, fp16 scale + minimum; real codes).
   * Default `float16`. Recomputed tokens are always exact.
   */
  readonly kv?: 'float16' | 'int8';
}

/** One layer's numbers for one step. */
export interface AlisaStepStats {
  /** Tokens attended (window ∪ top-k). */
  readonly selected: number;
  /** Selected tokens whose KV was recomputed from the store this step (neither cached nor new). */
  readonly recomputed: number;
  /** Tokens in the device cache after the step (≤ the budget). */
  readonly cached: number;
  /** Bytes of those cached tokens' KV, all kv heads. */
  readonly cachedBytes: number;
}

/** Indices of `cand` by score descending (ties: earlier position first). */
function byScore(score: ArrayLike<number>, cand: number[]): number[] {
  return cand.sort((a, b) => score[b]! - score[a]! || a - b);
}

/**
 * One layer of an ALISA sequence: the recompute store (token ids or hidden states of every token),
 * the running importance, and the device cache (a fixed pool of `capacity` token slots).
 */
class AlisaLayer {
  readonly G: number; readonly D: number; readonly H: number;
  len = 0;
  /** Recompute store: token ids (layer 0 reads the embedding) or layer inputs `[len, dModel]`. */
  private ids: number[] = [];
  private hidden = new Float32Array(0);
  /** Summed attention weight each token got from the last `observe` queries (over all heads). */
  private imp = new Float64Array(0);
  private rows: { pos: Int32Array; w: Float64Array }[] = [];
  // Device cache: slot pool.
  readonly capacity: number;
  private readonly slotPos: Int32Array;
  private readonly slotOf = new Map<number, number>();
  private readonly kF?: Float32Array; private readonly vF?: Float32Array;
  private readonly kQ?: { codes: Uint8Array; scales: Uint16Array; mins: Uint16Array };
  private readonly vQ?: { codes: Uint8Array; scales: Uint16Array; mins: Uint16Array };
  readonly bytesPerToken: number;
  /** The last step's selected positions, query `[H, n, D]`, layer input `[n, dModel]`, attended K/V `[G, S, D]` and attention output `[H, n, D]` (for tests and inspection). */
  last?: { selected: Int32Array; q: Float32Array; x: Float32Array; k: Float32Array; v: Float32Array; out: Float32Array; stats: AlisaStepStats };

  constructor(private readonly model: TinyDecoder, readonly index: number, private readonly cfg: AlisaConfig) {
    const L = model.layers[index]!;
    this.G = L.kvHeads; this.D = L.headDim; this.H = L.numHeads;
    const int8 = cfg.kv === 'int8';
    this.bytesPerToken = this.G * kvBytesPerToken(this.D, int8 ? { bits: 8 } : 'float16');
    const cap = cfg.cacheTokens ?? Math.floor(cfg.cacheBytes! / this.bytesPerToken);
    this.capacity = cap;
    this.slotPos = new Int32Array(cap).fill(-1);
    const n = this.G * cap * this.D;
    if (int8) {
      this.kQ = { codes: new Uint8Array(n), scales: new Uint16Array(this.G * cap), mins: new Uint16Array(this.G * cap) };
      this.vQ = { codes: new Uint8Array(n), scales: new Uint16Array(this.G * cap), mins: new Uint16Array(this.G * cap) };
    } else {
      this.kF = new Float32Array(n); this.vF = new Float32Array(n);
    }
  }

  /**
   * A copy with another cache budget/format: same stores, importance and length; the cache is filled
   * with the window and the most important tokens, their K/V recomputed (setup, not counted as a step).
   */
  fork(cfg: AlisaConfig): AlisaLayer {
    const c = new AlisaLayer(this.model, this.index, cfg);
    c.len = this.len; c.ids = this.ids.slice(); c.hidden = this.hidden.slice(); c.imp = this.imp.slice(); c.rows = this.rows.slice();
    const win = Math.min(this.len, cfg.window);
    const windowPos = Array.from({ length: win }, (_, i) => this.len - 1 - i);
    const keep = [...windowPos, ...byScore(c.imp, [...Array(this.len - win).keys()])].slice(0, c.capacity);
    if (keep.length) {
      const r = c.recompute(keep), m = keep.length;
      keep.forEach((p, i) => {
        for (let g = 0; g < c.G; g++) c.writeSlot(i, g, r.k, r.v, (g * m + i) * c.D);
        c.slotPos[i] = p; c.slotOf.set(p, i);
      });
    }
    return c;
  }

  /** Bytes of the recompute store: 4 per token id (layer 0), `4·dModel` per float32 hidden state. */
  storeBytes(): number { return this.index === 0 ? 4 * this.len : 4 * this.model.dModel * this.len; }

  /** Device bytes of the cached tokens' KV. */
  cachedBytes(): number { return this.slotOf.size * this.bytesPerToken; }

  private remember(x: Float32Array, tokens: ArrayLike<number>, n: number): void {
    if (this.index === 0) { for (let t = 0; t < n; t++) this.ids.push(tokens[t]!); return; }
    const dm = this.model.dModel;
    if (this.hidden.length < (this.len + n) * dm) {
      const grown = new Float32Array(Math.max(2 * this.hidden.length, (this.len + n) * dm));
      grown.set(this.hidden);
      this.hidden = grown;
    }
    this.hidden.set(x.subarray(0, n * dm), this.len * dm);
  }

  /** K (post-RoPE) and V `[G, m, D]` of stored tokens at `positions`, from their layer inputs. */
  private recompute(positions: number[]): { k: Float32Array; v: Float32Array } {
    const m = positions.length, dm = this.model.dModel;
    const x = new Float32Array(m * dm);
    positions.forEach((p, i) => {
      if (this.index === 0) { const id = this.ids[p]!; x.set(this.model.embed.subarray(id * dm, (id + 1) * dm), i * dm); }
      else x.set(this.hidden.subarray(p * dm, (p + 1) * dm), i * dm);
    });
    return projectKV(this.model, this.index, x, positions);
  }

  private readSlot(slot: number, g: number, kOut: Float32Array, vOut: Float32Array, off: number): void {
    const { D } = this, base = (g * this.capacity + slot) * D;
    if (this.kF) { kOut.set(this.kF.subarray(base, base + D), off); vOut.set(this.vF!.subarray(base, base + D), off); return; }
    const view = (q: { codes: Uint8Array; scales: Uint16Array; mins: Uint16Array }): QuantizedKV => ({
      bits: 8, rows: 1, cols: D, groupSize: D, codes: q.codes.subarray(base, base + D),
      scales: q.scales.subarray(g * this.capacity + slot, g * this.capacity + slot + 1), mins: q.mins.subarray(g * this.capacity + slot, g * this.capacity + slot + 1),
    });
    kOut.set(dequantizeKV(view(this.kQ!)), off);
    vOut.set(dequantizeKV(view(this.vQ!)), off);
  }

  private writeSlot(slot: number, g: number, k: Float32Array, v: Float32Array, off: number): void {
    const { D } = this, base = (g * this.capacity + slot) * D;
    if (this.kF) { this.kF.set(k.subarray(off, off + D), base); this.vF!.set(v.subarray(off, off + D), base); return; }
    for (const [src, dst] of [[k, this.kQ!], [v, this.vQ!]] as const) {
      const q = quantizeKV(src.slice(off, off + D), 1, D, { bits: 8 });
      dst.codes.set(q.codes, base);
      dst.scales[g * this.capacity + slot] = q.scales[0]!;
      dst.mins[g * this.capacity + slot] = q.mins[0]!;
    }
  }

  /**
   * The layer's `KVProvider` work for `n` new tokens (`tokens`, layer input `x [n, dModel]`,
   * projections `q/k/v`) at `position…`: `dense` attends over every token (the prefill); otherwise over
   * window ∪ top-k. Returns the attended K/V with the attention output `[H, n, D]` (computed here: the
   * importance needs the probabilities); caches the highest-priority selected tokens within the budget.
   */
  attend({ x, position, n, q, k, v }: StepKV, tokens: ArrayLike<number>, dense: boolean): KVView {
    const { G, D, H } = this;
    if (position !== this.len) throw new LeanformerError('INVALID_ARGUMENT', `ALISA layer ${this.index}: tokens must arrive in order (expected position ${this.len}, got ${position})`);
    this.remember(x, tokens, n);
    const len = position + n;
    if (this.imp.length < len) { const g = new Float64Array(Math.max(2 * this.imp.length, len)); g.set(this.imp); this.imp = g; }
    this.len = len;
    // The new tokens are always in the window of a decode chunk; the prefill selects everything anyway.
    const win = Math.min(len, dense ? this.cfg.window : Math.max(this.cfg.window, n));
    // Selected: the window plus the top-k earlier tokens by importance (everything for the prefill).
    const windowPos = Array.from({ length: win }, (_, i) => len - 1 - i);
    const earlier = [...Array(len - win).keys()];
    const top = dense ? earlier : byScore(this.imp, earlier).slice(0, this.cfg.topK);
    const selected = Int32Array.from([...windowPos, ...top]).sort();
    const S = selected.length;
    // Gather K/V of the selected set: cached, new, or recomputed.
    const kv = { k: new Float32Array(G * S * D), v: new Float32Array(G * S * D) };
    const recomputeList: number[] = [], recomputeAt: number[] = [];
    selected.forEach((p, i) => {
      const slot = this.slotOf.get(p);
      if (p >= position) {
        for (let g = 0; g < G; g++) {
          kv.k.set(k.subarray((g * n + p - position) * D, (g * n + p - position + 1) * D), (g * S + i) * D);
          kv.v.set(v.subarray((g * n + p - position) * D, (g * n + p - position + 1) * D), (g * S + i) * D);
        }
      } else if (slot !== undefined) {
        for (let g = 0; g < G; g++) this.readSlot(slot, g, kv.k, kv.v, (g * S + i) * D);
      } else { recomputeList.push(p); recomputeAt.push(i); }
    });
    // The prefill computed every K/V already: nothing of the prompt is recomputed, only stored.
    if (recomputeList.length && dense) throw new LeanformerError('EXECUTION_FAILED', 'ALISA: the prefill found uncached old tokens');
    if (recomputeList.length) {
      const r = this.recompute(recomputeList);
      const m = recomputeList.length;
      recomputeAt.forEach((i, t) => {
        for (let g = 0; g < G; g++) {
          kv.k.set(r.k.subarray((g * m + t) * D, (g * m + t + 1) * D), (g * S + i) * D);
          kv.v.set(r.v.subarray((g * m + t) * D, (g * m + t + 1) * D), (g * S + i) * D);
        }
      });
    }
    // Attention. Only the last `observe` queries' probabilities are needed (importance); a long dense
    // prefill runs its earlier queries through the skipping kernel (keys are at 0…len-1 there).
    const observe = this.cfg.observe ?? this.cfg.window;
    const r = Math.min(n, observe), a = n - r;
    const base = { k: kv.k, v: kv.v, numHeads: H, kvHeads: G, headDim: D, kLen: S, scale: 1 / Math.sqrt(D) };
    const qRows = (from: number, to: number): Float32Array => {
      const o = new Float32Array(H * (to - from) * D);
      for (let h = 0; h < H; h++) o.set(q.subarray((h * n + from) * D, (h * n + to) * D), h * (to - from) * D);
      return o;
    };
    const tail = attentionReference({ ...base, q: a ? qRows(a, n) : q, qLen: r, qOffset: position + a, keyPositions: selected }, { probs: true });
    let out = tail.out;
    if (a) {
      const head = dense && position === 0
        ? sparseAttention({ ...base, q: qRows(0, a), qLen: a, qOffset: 0 })
        : attentionReference({ ...base, q: qRows(0, a), qLen: a, qOffset: position, keyPositions: selected }).out;
      out = new Float32Array(H * n * D);
      for (let h = 0; h < H; h++) {
        out.set(head.subarray(h * a * D, (h + 1) * a * D), h * n * D);
        out.set(tail.out.subarray(h * r * D, (h + 1) * r * D), (h * n + a) * D);
      }
    }
    // Importance: push the newest queries' weights (summed over heads), drop the oldest beyond `observe`.
    for (let i = 0; i < r; i++) {
      const w = new Float64Array(S);
      for (let h = 0; h < H; h++) for (let j = 0; j < S; j++) w[j] += tail.probs![(h * r + i) * S + j]!;
      for (let j = 0; j < S; j++) this.imp[selected[j]!] += w[j]!;
      this.rows.push({ pos: selected, w });
    }
    while (this.rows.length > observe) { const r = this.rows.shift()!; r.pos.forEach((p, j) => { this.imp[p] -= r.w[j]!; }); }
    // Cache update: of the selected tokens (their K/V are at hand) keep the window, then the most
    // important by the updated scores — what the next step most likely selects — up to the budget.
    const priority = [...windowPos, ...byScore(this.imp, [...top])];
    const keep = new Set(priority.slice(0, this.capacity));
    for (const [p, slot] of [...this.slotOf]) if (!keep.has(p)) { this.slotOf.delete(p); this.slotPos[slot] = -1; }
    let free = 0;
    const index = new Map<number, number>();
    selected.forEach((p, i) => index.set(p, i));
    for (const p of keep) {
      if (this.slotOf.has(p)) continue;
      while (this.slotPos[free] !== -1) free++;
      const i = index.get(p)!;
      for (let g = 0; g < G; g++) this.writeSlot(free, g, kv.k, kv.v, (g * S + i) * D);
      this.slotPos[free] = p;
      this.slotOf.set(p, free);
    }
    const stats: AlisaStepStats = { selected: S, recomputed: recomputeList.length, cached: this.slotOf.size, cachedBytes: this.cachedBytes() };
    this.last = { selected, q, x: x.slice(0, n * this.model.dModel), k: kv.k, v: kv.v, out, stats };
    return { k: kv.k, v: kv.v, kLen: S, keyPositions: selected, out };
  }
}

/**
 * An ALISA sequence over a {@link TinyDecoder}: the prefill attends densely and stores every token's
 * layer input; each decode step attends per layer over window ∪ top-k (sparse window attention),
 * reading cached KV, the new token's KV, or KV recomputed from the stored layer input — the
 * attention is the same as over the exact KV of the selected set (tested). The device cache holds
 * at most the budget; what does not fit is recomputed whenever selected. The decoder runs through
 * `forwardChunk` with one provider per step: each layer stores the input it is handed
 * (`StepKV.x`) and recomputes with `projectKV`.
 *
 * @example
 * ```ts
 * const s = new AlisaSequence(model, { window: 16, topK: 48, cacheTokens: 32 });
 * s.prefill(prompt);
 * const logits = s.step([question], prompt.length);
 * s.stepStats.at(-1); // per layer: selected, recomputed, cached, cachedBytes
 * ```
 */
export class AlisaSequence {
  readonly layers: AlisaLayer[];
  /** Per decode step, per layer. */
  readonly stepStats: AlisaStepStats[][] = [];

  constructor(readonly model: TinyDecoder, readonly cfg: AlisaConfig, from?: AlisaSequence) {
    for (const [name, v] of [['window', cfg.window], ['topK', cfg.topK]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new LeanformerError('INVALID_ARGUMENT', `ALISA: '${name}' must be a non-negative integer, got ${v}`);
    }
    if (cfg.window < 1) throw new LeanformerError('INVALID_ARGUMENT', `ALISA: 'window' must be ≥ 1 (the new token attends itself), got ${cfg.window}`);
    if ((cfg.cacheTokens === undefined) === (cfg.cacheBytes === undefined)) throw new LeanformerError('INVALID_ARGUMENT', "ALISA: give exactly one of 'cacheTokens' and 'cacheBytes'");
    const budget = cfg.cacheTokens ?? cfg.cacheBytes!;
    if (!Number.isInteger(budget) || budget < 0) throw new LeanformerError('INVALID_ARGUMENT', `ALISA: the cache budget must be a non-negative integer, got ${budget}`);
    if (from && (from.cfg.observe ?? from.cfg.window) !== (cfg.observe ?? cfg.window)) throw new LeanformerError('INVALID_ARGUMENT', "ALISA: fork keeps the importance rows, so 'observe' must stay the same");
    this.layers = from ? from.layers.map((l) => l.fork(cfg)) : model.layers.map((_, i) => new AlisaLayer(model, i, cfg));
  }

  /**
   * The same sequence (prompt stores and importance) under another config — e.g. another cache
   * budget — so one prefill serves a budget sweep. Only `observe` must match.
   */
  fork(cfg: AlisaConfig): AlisaSequence { return new AlisaSequence(this.model, cfg, this); }

  /** Tokens processed so far. */
  get length(): number { return this.layers[0]!.len; }

  private forward(tokens: ArrayLike<number>, position: number, dense: boolean): Float32Array {
    return forwardChunk(this.model, tokens, position, (s) => this.layers[s.layer]!.attend(s, tokens, dense));
  }

  /** Dense prefill of the prompt; fills the cache with its highest-priority tokens. Returns the last logits. */
  prefill(tokens: ArrayLike<number>): Float32Array {
    if (this.length !== 0) throw new LeanformerError('INVALID_ARGUMENT', 'ALISA: prefill must come first');
    return this.forward(tokens, 0, true);
  }

  /** One decode step (or a chunk) at `position` (= tokens so far) with sparse window attention. Returns the last logits. */
  step(tokens: ArrayLike<number>, position: number): Float32Array {
    const logits = this.forward(tokens, position, false);
    this.stepStats.push(this.layers.map((l) => l.last!.stats));
    return logits;
  }

  /** Device KV bytes, recompute-store bytes and fp16 full-KV bytes at the current length, over all layers. */
  bytes(): { cached: number; store: number; fullFp16: number } {
    return this.layers.reduce((s, l) => ({
      cached: s.cached + l.cachedBytes(),
      store: s.store + l.storeBytes(),
      fullFp16: s.fullFp16 + l.G * kvBytesPerToken(l.D, 'float16') * l.len,
    }), { cached: 0, store: 0, fullFp16: 0 });
  }
}
