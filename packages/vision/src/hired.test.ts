import { describe, expect, it } from 'vitest';
import { hiredAllocate, hiredContentScores, hiredSelect } from './hired.js';

describe('HiRED budget allocation', () => {
  it('gives the full view alpha·budget and splits the rest by content with largest remainders', () => {
    const r = hiredAllocate({ budget: 100, tokensPerPartition: 64, contentScores: [3, 1, 0, 1], alpha: 0.3 });
    expect(r.full).toBe(30);
    // 70 by weights 3:1:0:1 → 42, 14, 0, 14.
    expect(r.subImages).toEqual([42, 14, 0, 14]);
  });

  it('caps a partition at its token count and redistributes the overflow', () => {
    const r = hiredAllocate({ budget: 150, tokensPerPartition: 64, contentScores: [10, 1, 1], alpha: 0.2 });
    expect(r.full).toBe(30);
    expect(r.subImages[0]).toBe(64);
    expect(r.subImages.reduce((a, b) => a + b, 0) + r.full).toBe(150);
    expect(r.subImages[1]! + r.subImages[2]!).toBe(56);
  });

  it('always spends exactly the budget, even when scores are all zero', () => {
    for (const budget of [1, 7, 33, 200]) {
      const r = hiredAllocate({ budget, tokensPerPartition: 50, contentScores: [0, 0, 0, 0] });
      expect(r.full + r.subImages.reduce((a, b) => a + b, 0)).toBe(budget);
      expect(Math.max(...r.subImages) - Math.min(...r.subImages)).toBeLessThanOrEqual(1);
    }
  });

  it('rejects budgets beyond the available tokens', () => {
    expect(() => hiredAllocate({ budget: 1000, tokensPerPartition: 10, contentScores: [1, 1] })).toThrow(/budget must be an integer in \[1, 30\]/);
  });
});

describe('HiRED content scores and selection', () => {
  it('sums the full view attention over each sub-image region', () => {
    // 4×4 grid, 2×2 sub-images: quadrant sums.
    const a = Float32Array.from({ length: 16 }, (_, i) => i);
    expect(hiredContentScores(a, { rows: 2, cols: 2 })).toEqual([0 + 1 + 4 + 5, 2 + 3 + 6 + 7, 8 + 9 + 12 + 13, 10 + 11 + 14 + 15]);
  });

  it('keeps the top tokens per partition in spatial order, ties to the lower index', () => {
    const sel = hiredSelect([Float32Array.of(0.1, 0.5, 0.2, 0.2), Float32Array.of(1, 2, 3, 4)], [2, 3]);
    expect(Array.from(sel[0]!)).toEqual([1, 2]);
    expect(Array.from(sel[1]!)).toEqual([1, 2, 3]);
  });
});

describe('HiRED selector in the graph', () => {
  it('matches the host-side allocation and selection on tfjs-cpu', async () => {
    const { Tensor } = await import('@leanformer/core');
    const { createTfjsBackend } = await import('@leanformer/runtime-tfjs');
    const { timmVit } = await import('./vit.js');
    const { addHiredSelector } = await import('./hired.js');
    const P = 5; // full view + 2×2 sub-images
    const enc = timmVit('micro', { numClasses: 0, batch: P, seed: 21, exposeTokens: true, exposeClsAttention: [0, 3] });
    addHiredSelector(enc, { budget: 40, grid: { rows: 2, cols: 2 }, initLayer: 0, finalLayer: 3, alpha: 0.3 });
    const x = new Tensor('float32', [P, 3, 64, 64], Float32Array.from({ length: P * 3 * 64 * 64 }, (_, i) => Math.sin(i * 0.013) * Math.cos(i * 0.0007)));
    const exe = await createTfjsBackend('cpu').compile(enc.graph);
    const out = await exe.run({ input: x });
    await exe.dispose();
    const N = 64;
    const aInit = out['cls_attn.0']!.toFloat32();
    const aFin = out['cls_attn.3']!.toFloat32();
    const tokens = out.tokens!.toFloat32();
    const budgets = Array.from(out.hired_budgets!.toFloat32());
    const host = hiredAllocate({ budget: 40, tokensPerPartition: N, contentScores: hiredContentScores(aInit.subarray(0, N), { rows: 2, cols: 2 }), alpha: 0.3 });
    expect(budgets).toEqual([host.full, ...host.subImages]);
    const sel = hiredSelect(Array.from({ length: P }, (_, p) => aFin.subarray(p * N, (p + 1) * N)), budgets);
    const picked = out.hired_tokens!;
    expect(picked.shape).toEqual([40, 64]);
    // Same rows, partition by partition (the graph orders by score, the host by index).
    const got = picked.toFloat32();
    let r = 0;
    for (let p = 0; p < P; p++) {
      const want = new Set(Array.from(sel[p]!, (i) => tokens[(p * N + i) * 64]!));
      const have = new Set<number>();
      for (let k = 0; k < budgets[p]!; k++, r++) have.add(got[r * 64]!);
      expect(have).toEqual(want);
    }
  });
});
