// `leanformer bench peft`: hot-swap latency on ONNX Runtime, PaCA vs LoRA step time and peak
// memory at equal trainable parameters, WeLore compression and loss, GaLore optimizer state.

import { median, Tensor, transformerDecoder, type Backend, type BenchSuite, type Graph } from '@leanformer/core';
import { createOptimizer, createTfjsBackend, crossEntropyLoss, Trainer } from '@leanformer/runtime-tfjs';
import { finetune, LoraHotSwap, svd, createLoraAdapter, injectLora, mergeLora, type LoraAdapter, findLinearModules, injectPaca, selectPartialConnections, syntheticInstructionTask, registerPeftKernels, welorePlan } from '@leanformer/peft';

/** Options of {@link runPeftBench}. */
export interface PeftBenchOptions {
  /** Smaller models and fewer steps (CI, about a minute on 2 cores). */
  readonly quick?: boolean;
  /** Sections to run (default all): 'hotswap', 'paca' (PaCA vs LoRA), 'welore' (WeLore and GaLore). */
  readonly only?: readonly PeftBenchSection[];
  /** Backend for the hot-swap measurement (default: onnxruntime-node CPU through @leanformer/runtime-ort/node). */
  readonly backend?: Backend;
  /** tfjs backend of the PaCA/LoRA step comparison (default 'cpu'; 'webgpu' needs a GPU). WeLore and GaLore fine-tune on tfjs-cpu. */
  readonly tfjsBackend?: 'cpu' | 'wasm' | 'webgpu';
}

/** Sections of {@link runPeftBench}. */
export type PeftBenchSection = 'hotswap' | 'paca' | 'welore';

/** What `leanformer bench peft --json` prints. */
export interface PeftBenchResult {
  readonly suite: 'peft';
  readonly metrics: Record<string, number>;
  /** How each number was measured. */
  readonly notes: Record<string, string>;
}

/**
 * A decoder whose linear weights have power-law singular spectra, as trained transformers do
 * (WeLore's premise) — steep in attention, flat in the MLP — built from seeded random bases.
 */
function spectralDecoder(cfg: Parameters<typeof transformerDecoder>[0]): Graph {
  const g = transformerDecoder(cfg);
  let seed = 1;
  for (const m of findLinearModules(g)) {
    if (/lm_head/.test(m.module)) continue;
    // Steep spectra in attention and in the last layer's MLP, nearly flat in the other MLPs.
    const last = m.module.startsWith(`model.layers.${cfg.layers - 1}.`);
    const decay = /self_attn/.test(m.module) ? 1.5 : last ? 1 : 0.1;
    const { inFeatures: n, outFeatures: o } = m;
    const rand = (len: number) => { const a = new Float64Array(len); for (let i = 0; i < len; i++) a[i] = Math.sin(++seed * 12.9898) * 43758.5453 % 1; return a; };
    const U = svd(rand(n * n), n, n).U, V = svd(rand(o * o), o, o).U;
    const k = Math.min(n, o);
    const w = new Float32Array(n * o);
    for (let r = 0; r < k; r++) {
      const s = 0.6 * (r + 1) ** -decay;
      for (let i = 0; i < n; i++) { const u = U[i * n + r]! * s; for (let j = 0; j < o; j++) w[i * o + j] += u * V[j * o + r]!; }
    }
    g.setInitializer(m.weight, new Tensor('float32', [n, o], w));
  }
  return g;
}

type StepFn = () => Promise<void>;

type TrainDevice = NonNullable<PeftBenchOptions['tfjsBackend']>;

async function stepper(graph: Graph, trainable: readonly string[], batch: Record<string, Tensor>, device: TrainDevice): Promise<{ tf: Awaited<ReturnType<typeof Trainer.create>>['tf']; step: StepFn; dispose(): void }> {
  const trainer = await Trainer.create(graph, { loss: crossEntropyLoss('logits', 'labels'), optimizer: { type: 'adamw', lr: 1e-3 }, trainable, backend: device });
  const opt = createOptimizer(trainer.tf, { type: 'adamw', lr: 1e-3, weightDecay: 0 });
  // On an asynchronous backend (webgpu) a step ends when its optimizer update has run: reading one
  // updated variable waits for the queue, so no step's work is charged to the next one.
  const last = trainer.tf.getBackend() === 'cpu' ? null : trainer.compiled.variables.get(trainable[trainable.length - 1]!) ?? null;
  return {
    tf: trainer.tf,
    step: async () => {
      const { grads } = await trainer.lossAndGrads(batch);
      opt.apply(trainer.compiled.variables, grads, 1e-3);
      for (const g of grads.values()) g.dispose();
      if (last) await last.data();
    },
    dispose: () => { opt.dispose(); trainer.dispose(); },
  };
}

/** Peak tfjs bytes over one training step (after a warm-up step), with only this model alive. */
async function stepMemory(graph: Graph, trainable: readonly string[], batch: Record<string, Tensor>, device: TrainDevice): Promise<{ peakBytes: number; stepBytes: number }> {
  const s = await stepper(graph, trainable, batch, device);
  try {
    await s.step();
    const before = s.tf.memory().numBytes;
    const prof = await s.tf.profile(async () => { await s.step(); });
    return { peakBytes: prof.peakBytes, stepBytes: prof.peakBytes - before };
  } finally {
    s.dispose();
  }
}

/** Process CPU time (user + system, ms) where the runtime reports it (Node), else NaN. */
function cpuMs(): number {
  const p = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process;
  if (!p?.cpuUsage) return NaN;
  const u = p.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Interleaved {
  /** Median wall time of a step (ms). */
  readonly aMs: number;
  readonly bMs: number;
  /** Median over rounds of b's step time ÷ a's in the same round (wall clock). */
  readonly ratio: number;
  /** The same with process CPU time, which other jobs on the machine inflate less. */
  readonly cpuRatio: number;
  /** Fastest b step ÷ fastest a step (wall): the least disturbed steps of each. */
  readonly minRatio: number;
}

/**
 * Step times of two setups after two warm-up steps each, one step of each per round, the order
 * alternating between rounds (a b, b a, …) so that neither always runs right after the other
 * and load changes hit both alike. Ratios are taken within a round, then the median over rounds.
 */
async function interleavedSteps(a: Parameters<typeof stepper>, b: Parameters<typeof stepper>, rounds: number): Promise<Interleaved> {
  const sa = await stepper(...a), sb = await stepper(...b);
  try {
    await sa.step(); await sb.step(); await sa.step(); await sb.step(); // warm-up: kernels and optimizer state allocated
    const wall = { a: [] as number[], b: [] as number[] }, cpu = { a: [] as number[], b: [] as number[] };
    const time = async (s: typeof sa, k: 'a' | 'b') => { const c0 = cpuMs(), t0 = performance.now(); await s.step(); wall[k].push(performance.now() - t0); cpu[k].push(cpuMs() - c0); };
    for (let i = 0; i < rounds; i++) {
      if (i % 2 === 0) { await time(sa, 'a'); await time(sb, 'b'); } else { await time(sb, 'b'); await time(sa, 'a'); }
    }
    const per = (x: number[], y: number[]) => median(y.map((v, i) => v / x[i]!));
    return { aMs: median(wall.a), bMs: median(wall.b), ratio: per(wall.a, wall.b), cpuRatio: per(cpu.a, cpu.b), minRatio: Math.min(...wall.b) / Math.min(...wall.a) };
  } finally {
    sa.dispose(); sb.dispose();
  }
}

/** LoRA (rank r) and PaCA graphs of `graph` with equal trainable parameters: k = r·(in+out)/out rows per matrix. */
function loraAndPaca(graph: Graph, r: number): { lora: ReturnType<typeof injectLora>; paca: ReturnType<typeof injectPaca> } {
  const lora = injectLora(graph, createLoraAdapter(graph, { r, alpha: 2 * r, targetModules: 'all-linear' }));
  // k·out = r·(in + out) per matrix: the same trainable parameter count as LoRA.
  const targets = new Set(selectPartialConnections(graph, { targetModules: 'all-linear', k: 1 }).keys()); // LoRA's 'all-linear' too
  const sel = new Map(findLinearModules(graph).filter((lin) => targets.has(lin.module)).map((lin) => {
    const k = Math.round((r * (lin.inFeatures + lin.outFeatures)) / lin.outFeatures);
    return [lin.module, selectPartialConnections(graph, { targetModules: [lin.module.split('.').pop()!], k, seed: 0 }).get(lin.module)!] as const;
  }));
  return { lora, paca: injectPaca(graph, sel) };
}

/**
 * Runs the PEFT benchmark and returns `{ suite: 'peft', metrics, notes }`.
 *
 * @example
 * ```ts
 * const { metrics } = await runPeftBench({ quick: true });
 * console.log(metrics.paca_step_time_ratio, metrics.hotswap_ms);
 * ```
 */
export async function runPeftBench(options: PeftBenchOptions = {}): Promise<PeftBenchResult> {
  const quick = options.quick ?? false;
  const want = (section: PeftBenchSection) => !options.only || options.only.includes(section);
  registerPeftKernels();
  const device: TrainDevice = options.tfjsBackend ?? 'cpu';
  await createTfjsBackend(device).ready();
  const metrics: Record<string, number> = {};
  const notes: Record<string, string> = {};

  // --- Hot-swap on ORT: 3 adapters, round-robin per request, one session.
  if (want('hotswap')) {
    const backend = options.backend ?? (await import('@leanformer/runtime-ort/node')).createOrtBackend();
    const hsCfg = quick ? { vocabSize: 256, hidden: 128, layers: 2, heads: 4, ffn: 256, seed: 1 } : { vocabSize: 1024, hidden: 256, layers: 4, heads: 8, ffn: 704, seed: 1 };
    const base = transformerDecoder(hsCfg);
    const targets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
    const adapters: LoraAdapter[] = [0, 1, 2].map((i) => {
      const a = createLoraAdapter(base, { r: 8, alpha: 16, targetModules: targets, seed: i }, `a${i}`);
      return { ...a, modules: new Map([...a.modules].map(([m, w]) => [m, { ...w, B: new Tensor('float32', w.B.shape, w.B.toFloat32().map((_, j) => 0.01 * Math.sin(j + i))) }])) };
    });
    const swap = await LoraHotSwap.create(base, backend, { targetModules: targets });
    for (const a of adapters) swap.add(a);
    const ids = Tensor.from('int64', [1, 32], Array.from({ length: 32 }, (_, i) => BigInt((i * 7) % hsCfg.vocabSize)));
    const reqs = quick ? 30 : 90;
    for (let i = 0; i < 3; i++) await swap.run({ input_ids: ids }, `a${i}`);
    const hs: number[] = [];
    for (let i = 0; i < reqs; i++) { const t0 = performance.now(); await swap.run({ input_ids: ids }, `a${i % 3}`); hs.push(performance.now() - t0); }
    await swap.dispose();
    const merged = await backend.compile(mergeLora(base, adapters[0]!));
    for (let i = 0; i < 3; i++) await merged.run({ input_ids: ids });
    const mt: number[] = [];
    for (let i = 0; i < reqs; i++) { const t0 = performance.now(); await merged.run({ input_ids: ids }); mt.push(performance.now() - t0); }
    await merged.dispose();
    metrics.hotswap_ms = median(hs);
    metrics.merged_ms = median(mt);
    notes.hotswap_ms = `median latency of one request (batch 1, 32 tokens, ${hsCfg.layers}-layer d=${hsCfg.hidden} decoder) on ${backend.name}, switching among 3 rank-8 adapters on all 7 projections every request, one session; merged_ms: the same request on a merged model`;
  }

  // --- PaCA vs LoRA at equal trainable parameters, same model and batch.
  if (want('paca')) {
    // Wide layers and short sequences, so the linear layers (what PaCA and LoRA change) dominate the step.
    const trCfg = quick ? { vocabSize: 64, hidden: 128, layers: 2, heads: 4, ffn: 256, seed: 2 } : { vocabSize: 128, hidden: 256, layers: 2, heads: 4, ffn: 512, seed: 2 };
    const tb = transformerDecoder(trCfg);
    const batch = syntheticInstructionTask({ vocab: trCfg.vocabSize, seqLen: 32, batch: quick ? 4 : 8, seed: 0 })(0, 0);
    const r = 8;
    const { lora, paca } = loraAndPaca(tb, r);
    const count = (g: Graph, names: readonly string[]) => names.reduce((s, n) => s + g.initializers.get(n)!.const!.size, 0);
    metrics.lora_trainable_params = count(lora.graph, lora.trainable);
    metrics.paca_trainable_params = count(paca.graph, paca.trainable);
    const rounds = 10;
    // Timing first: tf.profile (the memory measurement) leaves the process slower for a while after.
    const st = await interleavedSteps([lora.graph, lora.trainable, batch, device], [paca.graph, paca.trainable, batch, device], rounds);
    const memLora = await stepMemory(lora.graph, lora.trainable, batch, device);
    const memPaca = await stepMemory(paca.graph, paca.trainable, batch, device);
    metrics.lora_step_ms = st.aMs;
    metrics.paca_step_ms = st.bMs;
    metrics.paca_step_time_ratio = st.ratio;
    metrics.paca_step_cpu_time_ratio = st.cpuRatio;
    metrics.paca_step_time_ratio_min = st.minRatio;
    metrics.paca_peak_memory_ratio = memPaca.peakBytes / memLora.peakBytes;
    metrics.paca_step_memory_ratio = memPaca.stepBytes / memLora.stepBytes;
    metrics.lora_peak_bytes = memLora.peakBytes;
    metrics.paca_peak_bytes = memPaca.peakBytes;
    notes.paca = `tfjs-${device}, ${trCfg.layers}-layer d=${trCfg.hidden} decoder, batch ${batch.input_ids.shape.join('×')}, all linear layers; LoRA r=${r} vs PaCA k=r·(in+out)/out per matrix (equal trainable params); step = forward+backward+AdamW. Time: ${rounds} rounds after 2 warm-up steps each, one LoRA and one PaCA step per round in alternating order; paca_step_time_ratio is the median over rounds of PaCA ÷ LoRA wall time within the round, paca_step_cpu_time_ratio the same with process CPU time (less inflated by other jobs on the machine), paca_step_time_ratio_min the fastest PaCA step ÷ the fastest LoRA step; lora_step_ms/paca_step_ms are median wall times. Peak memory: tf.profile peakBytes (the high-water mark of tfjs-tracked tensor bytes after each kernel — weights, optimizer state, activations, gradients; tfjs counts every tensor handle, so a view or a tensor the tape keeps counts in full) over one step after a warm-up step, with only that model alive; paca_step_memory_ratio uses the peak minus the bytes held before the step (activations and gradients only)`;

    if (!quick) {
      // A more LLM-like shape: wider layers (d/r = 64, LLaMA's MLP ratio) and a longer sequence.
      const wideCfg = { vocabSize: 256, hidden: 512, layers: 1, heads: 8, ffn: 1376, seed: 2 };
      const wb = transformerDecoder(wideCfg);
      const wbatch = syntheticInstructionTask({ vocab: wideCfg.vocabSize, seqLen: 128, batch: 1, seed: 0 })(0, 0);
      const w = loraAndPaca(wb, r);
      const wideRounds = 5;
      const ws = await interleavedSteps([w.lora.graph, w.lora.trainable, wbatch, device], [w.paca.graph, w.paca.trainable, wbatch, device], wideRounds);
      metrics.lora_step_ms_wide = ws.aMs;
      metrics.paca_step_ms_wide = ws.bMs;
      metrics.paca_step_time_ratio_wide = ws.ratio;
      metrics.paca_step_cpu_time_ratio_wide = ws.cpuRatio;
      metrics.paca_step_time_ratio_min_wide = ws.minRatio;
      notes.paca_wide = `as paca, on a ${wideCfg.layers}-layer d=${wideCfg.hidden} ffn=${wideCfg.ffn} decoder, batch ${wbatch.input_ids.shape.join('×')}, ${wideRounds} rounds`;
    }
  }

  // --- WeLore and GaLore on the built-in task.
  if (want('welore')) {
    const ftCfg = quick ? { vocabSize: 32, hidden: 64, layers: 2, heads: 4, ffn: 128, seed: 3 } : { vocabSize: 48, hidden: 96, layers: 2, heads: 4, ffn: 192, seed: 3 };
    const ft = spectralDecoder(ftCfg);
    const task = { vocab: ftCfg.vocabSize, seqLen: 15, batch: 8 };
    const data = syntheticInstructionTask({ ...task, seed: 1 });
    const held = syntheticInstructionTask({ ...task, seed: 77 });
    const ftSteps = quick ? 30 : 120;
    const plan = welorePlan(ft, { targetModules: 'all-linear', compression: 0.5 });
    const full = await finetune(ft, { method: 'full', data, steps: ftSteps, evalData: held, evalBatches: 4, lr: 3e-3 });
    const wel = await finetune(ft, { method: 'welore', data, steps: ftSteps, evalData: held, evalBatches: 4, lr: 1e-2, welore: { plan } });
    metrics.welore_compression = plan.compression;
    metrics.welore_lrc_fraction = [...plan.modules.values()].filter((p) => p.lowRank).length / plan.modules.size;
    const ranks = [...plan.modules.values()].map((p) => p.rank / Math.min(p.inFeatures, p.outFeatures));
    metrics.welore_min_rank_ratio = Math.min(...ranks);
    metrics.welore_max_rank_ratio = Math.max(...ranks);
    metrics.welore_loss_ratio = wel.evalLossAfter! / full.evalLossAfter!;
    metrics.full_eval_loss = full.evalLossAfter!;
    metrics.welore_eval_loss = wel.evalLossAfter!;
    notes.welore = `decoder with power-law singular spectra (steep in attention and the last MLP, nearly flat in the other MLPs; a stand-in for a pretrained model), compression target 0.5 over all linear layers except lm_head; full fine-tune (every weight, AdamW 3e-3) vs WeLore (LRC factors only, AdamW 1e-2), ${ftSteps} steps each on the built-in instruction task, held-out loss on 4 batches of another seed`;
    const gal = await finetune(ft, { method: 'galore', data, steps: quick ? 10 : 40, galore: { rank: 8, updateProjGap: 50 }, lr: 1e-2 });
    const adam = await finetune(ft, { method: 'full', data, steps: 1, lr: 3e-3 });
    metrics.galore_optimizer_state_ratio = gal.optimizerStateElements / adam.optimizerStateElements;
    notes.galore = 'optimizer state elements (moments and projections) of GaLore rank 8 on every linear layer except lm_head and embeddings (AdamW on the rest) ÷ AdamW over the same weights';
  }

  return { suite: 'peft', metrics, notes };
}

export const peftSuite: BenchSuite = {
  name: 'peft',
  summary: 'LoRA hot-swap latency on ORT, PaCA vs LoRA step time and memory (tfjs), WeLore, GaLore',
  params: { only: { description: 'sections: hotswap,paca,welore', default: 'all' }, tfjs: { description: 'tfjs backend of the PaCA/LoRA steps: cpu, wasm or webgpu (default: --ep)' } },
  async run(o) {
    return runPeftBench({ quick: o.quick, tfjsBackend: o.ep, ...(o.params['only'] ? { only: o.params['only'].split(',') as PeftBenchSection[] } : {}), ...(o.params['tfjs'] ? { tfjsBackend: o.params['tfjs'] as 'cpu' | 'wasm' | 'webgpu' } : {}) });
  },
};
