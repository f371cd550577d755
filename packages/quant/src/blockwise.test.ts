import { describe, expect, it } from 'vitest';
import {
  dequantize, packMatMulNBits, perChannelBlockSize, quantizeRtn, quantizeRtnPacked, unpackMatMulNBits, type QuantBits,
} from './blockwise.js';
import { Rng, syntheticWeight } from './synthetic.js';

/**
 * Independent float64 statement of ORT's documented blockwise formula (MLAS
 * BlockwiseQuantizer): returns dequantized [K, N]. Values are compared with a tolerance of one
 * float32 ulp of the scale, since this reference does not round intermediates to float32.
 */
function reference(w: Float32Array, K: number, N: number, bits: number, bs: number, sym: boolean): { deq: Float64Array; scale: Float64Array } {
  const qmax = 2 ** bits - 1;
  const mid = 2 ** (bits - 1);
  const nb = Math.ceil(K / bs);
  const deq = new Float64Array(K * N);
  const scale = new Float64Array(N * nb);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nb; b++) {
      const vals: number[] = [];
      for (let k = b * bs; k < Math.min(K, (b + 1) * bs); k++) vals.push(w[k * N + n]!);
      let s: number, z: number;
      if (sym) {
        const mx = Math.max(...vals), mn = Math.min(...vals);
        const m = Math.abs(mx) > Math.abs(mn) ? mx : mn;
        s = m / -mid; z = mid;
      } else {
        const lo = Math.min(0, ...vals), hi = Math.max(0, ...vals);
        s = Math.fround(Math.fround(hi - lo) / qmax);
        z = s === 0 ? 0 : Math.min(qmax, Math.max(0, Math.sign(-lo / s) * Math.round(Math.abs(-lo / s))));
      }
      scale[n * nb + b] = s;
      vals.forEach((v, i) => {
        const q = s === 0 ? z : Math.min(qmax, Math.max(0, Math.round(v / s + z)));
        deq[(b * bs + i) * N + n] = (q - z) * s;
      });
    }
  }
  return { deq, scale };
}

describe('quantizeRtn', () => {
  for (const bits of [4, 8] as QuantBits[]) {
    for (const sym of [false, true]) {
      for (const bs of [16, 32, 128]) {
        it(`matches ORT's blockwise formula (${bits}-bit, ${sym ? 'symmetric' : 'asymmetric'}, block ${bs})`, () => {
          const K = 200, N = 24; // K not a multiple of the block: exercises padding
          const w = syntheticWeight(K, N, bits * 100 + bs + (sym ? 1 : 0));
          const q = quantizeRtn(w, K, N, { bits, blockSize: bs, symmetric: sym });
          const ref = reference(w, K, N, bits, bs, sym);
          const deq = dequantize(q);
          let steps = 0;
          for (let n = 0; n < N; n++) {
            for (let k = 0; k < K; k++) {
              const s = Math.abs(ref.scale[n * q.kBlocks + Math.floor(k / bs)]!);
              const d = Math.abs(deq[k * N + n]! - ref.deq[k * N + n]!);
              // Exactly equal, or one step apart where the float64 reference sits on a rounding tie.
              if (d > s * 1e-5) { steps++; expect(d).toBeLessThanOrEqual(s * 1.0001); }
            }
          }
          // float32 `w·(1/scale)` (ORT) vs exact division (reference) flips rare near-ties: bounded at 1%.
          expect(steps).toBeLessThanOrEqual(Math.ceil(K * N * 0.01));
          // Error is bounded by half a step inside the range (and one step for the clamped symmetric extreme).
          for (let i = 0; i < K * N; i++) {
            const s = Math.abs(q.scales[(i % N) * q.kBlocks + Math.floor(Math.floor(i / N) / bs)]!);
            expect(Math.abs(deq[i]! - w[i]!)).toBeLessThanOrEqual(s * (sym ? 1.0001 : 0.5001) + 1e-12);
          }
        });
      }
    }
  }

  it('represents 0 exactly in the asymmetric scheme and keeps the largest magnitude exact in the symmetric one', () => {
    const w = Float32Array.from([0.3, -0.1, 0, 0.05, ...new Array(12).fill(0.01)]);
    const a = dequantize(quantizeRtn(w, 16, 1, { bits: 4, blockSize: 16 }));
    expect(a[2]).toBe(0);
    const s = dequantize(quantizeRtn(w, 16, 1, { bits: 4, blockSize: 16, symmetric: true }));
    expect(s[0]).toBeCloseTo(0.3, 6);
  });

  it('rejects block sizes MatMulNBits cannot express', () => {
    const w = new Float32Array(64);
    expect(() => quantizeRtn(w, 64, 1, { bits: 4, blockSize: 24 })).toThrow(/16, 32, 64, 128 or 256/);
    expect(() => quantizeRtn(w, 64, 1, { bits: 4, blockSize: 512 })).toThrow(/16, 32, 64, 128 or 256/);
    expect(() => quantizeRtn(w, 64, 1, { bits: 3 as QuantBits, blockSize: 32 })).toThrow(/bits must be 4 or 8/);
  });

  it('per-channel quantization is one block per output column', () => {
    expect(perChannelBlockSize(200)).toBe(256);
    expect(perChannelBlockSize(8)).toBe(16);
    expect(perChannelBlockSize(344)).toBe(256); // ORT's MatMulNBits takes blocks up to 256
    const q = quantizeRtn(syntheticWeight(200, 3), 200, 3, { bits: 8, blockSize: perChannelBlockSize(200) });
    expect(q.kBlocks).toBe(1);
  });
});

describe('packMatMulNBits', () => {
  it('packs codes low nibble first along K, zero points per column, and round-trips', () => {
    const rng = new Rng(3);
    const K = 96, N = 5;
    const w = Float32Array.from({ length: K * N }, () => rng.normal());
    const q = quantizeRtn(w, K, N, { bits: 4, blockSize: 32 });
    const t = packMatMulNBits(q);
    expect(t.bShape).toEqual([N, 3, 16]);
    // B[n, b, j] = codes[n, b·32 + 2j] | codes[n, b·32 + 2j + 1] << 4
    expect(t.B[(1 * 3 + 2) * 16 + 7]).toBe(q.codes[1 * 96 + 64 + 14]! | (q.codes[1 * 96 + 64 + 15]! << 4));
    expect(t.zeroPoints).toBeInstanceOf(Uint8Array);
    expect(t.zeroPoints!.length).toBe(N * 2); // ceil(3 blocks · 4 bits / 8)
    expect(t.zeroPoints![2 * 2 + 1]! & 15).toBe(q.zeroPoints![2 * 3 + 2]);
    const back = unpackMatMulNBits(t, K, N, 4, 32);
    expect(dequantize(back)).toEqual(dequantize(q));
  });

  it('keeps fractional zero points as float32 unless uint8 is forced', () => {
    const q = quantizeRtn(syntheticWeight(32, 2), 32, 2, { bits: 4, blockSize: 32 });
    const frac = { ...q, zeroPoints: Float32Array.from(q.zeroPoints!, (z) => z + 0.25) };
    expect(packMatMulNBits(frac).zeroPoints).toBeInstanceOf(Float32Array);
    expect(packMatMulNBits(frac, { forceUint8ZeroPoints: true }).zeroPoints).toBeInstanceOf(Uint8Array);
  });
});

describe('quantizeRtnPacked', () => {
  /** The two-step path on a copied column slice: the independent statement the fused kernel must equal byte for byte. */
  const twoStep = (w: Float32Array, K: number, N: number, o: { bits: QuantBits; blockSize: number; symmetric?: boolean; clip?: boolean }, n0: number, n1: number) => {
    const ns = n1 - n0;
    const slice = new Float32Array(K * ns);
    for (let k = 0; k < K; k++) slice.set(w.subarray(k * N + n0, k * N + n1), k * ns);
    return packMatMulNBits(quantizeRtn(slice, K, ns, o));
  };

  it('equals packMatMulNBits(quantizeRtn(slice)) for 4/8 bits, (a)symmetric, clipping, ragged K and odd block counts', () => {
    const rng = new Rng(11);
    for (const [K, N] of [[96, 7], [100, 9], [33, 4], [256, 12]] as const) {
      // Outliers and exact zeros, so clamping, zero ranges and ties are exercised too.
      const w = Float32Array.from({ length: K * N }, (_, i) => (i % 17 === 0 ? 0 : i % 29 === 0 ? 8 * rng.normal() : rng.normal()));
      for (const bits of [4, 8] as const) {
        for (const blockSize of [16, 32, 64]) {
          for (const symmetric of [false, true]) {
            for (const clip of [false, true]) {
              const o = { bits, blockSize, symmetric, clip };
              for (const [n0, n1] of [[0, N], [1, N - 2], [N - 1, N]] as const) {
                const a = quantizeRtnPacked(w, K, N, o, { n0, n1 });
                const e = twoStep(w, K, N, o, n0, n1);
                expect(a.bShape).toEqual(e.bShape);
                expect(Buffer.from(a.B).equals(Buffer.from(e.B))).toBe(true);
                expect(Buffer.from(a.scales.buffer).equals(Buffer.from(e.scales.buffer))).toBe(true);
                if (e.zeroPoints === null) expect(a.zeroPoints).toBeNull();
                else expect(Buffer.from(a.zeroPoints!.buffer).equals(Buffer.from((e.zeroPoints as Uint8Array).buffer))).toBe(true);
              }
            }
          }
        }
      }
    }
  });

  it('rejects a bad column range or weight length with the allowed values', () => {
    const w = new Float32Array(64 * 4);
    expect(() => quantizeRtnPacked(w, 64, 4, { bits: 4, blockSize: 32 }, { n0: 3, n1: 3 })).toThrow(/0 ≤ n0 < n1 ≤ N = 4/);
    expect(() => quantizeRtnPacked(w, 64, 4, { bits: 4, blockSize: 32 }, { n0: 0, n1: 5 })).toThrow(/got \[0, 5\)/);
    expect(() => quantizeRtnPacked(w, 64, 5, { bits: 4, blockSize: 32 })).toThrow(/expected K·N/);
  });
});
