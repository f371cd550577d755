import { LeanformerError } from '@leanformer/core';
import type { KVProvider, LayerKV } from '@leanformer/attention';

/**
 * One layer's cache after eviction: each kv head keeps `kLen` tokens (possibly different ones):
 * `k`/`v [kvHeads, kLen, headDim]`, absolute `positions [kvHeads, kLen]`.
 */
export interface CompressedLayer {
  k: Float32Array;
  v: Float32Array;
  kLen: number;
  positions: Int32Array;
  readonly kvHeads: number;
  readonly headDim: number;
}

function checkBudget(budget: number, len: number, what: string): void {
  if (!Number.isInteger(budget) || budget < 1) throw new LeanformerError('INVALID_ARGUMENT', `${what}: 'budget' must be a positive integer (tokens kept per head), got ${budget}`);
  void len;
}

/** StreamingLLM: the first `sinks` tokens plus the most recent `budget - sinks`. Same for every head. */
export function streamingKeep(len: number, budget: number, sinks = 4): number[] {
  checkBudget(budget, len, 'streamingKeep');
  if (budget >= len) return [...Array(len).keys()];
  const s = Math.min(sinks, budget);
  const keep: number[] = [];
  for (let i = 0; i < s; i++) keep.push(i);
  for (let i = len - (budget - s); i < len; i++) keep.push(i);
  return keep;
}

/**
 * Indices of the `k` largest scores among `candidates` (ties: earlier first), returned sorted ascending.
 *
 * @example
 * ```ts
 * topKIndices([0.1, 0.5, 0.5, 0.2], [0, 1, 2, 3], 2); // [1, 2]
 * ```
 */
export function topKIndices(score: ArrayLike<number>, candidates: number[], k: number): number[] {
  return [...candidates].sort((a, b) => score[b]! - score[a]! || a - b).slice(0, Math.max(0, k)).sort((a, b) => a - b);
}

/**
 * H2O: per kv head, keep the `recent` latest tokens plus the heavy hitters — the tokens with the largest
 * attention accumulated over all queries so far (summed over the query heads that share the kv head).
 * `probs` is `[numHeads, len, len]` from the prefill.
 */
export function h2oKeep(probs: Float32Array, numHeads: number, kvHeads: number, len: number, budget: number, recent = Math.floor(budget / 2)): number[][] {
  checkBudget(budget, len, 'h2oKeep');
  if (probs.length !== numHeads * len * len) throw new LeanformerError('SHAPE_MISMATCH', `h2oKeep: probs holds ${probs.length} values, expected numHeads·len·len = ${numHeads * len * len}`);
  const group = numHeads / kvHeads;
  const out: number[][] = [];
  for (let g = 0; g < kvHeads; g++) {
    if (budget >= len) { out.push([...Array(len).keys()]); continue; }
    const acc = new Float64Array(len);
    for (let h = g * group; h < (g + 1) * group; h++) for (let i = 0; i < len; i++) for (let j = 0; j <= i; j++) acc[j] += probs[(h * len + i) * len + j]!;
    const r = Math.min(recent, budget);
    const rest = [...Array(len - r).keys()];
    const keep = topKIndices(acc, rest, budget - r);
    for (let i = len - r; i < len; i++) keep.push(i);
    out.push(keep);
  }
  return out;
}

/**
 * SnapKV: the last `window` prompt tokens vote. Their queries' softmax attention over the earlier
 * tokens is summed (over window queries and the query heads of a kv head), max-pooled with `kernel`
 * so neighbours of a hit survive together, and the top `budget - window` earlier tokens are kept
 * with the window itself. `queries [numHeads, len, D]` and `keys [kvHeads, len, D]` are post-RoPE.
 */
export function snapkvKeep(queries: Float32Array, keys: Float32Array, o: { numHeads: number; kvHeads: number; headDim: number; len: number; budget: number; window?: number; kernel?: number }): number[][] {
  const { numHeads: H, kvHeads: G, headDim: D, len, budget } = o;
  checkBudget(budget, len, 'snapkvKeep');
  const w = Math.min(o.window ?? 32, budget, len);
  const kernel = o.kernel ?? 7;
  const group = H / G;
  const prefix = len - w;
  const out: number[][] = [];
  const scale = 1 / Math.sqrt(D);
  for (let g = 0; g < G; g++) {
    if (budget >= len) { out.push([...Array(len).keys()]); continue; }
    const vote = new Float64Array(prefix);
    const row = new Float64Array(len);
    for (let h = g * group; h < (g + 1) * group; h++) {
      for (let i = prefix; i < len; i++) {
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          let d = 0;
          for (let x = 0; x < D; x++) d += queries[(h * len + i) * D + x]! * keys[(g * len + j) * D + x]!;
          row[j] = d * scale;
          if (row[j]! > max) max = row[j]!;
        }
        let z = 0;
        for (let j = 0; j <= i; j++) { row[j] = Math.exp(row[j]! - max); z += row[j]!; }
        for (let j = 0; j < prefix; j++) vote[j] += row[j]! / z;
      }
    }
    out.push(snapkvSelect(vote, kernel, budget - w, len));
  }
  return out;
}

/**
 * SnapKV's selection from the observation window's votes over the prefix positions: max-pool the
 * votes with a window of `kernel` (the clustering step), keep the `keep` best prefix positions, then
 * every position from the prefix's end to `len` (the window itself).
 *
 * @example
 * ```ts
 * snapkvSelect(Float64Array.from([0.1, 0.9, 0.2, 0.05]), 3, 1, 6); // [1, 4, 5]
 * ```
 */
export function snapkvSelect(vote: Float64Array, kernel: number, keep: number, len: number): number[] {
  const prefix = vote.length;
  const pooled = new Float64Array(prefix);
  const r = Math.floor(kernel / 2);
  for (let j = 0; j < prefix; j++) {
    let m = 0;
    for (let t = Math.max(0, j - r); t <= Math.min(prefix - 1, j + r); t++) m = Math.max(m, vote[t]!);
    pooled[j] = m;
  }
  const kept = topKIndices(pooled, [...Array(prefix).keys()], keep);
  for (let i = prefix; i < len; i++) kept.push(i);
  return kept;
}

/**
 * Builds a compressed layer from full prefill K/V and the kept token indices per kv head
 * (one list for all heads, or one list per head; every list must have the same length).
 */
export function selectTokens(kv: LayerKV, kvHeads: number, headDim: number, keep: readonly number[] | readonly (readonly number[])[]): CompressedLayer {
  const lists = (typeof keep[0] === 'number' || keep.length === 0 ? Array.from({ length: kvHeads }, () => keep as number[]) : keep) as number[][];
  if (lists.length !== kvHeads) throw new LeanformerError('INVALID_ARGUMENT', `selectTokens: ${lists.length} keep lists for ${kvHeads} kv heads`);
  const kLen = lists[0]!.length;
  if (lists.some((l) => l.length !== kLen)) throw new LeanformerError('INVALID_ARGUMENT', 'selectTokens: every kv head must keep the same number of tokens');
  const D = headDim, N = kv.len;
  const k = new Float32Array(kvHeads * kLen * D), v = new Float32Array(kvHeads * kLen * D);
  const positions = new Int32Array(kvHeads * kLen);
  for (let g = 0; g < kvHeads; g++) {
    lists[g]!.forEach((j, t) => {
      if (j < 0 || j >= N) throw new LeanformerError('INVALID_ARGUMENT', `selectTokens: index ${j} outside [0, ${N})`);
      k.set(kv.k.subarray((g * N + j) * D, (g * N + j + 1) * D), (g * kLen + t) * D);
      v.set(kv.v.subarray((g * N + j) * D, (g * N + j + 1) * D), (g * kLen + t) * D);
      positions[g * kLen + t] = j;
    });
  }
  return { k, v, kLen, positions, kvHeads, headDim };
}

/** Appends `n` new tokens (`[kvHeads, n, D]`) at positions `pos…` to a compressed layer. */
export function appendCompressed(c: CompressedLayer, k: Float32Array, v: Float32Array, n: number, pos: number): void {
  const { kvHeads: G, headDim: D } = c;
  const L = c.kLen + n;
  const nk = new Float32Array(G * L * D), nv = new Float32Array(G * L * D), np = new Int32Array(G * L);
  for (let g = 0; g < G; g++) {
    nk.set(c.k.subarray(g * c.kLen * D, (g + 1) * c.kLen * D), g * L * D);
    nv.set(c.v.subarray(g * c.kLen * D, (g + 1) * c.kLen * D), g * L * D);
    np.set(c.positions.subarray(g * c.kLen, (g + 1) * c.kLen), g * L);
    nk.set(k.subarray(g * n * D, (g + 1) * n * D), (g * L + c.kLen) * D);
    nv.set(v.subarray(g * n * D, (g + 1) * n * D), (g * L + c.kLen) * D);
    for (let t = 0; t < n; t++) np[g * L + c.kLen + t] = pos + t;
  }
  c.k = nk; c.v = nv; c.positions = np; c.kLen = L;
}

/** A decode provider over compressed layers: new tokens are appended, attention masks by true positions. */
export function compressedProvider(layers: CompressedLayer[]): KVProvider {
  return (s) => {
    const c = layers[s.layer];
    if (!c) throw new LeanformerError('INVALID_ARGUMENT', `compressedProvider: no compressed cache for layer ${s.layer}`);
    appendCompressed(c, s.k, s.v, s.n, s.position);
    return { k: c.k, v: c.v, kLen: c.kLen, keyPositions: c.positions };
  };
}
