import { Tensor } from '@leanformer/core';
import { describe, expect, it } from 'vitest';
import { mismatch, outputMetrics } from './compare.js';
import { generateInputs } from './model.js';

const f32 = (v: number[], shape = [v.length]) => Tensor.from('float32', shape, v);

describe('mismatch (ONNX tolerances)', () => {
  it('accepts |Δ| ≤ atol + rtol·|expected| and NaN = NaN, refuses beyond', () => {
    expect(mismatch('y', f32([1.0009, NaN, Infinity, 0]), f32([1, NaN, Infinity, 0]))).toBeNull();
    expect(mismatch('y', f32([1.0011, 2]), f32([1, 2]))).toMatch(/^output 'y': 1 of 2 elements beyond rtol 0.001, atol 1e-7 \(first at 0: got 1.00109/);
    expect(mismatch('y', f32([NaN]), f32([0]))).toMatch(/1 of 1 elements/);
    expect(mismatch('y', f32([1e-8]), f32([0]))).toBeNull();
    expect(mismatch('y', f32([2e-7]), f32([0]))).toMatch(/beyond/);
  });

  it('is exact for integers, bools and strings and checks dtype and shape', () => {
    expect(mismatch('i', Tensor.from('int64', [2], [1n, 2n]), Tensor.from('int64', [2], [1n, 2n]))).toBeNull();
    expect(mismatch('i', Tensor.from('int64', [2], [1n, 3n]), Tensor.from('int64', [2], [1n, 2n]))).toMatch(/1 of 2 elements differ \(first at 1: got 3, expected 2\)/);
    expect(mismatch('b', Tensor.from('bool', [2], [1, 0]), Tensor.from('bool', [2], [1, 1]))).toMatch(/differ/);
    expect(mismatch('s', Tensor.from('string', [1], ['a']), Tensor.from('string', [1], ['b']))).toMatch(/got a, expected b/);
    expect(mismatch('y', f32([1, 2]), Tensor.from('float64', [2], [1, 2]))).toMatch(/dtype float32, expected float64/);
    expect(mismatch('y', f32([1, 2], [2, 1]), f32([1, 2], [1, 2]))).toMatch(/shape \[2, 1\], expected \[1, 2\]/);
  });

  it('decodes float16 before comparing', () => {
    const h = Tensor.from('float16', [2], [0.5, 1]);
    expect(mismatch('h', h, Tensor.from('float16', [2], [0.5, 1]))).toBeNull();
    expect(mismatch('h', h, Tensor.from('float16', [2], [0.5, 1.5]))).toMatch(/beyond/);
  });
});

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
