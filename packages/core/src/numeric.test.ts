import { describe, expect, it } from 'vitest';
import { allclose, cosine, maxAbsDiff, ONNX_TOLERANCE, relativeError, Tensor } from './index.js';

const f32 = (v: number[], shape = [v.length]) => Tensor.from('float32', shape, v);

describe('cosine', () => {
  it('matches a float64 reference and is ±1 for (anti)parallel vectors', () => {
    expect(cosine([1, 2, 3], [1, 2, 3])).toBeCloseTo(1, 12);
    expect(cosine([1, 2, 3], [-2, -4, -6])).toBeCloseTo(-1, 12);
    expect(cosine([1, 0, 2], [3, 1, 0])).toBeCloseTo(3 / (Math.sqrt(5) * Math.sqrt(10)), 12);
  });

  it('is 1 for two zero vectors, 0 when only one is zero (never NaN)', () => {
    expect(cosine([0, 0], [0, 0])).toBe(1);
    expect(cosine([0, 0], [1, 2])).toBe(0);
    expect(cosine(new Float32Array([3, 4]), new Float32Array(2))).toBe(0);
  });

  it('accumulates in float64 even for float32 inputs', () => {
    // 1e20² overflows float32 (max ≈ 3.4e38): a float32 accumulator would give Infinity / Infinity = NaN.
    const a = new Float32Array([1e20, 3]), b = new Float32Array([1e20, 4]);
    const x = a[0]!;
    expect(cosine(a, b)).toBeCloseTo((x * x + 12) / Math.sqrt((x * x + 9) * (x * x + 16)), 14);
  });

  it('refuses arrays of different lengths', () => {
    expect(() => cosine([1], [1, 2])).toThrowError(/cosine: lengths 1 and 2 differ/);
  });
});

describe('maxAbsDiff and relativeError', () => {
  it('maxAbsDiff is the largest elementwise gap and propagates NaN', () => {
    expect(maxAbsDiff([1, 2, 3], [1, 2.5, 2])).toBe(1);
    expect(maxAbsDiff([], [])).toBe(0);
    expect(maxAbsDiff([1, NaN, 5], [1, 0, 0])).toBeNaN();
    expect(() => maxAbsDiff([1], [])).toThrowError(/maxAbsDiff: lengths/);
  });

  it('relativeError is ‖got − expected‖₂² / ‖expected‖₂²', () => {
    expect(relativeError([1.1, 2], [1, 2])).toBeCloseTo(0.01 / 5, 12);
    expect(relativeError([3, 4], [0, 2])).toBeCloseTo((9 + 4) / 4, 12);
    expect(relativeError([0, 0], [0, 0])).toBe(0);
    expect(relativeError([1, 0], [0, 0])).toBe(Infinity);
  });
});

describe('allclose (ONNX tolerances)', () => {
  it('names ONNX backend-test tolerances once', () => {
    expect(ONNX_TOLERANCE).toEqual({ rtol: 1e-3, atol: 1e-7 });
    expect(Object.isFrozen(ONNX_TOLERANCE)).toBe(true);
  });

  it('accepts |Δ| ≤ atol + rtol·|expected| and NaN = NaN, refuses beyond', () => {
    expect(allclose(f32([1.0009, NaN, Infinity, 0]), f32([1, NaN, Infinity, 0]))).toBeNull();
    expect(allclose(f32([1.0011, 2]), f32([1, 2]))).toMatch(/^1 of 2 elements beyond rtol 0.001, atol 1e-7 \(first at 0: got 1.00109/);
    expect(allclose(f32([NaN]), f32([0]))).toMatch(/1 of 1 elements/);
    expect(allclose(f32([1e-8]), f32([0]))).toBeNull();
    expect(allclose(f32([2e-7]), f32([0]))).toMatch(/beyond/);
    expect(allclose(f32([1.05]), f32([1]), { rtol: 0.1, atol: 0 })).toBeNull();
  });

  it('is exact for integers, bools and strings and checks dtype and shape', () => {
    expect(allclose(Tensor.from('int64', [2], [1n, 2n]), Tensor.from('int64', [2], [1n, 2n]))).toBeNull();
    expect(allclose(Tensor.from('int64', [2], [1n, 3n]), Tensor.from('int64', [2], [1n, 2n]))).toMatch(/1 of 2 elements differ \(first at 1: got 3, expected 2\)/);
    expect(allclose(Tensor.from('int32', [1], [1]), Tensor.from('int32', [1], [1]), { rtol: 1, atol: 1 })).toBeNull();
    expect(allclose(Tensor.from('int32', [1], [2]), Tensor.from('int32', [1], [1]), { rtol: 1, atol: 1 })).toMatch(/differ/);
    expect(allclose(Tensor.from('bool', [2], [1, 0]), Tensor.from('bool', [2], [1, 1]))).toMatch(/differ/);
    expect(allclose(Tensor.from('string', [1], ['a']), Tensor.from('string', [1], ['b']))).toMatch(/got a, expected b/);
    expect(allclose(f32([1, 2]), Tensor.from('float64', [2], [1, 2]))).toMatch(/dtype float32, expected float64/);
    expect(allclose(f32([1, 2], [2, 1]), f32([1, 2], [1, 2]))).toMatch(/shape \[2, 1\], expected \[1, 2\]/);
  });

  it('decodes float16 before comparing', () => {
    const h = Tensor.from('float16', [2], [0.5, 1]);
    expect(allclose(h, Tensor.from('float16', [2], [0.5, 1]))).toBeNull();
    expect(allclose(h, Tensor.from('float16', [2], [0.5, 1.5]))).toMatch(/beyond/);
  });
});
