import { describe, expect, it } from 'vitest';
import { Tensor, transformerDecoder, type Graph } from '@leanformer/core';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { createTfjsBackend, crossEntropyLoss, Trainer } from '@leanformer/runtime-tfjs';
import {
  exportPaca, finetune, GaLoreAdamW, injectPaca, pacaParamNames, registerPeftKernels, selectPartialConnections, svd,
  syntheticInstructionTask, weloreCompress, welorePlan, type FinetuneProgress,
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
      const a = await t1.lossAndGrads(batch);
      const b = await full.lossAndGrads(batch);
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

  it('the tfjs kernel matches the reference decomposition (ORT) for unsorted rows', async () => {
    registerPeftKernels();
    const base = model();
    const { graph } = injectPaca(base, new Map([['model.layers.0.mlp.down_proj', Int32Array.from([40, 3, 17, 0, 63])], ['model.layers.0.self_attn.q_proj', Int32Array.from([31, 2])]]));
    for (const v of [...graph.initializers.values()].filter((x) => x.name.endsWith('.paca_P'))) {
      graph.setInitializer(v, new Tensor('float32', v.const!.shape, v.const!.toFloat32().map((x, i) => x + 0.3 * Math.cos(i))));
    }
    const ids = syntheticInstructionTask({ ...task, seed: 4 })(0, 0).input_ids;
    const run = async (b: { compile(g: Graph): Promise<{ run(f: Record<string, Tensor>): Promise<Record<string, Tensor>>; dispose(): Promise<void> }> }) => { const e = await b.compile(graph); try { return (await e.run({ input_ids: ids })).logits!.toFloat32(); } finally { await e.dispose(); } };
    const [x, y] = [await run(createTfjsBackend('cpu')), await run(createOrtBackend())];
    let d = 0;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
    expect(d).toBeLessThan(1e-4);
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
    // ‖W − A·B‖_F equals the norm of the dropped singular values (the best rank-k approximation).
    const q = 'model.layers.0.self_attn.q_proj';
    const A = graph.initializers.get(`${q}.welore_A`)!.const!, B = graph.initializers.get(`${q}.welore_B`)!.const!;
    const W = base.initializers.get(`${q}.weight`)!.const!.toFloat32();
    const [n, k] = A.shape as [number, number], m = B.shape[1]!;
    const a = A.toFloat32(), bb = B.toFloat32();
    let err = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) { let s = 0; for (let t = 0; t < k; t++) s += a[i * k + t]! * bb[t * m + j]!; err += (W[i * m + j]! - s) ** 2; }
    const S = plan.svds.get(q)!.S;
    let dropped = 0;
    for (let t = k; t < S.length; t++) dropped += S[t]! ** 2;
    expect(Math.abs(Math.sqrt(err) - Math.sqrt(dropped))).toBeLessThan(1e-4 * (1 + Math.sqrt(dropped)) + 1e-5);
  });
});

describe('GaLore', () => {
  it('first step is W − lr·scale·P·sign(PᵀG) with P the top-r left singular vectors of G; state is r-sized', async () => {
    const tf = await createTfjsBackend('cpu').ready();
    const [n, m, r] = [6, 9, 2];
    const G = Float32Array.from({ length: n * m }, (_, i) => Math.sin(i * 0.7) + 0.3 * Math.cos(i * 1.9));
    const W0 = Float32Array.from({ length: n * m }, (_, i) => 0.1 * Math.cos(i));
    const w = tf.variable(tf.tensor2d(W0, [n, m]));
    const g = tf.tensor2d(G, [n, m]);
    const opt = new GaLoreAdamW(tf, { lr: 0.1, rank: r, scale: 0.5, updateProjGap: 10, eps: 0 });
    opt.apply(new Map([['w', w]]), new Map([['w', g]]), 0.1);
    const { U, k } = svd(G, n, m);
    const P = Array.from({ length: n }, (_, i) => [U[i * k]!, U[i * k + 1]!]);
    const R = Array.from({ length: r }, (_, a) => Array.from({ length: m }, (_, j) => P.reduce((s, row, i) => s + row[a]! * G[i * m + j]!, 0)));
    const got = w.dataSync();
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
      const upd = P[i]!.reduce((s, p, a) => s + p * Math.sign(R[a]![j]!), 0);
      expect(got[i * m + j]!).toBeCloseTo(W0[i * m + j]! - 0.1 * 0.5 * upd, 5);
    }
    // Signs of singular vectors are arbitrary; the product P·sign(PᵀG) is not, which is what was checked.
    expect(opt.stateElements()).toBe(2 * r * m + n * r);
    opt.dispose(); w.dispose(); g.dispose();
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
    const events: FinetuneProgress[] = [];
    const resumed = await finetune(model(), { ...opts, steps: 6, resumeFrom: ck, onProgress: (p) => { events.push(p); } });
    expect(resumed.losses).toHaveLength(3);
    // Progress counts the run's steps from the checkpoint's: done 4, 5, 6 of 6, with each step's loss.
    expect(events.map((e) => [e.phase, e.done, e.total, e.unit])).toEqual([4, 5, 6].map((d) => ['finetune', d, 6, 'steps']));
    expect(events.map((e) => e.loss)).toEqual(resumed.losses);
    for (let i = 0; i < 3; i++) expect(resumed.losses[i]).toBeCloseTo(straight.losses[3 + i]!, 5);
    await expect(finetune(model(), { ...opts, method: 'lora', steps: 4, resumeFrom: ck })).rejects.toThrow(/method 'galore'/);
  }, 30_000);
});
