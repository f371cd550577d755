import { LeanformerError } from '@leanformer/core';

/**
 * Which keys a query may attend to, on top of causality (a query at absolute position `q`
 * never sees keys after `q`). Every pattern is defined by absolute positions, so prefill,
 * chunked prefill and decode all see the same mask.
 *
 * - `dense`: every earlier key.
 * - `window`: the last `window` keys (`q - window < k ≤ q`).
 * - `sinks-window`: StreamingLLM — the first `sinks` keys plus the last `window`.
 * - `block-sparse`: blocks of `blockSize` positions; query block `i` sees key block `j ≤ i` when
 *   `i - j < localBlocks` (local) or when `j` is a vertical column: `(j + 1 + offset_h) % verticalStride == 0`,
 *   where `offset_h = h % verticalStride` if `strided` (heads take turns over the columns) else 0.
 *   This is the local + vertical-stride layout of ORT's SparseAttention (Phi-3-small).
 * - `moa`: MoA elastic windows — head `h` sees the last `max(1, floor(alpha_h + beta_h · L))` keys, where `L` is
 *   the current sequence length (query position + 1). `spans.length` must equal the head count.
 * - `topk`: ALISA-style sparse window — the last `window` keys plus, per query and head, the `topK`
 *   earlier keys with the largest scores. Data dependent: {@link patternMask} cannot build it alone.
 */
export type AttentionPattern =
  | { readonly kind: 'dense' }
  | { readonly kind: 'window'; readonly window: number }
  | { readonly kind: 'sinks-window'; readonly sinks: number; readonly window: number }
  | { readonly kind: 'block-sparse'; readonly blockSize: number; readonly localBlocks: number; readonly verticalStride: number; readonly strided?: boolean }
  | { readonly kind: 'moa'; readonly spans: readonly HeadSpan[] }
  | { readonly kind: 'topk'; readonly window: number; readonly topK: number };

/** One MoA head's elastic span: `S(L) = alpha + beta · L` keys at sequence length `L`. */
export interface HeadSpan {
  readonly alpha: number;
  readonly beta: number;
}

/** The pattern kinds, for error messages and CLIs. */
export const PATTERN_KINDS = ['dense', 'window', 'sinks-window', 'block-sparse', 'moa', 'topk'] as const;

function posInt(v: unknown, name: string, kind: string, min = 1): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new LeanformerError('INVALID_ARGUMENT', `Attention pattern '${kind}': '${name}' must be an integer ≥ ${min}, got ${String(v)}`, { details: { argument: name, pattern: kind } });
  }
}

/**
 * Checks a pattern's fields (and, for `moa`, that there is one span per head). Throws
 * `INVALID_ARGUMENT` naming the field and what is allowed.
 */
export function validatePattern(p: AttentionPattern, numHeads?: number): void {
  switch (p.kind) {
    case 'dense': return;
    case 'window': posInt(p.window, 'window', p.kind); return;
    case 'sinks-window': posInt(p.sinks, 'sinks', p.kind, 0); posInt(p.window, 'window', p.kind); return;
    case 'block-sparse':
      posInt(p.blockSize, 'blockSize', p.kind); posInt(p.localBlocks, 'localBlocks', p.kind); posInt(p.verticalStride, 'verticalStride', p.kind);
      return;
    case 'moa':
      if (!Array.isArray(p.spans) || p.spans.length === 0) throw new LeanformerError('INVALID_ARGUMENT', "Attention pattern 'moa': 'spans' must list one { alpha, beta } per head");
      if (numHeads !== undefined && p.spans.length !== numHeads) throw new LeanformerError('INVALID_ARGUMENT', `Attention pattern 'moa': ${p.spans.length} spans for ${numHeads} heads; give exactly one per head`);
      for (const [h, s] of p.spans.entries()) {
        if (!(s.alpha >= 0) || !(s.beta >= 0) || !(s.beta <= 1) || !Number.isFinite(s.alpha)) {
          throw new LeanformerError('INVALID_ARGUMENT', `Attention pattern 'moa': span of head ${h} must have alpha ≥ 0 and 0 ≤ beta ≤ 1, got alpha=${s.alpha}, beta=${s.beta}`);
        }
      }
      return;
    case 'topk': posInt(p.window, 'window', p.kind); posInt(p.topK, 'topK', p.kind, 0); return;
    default:
      throw new LeanformerError('INVALID_ARGUMENT', `Unknown attention pattern '${(p as { kind: string }).kind}'; allowed: ${PATTERN_KINDS.join(', ')}`);
  }
}

/** Span (number of most recent keys, ≥ 1) of a MoA head at sequence length `len`. */
export function moaSpan(s: HeadSpan, len: number): number {
  return Math.max(1, Math.floor(s.alpha + s.beta * len));
}

/**
 * True when head `h`'s query at absolute position `q` may see the key at absolute position `k`
 * (static patterns only; `topk` answers for its window part only). Causality included.
 */
export function allowed(p: AttentionPattern, h: number, q: number, k: number): boolean {
  if (k > q || k < 0) return false;
  switch (p.kind) {
    case 'dense': return true;
    case 'window': return q - k < p.window;
    case 'sinks-window': return k < p.sinks || q - k < p.window;
    case 'block-sparse': {
      const i = Math.floor(q / p.blockSize);
      const j = Math.floor(k / p.blockSize);
      if (i - j < p.localBlocks) return true;
      const off = p.strided ? h % p.verticalStride : 0;
      return (j + 1 + off) % p.verticalStride === 0;
    }
    case 'moa': return q - k < moaSpan(p.spans[h]!, q + 1);
    case 'topk': return q - k < p.window;
  }
}

/** True when the pattern's mask depends only on positions (not on the data). */
export function isStatic(p: AttentionPattern): boolean {
  return p.kind !== 'topk';
}

/**
 * The boolean mask `[heads, qLen, kLen]` (1 = attend) for queries at positions
 * `qOffset … qOffset+qLen-1` over keys at `0 … kLen-1`. Throws for data-dependent patterns.
 *
 * @example
 * ```ts
 * const m = patternMask({ kind: 'window', window: 2 }, { heads: 1, qLen: 3, kLen: 3 });
 * // row 2 = [0, 1, 1]
 * ```
 */
export function patternMask(p: AttentionPattern, o: { heads: number; qLen: number; kLen: number; qOffset?: number }): Uint8Array {
  validatePattern(p, p.kind === 'moa' ? o.heads : undefined);
  if (!isStatic(p)) throw new LeanformerError('NOT_SUPPORTED', `Attention pattern '${p.kind}' depends on the scores; its mask is built inside attention (see attentionReference)`);
  const off = o.qOffset ?? 0;
  const m = new Uint8Array(o.heads * o.qLen * o.kLen);
  for (let h = 0; h < o.heads; h++) {
    for (let i = 0; i < o.qLen; i++) {
      const base = (h * o.qLen + i) * o.kLen;
      for (let k = 0; k < o.kLen; k++) m[base + k] = allowed(p, h, off + i, k) ? 1 : 0;
    }
  }
  return m;
}

/**
 * Fraction of the causal score entries (`k ≤ q`) a pattern computes, averaged over heads, for a
 * prefill of `len` tokens. `topk` counts `window + topK` per query. Dense = 1.
 */
export function patternDensity(p: AttentionPattern, len: number, heads = p.kind === 'moa' ? p.spans.length : 1): number {
  let kept = 0;
  const causal = (len * (len + 1)) / 2;
  for (let h = 0; h < heads; h++) {
    for (let q = 0; q < len; q++) {
      switch (p.kind) {
        case 'dense': kept += q + 1; break;
        case 'window': kept += Math.min(q + 1, p.window); break;
        case 'sinks-window': kept += Math.min(q + 1, p.window + Math.min(p.sinks, Math.max(0, q + 1 - p.window))); break;
        case 'moa': kept += Math.min(q + 1, moaSpan(p.spans[h]!, q + 1)); break;
        case 'topk': kept += Math.min(q + 1, p.window + p.topK); break;
        case 'block-sparse': for (let k = 0; k <= q; k++) if (allowed(p, h, q, k)) kept++; break;
      }
    }
  }
  return kept / (causal * heads);
}

/**
 * ORT SparseAttention's CSR block layout for a block-sparse pattern: per layout (one per head when
 * `strided`, else one shared), `rowIndices [numLayouts, maxBlocks+1]` and `colIndices [numLayouts, maxNnz]`
 * (padded with -1), over `maxBlocks = ceil(maxSeqLen / blockSize)` blocks.
 */
export function blockSparseLayout(p: Extract<AttentionPattern, { kind: 'block-sparse' }>, heads: number, maxSeqLen: number): { numLayouts: number; maxBlocks: number; rowIndices: Int32Array; colIndices: Int32Array; maxNnz: number } {
  validatePattern(p);
  const maxBlocks = Math.ceil(maxSeqLen / p.blockSize);
  const numLayouts = p.strided ? Math.min(heads, p.verticalStride) : 1;
  const rows: number[][] = [];
  const cols: number[][] = [];
  for (let l = 0; l < numLayouts; l++) {
    const r = [0];
    const c: number[] = [];
    for (let i = 0; i < maxBlocks; i++) {
      for (let j = 0; j <= i; j++) if (allowed(p, l, i * p.blockSize, j * p.blockSize)) c.push(j);
      r.push(c.length);
    }
    rows.push(r);
    cols.push(c);
  }
  const maxNnz = Math.max(...cols.map((c) => c.length));
  const rowIndices = new Int32Array(numLayouts * (maxBlocks + 1));
  const colIndices = new Int32Array(numLayouts * maxNnz).fill(-1);
  for (let l = 0; l < numLayouts; l++) {
    rowIndices.set(rows[l]!, l * (maxBlocks + 1));
    colIndices.set(cols[l]!, l * maxNnz);
  }
  return { numLayouts, maxBlocks, rowIndices, colIndices, maxNnz };
}
