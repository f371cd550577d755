import { LeanformerError } from '@leanformer/core';

/**
 * HiRED (Arif et al., AAAI 2025): attention-guided early token dropping for high-resolution
 * vision-language inputs under a fixed token budget.
 *
 * A high-resolution image is encoded as a downscaled full view plus `rows × cols` sub-images
 * (partitions), each by the same ViT. Phase 1 splits the budget: the full view gets a fixed
 * share `alpha`; the rest goes to the sub-images in proportion to their visual content, measured
 * as the full view's initial-layer CLS attention summed over the patch region each sub-image
 * covers. Phase 2 keeps, in each partition, the tokens with the highest final-layer CLS attention.
 * The ViT graph provides the CLS-attention rows (`vit(…, { exposeClsAttention: [init, final] })`);
 * these functions turn them into budgets and kept-token indices.
 */

/** Inputs of {@link hiredAllocate}. */
export interface HiredAllocation {
  /** Total tokens to keep across the full view and all sub-images. */
  readonly budget: number;
  /** Patch tokens per partition (N). */
  readonly tokensPerPartition: number;
  /** Visual-content score of each sub-image (non-negative). */
  readonly contentScores: readonly number[];
  /** Share of the budget for the full view, in [0, 1] (default 0.5). */
  readonly alpha?: number;
}

/** Result of {@link hiredAllocate}: tokens kept per partition, summing to the budget. */
export interface HiredBudgets {
  readonly full: number;
  readonly subImages: readonly number[];
}

/** Largest-remainder apportionment of `total` by `weights`, each capped at `cap`; overflow is redistributed. */
function apportion(total: number, weights: readonly number[], cap: number): number[] {
  const out = new Array<number>(weights.length).fill(0);
  let left = total;
  let open = weights.map((_, i) => i);
  while (left > 0 && open.length) {
    const wsum = open.reduce((s, i) => s + Math.max(0, weights[i]!), 0);
    const share = open.map((i) => (wsum > 0 ? (left * Math.max(0, weights[i]!)) / wsum : left / open.length));
    const floors = share.map(Math.floor);
    let given = 0;
    open.forEach((i, j) => { const add = Math.min(floors[j]!, cap - out[i]!); out[i]! += add; given += add; });
    // Hand out the remaining units by largest fractional part among partitions with room.
    const order = open.map((i, j) => ({ i, r: share[j]! - floors[j]! })).sort((a, b) => b.r - a.r || a.i - b.i);
    for (const { i } of order) {
      if (given >= left) break;
      if (out[i]! < cap) { out[i]!++; given++; }
    }
    left -= given;
    const next = open.filter((i) => out[i]! < cap);
    if (next.length === open.length && given === 0) break;
    open = next;
  }
  return out;
}

/**
 * Phase 1: splits the token budget between the full view and the sub-images.
 *
 * @example
 * ```ts
 * hiredAllocate({ budget: 576, tokensPerPartition: 576, contentScores: [0.4, 0.1, 0.3, 0.2] });
 * // { full: 288, subImages: [115, 29, 86, 58] }
 * ```
 */
export function hiredAllocate(a: HiredAllocation): HiredBudgets {
  const alpha = a.alpha ?? 0.5;
  const n = a.tokensPerPartition;
  const p = a.contentScores.length;
  if (!Number.isInteger(n) || n < 1) throw new LeanformerError('INVALID_ARGUMENT', `hiredAllocate: tokensPerPartition must be a positive integer, got ${n}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new LeanformerError('INVALID_ARGUMENT', `hiredAllocate: alpha must be in [0, 1], got ${alpha}`);
  if (!Number.isInteger(a.budget) || a.budget < 1 || a.budget > n * (p + 1)) {
    throw new LeanformerError('INVALID_ARGUMENT', `hiredAllocate: budget must be an integer in [1, ${n * (p + 1)}] (tokens of the full view and ${p} sub-images), got ${a.budget}`);
  }
  if (a.contentScores.some((s) => !(s >= 0) || !Number.isFinite(s))) throw new LeanformerError('INVALID_ARGUMENT', 'hiredAllocate: contentScores must be finite and non-negative');
  const full = Math.min(n, Math.round(alpha * a.budget), a.budget);
  const subImages = apportion(a.budget - full, a.contentScores, n);
  // If the sub-images are all full, the remainder returns to the full view.
  const given = subImages.reduce((s, x) => s + x, 0);
  return { full: Math.min(n, a.budget - given), subImages };
}

/**
 * Visual-content score of each sub-image: the full view's CLS attention over its `g × g` patch
 * grid, summed over the region each of the `rows × cols` sub-images covers.
 */
export function hiredContentScores(fullViewClsAttention: ArrayLike<number>, grid: { readonly rows: number; readonly cols: number }): number[] {
  const g = Math.round(Math.sqrt(fullViewClsAttention.length));
  if (g * g !== fullViewClsAttention.length) throw new LeanformerError('INVALID_ARGUMENT', `hiredContentScores: ${fullViewClsAttention.length} attention values do not form a square patch grid`);
  if (!Number.isInteger(grid.rows) || !Number.isInteger(grid.cols) || grid.rows < 1 || grid.cols < 1) throw new LeanformerError('INVALID_ARGUMENT', `hiredContentScores: rows and cols must be positive integers, got ${grid.rows}×${grid.cols}`);
  const scores = new Array<number>(grid.rows * grid.cols).fill(0);
  for (let y = 0; y < g; y++) {
    const r = Math.min(grid.rows - 1, Math.floor((y * grid.rows) / g));
    for (let x = 0; x < g; x++) {
      const c = Math.min(grid.cols - 1, Math.floor((x * grid.cols) / g));
      scores[r * grid.cols + c]! += fullViewClsAttention[y * g + x]!;
    }
  }
  return scores;
}

/**
 * Phase 2: in each partition, the indices (ascending, so spatial order is kept) of the
 * `budgets[p]` patch tokens with the highest final-layer CLS attention. Ties go to the lower index.
 *
 * @example
 * ```ts
 * hiredSelect([Float32Array.of(0.1, 0.5, 0.2, 0.2)], [2]); // [Int32Array [1, 2]]
 * ```
 */
export function hiredSelect(finalClsAttention: readonly ArrayLike<number>[], budgets: readonly number[]): Int32Array[] {
  if (finalClsAttention.length !== budgets.length) throw new LeanformerError('INVALID_ARGUMENT', `hiredSelect: ${finalClsAttention.length} attention rows but ${budgets.length} budgets`);
  return finalClsAttention.map((row, p) => {
    const k = budgets[p]!;
    if (!Number.isInteger(k) || k < 0 || k > row.length) throw new LeanformerError('INVALID_ARGUMENT', `hiredSelect: budget ${k} of partition ${p} is outside [0, ${row.length}]`);
    const idx = Array.from({ length: row.length }, (_, i) => i).sort((a, b) => row[b]! - row[a]! || a - b);
    return Int32Array.from(idx.slice(0, k).sort((a, b) => a - b));
  });
}
