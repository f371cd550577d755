import { Tensor } from '@leanformer/core';
import { describe, expect, it } from 'vitest';
import { outputMetrics } from './compare.js';
import { generateInputs } from './model.js';

const f32 = (v: number[], shape = [v.length]) => Tensor.from('float32', shape, v);

describe('outputMetrics', () => {
  it('reports max abs, max rel (non-zero expected) and cosine', () => {
    const m = outputMetrics(f32([1, 2.5, 0.5]), f32([1, 2, 0]));
    expect(m.maxAbsErr).toBeCloseTo(0.5, 12);
    expect(m.maxRelErr).toBeCloseTo(0.25, 12);
    expect(m.cosine).toBeCloseTo((1 + 5) / (Math.sqrt(1 + 6.25 + 0.25) * Math.sqrt(5)), 12);
    expect(outputMetrics(f32([1]), f32([1, 2]))).toEqual({ maxAbsErr: null, maxRelErr: null, cosine: null });
    expect(outputMetrics(f32([NaN, 1]), f32([0, 1])).maxAbsErr).toBe(Infinity);
  });
});

describe('generateInputs', () => {
  it('is seeded, binds symbolic dims, and keeps integer ids small', () => {
    const specs = [
      { name: 'ids', dtype: Tensor.zeros('int64', [1]).dtype, shape: ['batch', 'seq'], isTensor: true },
      { name: 'x', dtype: Tensor.zeros('float32', [1]).dtype, shape: [2, null], isTensor: true },
    ];
    const a = generateInputs(specs, { seed: 3, dims: { seq: 5 } });
    const b = generateInputs(specs, { seed: 3, dims: { seq: 5 } });
    expect(a['ids']!.shape).toEqual([1, 5]);
    expect(a['x']!.shape).toEqual([2, 1]);
    expect(a['ids']!.toArray()).toEqual(b['ids']!.toArray());
    expect((a['ids']!.toArray() as bigint[]).every((v) => v >= 0n && v < 10n)).toBe(true);
    expect(generateInputs(specs, { seed: 4, dims: { seq: 5 } })['x']!.toArray()).not.toEqual(a['x']!.toArray());
    expect(() => generateInputs([{ name: 's', dtype: null, shape: null, isTensor: false }])).toThrow(/'s': it is a sequence, optional or map/);
  });
});
