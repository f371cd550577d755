import { describe, expect, it } from 'vitest';
import { analyzeGraph } from '@leanformer/core';
import { efficientvit, EFFICIENTVIT_CONFIGS, attentionBiasIndex, type EfficientVitConfig } from './efficientvit.js';
import { fasternet, FASTERNET_CONFIGS, type FasterNetConfig } from './fasternet.js';
import { modelCost } from './model.js';

/*
 * Structure parity. The expected parameter counts are derived here, independently of the
 * builders, by summing the parameter tensors that timm's modules create
 * (timm/models/efficientvit_msra.py, timm/models/fasternet.py): conv weights, BN weight+bias
 * (running stats are buffers), SE convs with bias, attention-bias tables, classifier.
 * FLOPs are compared with the papers' tables (MACs, which the papers call FLOPs).
 */

const convNorm = (a: number, b: number, k: number, groups = 1) => (a / groups) * b * k * k + 2 * b;

function timmEfficientVitParams(cfg: EfficientVitConfig, numClasses: number, img = 224): number {
  const e = cfg.embedDim;
  let n = convNorm(3, e[0] / 8, 3) + convNorm(e[0] / 8, e[0] / 4, 3) + convNorm(e[0] / 4, e[0] / 2, 3) + convNorm(e[0] / 2, e[0], 3);
  const dw = (c: number) => convNorm(c, c, 3, c);
  const mlp = (c: number) => convNorm(c, 2 * c, 1) + convNorm(2 * c, c, 1);
  let res = img / 16;
  for (let i = 0; i < 3; i++) {
    const ed = e[i]!;
    if (i > 0) {
      const pe = e[i - 1]!;
      const hid = 4 * pe;
      const rd = Math.max(8, Math.floor((hid * 0.25 + 4) / 8) * 8);
      n += dw(pe) + mlp(pe) + convNorm(pe, hid, 1) + convNorm(hid, hid, 3, hid) + (hid * rd + rd + rd * hid + hid) + convNorm(hid, ed, 1) + dw(ed) + mlp(ed);
      res = Math.floor((res - 1) / 2) + 1;
    }
    const nh = cfg.numHeads[i]!;
    const kd = cfg.keyDim[i]!;
    const vd = Math.trunc((ed / (kd * nh)) * kd);
    const r = Math.min(cfg.windowSize[i]!, res);
    let cga = nh * convNorm(ed / nh, 2 * kd + vd, 1) + convNorm(vd * nh, ed, 1) + nh * r * r;
    for (let h = 0; h < nh; h++) cga += convNorm(kd, kd, cfg.kernels[h]!, kd);
    n += cfg.depth[i]! * (2 * dw(ed) + 2 * mlp(ed) + cga);
  }
  return n + 2 * e[2] + e[2] * numClasses + numClasses;
}

function timmFasterNetParams(cfg: FasterNetConfig, numClasses: number): number {
  let n = 3 * cfg.embedDim * cfg.patchSize ** 2 + 2 * cfg.embedDim;
  for (let i = 0; i < cfg.depths.length; i++) {
    const d = cfg.embedDim * 2 ** i;
    if (i > 0) n += (d / 2) * d * cfg.mergeSize ** 2 + 2 * d;
    const cp = Math.floor(d / cfg.nDiv);
    const h = d * cfg.mlpRatio;
    n += cfg.depths[i]! * (cp * cp * 9 + d * h + 2 * h + h * d);
  }
  const last = cfg.embedDim * 2 ** (cfg.depths.length - 1);
  return n + last * cfg.featureDim + cfg.featureDim * numClasses + numClasses;
}

// Paper tables: EfficientViT (Liu et al. 2023, Table 1) and FasterNet (Chen et al. 2023, Table 3).
const EFFICIENTVIT_PAPER = { m0: [2.3e6, 79e6], m1: [3.0e6, 167e6], m2: [4.2e6, 201e6], m3: [6.9e6, 263e6], m4: [8.8e6, 299e6], m5: [12.4e6, 522e6] } as const;
const FASTERNET_PAPER = { t0: [3.9e6, 0.34e9], t1: [7.6e6, 0.85e9], t2: [15.0e6, 1.91e9] } as const;

describe('EfficientViT structure', () => {
  it('M0 has exactly timm\'s parameter count for 1000 and for 10 classes', () => {
    for (const nc of [1000, 10]) {
      const { params } = modelCost(efficientvit('m0', { numClasses: nc, weights: 'zeros' }));
      expect(params).toBe(timmEfficientVitParams(EFFICIENTVIT_CONFIGS.m0, nc));
    }
    expect(timmEfficientVitParams(EFFICIENTVIT_CONFIGS.m0, 1000)).toBe(2_349_436);
  });

  it.each(Object.keys(EFFICIENTVIT_PAPER) as (keyof typeof EFFICIENTVIT_PAPER)[])('%s: params match timm, MACs within 2 percent of the paper', (v) => {
    const m = efficientvit(v, { weights: 'zeros' });
    const cost = analyzeGraph(m.graph, { dims: { batch: 1 } });
    expect(cost.uncounted).toEqual([]);
    expect(cost.params).toBe(timmEfficientVitParams(EFFICIENTVIT_CONFIGS[v], 1000));
    const [p, f] = EFFICIENTVIT_PAPER[v];
    expect(Math.abs(cost.params - p) / p).toBeLessThan(0.03); // the paper rounds to 0.1M
    expect(Math.abs(cost.flops - f) / f).toBeLessThan(0.02);
  });

  it('numbers relative offsets the way timm does (|dy|·r + |dx| for a square grid)', () => {
    const { index, offsets } = attentionBiasIndex(3);
    expect(offsets).toBe(9);
    // point (0,0) vs (2,1) → offset (2,1) → 2·3+1; point (1,2) vs (0,0) → (1,2) → 5.
    expect(Number(index[0 * 9 + 7])).toBe(7);
    expect(Number(index[5 * 9 + 0])).toBe(5);
  });

  it('sets a shape on every value and names parameters with timm keys', () => {
    const m = efficientvit('m0', { numClasses: 10, batch: 2, weights: 'zeros' });
    for (const n of m.graph.nodes) for (const o of n.outputs) expect(o?.shape, `${n.describe()}`).toBeTruthy();
    const names = [...m.graph.initializers.keys()];
    expect(names).toContain('stages.0.blocks.0.mixer.m.attn.qkvs.3.conv.weight');
    expect(names).toContain('stages.1.downsample.patchmerge.se.fc1.bias');
    expect(names).toContain('head.linear.weight');
    expect(m.graph.outputs[0]!.shape).toEqual([2, 10]);
  });

  it('rejects unknown variants and bad sizes with a clear error', () => {
    expect(() => efficientvit('m9' as 'm0')).toThrow(/unknown variant 'm9'.*m0, m1/);
    expect(() => efficientvit('m0', { imgSize: 100 })).toThrow(/multiple of 16/);
  });
});

describe('FasterNet structure', () => {
  it('T0 has exactly timm\'s parameter count for 1000 and for 10 classes', () => {
    for (const nc of [1000, 10]) {
      expect(modelCost(fasternet('t0', { numClasses: nc, weights: 'zeros' })).params).toBe(timmFasterNetParams(FASTERNET_CONFIGS.t0, nc));
    }
  });

  it.each(Object.keys(FASTERNET_PAPER) as (keyof typeof FASTERNET_PAPER)[])('%s: MACs within 2 percent of the paper', (v) => {
    const cost = analyzeGraph(fasternet(v, { weights: 'zeros' }).graph, { dims: { batch: 1 } });
    expect(cost.params).toBe(timmFasterNetParams(FASTERNET_CONFIGS[v], 1000));
    const [p, f] = FASTERNET_PAPER[v];
    expect(Math.abs(cost.params - p) / p).toBeLessThan(0.02);
    expect(Math.abs(cost.flops - f) / f).toBeLessThan(0.02);
  });
});

describe('seeded initialisation', () => {
  it('is reproducible per seed and different across seeds; zeros mode only skips the random draws', () => {
    const w = (seed: number, weights?: 'zeros') => efficientvit('m0', { numClasses: 10, seed, ...(weights ? { weights } : {}), config: { ...EFFICIENTVIT_CONFIGS.m0, depth: [1, 1, 1] } }).graph.initializers.get('stages.0.blocks.0.ffn0.m.pw1.conv.weight')!.const!.toFloat32();
    expect(Array.from(w(1))).toEqual(Array.from(w(1)));
    expect(Array.from(w(1))).not.toEqual(Array.from(w(2)));
    expect(w(1, 'zeros').every((v) => v === 0)).toBe(true);
    const bn = fasternet('t0', { weights: 'zeros' }).graph.initializers.get('patch_embed.norm.running_var')!.const!.toFloat32();
    expect(bn.every((v) => v === 1)).toBe(true);
  });
});
