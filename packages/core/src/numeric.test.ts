import { describe, expect, it } from 'vitest';
import { cosine } from './numeric.js';
import { LeanformerError } from './errors.js';

describe('cosine', () => {
  it('matches the closed form on small vectors', () => {
    expect(cosine([1, 0], [1, 1])).toBeCloseTo(Math.SQRT1_2, 15);
    expect(cosine([1, 2, 3], [-1, -2, -3])).toBeCloseTo(-1, 15);
    expect(cosine([1, 0, 0], [0, 5, 0])).toBe(0);
    // float32 inputs accumulate in float64: 3·4 + 4·3 = 24 over |a||b| = 25
    expect(cosine(Float32Array.of(3, 4), Float32Array.of(4, 3))).toBeCloseTo(24 / 25, 15);
  });

  it('is never NaN on zero vectors', () => {
    expect(cosine([0, 0], [0, 0])).toBe(1);
    expect(cosine([0, 0], [1, 0])).toBe(0);
  });

  it('refuses vectors of different lengths', () => {
    expect(() => cosine([1, 2], [1])).toThrow(LeanformerError);
    expect(() => cosine([1, 2], [1])).toThrow(/lengths 2 and 1 differ/);
  });
});
