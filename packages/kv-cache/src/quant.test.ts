import { describe, expect, it } from 'vitest';
import { cosine, float16BitsToFloat32, rng } from '@leanformer/core';
import { dequantizeKV, kvBytesPerToken, quantizeKV } from './quant.js';

const gauss = (n: number, seed: number): Float32Array => rng(seed).normalTensor([n]).data as Float32Array;

describe('KV quantization', () => {
  for (const bits of [4, 8] as const) {
    for (const groupSize of [16, 64]) {
      it(`int${bits} group ${groupSize}: every element within half a step of the original`, () => {
        const rows = 33, cols = 64;
        const x = gauss(rows * cols, bits * 100 + groupSize);
        const q = quantizeKV(x, rows, cols, { bits, groupSize });
        const y = dequantizeKV(q);
        const groups = cols / groupSize;
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
          const step = float16BitsToFloat32(q.scales[r * groups + Math.floor(c / groupSize)]!);
          expect(Math.abs(y[r * cols + c]! - x[r * cols + c]!)).toBeLessThanOrEqual(step / 2 + 1e-3 * step + 1e-6);
        }
        expect(q.codes.length).toBe(bits === 8 ? rows * cols : (rows * cols) / 2);
      });
    }
  }

  it('a constant row round-trips exactly (zero scale)', () => {
    const x = new Float32Array(8).fill(0.5);
    expect([...dequantizeKV(quantizeKV(x, 1, 8, { bits: 4 }))]).toEqual([...x]);
  });

  it('bytes per token: int4 per-token over 64 channels = (32 + 4) per K and V, ratio 0.28 of fp16', () => {
    expect(kvBytesPerToken(64, { bits: 4 })).toBe(72);
    expect(kvBytesPerToken(64, 'float16')).toBe(256);
    expect(kvBytesPerToken(64, { bits: 4, groupSize: 32 })).toBe(80);
  });

  it('rejects a group size that does not divide the row', () => {
    expect(() => quantizeKV(new Float32Array(10), 1, 10, { bits: 4, groupSize: 4 })).toThrow(/groupSize/);
  });

  it('cosine of identical vectors is 1, of opposite −1', () => {
    expect(cosine([1, 2, 3], [1, 2, 3])).toBeCloseTo(1, 12);
    expect(cosine([1, 2, 3], [-1, -2, -3])).toBeCloseTo(-1, 12);
  });
});
