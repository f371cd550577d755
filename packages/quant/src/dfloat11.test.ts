import { describe, expect, it } from 'vitest';
import { float32ToFloat16Bits, isLeanformerError } from '@leanformer/core';
import { decodeFloats, encodeFloats, huffmanLengths } from './dfloat11.js';
import { Rng, syntheticBf16Weights } from './synthetic.js';

describe('huffmanLengths', () => {
  it('gives an optimal prefix code for a textbook distribution and respects the length limit', () => {
    // freq 45,13,12,16,9,5 → lengths 1,3,3,3,4,4 (CLRS example)
    expect([...huffmanLengths([45, 13, 12, 16, 9, 5])]).toEqual([1, 3, 3, 3, 4, 4]);
    const skew = Array.from({ length: 40 }, (_, i) => 2 ** Math.max(0, 30 - i));
    const lens = huffmanLengths(skew, 12);
    expect(Math.max(...lens)).toBeLessThanOrEqual(12);
    expect(lens.reduce((s, l) => s + (l ? 2 ** -l : 0), 0)).toBeLessThanOrEqual(1);
  });
});

describe('encodeFloats / decodeFloats', () => {
  it('round-trips LLM-like bfloat16 weights bit-exactly at ≤ 0.72× of their bytes', () => {
    const bits = syntheticBf16Weights(300_000, 11);
    const enc = encodeFloats('bfloat16', bits);
    const ratio = enc.byteLength / bits.byteLength;
    expect(ratio).toBeLessThanOrEqual(0.72);
    const dec = decodeFloats(enc);
    expect(dec.dtype).toBe('bfloat16');
    expect(Buffer.from((dec.bits as Uint16Array).buffer).equals(Buffer.from(bits.buffer))).toBe(true);
  });

  it('is bit-exact on every special bfloat16 pattern (±0, subnormals, ±Inf, NaNs, all exponents)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const dec = decodeFloats(encodeFloats('bfloat16', all));
    expect(Array.from(dec.bits)).toEqual(Array.from(all));
  });

  it('round-trips float16 and float32 bit-exactly', () => {
    const rng = new Rng(5);
    const f16 = Uint16Array.from({ length: 70_001 }, () => float32ToFloat16Bits(rng.normal() * 0.05));
    f16[3] = 0x7c00; f16[4] = 0xfe01; f16[5] = 0x8000;
    expect(Array.from(decodeFloats(encodeFloats('float16', f16)).bits)).toEqual(Array.from(f16));
    const f32 = new Float32Array(70_003).map(() => rng.normal() * 0.02);
    f32[0] = -0; f32[1] = Infinity; f32[2] = NaN; f32[3] = 1e-45;
    const u32 = new Uint32Array(f32.buffer);
    const enc = encodeFloats('float32', u32);
    expect(enc.byteLength / f32.byteLength).toBeLessThan(0.86);
    expect(Array.from(decodeFloats(enc).bits)).toEqual(Array.from(u32));
  });

  it('handles empty and single-valued tensors', () => {
    expect(decodeFloats(encodeFloats('bfloat16', new Uint16Array(0))).bits.length).toBe(0);
    const same = new Uint16Array(1000).fill(0x3f80);
    expect(Array.from(decodeFloats(encodeFloats('bfloat16', same)).bits)).toEqual(Array.from(same));
  });

  it('rejects truncated or corrupt streams with DECODE_ERROR', () => {
    const enc = encodeFloats('bfloat16', syntheticBf16Weights(5000, 2));
    expect(() => decodeFloats(enc.subarray(0, enc.length - 10))).toThrow(expect.objectContaining({ code: 'DECODE_ERROR' }));
    const bad = enc.slice();
    bad[0] = 9;
    try { decodeFloats(bad); expect.unreachable(); } catch (e) { expect(isLeanformerError(e, 'DECODE_ERROR')).toBe(true); }
  });
});
