import { LeanformerError } from '../errors.js';
import { Tensor, shapeSize } from '../tensor.js';

/** A seeded pseudo-random source: the same seed gives the same sequence on every platform. */
export interface Rng {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Standard normal (Box–Muller over `uniform`). */
  normal(): number;
  /** A float32 tensor of `N(mean, std²)` samples. */
  normalTensor(shape: readonly number[], std?: number, mean?: number): Tensor;
  /** A float32 tensor of samples uniform in [lo, hi). */
  uniformTensor(shape: readonly number[], lo?: number, hi?: number): Tensor;
  /**
   * A float32 tensor of truncated-normal samples `std · z`: each `z` is a standard normal drawn
   * again while `|z| > bound` (default 2, i.e. within ±2 standard deviations, as ViT inits use).
   */
  truncNormalTensor(shape: readonly number[], std?: number, bound?: number): Tensor;
}

/**
 * A deterministic generator (mulberry32: a 32-bit state advanced by a Weyl step and mixed by
 * multiply–xorshift) with Gaussian samples by Box–Muller. Fast and reproducible, not cryptographic.
 * Used for seeded weight init so models and tests are identical across runs and machines.
 *
 * @example
 * ```ts
 * const r = rng(42);
 * const w = r.normalTensor([64, 64], 0.02);
 * ```
 */
export function rng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new LeanformerError('INVALID_ARGUMENT', `rng: seed must be a finite number, got ${seed}`);
  let state = Math.trunc(seed) >>> 0;
  let spare: number | undefined;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => {
    if (spare !== undefined) { const s = spare; spare = undefined; return s; }
    // 1 - u lies in (0, 1], so the log is finite.
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
  return {
    uniform,
    normal,
    normalTensor(shape, std = 1, mean = 0) {
      const out = new Float32Array(shapeSize(shape));
      for (let i = 0; i < out.length; i++) out[i] = mean + std * normal();
      return new Tensor('float32', shape, out);
    },
    uniformTensor(shape, lo = 0, hi = 1) {
      const out = new Float32Array(shapeSize(shape));
      for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * uniform();
      return new Tensor('float32', shape, out);
    },
    truncNormalTensor(shape, std = 1, bound = 2) {
      if (!(bound > 0)) throw new LeanformerError('INVALID_ARGUMENT', `truncNormalTensor: bound must be a positive number of standard deviations, got ${bound}`);
      const out = new Float32Array(shapeSize(shape));
      for (let i = 0; i < out.length; i++) {
        let z: number;
        do z = normal(); while (Math.abs(z) > bound);
        out[i] = std * z;
      }
      return new Tensor('float32', shape, out);
    },
  };
}
