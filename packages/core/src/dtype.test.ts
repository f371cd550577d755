import { describe, expect, it } from 'vitest';
import { byteSize, dtype, dtypeFromOnnx, DTypes } from './dtype.js';
import { isLeanformerError } from './errors.js';

describe('dtype table', () => {
  it('has the ONNX TensorProto.DataType enum values', () => {
    const expected: Record<string, number> = {
      float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, string: 8, bool: 9,
      float16: 10, float64: 11, uint32: 12, uint64: 13, complex64: 14, complex128: 15, bfloat16: 16,
      float8e4m3: 17, float8e4m3fnuz: 18, float8e5m2: 19, float8e5m2fnuz: 20, uint4: 21, int4: 22,
      float4e2m1: 23, float8e8m0: 24, uint2: 25, int2: 26,
    };
    for (const [name, code] of Object.entries(expected)) {
      expect(dtype(name).onnx).toBe(code);
      expect(dtypeFromOnnx(code).name).toBe(name);
    }
    expect(Object.keys(DTypes).length).toBe(Object.keys(expected).length);
  });

  it('is frozen and self-consistent', () => {
    expect(Object.isFrozen(DTypes)).toBe(true);
    for (const t of Object.values(DTypes)) {
      expect(Object.isFrozen(t)).toBe(true);
      expect(t.isPacked).toBe(t.bits > 0 && t.bits < 8);
      if (t.isPacked) expect(t.storage).toBe('Uint8Array');
      expect(t.isFloat && t.isInteger).toBe(false);
    }
    expect(DTypes.float16.isBitPattern && DTypes.bfloat16.isBitPattern).toBe(true);
    expect(DTypes.uint8.isSigned).toBe(false);
    expect(DTypes.int4.isSigned && DTypes.int4.isInteger).toBe(true);
    expect(DTypes.bool.isInteger).toBe(false);
  });

  it('computes byte sizes with packed types rounded up', () => {
    expect(byteSize(DTypes.float32, 3)).toBe(12);
    expect(byteSize(DTypes.int4, 3)).toBe(2);
    expect(byteSize(DTypes.uint2, 5)).toBe(2);
    expect(byteSize(DTypes.int64, 0)).toBe(0);
    expect(() => byteSize(DTypes.string, 1)).toThrow(/string/);
  });

  it('throws INVALID_DTYPE naming the bad value', () => {
    try { dtype('float33'); expect.unreachable(); } catch (e) {
      expect(isLeanformerError(e, 'INVALID_DTYPE')).toBe(true);
      expect((e as Error).message).toMatch(/float33.*allowed: float32/);
    }
    expect(() => dtypeFromOnnx(99)).toThrow(/Unsupported ONNX data type 99/);
  });
});
