import { LeanformerError } from '@leanformer/core';
import { allowed, moaSpan, validatePattern, type AttentionPattern } from './pattern.js';

/**
 * Inputs of one sequence's attention, heads-major:
 * `q [numHeads, qLen, headDim]`, `k`/`v [kvHeads, kLen, headDim]`. Query `i` sits at absolute
 * position `qOffset + i`; key `j` at `keyPositions[j]` (default `j`; or `keyPositions[g·kLen + j]` per kv head
 * when it holds `kvHeads·kLen` entries), so caches that dropped keys (eviction) still mask by true positions. GQA: query head `h` reads kv head `floor(h / (numHeads / kvHeads))`.
 */
export interface AttentionInputs {
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly v: Float32Array;
  readonly numHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly qLen: number;
  readonly kLen: number;
  readonly qOffset?: number;
  readonly keyPositions?: ArrayLike<number>;
  /** Softmax scale; default `1/sqrt(headDim)`. */
  readonly scale?: number;
  readonly pattern?: AttentionPattern;
}

/** Output `[numHeads, qLen, headDim]` and, when asked, the probabilities `[numHeads, qLen, kLen]` (0 where masked). */
export interface AttentionResult {
  readonly out: Float32Array;
  readonly probs?: Float32Array;
}

function checkInputs(a: AttentionInputs): void {
  const { numHeads: H, kvHeads: G, headDim: D, qLen, kLen } = a;
  for (const [n, v] of [['numHeads', H], ['kvHeads', G], ['headDim', D]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new LeanformerError('INVALID_ARGUMENT', `attention: '${n}' must be a positive integer, got ${v}`);
  }
  if (H % G !== 0) throw new LeanformerError('INVALID_ARGUMENT', `attention: numHeads (${H}) must be a multiple of kvHeads (${G})`);
  if (a.q.length !== H * qLen * D) throw new LeanformerError('SHAPE_MISMATCH', `attention: q holds ${a.q.length} values, expected numHeads·qLen·headDim = ${H * qLen * D}`);
  if (a.k.length !== G * kLen * D || a.v.length !== G * kLen * D) throw new LeanformerError('SHAPE_MISMATCH', `attention: k/v hold ${a.k.length}/${a.v.length} values, expected kvHeads·kLen·headDim = ${G * kLen * D}`);
  if (a.keyPositions && a.keyPositions.length !== kLen && a.keyPositions.length !== G * kLen) throw new LeanformerError('SHAPE_MISMATCH', `attention: keyPositions has ${a.keyPositions.length} entries; expected kLen (${kLen}) or kvHeads·kLen (${G * kLen})`);
  if (a.pattern) validatePattern(a.pattern, a.pattern.kind === 'moa' ? H : undefined);
}

/**
 * The dense masked reference: computes every score in float64, masks by the pattern (causal
 * included), softmax, weighted sum. `topk` keeps, per query, its window plus the `topK` highest-scoring
 * other visible keys. A query row with no visible key outputs zeros.
 *
 * @example
 * ```ts
 * const { out } = attentionReference({ q, k, v, numHeads: 2, kvHeads: 1, headDim: 4, qLen: 8, kLen: 8,
 *   pattern: { kind: 'window', window: 3 } });
 * ```
 */
export function attentionReference(a: AttentionInputs, opts: { probs?: boolean } = {}): AttentionResult {
  checkInputs(a);
  const { numHeads: H, kvHeads: G, headDim: D, qLen, kLen } = a;
  const p = a.pattern ?? { kind: 'dense' };
  const scale = a.scale ?? 1 / Math.sqrt(D);
  const off = a.qOffset ?? 0;
  const pos = a.keyPositions;
  const out = new Float32Array(H * qLen * D);
  const probs = opts.probs ? new Float32Array(H * qLen * kLen) : undefined;
  const s = new Float64Array(kLen);
  const keep = new Uint8Array(kLen);
  const group = H / G;
  const perHead = !!pos && pos.length === G * kLen && G > 1;
  for (let h = 0; h < H; h++) {
    const g = Math.floor(h / group);
    const pb = perHead ? g * kLen : 0;
    for (let i = 0; i < qLen; i++) {
      const qp = off + i;
      const qb = (h * qLen + i) * D;
      for (let j = 0; j < kLen; j++) {
        const kp = pos ? pos[pb + j]! : j;
        keep[j] = allowed(p, h, qp, kp) ? 1 : 0;
        const kb = (g * kLen + j) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += a.q[qb + d]! * a.k[kb + d]!;
        s[j] = dot * scale;
      }
      if (p.kind === 'topk' && p.topK > 0) {
        // Candidates: causally visible keys outside the window, ranked by score (ties: earlier key first).
        const cand: number[] = [];
        for (let j = 0; j < kLen; j++) { const kp = pos ? pos[pb + j]! : j; if (!keep[j] && kp <= qp) cand.push(j); }
        cand.sort((x, y) => s[y]! - s[x]! || x - y);
        for (let t = 0; t < Math.min(p.topK, cand.length); t++) keep[cand[t]!] = 1;
      }
      let max = -Infinity;
      for (let j = 0; j < kLen; j++) if (keep[j] && s[j]! > max) max = s[j]!;
      if (max === -Infinity) continue;
      let sum = 0;
      for (let j = 0; j < kLen; j++) { const e = keep[j] ? Math.exp(s[j]! - max) : 0; s[j] = e; sum += e; }
      const ob = (h * qLen + i) * D;
      for (let j = 0; j < kLen; j++) {
        if (!keep[j]) continue;
        const w = s[j]! / sum;
        if (probs) probs[(h * qLen + i) * kLen + j] = w;
        const vb = (g * kLen + j) * D;
        for (let d = 0; d < D; d++) out[ob + d] += w * a.v[vb + d]!;
      }
    }
  }
  return probs ? { out, probs } : { out };
}

/**
 * Attention that never computes a skipped score: for `window`, `sinks-window` and `moa` each query
 * visits only its key ranges; for `block-sparse` only its allowed key blocks; `dense` visits `k ≤ q`.
 * Keys must be at positions `0 … kLen-1` (no `keyPositions`). Cost is O(qLen · span) instead of O(qLen · kLen).
 * Equal to {@link attentionReference} up to float32 rounding (online softmax in float64).
 */
export function sparseAttention(a: AttentionInputs): Float32Array {
  checkInputs(a);
  if (a.keyPositions) throw new LeanformerError('INVALID_ARGUMENT', 'sparseAttention: keys must be at positions 0…kLen-1 (keyPositions is not supported; use attentionReference)');
  const p = a.pattern ?? { kind: 'dense' };
  if (p.kind === 'topk') throw new LeanformerError('NOT_SUPPORTED', "sparseAttention: 'topk' needs all scores to rank them; use attentionReference or the decomposed graph form");
  const { numHeads: H, kvHeads: G, headDim: D, qLen, kLen } = a;
  const scale = a.scale ?? 1 / Math.sqrt(D);
  const off = a.qOffset ?? 0;
  const out = new Float32Array(H * qLen * D);
  const acc = new Float64Array(D);
  const group = H / G;
  const ranges: number[] = [];
  for (let h = 0; h < H; h++) {
    const g = Math.floor(h / group);
    for (let i = 0; i < qLen; i++) {
      const qp = off + i;
      const last = Math.min(qp, kLen - 1);
      ranges.length = 0;
      switch (p.kind) {
        case 'dense': ranges.push(0, last); break;
        case 'window': ranges.push(Math.max(0, qp - p.window + 1), last); break;
        case 'moa': ranges.push(Math.max(0, qp - moaSpan(p.spans[h]!, qp + 1) + 1), last); break;
        case 'sinks-window': {
          const lo = Math.max(0, qp - p.window + 1);
          const sinkEnd = Math.min(p.sinks, lo) - 1;
          if (sinkEnd >= 0) ranges.push(0, sinkEnd);
          ranges.push(lo, last);
          break;
        }
        case 'block-sparse': {
          const bi = Math.floor(qp / p.blockSize);
          for (let bj = 0; bj <= bi; bj++) {
            if (!allowed(p, h, bi * p.blockSize, bj * p.blockSize)) continue;
            ranges.push(bj * p.blockSize, Math.min(last, (bj + 1) * p.blockSize - 1));
          }
          break;
        }
      }
      // Online softmax over the visited ranges only.
      let max = -Infinity;
      let sum = 0;
      acc.fill(0);
      const qb = (h * qLen + i) * D;
      for (let r = 0; r < ranges.length; r += 2) {
        for (let j = ranges[r]!; j <= ranges[r + 1]!; j++) {
          const kb = (g * kLen + j) * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += a.q[qb + d]! * a.k[kb + d]!;
          const sc = dot * scale;
          if (sc > max) {
            const c = Math.exp(max - sc);
            sum *= c;
            for (let d = 0; d < D; d++) acc[d]! *= c;
            max = sc;
          }
          const e = Math.exp(sc - max);
          sum += e;
          for (let d = 0; d < D; d++) acc[d] += e * a.v[kb + d]!;
        }
      }
      if (sum === 0) continue;
      const ob = (h * qLen + i) * D;
      for (let d = 0; d < D; d++) out[ob + d] = acc[d]! / sum;
    }
  }
  return out;
}
