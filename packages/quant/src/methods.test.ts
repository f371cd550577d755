import { describe, expect, it } from 'vitest';
import { dequantize, quantizeRtn, type QuantizedWeight } from './blockwise.js';
import { matmul, relativeError } from './linalg.js';
import {
  HessianAccumulator, is24Sparse, prune24, quantizeAwq, quantizeGptq, quantizeHqq, quantizeQServe,
  quantizeSmoothQuantPlus, smoothAttentionScales,
} from './methods.js';
import { syntheticActivations, syntheticWeight } from './synthetic.js';

// An LLM-like linear: K=256 inputs with 4 persistent outlier channels (~50×), N=96 outputs.
const K = 256, N = 96;
const w = syntheticWeight(K, N, 7);
const calib = syntheticActivations(1024, K, 8);
// Held-out evaluation rows share the outlier channels (same seed for the channel layout).
const evalRows = syntheticActivations(1152, K, 8).x.subarray(1024 * K);
const yRef = matmul(evalRows, 128, K, w, N);

/** Output error on held-out rows of X·diag(inputScale)·Ŵ against X·W (float64 reference). */
function outErr(q: QuantizedWeight, inputScale?: Float32Array): number {
  const x = Float32Array.from(evalRows);
  if (inputScale) for (let m = 0; m < 128; m++) for (let k = 0; k < K; k++) x[m * K + k]! *= inputScale[k]!;
  return relativeError(matmul(x, 128, K, dequantize(q), N), yRef);
}

describe('calibration-based methods beat RTN on outlier-channel layers (4-bit, block 64)', () => {
  const opts = { bits: 4 as const, blockSize: 64 };
  const rtn = outErr(quantizeRtn(w, K, N, opts));

  it('GPTQ (act-order, damping 0.01)', () => {
    const h = new HessianAccumulator(K);
    h.add(calib.x);
    const gptq = outErr(quantizeGptq(w, K, N, h.hessian(), { ...opts, actOrder: true }));
    const gptqNoOrder = outErr(quantizeGptq(w, K, N, h.hessian(), { ...opts, actOrder: false }));
    expect(gptq).toBeLessThan(rtn * 0.8);
    expect(gptqNoOrder).toBeLessThan(rtn);
  });

  it('AWQ', () => {
    const [a] = quantizeAwq([{ w, K, N }], calib.x, opts);
    expect(a!.alpha).toBeGreaterThan(0);
    expect(outErr(a!.weight, a!.inputScale)).toBeLessThan(rtn * 0.8);
  });

  it('SmoothQuant+', () => {
    const [s] = quantizeSmoothQuantPlus([{ w, K, N }], calib.x, opts);
    expect(outErr(s!.weight, s!.inputScale)).toBeLessThan(rtn * 0.8);
  });

  it('AWQ searches one α for layers that share an input', () => {
    const w2 = syntheticWeight(K, 64, 9);
    const res = quantizeAwq([{ w, K, N }, { w: w2, K, N: 64 }], calib.x, opts);
    expect(res).toHaveLength(2);
    expect(res[0]!.alpha).toBe(res[1]!.alpha);
    expect(res[0]!.inputScale).toBe(res[1]!.inputScale);
  });
});

describe('HQQ', () => {
  it('lowers the Lp (p=0.7) weight reconstruction error of RTN without calibration', () => {
    const opts = { bits: 4 as const, blockSize: 64 };
    const lp = (q: QuantizedWeight): number => { const d = dequantize(q); let e = 0; for (let i = 0; i < d.length; i++) e += Math.abs(d[i]! - w[i]!) ** 0.7; return e; };
    const hqq = quantizeHqq(w, K, N, opts);
    expect(lp(hqq)).toBeLessThan(lp(quantizeRtn(w, K, N, opts)));
    expect(hqq.zeroPoints!.some((z) => !Number.isInteger(z))).toBe(true);
    expect(() => quantizeHqq(w, K, N, { ...opts, symmetric: true })).toThrow(/symmetric: false/);
  });
});

describe('QServe progressive quantization', () => {
  it('stays inside int8 after the int4→int8 step and reconstructs W as s1·s2·(q4 − z)', () => {
    const { weight, int8, s1, s2 } = quantizeQServe(w, K, N, { blockSize: 128 });
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < weight.kBlocks; b++) {
        const i = n * weight.kBlocks + b;
        const z = weight.zeroPoints![i]!;
        for (let k = b * 128; k < (b + 1) * 128; k++) {
          const v = (weight.codes[n * weight.kBlocks * 128 + k]! - z) * s2[i]!;
          expect(Math.abs(v)).toBeLessThanOrEqual(127);
        }
        expect(weight.scales[i]).toBeCloseTo(s1[n]! * s2[i]!, 9);
      }
    }
    expect(int8.every((v) => Math.abs(v) <= 119)).toBe(true);
    const err = relativeError(dequantize(weight), w);
    expect(err).toBeLessThan(0.02);
  });

  it('SmoothAttention factors are shared within RoPE pairs', () => {
    const lam = smoothAttentionScales([1, 4, 9, 16, 100, 1, 1, 1], 4, 0.5);
    expect(Array.from(lam)).toEqual([3, 4, 3, 4, 10, 1, 10, 1]);
  });
});

describe('prune24', () => {
  it('keeps the two largest magnitudes of every 4 along K', () => {
    const ww = Float32Array.from([0.1, -0.5, 0.3, 0.2, 0.9, 0, 0, -1]); // K=8, N=1
    const { pruned, mask } = prune24(ww, 8, 1);
    expect(Array.from(pruned)).toEqual([0, -0.5, 0.3, 0, 0.9, 0, 0, -1].map(Math.fround));
    expect(Array.from(mask)).toEqual([0, 1, 1, 0, 1, 0, 0, 1]);
    expect(is24Sparse(prune24(w, K, N).pruned, K, N)).toBe(true);
    expect(is24Sparse(w, K, N)).toBe(false);
    expect(() => prune24(new Float32Array(6), 6, 1)).toThrow(/divisible by 4/);
  });
});
