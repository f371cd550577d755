// Per-kernel time of one LoRA and one PaCA training step (forward+backward+AdamW) on tfjs-cpu,
// at equal trainable parameters. Run: node packages/peft/bench/run.mjs --entry paca-profile [--quick]
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
const cfg = wide ? { vocabSize: 128, hidden: 512, layers: 1, heads: 8, ffn: 1024, seed: 2 } : quick ? { vocabSize: 64, hidden: 128, layers: 2, heads: 4, ffn: 256, seed: 2 } : { vocabSize: 128, hidden: 256, layers: 2, heads: 4, ffn: 512, seed: 2 };
const tb = transformerDecoder(cfg);
const batch = syntheticInstructionTask({ vocab: cfg.vocabSize, seqLen: wide ? 128 : 32, batch: quick ? 4 : 8, seed: 0 })(0, 0);
const r = 8;
const lora = injectLora(tb, createLoraAdapter(tb, { r, alpha: 16, targetModules: 'all-linear' }));
const sel = new Map(findLinearModules(tb).map((lin) => {
  const k = Math.round((r * (lin.inFeatures + lin.outFeatures)) / lin.outFeatures);
  return [lin.module, selectPartialConnections(tb, { targetModules: [lin.module.split('.').pop()!], k, seed: 0 }).get(lin.module)!] as const;
}));
const paca = injectPaca(tb, sel);

async function stepper(graph: Graph, trainable: readonly string[], b: Record<string, Tensor>) {
  const trainer = await Trainer.create(graph, { loss: crossEntropyLoss('logits', 'labels'), optimizer: { type: 'adamw', lr: 1e-3 }, trainable });
  const opt = createOptimizer(tf, { type: 'adamw', lr: 1e-3, weightDecay: 0 });
  return () => { const { grads } = trainer.lossAndGrads(b); opt.apply(trainer.compiled.variables, grads, 1e-3); for (const g of grads.values()) g.dispose(); };
}
const steps = { lora: await stepper(lora.graph, lora.trainable, batch), paca: await stepper(paca.graph, paca.trainable, batch) };
for (const s of Object.values(steps)) { s(); s(); }
const times: Record<string, number[]> = { lora: [], paca: [] };
const cpu: Record<string, number[]> = { lora: [], paca: [] };
const nSteps = Number(process.argv[process.argv.indexOf('--steps') + 1]) || 7;
for (let i = 0; i < nSteps; i++) for (const [n, s] of Object.entries(steps)) { const c0 = process.cpuUsage(); const t0 = performance.now(); s(); times[n]!.push(performance.now() - t0); const c = process.cpuUsage(c0); cpu[n]!.push((c.user + c.system) / 1000); }
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [n, t] of Object.entries(times)) console.log(n, 'step ms', t.map((x) => x.toFixed(0)).join(' '), 'median', med(t).toFixed(1));
console.log('paca/lora median ratio', (med(times.paca!) / med(times.lora!)).toFixed(3), 'pairwise median', med(times.paca!.map((x, i) => x / times.lora![i]!)).toFixed(3));
for (const [n, t] of Object.entries(cpu)) console.log(n, 'cpu ms', t.map((x) => x.toFixed(0)).join(' '), 'median', med(t).toFixed(1));
console.log('paca/lora cpu median ratio', (med(cpu.paca!) / med(cpu.lora!)).toFixed(3));
if (!process.argv.includes('--kernels')) process.exit(0);
for (const [n, s] of Object.entries(steps)) {
  const agg = new Map<string, { ms: number; count: number }>();
  let total = 0;
  for (let rep = 0; rep < 3; rep++) {
    const prof = await tf.profile(() => { s(); });
    for (const k of prof.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const key = `${k.name} ${k.inputShapes.map((x) => `[${x}]`).join('')}`;
      const a = agg.get(key) ?? { ms: 0, count: 0 };
      a.ms += ms / 3; a.count += 1 / 3; total += ms / 3;
      agg.set(key, a);
    }
  }
  const byName = new Map<string, number>();
  for (const [k, a] of agg) byName.set(k.split(' ')[0]!, (byName.get(k.split(' ')[0]!) ?? 0) + a.ms);
  console.log(`\n== ${n}: kernel total ${total.toFixed(1)} ms`);
  console.log([...byName].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, v]) => `  ${k.padEnd(24)} ${v.toFixed(1)}`).join('\n'));
  console.log('  -- top shapes');
  console.log([...agg].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25).map(([k, a]) => `  ${a.ms.toFixed(2).padStart(8)} ms x${a.count.toFixed(0)} ${k}`).join('\n'));
}
