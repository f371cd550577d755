import { describe, expect, it } from 'vitest';
import { Tensor, transformerDecoder, type Graph } from '@leanformer/core';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { crossEntropyLoss, Trainer } from '@leanformer/runtime-tfjs';
import {
  exportPaca, finetune, injectPaca, pacaParamNames, registerPeftKernels, selectPartialConnections, svd,
  syntheticInstructionTask, weloreCompress, welorePlan,
} from './index.js';

const model = () => transformerDecoder({ vocabSize: 24, hidden: 32, layers: 1, heads: 2, ffn: 64, seed: 7, initStd: 0.15 });
const task = { vocab: 24, seqLen: 11, batch: 8 };

describe('PaCA', () => {
  it('gradient of the partial connections equals those rows of the full weight gradient', async () => {
    registerPeftKernels();
    const base = model();
    const sel = selectPartialConnections(base, { targetModules: ['q_proj', 'down_proj'], k: 5, seed: 1 });
    const batch = syntheticInstructionTask({ ...task, seed: 0 })(0, 0);
    const loss = crossEntropyLoss('logits', 'labels');
    const { graph, trainable } = injectPaca(base, sel);
    const t1 = await Trainer.create(graph, { loss, optimizer: { type: 'sgd', lr: 0 }, trainable });
    const full = await Trainer.create(base, { loss, optimizer: { type: 'sgd', lr: 0 }, trainable: [...sel.keys()].map((m) => `${m}.weight`) });
    try {
      const a = t1.lossAndGrads(batch);
      const b = full.lossAndGrads(batch);
      expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-6);
      for (const [m, idx] of sel) {
        const dp = a.grads.get(pacaParamNames(m).P)!.dataSync();
        const dw = b.grads.get(`${m}.weight`)!;
        const out = dw.shape[1]!;
        const dwd = dw.dataSync();
        let err = 0, norm = 0;
        idx.forEach((r, j) => { for (let c = 0; c < out; c++) { err = Math.max(err, Math.abs(dp[j * out + c]! - dwd[r * out + c]!)); norm = Math.max(norm, Math.abs(dwd[r * out + c]!)); } });
        expect(norm).toBeGreaterThan(0);
        expect(err / norm).toBeLessThan(1e-4);
      }
      for (const g of [...a.grads.values(), ...b.grads.values()]) g.dispose();
    } finally { t1.dispose(); full.dispose(); }
  });

  it('the training graph (reference decomposition on ORT) and the exported base model agree', async () => {
    const base = model();
    const sel = selectPartialConnections(base, { targetModules: 'all-linear', ratio: 0.25, criterion: 'norm' });
    const { graph } = injectPaca(base, sel);
    // Change P so the check is not trivially the base model.
    for (const m of sel.keys()) {
      const v = graph.initializers.get(pacaParamNames(m).P)!;
      const d = v.const!.toFloat32().map((x, i) => x + 0.05 * Math.sin(i));
      graph.setInitializer(v, new Tensor('float32', v.const!.shape, d));
    }
    const exported = exportPaca(graph);
    expect(exported.nodes.some((n) => n.op === 'PaCALinear')).toBe(false);
    const ort = createOrtBackend();
    const ids = syntheticInstructionTask({ ...task, seed: 3 })(0, 0).input_ids;
    const run = async (g: Graph) => { const e = await ort.compile(g); try { return (await e.run({ input_ids: ids })).logits!.toFloat32(); } finally { await e.dispose(); } };
    const [x, y, z] = [await run(graph), await run(exported), await run(base)];
    let d = 0, d0 = 0;
    for (let i = 0; i < x.length; i++) { d = Math.max(d, Math.abs(x[i]! - y[i]!)); d0 = Math.max(d0, Math.abs(x[i]! - z[i]!)); }
    expect(d).toBeLessThan(1e-5);
    expect(d0).toBeGreaterThan(1e-3);
  });
});

describe('WeLore', () => {
  it('SVD reconstructs, and truncation error is the dropped singular values (Eckart–Young)', () => {
    const m = 7, n = 5;
    const a = Array.from({ length: m * n }, (_, i) => Math.sin(i * 1.3) + (i % 3));
    for (const [rows, cols, mat] of [[m, n, a], [n, m, Array.from({ length: m * n }, (_, i) => a[(i % m) * n + Math.floor(i / m)]!)]] as const) {
      const { U, S, V, k } = svd(mat, rows, cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
        let s = 0;
        for (let r = 0; r < k; r++) s += U[i * k + r]! * S[r]! * V[j * k + r]!;
        expect(Math.abs(s - mat[i * cols + j]!)).toBeLessThan(1e-10);
      }
      for (let r = 1; r < k; r++) expect(S[r]!).toBeLessThanOrEqual(S[r - 1]!);
    }
  });

  it('reaches the target compression with non-uniform ranks, and the rewrite is W ≈ A·B', () => {
    const base = model();
    // Give the attention matrices a fast-decaying spectrum, as trained models have.
    for (const v of base.initializers.values()) {
      if (!/self_attn\.[qkvo]_proj\.weight$/.test(v.name)) continue;
      const [r, c] = v.const!.shape as [number, number];
      const w = new Float32Array(r * c);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) w[i * c + j] = Math.cos(i * 0.3 + j * 0.2) + 0.01 * Math.sin(i * j);
      base.setInitializer(v, new Tensor('float32', [r, c], w));
    }
    const plan = welorePlan(base, { targetModules: 'all-linear', compression: 0.3 });
    expect(plan.compression).toBeGreaterThanOrEqual(0.3);
    const ranks = [...plan.modules.values()].map((p) => p.rank);
    expect(new Set(ranks).size).toBeGreaterThan(1);
    expect(plan.modules.get('model.layers.0.self_attn.q_proj')!.lowRank).toBe(true);
    const { graph, trainable } = weloreCompress(base, { targetModules: 'all-linear', compression: 0.3, plan });
    expect(trainable.length).toBe(2 * [...plan.modules.values()].filter((p) => p.lowRank).length);
    expect(graph.initializers.has('model.layers.0.self_attn.q_proj.weight')).toBe(false);
  });
});

describe('finetune', () => {
  it('every method lowers the held-out loss on the built-in task', async () => {
    const held = syntheticInstructionTask({ ...task, seed: 99 });
    const data = syntheticInstructionTask({ ...task, seed: 1 });
    for (const method of ['lora', 'paca', 'welore', 'galore'] as const) {
      const r = await finetune(model(), {
        method, data, steps: 30, evalData: held, evalBatches: 2, lora: { r: 4 }, paca: { ratio: 0.25 }, galore: { rank: 4, updateProjGap: 10 },
        welore: { compression: 0.2 }, lr: 3e-2,
      });
      expect(r.losses).toHaveLength(30);
      // Measured: each drops by 0.6-0.8 nats in 30 steps; 0.2 leaves room for backend rounding.
      expect(r.evalLossAfter!, method).toBeLessThan(r.evalLossBefore! - 0.2);
    }
  }, 60_000);

  it('checkpoints resume to the same trajectory', async () => {
    const data = syntheticInstructionTask({ ...task, seed: 2 });
    const opts = { method: 'galore' as const, data, galore: { rank: 4, updateProjGap: 2 } };
    const straight = await finetune(model(), { ...opts, steps: 6 });
    let ck: Uint8Array | undefined;
    await finetune(model(), { ...opts, steps: 3, checkpointEvery: 3, onCheckpoint: (b) => { ck = b; } });
    const resumed = await finetune(model(), { ...opts, steps: 6, resumeFrom: ck });
    expect(resumed.losses).toHaveLength(3);
    for (let i = 0; i < 3; i++) expect(resumed.losses[i]).toBeCloseTo(straight.losses[3 + i]!, 5);
    await expect(finetune(model(), { ...opts, method: 'lora', steps: 4, resumeFrom: ck })).rejects.toThrow(/method 'galore'/);
  }, 30_000);
});
