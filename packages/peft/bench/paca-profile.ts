// Step times and per-kernel times of LoRA and PaCA training steps (forward+backward+AdamW) on
// tfjs-cpu at equal trainable parameters, the same shapes as `bench peft` (--wide: its full-mode
// second shape). Run: node packages/peft/bench/run.mjs --entry paca-profile [--quick | --wide]
//   [--steps N] [--kernels: tf.profile table by category] [--only lora|paca: one method, e.g. under
//   node --cpu-prof on dist/paca-profile.mjs] [--ort-first | --mem-first: run what the bench runs before]
import { transformerDecoder, type Graph, type Tensor } from '@leanformer/core';
import { createOptimizer, createTfjsBackend, crossEntropyLoss, Trainer } from '@leanformer/runtime-tfjs';
import { createLoraAdapter, injectLora } from '../src/lora.js';
import { findLinearModules } from '../src/naming.js';
import { injectPaca, selectPartialConnections } from '../src/paca.js';
import { syntheticInstructionTask } from '../src/task.js';
import { registerPeftKernels } from '../src/tfjs-kernels.js';

const quick = process.argv.includes('--quick');
const wide = process.argv.includes('--wide');
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
console.log('trainable params: LoRA', count(lora.graph, lora.trainable), 'PaCA', count(paca.graph, paca.trainable));

async function stepper(graph: Graph, trainable: readonly string[], b: Record<string, Tensor>) {
  const trainer = await Trainer.create(graph, { loss: crossEntropyLoss('logits', 'labels'), optimizer: { type: 'adamw', lr: 1e-3 }, trainable });
  const opt = createOptimizer(tf, { type: 'adamw', lr: 1e-3, weightDecay: 0 });
  return async () => { const { grads } = await trainer.lossAndGrads(b); opt.apply(trainer.compiled.variables, grads, 1e-3); for (const g of grads.values()) g.dispose(); };
}
if (process.argv.includes('--ort-first')) {
  // What `bench peft` runs before this: onnxruntime-node sessions.
  const { createOrtBackend } = await import('@leanformer/runtime-ort/node');
  const exe = await createOrtBackend().compile(tb);
  for (let i = 0; i < 50; i++) await exe.run({ input_ids: batch.input_ids! });
  await exe.dispose();
}
if (process.argv.includes('--mem-first')) {
  for (const [g, t] of [[lora.graph, lora.trainable], [paca.graph, paca.trainable]] as const) {
    const st = await stepper(g, t, batch); await st(); const prof = await tf.profile(async () => { await st(); }); console.log('peak bytes', prof.peakBytes);
  }
}
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const steps: Record<string, () => Promise<void>> = only === 'paca' ? { paca: await stepper(paca.graph, paca.trainable, batch) } : only === 'lora' ? { lora: await stepper(lora.graph, lora.trainable, batch) } : { lora: await stepper(lora.graph, lora.trainable, batch), paca: await stepper(paca.graph, paca.trainable, batch) };
if (only) {
  for (const s of Object.values(steps)) { await s(); await s(); }
  const t: number[] = [];
  for (let i = 0; i < (Number(process.argv[process.argv.indexOf('--steps') + 1]) || 3); i++) { const t0 = performance.now(); await Object.values(steps)[0]!(); t.push(performance.now() - t0); }
  console.log(only, 'step ms', t.map((x) => x.toFixed(0)).join(' '));
  process.exit(0);
}
for (const s of Object.values(steps)) { await s(); await s(); }
const times: Record<string, number[]> = { lora: [], paca: [] };
// Garbage-collection pauses, attributed to the step they fall in.
const { PerformanceObserver } = await import('node:perf_hooks');
const gcSpans: { start: number; dur: number }[] = [];
new PerformanceObserver((l) => { for (const e of l.getEntries()) gcSpans.push({ start: e.startTime, dur: e.duration }); }).observe({ entryTypes: ['gc'] });
const spans: Record<string, [number, number][]> = { lora: [], paca: [] };
const cpu: Record<string, number[]> = { lora: [], paca: [] };
const nSteps = Number(process.argv[process.argv.indexOf('--steps') + 1]) || 7;
for (let i = 0; i < nSteps; i++) for (const [n, s] of i % 2 ? Object.entries(steps).reverse() : Object.entries(steps)) { const c0 = process.cpuUsage(); const t0 = performance.now(); await s(); const t1 = performance.now(); spans[n]!.push([t0, t1]); times[n]!.push(t1 - t0); const c = process.cpuUsage(c0); cpu[n]!.push((c.user + c.system) / 1000); }
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [n, t] of Object.entries(times)) console.log(n, 'step ms', t.map((x) => x.toFixed(0)).join(' '), 'median', med(t).toFixed(1));
console.log('paca/lora median ratio', (med(times.paca!) / med(times.lora!)).toFixed(3), 'pairwise median', med(times.paca!.map((x, i) => x / times.lora![i]!)).toFixed(3));
for (const [n, t] of Object.entries(cpu)) console.log(n, 'cpu ms', t.map((x) => x.toFixed(0)).join(' '), 'median', med(t).toFixed(1));
console.log('paca/lora cpu median ratio', (med(cpu.paca!) / med(cpu.lora!)).toFixed(3));
await new Promise((r) => setTimeout(r, 50));
for (const [n, sp] of Object.entries(spans)) {
  const gc = sp.map(([a, b]) => gcSpans.filter((g) => g.start >= a && g.start < b).reduce((x, g) => x + g.dur, 0));
  console.log(n, 'gc ms per step', gc.map((x) => x.toFixed(0)).join(' '), 'median', med(gc).toFixed(1));
}
if (!process.argv.includes('--kernels')) process.exit(0);
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
console.log(`\nkernel ms per step (tf.profile, ${cfg.layers}-layer d=${cfg.hidden} ffn=${cfg.ffn}, ${batch.input_ids!.shape.join('×')} tokens):`);
console.log('| kernels | LoRA ms | PaCA ms |\n| --- | --- | --- |');
for (const c of allCats.sort((a, b) => (perCat.lora!.get(b) ?? 0) - (perCat.lora!.get(a) ?? 0))) console.log(`| ${c} | ${(perCat.lora!.get(c) ?? 0).toFixed(1)} | ${(perCat.paca!.get(c) ?? 0).toFixed(1)} |`);
console.log(`| total | ${tot(perCat.lora!).toFixed(1)} | ${tot(perCat.paca!).toFixed(1)} |`);
console.log('\nkernels whose call count differs (LoRA − PaCA), ms per step:');
const keys = new Set([...perKey.lora!.keys(), ...perKey.paca!.keys()]);
const diffs = [...keys].map((k) => { const a = perKey.lora!.get(k) ?? { ms: 0, count: 0 }, b = perKey.paca!.get(k) ?? { ms: 0, count: 0 }; return { k, dc: a.count - b.count, a, b }; }).filter((d) => Math.abs(d.dc) > 0.5);
for (const d of diffs.sort((x, y) => (y.a.ms - y.b.ms) - (x.a.ms - x.b.ms))) console.log(`  ${d.k.padEnd(44)} LoRA x${d.a.count.toFixed(0)} ${d.a.ms.toFixed(1)} ms   PaCA x${d.b.count.toFixed(0)} ${d.b.ms.toFixed(1)} ms`);
