// `leanformer bench peft-profile`: step times and per-kernel times of LoRA and PaCA training steps
// (forward+backward+AdamW) on tfjs-cpu at equal trainable parameters, the same shapes as `bench peft`
// (wide=1: its full-mode second shape). Params: steps=N, kernels=1 (tf.profile table by category),
// only=lora|paca (one method, e.g. under node --cpu-prof), first=ort|mem (run what the bench runs before).
import { PerformanceObserver } from 'node:perf_hooks';
import { benchInt, median, transformerDecoder, type BenchSuite, type Graph, type Tensor } from '@leanformer/core';
import { createOptimizer, createTfjsBackend, crossEntropyLoss, Trainer } from '@leanformer/runtime-tfjs';
import { createLoraAdapter, findLinearModules, injectLora, injectPaca, registerPeftKernels, selectPartialConnections, syntheticInstructionTask } from '@leanformer/peft';


/** console.log's spacing, as one line. */
const lines = (...parts: unknown[]): string => `${parts.map(String).join(' ')}\n`;

export const pacaProfileSuite: BenchSuite = {
  name: 'peft-profile',
  summary: 'LoRA vs PaCA training-step and per-kernel times on tfjs-cpu (profiling the peft bench)',
  params: {
    wide: { description: '1: the wide shape (d=512, ffn 1376, 128 tokens)', default: '0' }, steps: { description: 'timed steps', default: '7' },
    kernels: { description: '1: tf.profile per-kernel table', default: '0' }, only: { description: 'lora or paca: time one method' },
    first: { description: 'ort or mem: run what the bench runs before' },
  },
  async run(o) {
    const quick = o.quick;
    const wide = benchInt(o.params, 'wide', 0) === 1;
    registerPeftKernels();
    const tf = await createTfjsBackend('cpu').ready();
    const cfg = wide ? { vocabSize: 256, hidden: 512, layers: 1, heads: 8, ffn: 1376, seed: 2 } : quick ? { vocabSize: 64, hidden: 128, layers: 2, heads: 4, ffn: 256, seed: 2 } : { vocabSize: 128, hidden: 256, layers: 2, heads: 4, ffn: 512, seed: 2 };
    const tb = transformerDecoder(cfg);
    const batch = syntheticInstructionTask({ vocab: cfg.vocabSize, seqLen: wide ? 128 : 32, batch: wide ? 1 : quick ? 4 : 8, seed: 0 })(0, 0);
    const r = 8;
    const lora = injectLora(tb, createLoraAdapter(tb, { r, alpha: 16, targetModules: 'all-linear' }));
    const targets = new Set(selectPartialConnections(tb, { targetModules: 'all-linear', k: 1 }).keys()); // LoRA's 'all-linear' too
    const sel = new Map(findLinearModules(tb).filter((lin) => targets.has(lin.module)).map((lin) => {
      const k = Math.round((r * (lin.inFeatures + lin.outFeatures)) / lin.outFeatures);
      return [lin.module, selectPartialConnections(tb, { targetModules: [lin.module.split('.').pop()!], k, seed: 0 }).get(lin.module)!] as const;
    }));
    const paca = injectPaca(tb, sel);
    const count = (g: Graph, names: readonly string[]) => names.reduce((a, n) => a + g.initializers.get(n)!.const!.size, 0);
    o.log(lines('trainable params: LoRA', count(lora.graph, lora.trainable), 'PaCA', count(paca.graph, paca.trainable)));

    async function stepper(graph: Graph, trainable: readonly string[], b: Record<string, Tensor>) {
      const trainer = await Trainer.create(graph, { loss: crossEntropyLoss('logits', 'labels'), optimizer: { type: 'adamw', lr: 1e-3 }, trainable });
      const opt = createOptimizer(tf, { type: 'adamw', lr: 1e-3, weightDecay: 0 });
      return async () => { const { grads } = await trainer.lossAndGrads(b); opt.apply(trainer.compiled.variables, grads, 1e-3); for (const g of grads.values()) g.dispose(); };
    }
    if (o.params['first'] === 'ort') {
      // What `bench peft` runs before this: onnxruntime-node sessions.
      const { createOrtBackend } = await import('@leanformer/runtime-ort/node');
      const exe = await createOrtBackend().compile(tb);
      for (let i = 0; i < 50; i++) await exe.run({ input_ids: batch.input_ids! });
      await exe.dispose();
    }
    if (o.params['first'] === 'mem') {
      for (const [g, t] of [[lora.graph, lora.trainable], [paca.graph, paca.trainable]] as const) {
        const st = await stepper(g, t, batch); await st(); const prof = await tf.profile(async () => { await st(); }); o.log(lines('peak bytes', prof.peakBytes));
      }
    }
    const only = o.params['only'];
    const steps: Record<string, () => Promise<void>> = only === 'paca' ? { paca: await stepper(paca.graph, paca.trainable, batch) } : only === 'lora' ? { lora: await stepper(lora.graph, lora.trainable, batch) } : { lora: await stepper(lora.graph, lora.trainable, batch), paca: await stepper(paca.graph, paca.trainable, batch) };
    if (only) {
      for (const s of Object.values(steps)) { await s(); await s(); }
      const t: number[] = [];
      for (let i = 0; i < benchInt(o.params, 'steps', 3); i++) { const t0 = performance.now(); await Object.values(steps)[0]!(); t.push(performance.now() - t0); }
      o.log(lines(only, 'step ms', t.map((x) => x.toFixed(0)).join(' ')));
      return { suite: 'peft-profile', metrics: { [`${only}_step_ms`]: median(t) }, steps: t };
    }
    for (const s of Object.values(steps)) { await s(); await s(); }
    const times: Record<string, number[]> = { lora: [], paca: [] };
    // Garbage-collection pauses, attributed to the step they fall in.
    const gcSpans: { start: number; dur: number }[] = [];
    const gcObserver = new PerformanceObserver((l) => { for (const e of l.getEntries()) gcSpans.push({ start: e.startTime, dur: e.duration }); });
    gcObserver.observe({ entryTypes: ['gc'] });
    const spans: Record<string, [number, number][]> = { lora: [], paca: [] };
    const cpu: Record<string, number[]> = { lora: [], paca: [] };
    const nSteps = benchInt(o.params, 'steps', 7);
    for (let i = 0; i < nSteps; i++) for (const [n, s] of i % 2 ? Object.entries(steps).reverse() : Object.entries(steps)) { const c0 = process.cpuUsage(); const t0 = performance.now(); await s(); const t1 = performance.now(); spans[n]!.push([t0, t1]); times[n]!.push(t1 - t0); const c = process.cpuUsage(c0); cpu[n]!.push((c.user + c.system) / 1000); }
    const med = median;
    for (const [n, t] of Object.entries(times)) o.log(lines(n, 'step ms', t.map((x) => x.toFixed(0)).join(' '), 'median', med(t).toFixed(1)));
    o.log(lines('paca/lora median ratio', (med(times.paca!) / med(times.lora!)).toFixed(3), 'pairwise median', med(times.paca!.map((x, i) => x / times.lora![i]!)).toFixed(3)));
    for (const [n, t] of Object.entries(cpu)) o.log(lines(n, 'cpu ms', t.map((x) => x.toFixed(0)).join(' '), 'median', med(t).toFixed(1)));
    o.log(lines('paca/lora cpu median ratio', (med(cpu.paca!) / med(cpu.lora!)).toFixed(3)));
    await new Promise((r) => setTimeout(r, 50));
    for (const [n, sp] of Object.entries(spans)) {
      const gc = sp.map(([a, b]) => gcSpans.filter((g) => g.start >= a && g.start < b).reduce((x, g) => x + g.dur, 0));
      o.log(lines(n, 'gc ms per step', gc.map((x) => x.toFixed(0)).join(' '), 'median', med(gc).toFixed(1)));
    }
    gcObserver.disconnect();
    const metrics = { lora_step_ms: med(times.lora!), paca_step_ms: med(times.paca!), paca_step_time_ratio: +(med(times.paca!) / med(times.lora!)).toFixed(3), paca_cpu_time_ratio: +(med(cpu.paca!) / med(cpu.lora!)).toFixed(3) };
    if (benchInt(o.params, 'kernels', 0) !== 1) return { suite: 'peft-profile', metrics };
    // Per-kernel times (tf.profile, 3 steps averaged). The PaCA op's nested forward matmul is listed
    // by tf.profile as well; it is counted once, under 'linear matmul', and the op's own row is the rest
    // (building W', selecting x_P, bookkeeping).
    const kSet = new Set([...sel.values()].map((i) => i.length));
    const category = (name: string, shapes: number[][]): string => {
      if (name === 'LeanformerPaCAMatMul') return 'PaCA op own time (W′ copy, x_P)';
      if (name === 'BatchMatMul') {
        if (shapes.some((s) => s.length > 2)) return 'attention matmul';
        if (shapes.some((s) => s.includes(r))) return 'LoRA adapter matmul';
        if (shapes.some((s) => s.some((d) => kSet.has(d)))) return 'PaCA dP matmul';
        return 'linear matmul (x·W, dY·Wᵀ)';
      }
      if (name === 'SplitV' || name === 'Concat') return 'RoPE split/concat';
      return 'other (norms, softmax, elementwise, loss, AdamW)';
    };
    const perKey: Record<string, Map<string, { ms: number; count: number }>> = {};
    const perCat: Record<string, Map<string, number>> = {};
    for (const [n, s] of Object.entries(steps)) {
      const agg = new Map<string, { ms: number; count: number }>();
      const cats = new Map<string, number>();
      const reps = 3;
      for (let rep = 0; rep < reps; rep++) {
        const prof = await tf.profile(async () => { await s(); });
        prof.kernels.forEach((k, i) => {
          let ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
          if (k.name === 'LeanformerPaCAMatMul') {
            // Nested kernels finish (and are listed) before the op: its matmul is the nearest BatchMatMul above.
            let j = i - 1;
            while (j >= 0 && prof.kernels[j]!.name !== 'BatchMatMul') j--;
            const inner = prof.kernels[j]!;
            ms -= typeof inner.kernelTimeMs === 'number' ? inner.kernelTimeMs : 0;
          }
          const key = `${k.name} ${k.inputShapes.map((x) => `[${x}]`).join('')}`;
          const a = agg.get(key) ?? { ms: 0, count: 0 };
          a.ms += ms / reps; a.count += 1 / reps;
          agg.set(key, a);
          const c = category(k.name, k.inputShapes as number[][]);
          cats.set(c, (cats.get(c) ?? 0) + ms / reps);
        });
      }
      perKey[n] = agg; perCat[n] = cats;
    }
    const allCats = [...new Set([...perCat.lora!.keys(), ...perCat.paca!.keys()])];
    const tot = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    o.log(lines(`\nkernel ms per step (tf.profile, ${cfg.layers}-layer d=${cfg.hidden} ffn=${cfg.ffn}, ${batch.input_ids!.shape.join('×')} tokens):`));
    o.log(lines('| kernels | LoRA ms | PaCA ms |\n| --- | --- | --- |'));
    for (const c of allCats.sort((a, b) => (perCat.lora!.get(b) ?? 0) - (perCat.lora!.get(a) ?? 0))) o.log(lines(`| ${c} | ${(perCat.lora!.get(c) ?? 0).toFixed(1)} | ${(perCat.paca!.get(c) ?? 0).toFixed(1)} |`));
    o.log(lines(`| total | ${tot(perCat.lora!).toFixed(1)} | ${tot(perCat.paca!).toFixed(1)} |`));
    o.log(lines('\nkernels whose call count differs (LoRA − PaCA), ms per step:'));
    const keys = new Set([...perKey.lora!.keys(), ...perKey.paca!.keys()]);
    const diffs = [...keys].map((k) => { const a = perKey.lora!.get(k) ?? { ms: 0, count: 0 }, b = perKey.paca!.get(k) ?? { ms: 0, count: 0 }; return { k, dc: a.count - b.count, a, b }; }).filter((d) => Math.abs(d.dc) > 0.5);
    for (const d of diffs.sort((x, y) => (y.a.ms - y.b.ms) - (x.a.ms - x.b.ms))) o.log(lines(`  ${d.k.padEnd(44)} LoRA x${d.a.count.toFixed(0)} ${d.a.ms.toFixed(1)} ms   PaCA x${d.b.count.toFixed(0)} ${d.b.ms.toFixed(1)} ms`));
    return { suite: 'peft-profile', metrics };
  },
};
