import { LeanformerError } from '@leanformer/core';

/**
 * Learning-rate schedules. `step` counts optimizer updates from 0.
 * - `constant`: the base rate.
 * - `linear-warmup`: rises linearly from base/warmupSteps to base over `warmupSteps`, then holds.
 * - `cosine`: optional linear warmup, then half a cosine from base down to `minLr` at the last step.
 */
export type LrSchedule =
  | { readonly type: 'constant' }
  | { readonly type: 'linear-warmup'; readonly warmupSteps: number }
  | { readonly type: 'cosine'; readonly warmupSteps?: number; readonly minLr?: number };

/**
 * The learning rate at `step` of `totalSteps`.
 *
 * @example
 * ```ts
 * learningRate({ type: "cosine", warmupSteps: 10 }, 1e-3, 55, 100); // ≈ 4.9e-4
 * ```
 */
export function learningRate(schedule: LrSchedule, base: number, step: number, totalSteps: number): number {
  switch (schedule.type) {
    case 'constant':
      return base;
    case 'linear-warmup': {
      const w = schedule.warmupSteps;
      if (!(w >= 0)) throw new LeanformerError('INVALID_ARGUMENT', `warmupSteps must be >= 0, got ${w}`);
      return step < w ? (base * (step + 1)) / w : base;
    }
    case 'cosine': {
      const w = schedule.warmupSteps ?? 0;
      const min = schedule.minLr ?? 0;
      if (step < w) return (base * (step + 1)) / w;
      const span = Math.max(1, totalSteps - 1 - w);
      const t = Math.min(1, (step - w) / span);
      return min + 0.5 * (base - min) * (1 + Math.cos(Math.PI * t));
    }
    default:
      throw new LeanformerError('INVALID_ARGUMENT', `unknown schedule '${(schedule as { type: string }).type}'; allowed: constant, linear-warmup, cosine`);
  }
}
