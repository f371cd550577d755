import { describe, expect, it } from 'vitest';
import {
  bfloat16BitsToFloat32, bitsToFloat, float16BitsToFloat32, float32ToBfloat16Bits, float32ToFloat16Bits,
  floatToBits, packBits, packInt4, unpackBits, unpackInt4,
} from './convert.js';

/** The float32 whose IEEE bits are `bits` (an independent way to write test inputs). */
function f32FromBits(bits: number): number {
  const b = new Uint32Array([bits >>> 0]);
  return new Float32Array(b.buffer)[0]!;
}

describe('float16 encoding (round to nearest even)', () => {
  it.each([
    [1.0, 0x3c00],
    [-2.0, 0xc000],
    [65504, 0x7bff], // largest finite
    [65519, 0x7bff], // just below the rounding midpoint to Inf
    [65520, 0x7c00], // midpoint between 65504 and 65536 rounds (to even) to Inf
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // half of the smallest subnormal: tie to even → 0
    [3 * 2 ** -26, 0x0001], // 0.75 ulp rounds up to 1 ulp
    [3 * 2 ** -25, 0x0002], // 1.5 ulp: tie to even → 2 ulp
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -14 - 2 ** -25, 0x0400], // subnormal rounding carries into the exponent
    [1 + 2 ** -11, 0x3c00], // tie, even mantissa stays
    [1 + 3 * 2 ** -11, 0x3c02], // tie, odd mantissa rounds up
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie rounds up
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [1e10, 0x7c00],
  ])('%d → 0x%s', (value, bits) => {
    expect(float32ToFloat16Bits(value)).toBe(bits);
  });

  it('keeps the sign of zero and of underflow', () => {
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float32ToFloat16Bits(0)).toBe(0x0000);
    expect(float32ToFloat16Bits(-(2 ** -30))).toBe(0x8000);
  });

  it('keeps NaN a (quiet) NaN', () => {
    const h = float32ToFloat16Bits(NaN);
    expect(h & 0x7c00).toBe(0x7c00);
    expect(h & 0x3ff).not.toBe(0);
    expect(Number.isNaN(float16BitsToFloat32(h))).toBe(true);
    // a signalling NaN payload whose top 10 mantissa bits are zero must not become Inf
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(f32FromBits(0x7f800001))))).toBe(true);
  });

  it('decodes known patterns', () => {
    expect(float16BitsToFloat32(0x3c00)).toBe(1);
    expect(float16BitsToFloat32(0x7bff)).toBe(65504);
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16BitsToFloat32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true);
    expect(float16BitsToFloat32(0xfc00)).toBe(-Infinity);
  });

  it('round-trips every non-NaN bit pattern exactly (bits → f32 → bits)', () => {
    let checked = 0;
    for (let h = 0; h < 0x10000; h++) {
      const v = float16BitsToFloat32(h);
      if (Number.isNaN(v)) continue;
      const back = float32ToFloat16Bits(v);
      if (back !== h) throw new Error(`0x${h.toString(16)} → ${v} → 0x${back.toString(16)}`);
      checked++;
    }
    expect(checked).toBe(0x10000 - 2 * 1023 * 1); // 2046 NaN patterns (both signs, mantissa ≠ 0)
  });
});

describe('bfloat16 encoding', () => {
  it.each([
    [0x3f800000, 0x3f80], // 1.0
    [0x3f808000, 0x3f80], // tie, even stays
    [0x3f818000, 0x3f82], // tie, odd rounds up
    [0x3f808001, 0x3f81], // above tie
    [0x7f800000, 0x7f80], // +Inf
    [0xff800000, 0xff80], // -Inf
    [0x7f7fffff, 0x7f80], // max float rounds to Inf
    [0x00010000, 0x0001], // subnormal preserved
    [0x80018000, 0x8002], // negative subnormal tie → even
    [0x80000000, 0x8000], // -0
  ])('bits 0x%s → 0x%s', (inBits, out) => {
    expect(float32ToBfloat16Bits(f32FromBits(inBits))).toBe(out);
  });

  it('makes NaN a quiet NaN with its sign', () => {
    expect(float32ToBfloat16Bits(f32FromBits(0x7f800001))).toBe(0x7fc0);
    expect(float32ToBfloat16Bits(f32FromBits(0xff800001))).toBe(0xffc0);
    expect(Number.isNaN(bfloat16BitsToFloat32(0x7fc0))).toBe(true);
  });

  it('round-trips every non-NaN pattern', () => {
    for (let b = 0; b < 0x10000; b++) {
      const v = bfloat16BitsToFloat32(b);
      if (Number.isNaN(v)) continue;
      const back = float32ToBfloat16Bits(v);
      if (back !== b) throw new Error(`0x${b.toString(16)} → ${v} → 0x${back.toString(16)}`);
    }
  });
});

describe('fp8 / generic bit-pattern helpers', () => {
  it('float8e4m3 (fn): max 448, saturates, NaN 0x7f', () => {
    expect(bitsToFloat('float8e4m3', 0x7e)).toBe(448);
    expect(floatToBits('float8e4m3', 448)).toBe(0x7e);
    expect(floatToBits('float8e4m3', 1e6)).toBe(0x7e);
    expect(floatToBits('float8e4m3', NaN)).toBe(0x7f);
    expect(floatToBits('float8e4m3', 1)).toBe(0x38);
  });
  it('float8e5m2 keeps Inf', () => {
    expect(floatToBits('float8e5m2', Infinity)).toBe(0x7c);
    expect(bitsToFloat('float8e5m2', 0x7c)).toBe(Infinity);
  });
  it('refuses dtypes that are not bit patterns', () => {
    expect(() => floatToBits('int8', 1)).toThrow(/not a bit-pattern float/);
  });
});

describe('sub-byte packing', () => {
  it('packs int4 low nibble first with a zero padding nibble for odd lengths', () => {
    const bytes = packInt4([-8, 7, -1]);
    expect([...bytes]).toEqual([0x78, 0x0f]);
    expect([...unpackInt4(bytes, 3, true)]).toEqual([-8, 7, -1]);
    expect([...unpackInt4(bytes, 3, false)]).toEqual([8, 7, 15]);
  });
  it('unpack trims to the element count', () => {
    const bytes = packInt4([1, 2, 3, 4, 5]);
    expect(bytes.length).toBe(3);
    expect(bytes[2]).toBe(0x05);
    expect([...unpackInt4(bytes, 5, false)]).toEqual([1, 2, 3, 4, 5]);
  });
  it('packs 2-bit values four per byte', () => {
    const bytes = packBits([1, 2, 3, 0, -1], 2);
    expect([...bytes]).toEqual([0b00111001, 0b11]);
    expect([...unpackBits(bytes, 5, 2, true)]).toEqual([1, -2, -1, 0, -1]);
  });
});
