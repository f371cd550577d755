// What the decode loop keeps in its KV buffers between steps: the stored format (fp32, fp16, int8,
// int4) and an eviction policy under a budget of positions (sliding window, StreamingLLM, H2O, SnapKV).
// The graph takes float32 past K/V, so a quantized format is applied by rounding each new token's K/V
// through the format once it is stored (what a cache of that format returns); eviction compacts the
// buffers in place and renumbers the kept tokens 0..n-1 (StreamingLLM's "positions within the cache"),
// re-rotating RoPE keys so that relative distances stay consistent with the next token's position.
import { float16BitsToFloat32, float32ToFloat16Bits, LeanformerError } from '@leanformer/core';
import { applyRope } from '@leanformer/attention';
import { snapkvSelect, streamingKeep, topKIndices } from './eviction.js';
import { dequantizeKV, kvBytesPerToken, quantizeKV, type KVQuantConfig } from './quant.js';

/** Stored KV formats of {@link CachePolicy}. */
export const KV_FORMATS = ['fp32', 'fp16', 'int8', 'int4'] as const;
/** Eviction policies of {@link CachePolicy} (without one, a budget is a sliding window of the latest positions). */
export const KV_EVICTIONS = ['streaming', 'snapkv', 'h2o'] as const;

/** How the decode loop stores and bounds its KV cache. */
export interface CachePolicy {
  /** Stored format (default fp32). int8: per token and head; int4: per token, groups of ≤ 32 channels. */
  readonly format?: (typeof KV_FORMATS)[number];
  /** Positions kept between steps (default: all). A prefill longer than this runs in full, then is cut. */
  readonly budget?: number;
  /**
   * Which positions survive when over `budget` (needs `budget`): `streaming` the first `sinks` plus the
   * latest; `h2o` the latest ⌊budget/2⌋ plus the largest accumulated attention; `snapkv` the last
   * `observation` positions plus those their queries attend to most (max-pooled, kernel 7). Default: the
   * latest `budget` (sliding window). `h2o` and `snapkv` read the graph's `query_<l>` outputs.
   */
  readonly evict?: (typeof KV_EVICTIONS)[number];
  /** StreamingLLM attention sinks (default 4). */
  readonly sinks?: number;
  /** SnapKV observation window in queries (default 32, at most `budget`). */
  readonly observation?: number;
  /** RoPE inverse frequencies (rotate-half layout): kept keys are re-rotated to their new positions. */
  readonly ropeInvFreq?: ArrayLike<number>;
}

/**
 * Checks a {@link CachePolicy}, naming the field and what is allowed.
 *
 * @example
 * ```ts
 * checkCachePolicy({ format: 'int8', budget: 64, evict: 'streaming' });
 * ```
 */
export function checkCachePolicy(p: CachePolicy): void {
  if (p.format !== undefined && !(KV_FORMATS as readonly string[]).includes(p.format)) throw new LeanformerError('INVALID_ARGUMENT', `KV cache: format '${String(p.format)}' is not one of ${KV_FORMATS.join(', ')}`, { details: { field: 'format' } });
  if (p.budget !== undefined && !(Number.isInteger(p.budget) && p.budget >= 1)) throw new LeanformerError('INVALID_ARGUMENT', `KV cache: budget must be a positive integer (positions kept), got ${String(p.budget)}`, { details: { field: 'budget' } });
  if (p.evict !== undefined) {
    if (!(KV_EVICTIONS as readonly string[]).includes(p.evict)) throw new LeanformerError('INVALID_ARGUMENT', `KV cache: evict '${String(p.evict)}' is not one of ${KV_EVICTIONS.join(', ')}`, { details: { field: 'evict' } });
    if (p.budget === undefined) throw new LeanformerError('INVALID_ARGUMENT', `KV cache: evict '${p.evict}' needs a budget (the positions kept)`, { details: { field: 'budget' } });
  }
  const sinks = p.sinks ?? 4;
  if (!(Number.isInteger(sinks) && sinks >= 0)) throw new LeanformerError('INVALID_ARGUMENT', `KV cache: sinks must be an integer ≥ 0, got ${String(p.sinks)}`, { details: { field: 'sinks' } });
  if (p.evict === 'streaming' && p.budget! <= sinks) throw new LeanformerError('INVALID_ARGUMENT', `KV cache: streaming keeps ${sinks} sink positions, so the budget must exceed ${sinks}, got ${p.budget}`, { details: { field: 'budget' } });
  const obs = p.observation ?? 32;
  if (!(Number.isInteger(obs) && obs >= 1)) throw new LeanformerError('INVALID_ARGUMENT', `KV cache: observation must be a positive integer, got ${String(p.observation)}`, { details: { field: 'observation' } });
}

function quantConfig(format: 'int8' | 'int4', headDim: number): KVQuantConfig {
  return format === 'int8' ? { bits: 8 } : { bits: 4, groupSize: headDim % 32 === 0 ? 32 : headDim };
}

/**
 * Bytes one position takes in the cache for all layers, keys and values, in a format (codes plus fp16
 * scales and minimums for int8/int4).
 *
 * @example
 * ```ts
 * kvPositionBytes({ layers: 32, kvHeads: 8, headDim: 128 }, 'int4'); // 32·8·(2·(64 + 4·4))
 * ```
 */
export function kvPositionBytes(kv: { readonly layers: number; readonly kvHeads: number; readonly headDim: number }, format: (typeof KV_FORMATS)[number]): number {
  const per = format === 'fp32' ? kvBytesPerToken(kv.headDim, 'float32') : format === 'fp16' ? kvBytesPerToken(kv.headDim, 'float16') : kvBytesPerToken(kv.headDim, quantConfig(format, kv.headDim));
  return kv.layers * kv.kvHeads * per;
}

/** Per-layer, per-kv-head scores the score-based policies keep between steps. */
interface LayerScores {
  /** h2o: accumulated attention per slot. */
  acc?: Float64Array[];
  /** snapkv: the latest `observation` query rows (attention per slot, summed over the group's heads). */
  rows?: Float64Array[][];
}

/**
 * The state of one decode loop's cache policy over its `[1, kvHeads, len, headDim]` buffers
 * (head-major, `len` the row stride). {@link KVCachePolicyState.afterRun} is called once per run on the
 * buffers the run wrote: it scores the new queries, rounds the new tokens through the format and
 * compacts to the budget, returning the new length.
 */
export class KVCachePolicyState {
  private readonly scores: LayerScores[];
  private readonly format: (typeof KV_FORMATS)[number];

  constructor(readonly policy: CachePolicy, readonly kv: { readonly layers: number; readonly kvHeads: number; readonly headDim: number }) {
    checkCachePolicy(policy);
    this.format = policy.format ?? 'fp32';
    this.scores = Array.from({ length: kv.layers }, () => ({}));
  }

  /** Whether the policy reads the graph's `query_<l>` outputs. */
  get needsQueries(): boolean { return this.policy.evict === 'h2o' || this.policy.evict === 'snapkv'; }

  /**
   * Applies the policy after a run that appended `S` tokens to `past` (buffers hold `past + S`).
   * `keys[l]`/`values[l]` are the layer's present buffers; `queries[l]` the run's `query_<l>` output
   * `[1, S, heads·headDim]` (post-RoPE) when the policy needs it. Returns the length kept.
   */
  afterRun(keys: Float32Array[], values: Float32Array[], past: number, S: number, queries?: (Float32Array | undefined)[]): number {
    const { layers, kvHeads: G, headDim: D } = this.kv;
    const L = past + S;
    if (this.needsQueries) {
      for (let l = 0; l < layers; l++) {
        const q = queries?.[l];
        if (!q) throw new LeanformerError('NOT_SUPPORTED', `KV cache: evict '${this.policy.evict}' scores positions with the model's queries, but the graph has no output 'query_${l}' (build it with queryOutputs)`, { details: { field: 'evict' } });
        this.score(l, keys[l]!, q, past, S);
      }
    }
    if (this.format !== 'fp32') for (let l = 0; l < layers; l++) { this.round(keys[l]!, L, past, S); this.round(values[l]!, L, past, S); }
    const budget = this.policy.budget;
    if (budget === undefined || L <= budget) return L;
    for (let l = 0; l < layers; l++) {
      const keep = this.keepLists(l, L, budget);
      compact(keys[l]!, G, L, D, keep);
      compact(values[l]!, G, L, D, keep);
      if (this.policy.ropeInvFreq) rerotate(keys[l]!, G, budget, D, keep, this.policy.ropeInvFreq);
      const s = this.scores[l]!;
      if (s.acc) s.acc = s.acc.map((a, g) => Float64Array.from(keep[g]!, (j) => a[j]!));
      if (s.rows) s.rows = s.rows.map((rs, g) => rs.map((r) => Float64Array.from(keep[g]!, (j) => r[j] ?? 0)));
    }
    return budget;
  }

  /** Attention of each new query over the visible slots (causal), summed over the heads of each kv head. */
  private score(l: number, keys: Float32Array, q: Float32Array, past: number, S: number): void {
    const { kvHeads: G, headDim: D } = this.kv;
    const L = past + S;
    const H = q.length / (S * D);
    if (!Number.isInteger(H) || H % G) throw new LeanformerError('SHAPE_MISMATCH', `KV cache: query_${l} holds ${q.length} values, not [1, ${S}, heads·${D}] with heads a multiple of ${G}`);
    const group = H / G, scale = 1 / Math.sqrt(D);
    const s = this.scores[l]!;
    const obs = Math.min(this.policy.observation ?? 32, this.policy.budget!);
    if (this.policy.evict === 'h2o') {
      s.acc ??= Array.from({ length: G }, () => new Float64Array(0));
      s.acc = s.acc.map((a) => { const b = new Float64Array(L); b.set(a); return b; });
    } else s.rows ??= Array.from({ length: G }, () => []);
    const p = new Float64Array(L);
    for (let i = 0; i < S; i++) {
      const visible = past + i + 1;
      if (s.rows && S - i > obs) continue; // only the last `obs` queries vote
      for (let g = 0; g < G; g++) {
        const row = new Float64Array(L);
        for (let h = g * group; h < (g + 1) * group; h++) {
          let max = -Infinity;
          for (let j = 0; j < visible; j++) {
            let d = 0;
            for (let x = 0; x < D; x++) d += q[(i * H + h) * D + x]! * keys[(g * L + j) * D + x]!;
            p[j] = d * scale;
            if (p[j]! > max) max = p[j]!;
          }
          let z = 0;
          for (let j = 0; j < visible; j++) { p[j] = Math.exp(p[j]! - max); z += p[j]!; }
          for (let j = 0; j < visible; j++) row[j] += p[j]! / z;
        }
        if (s.acc) { const a = s.acc[g]!; for (let j = 0; j < visible; j++) a[j] += row[j]!; } else {
          const rs = s.rows![g]!;
          rs.push(row);
          if (rs.length > obs) rs.shift();
        }
      }
    }
  }

  /** Kept slots per kv head, ascending, `budget` each. */
  private keepLists(l: number, L: number, budget: number): number[][] {
    const G = this.kv.kvHeads;
    const e = this.policy.evict;
    if (e === undefined || e === 'streaming') {
      const keep = streamingKeep(L, budget, e === 'streaming' ? (this.policy.sinks ?? 4) : 0);
      return Array.from({ length: G }, () => keep);
    }
    const s = this.scores[l]!;
    if (e === 'h2o') {
      const r = Math.floor(budget / 2);
      return s.acc!.map((a) => {
        const keep = topKIndices(a, [...Array(L - r).keys()], budget - r);
        for (let i = L - r; i < L; i++) keep.push(i);
        return keep;
      });
    }
    // snapkv: as snapkvKeep, with the stored rows of the latest `w` queries as the observation window.
    const w = Math.min(this.policy.observation ?? 32, budget, L);
    const prefix = L - w;
    return s.rows!.map((rs) => {
      const vote = new Float64Array(prefix);
      for (const r of rs) for (let j = 0; j < prefix; j++) vote[j] += r[j] ?? 0;
      return snapkvSelect(vote, 7, budget - w, L);
    });
  }

  /** Rounds tokens `past…past+S` of every head through the stored format, in place. */
  private round(buf: Float32Array, L: number, past: number, S: number): void {
    const { kvHeads: G, headDim: D } = this.kv;
    for (let g = 0; g < G; g++) {
      const rows = buf.subarray((g * L + past) * D, (g * L + past + S) * D);
      if (this.format === 'fp16') { for (let i = 0; i < rows.length; i++) rows[i] = float16BitsToFloat32(float32ToFloat16Bits(rows[i]!)); continue; }
      dequantizeKV(quantizeKV(rows, S, D, quantConfig(this.format as 'int8' | 'int4', D)), rows as Float32Array<ArrayBuffer>);
    }
  }
}

/** Moves the kept slots of `[G, L, D]` to the front of each head, as `[G, n, D]` (in place, ascending). */
function compact(buf: Float32Array, G: number, L: number, D: number, keep: number[][]): void {
  const n = keep[0]!.length;
  // Destinations never pass their sources (n ≤ L, slots ascending), so one forward sweep is safe.
  for (let g = 0; g < G; g++) keep[g]!.forEach((j, t) => buf.copyWithin((g * n + t) * D, (g * L + j) * D, (g * L + j + 1) * D));
}

/** Re-rotates each kept key from its old slot (= its RoPE position) to its new one. */
function rerotate(buf: Float32Array, G: number, n: number, D: number, keep: number[][], invFreq: ArrayLike<number>): void {
  for (let g = 0; g < G; g++) {
    keep[g]!.forEach((j, t) => {
      if (j !== t) applyRope(buf.subarray((g * n + t) * D, (g * n + t + 1) * D), 1, 1, D, invFreq, [t - j]);
    });
  }
}
