// finetune(): one entry point for LoRA, PaCA, WeLore, GaLore (and full fine-tuning as the
// reference) over runtime-tfjs autograd, with progress, checkpoints and resumption, returning
// the exported model (merged, updated or compressed) and held-out losses before and after.

import { cloneGraph, LeanformerError, readSafetensors, readSafetensorsHeader, Tensor, writeSafetensors, type Graph, type ProgressEvent, type TfjsBackendName, type Value } from '@leanformer/core';
import {
  createOptimizer, createTfjsBackend, crossEntropyLoss, defaultTrainable, learningRate, toTfTensor, Trainer,
  type LossSpec, type LrSchedule, type Optimizer, type TfjsBackend, type TrainBatch,
} from '@leanformer/runtime-tfjs';
import type * as tfc from '@tensorflow/tfjs-core';
import { GaLoreAdamW } from './galore.js';
import { adapterFromWeights, createLoraAdapter, injectLora, mergeLora, type LoraAdapter } from './lora.js';
import { resolveNaming, selectModules, type ModuleNaming, type TargetModules } from './naming.js';
import { exportPaca, injectPaca, selectPartialConnections } from './paca.js';
import { registerPeftKernels } from './tfjs-kernels.js';
import { weloreCompress, type WelorePlan } from './welore.js';

/** Fine-tuning methods. 'full' trains every weight (the reference the others are measured against). */
export type FinetuneMethod = 'lora' | 'paca' | 'welore' | 'galore' | 'full';
/** Every method {@link finetune} accepts. */
export const FINETUNE_METHODS: readonly FinetuneMethod[] = Object.freeze(['lora', 'paca', 'welore', 'galore', 'full']);

/**
 * Progress after each optimizer step: core's {@link ProgressEvent} (`done` steps of `total`) plus the
 * step's training loss, learning rate and the time since training began.
 */
export interface FinetuneProgress extends ProgressEvent {
  readonly phase: 'finetune';
  readonly unit: 'steps';
  readonly total: number;
  readonly loss: number;
  readonly lr: number;
  /** Milliseconds this step took. */
  readonly ms: number;
}

/** Options of {@link finetune}. */
export interface FinetuneOptions {
  readonly method: FinetuneMethod;
  /** Training batches: a function of the step (e.g. {@link syntheticInstructionTask}) or an iterable. */
  readonly data: ((step: number, micro: number) => TrainBatch | Promise<TrainBatch>) | Iterable<TrainBatch>;
  readonly steps: number;
  /** Peak learning rate (default: 1e-2 for lora/paca/welore/galore, 3e-3 for full). */
  readonly lr?: number;
  readonly schedule?: LrSchedule;
  readonly weightDecay?: number;
  readonly clipGradNorm?: number;
  /** Loss (default token cross-entropy of `logits` against the batch's `labels`). */
  readonly loss?: LossSpec;
  /** Layers the method adapts (default 'all-linear'). */
  readonly targetModules?: TargetModules;
  readonly naming?: ModuleNaming | 'llama' | 'bert';
  readonly lora?: { readonly r?: number; readonly alpha?: number; readonly dropout?: number; readonly useRslora?: boolean; readonly seed?: number; readonly name?: string };
  /** PaCA: trained input connections per matrix (`k` or `ratio`, default ratio 1/8), chosen by `criterion`. */
  readonly paca?: { readonly k?: number; readonly ratio?: number; readonly criterion?: 'random' | 'norm'; readonly seed?: number };
  readonly welore?: { readonly compression?: number; readonly plan?: WelorePlan };
  readonly galore?: { readonly rank?: number; readonly updateProjGap?: number; readonly scale?: number };
  /** tfjs backend (default 'cpu'). */
  readonly backend?: TfjsBackend | TfjsBackendName;
  /** Held-out batches for the loss before and after (e.g. the task with another seed). */
  readonly evalData?: (step: number, micro: number) => TrainBatch;
  /** Held-out batches evaluated (default 2). */
  readonly evalBatches?: number;
  readonly onProgress?: (p: FinetuneProgress) => void | Promise<void>;
  /** Write a checkpoint every this many steps through `onCheckpoint`. */
  readonly checkpointEvery?: number;
  readonly onCheckpoint?: (bytes: Uint8Array, step: number) => void | Promise<void>;
  /** Continue from checkpoint bytes (same graph and method options). */
  readonly resumeFrom?: Uint8Array;
}

/** What {@link finetune} returns. */
export interface FinetuneResult {
  readonly method: FinetuneMethod;
  /** Training loss of each step run. */
  readonly losses: number[];
  /** Wall time of each step (ms). */
  readonly stepMs: number[];
  /** Held-out loss of the starting model (for WeLore: the compressed model before tuning). */
  readonly evalLossBefore?: number;
  /** Held-out loss of the exported model. */
  readonly evalLossAfter?: number;
  /** The model to deploy: LoRA merged into W, PaCA rows written into W, WeLore's compressed graph, GaLore/full updated weights. */
  readonly graph: Graph;
  /** The trained adapter (LoRA). */
  readonly adapter?: LoraAdapter;
  readonly plan?: WelorePlan;
  readonly trainableParams: number;
  /** Optimizer state elements at the end (moments, and GaLore's projections). */
  readonly optimizerStateElements: number;
  /** Checkpoint of the final state (resume with `resumeFrom`). */
  readonly checkpoint: Uint8Array;
}

// Version 2 checkpoints carry CRC-32C checksums, verified on resume (a damaged checkpoint is a
// CORRUPT_FILE error, not a silently different trajectory); version 1 (older) resumes unverified.
const CHECKPOINT_FORMAT = 'leanformer-peft-finetune/2';
const LEGACY_CHECKPOINT_FORMAT = 'leanformer-peft-finetune/1';

interface Prepared {
  graph: Graph;
  trainable: readonly string[] | ((v: Value) => boolean);
  finish(weights: ReadonlyMap<string, Tensor>): { graph: Graph; adapter?: LoraAdapter };
  plan?: WelorePlan;
}

function prepare(base: Graph, o: FinetuneOptions): Prepared {
  const targets = o.targetModules ?? 'all-linear';
  switch (o.method) {
    case 'lora': {
      const c = o.lora ?? {};
      if ((c.dropout ?? 0) > 0) throw new LeanformerError('NOT_SUPPORTED', `finetune(lora): dropout ${c.dropout} is not supported; the tfjs training loop is deterministic and draws no dropout masks (use dropout 0)`);
      const adapter = createLoraAdapter(base, { r: c.r ?? 8, alpha: c.alpha ?? 2 * (c.r ?? 8), dropout: c.dropout, useRslora: c.useRslora, targetModules: targets, naming: o.naming, seed: c.seed }, c.name ?? 'default');
      const { graph, trainable } = injectLora(base, adapter);
      return { graph, trainable, finish: (w) => { const a = adapterFromWeights(adapter, w); return { graph: mergeLora(base, a), adapter: a }; } };
    }
    case 'paca': {
      const c = o.paca ?? {};
      const sel = selectPartialConnections(base, { targetModules: targets, naming: o.naming, k: c.k, ratio: c.k === undefined ? c.ratio ?? 1 / 8 : undefined, criterion: c.criterion, seed: c.seed });
      const { graph, trainable } = injectPaca(base, sel);
      return { graph, trainable, finish: (w) => ({ graph: exportPaca(graph, w) }) };
    }
    case 'welore': {
      const c = o.welore ?? {};
      const r = weloreCompress(base, { targetModules: targets, naming: o.naming, compression: c.compression ?? 0.5, ...(c.plan ? { plan: c.plan } : {}) });
      if (!r.trainable.length) throw new LeanformerError('INVALID_ARGUMENT', 'finetune(welore): no matrix became a low-rank component at this compression; raise compression');
      return { graph: r.graph, trainable: r.trainable, plan: r.plan, finish: (w) => ({ graph: withWeights(r.graph, w) }) };
    }
    case 'galore':
    case 'full':
      return { graph: base, trainable: defaultTrainable, finish: (w) => ({ graph: withWeights(base, w) }) };
    default:
      throw new LeanformerError('INVALID_ARGUMENT', `finetune: method must be one of ${FINETUNE_METHODS.join(', ')}, got '${String(o.method)}'`);
  }
}

/** A copy of `graph` with trained initializer values. */
function withWeights(graph: Graph, weights: ReadonlyMap<string, Tensor>): Graph {
  const g = cloneGraph(graph);
  for (const [name, t] of weights) {
    const v = g.initializers.get(name);
    if (v) g.setInitializer(v, t);
  }
  return g;
}

/**
 * Mean token cross-entropy of `graph`'s `logits` over `batches` held-out batches, computed in
 * float64 from the logits a tfjs executor returns (labels −100 are skipped).
 */
export async function heldOutLoss(graph: Graph, data: (step: number, micro: number) => TrainBatch, batches = 2, backend: TfjsBackend = createTfjsBackend('cpu')): Promise<number> {
  const exe = await backend.compile(graph);
  try {
    let sum = 0, count = 0;
    for (let s = 0; s < batches; s++) {
      const batch = data(s, 0);
      const feeds: Record<string, Tensor> = {};
      for (const n of exe.inputNames) {
        const t = batch[n];
        if (!t) throw new LeanformerError('INVALID_ARGUMENT', `heldOutLoss: the batch has no '${n}' (it has ${Object.keys(batch).join(', ')})`);
        feeds[n] = t;
      }
      const { logits } = await exe.run(feeds, { fetches: ['logits'] });
      const labels = batch.labels;
      if (!logits || !labels) throw new LeanformerError('INVALID_ARGUMENT', "heldOutLoss: needs a 'logits' output and 'labels' in the batch");
      const V = logits.shape[logits.shape.length - 1]!;
      const z = logits.toFloat32();
      const y = labels.toArray().map(Number);
      for (let i = 0; i < y.length; i++) {
        if (y[i] === -100) continue;
        let mx = -Infinity;
        for (let j = 0; j < V; j++) mx = Math.max(mx, z[i * V + j]!);
        let se = 0;
        for (let j = 0; j < V; j++) se += Math.exp(z[i * V + j]! - mx);
        sum += Math.log(se) + mx - z[i * V + y[i]!]!;
        count++;
      }
    }
    return sum / Math.max(count, 1);
  } finally {
    await exe.dispose();
  }
}

async function* stepBatches(data: FinetuneOptions['data'], start: number, steps: number): AsyncGenerator<TrainBatch> {
  if (typeof data === 'function') {
    for (let s = start; s < steps; s++) yield await data(s, 0);
    return;
  }
  const it = data[Symbol.iterator]();
  for (let s = 0; s < steps; s++) {
    const r = it.next();
    if (r.done) throw new LeanformerError('INVALID_ARGUMENT', `finetune: data ran out at step ${s + 1} of ${steps}`);
    if (s >= start) yield r.value;
  }
}

/**
 * Fine-tunes `graph` with the chosen method through runtime-tfjs.
 *
 * - lora: adapters on the target layers (B = 0 at the start), merged into W at the end.
 * - paca: a seeded random subset of each target matrix's input connections, trained in place.
 * - welore: SVD-based compression to `welore.compression`, then the low-rank factors are tuned.
 * - galore: every weight trained; the target matrices with GaLore's projected AdamW, the rest with AdamW.
 * - full: every weight with AdamW (the reference).
 *
 * @example
 * ```ts
 * const data = syntheticInstructionTask({ vocab: 32, seqLen: 16, batch: 8, seed: 0 });
 * const held = syntheticInstructionTask({ vocab: 32, seqLen: 16, batch: 8, seed: 99 });
 * const r = await finetune(graph, { method: 'lora', data, steps: 40, evalData: held, lora: { r: 4 } });
 * console.log(r.evalLossBefore, '→', r.evalLossAfter);
 * ```
 */
export async function finetune(graph: Graph, o: FinetuneOptions): Promise<FinetuneResult> {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new LeanformerError('INVALID_ARGUMENT', `finetune: steps must be a positive integer, got ${o.steps}`);
  registerPeftKernels();
  const backend = typeof o.backend === 'object' ? o.backend : createTfjsBackend(o.backend ?? 'cpu');
  const prep = prepare(graph, o);
  const lr = o.lr ?? (o.method === 'full' ? 3e-3 : 1e-2);
  const evalBefore = o.evalData ? await heldOutLoss(prep.graph, o.evalData, o.evalBatches, backend) : undefined;
  const trainer = await Trainer.create(prep.graph, { loss: o.loss ?? crossEntropyLoss('logits', 'labels'), optimizer: { type: 'adamw', lr }, trainable: prep.trainable, backend });
  const tf = trainer.tf;
  const vars = trainer.compiled.variables;
  let opt: Optimizer;
  if (o.method === 'galore') {
    const rank = o.galore?.rank ?? 4;
    // Projected: the target layers' weights (larger than the rank); every other weight gets AdamW.
    const projected = new Set(selectModules(graph, o.targetModules ?? 'all-linear', resolveNaming(o.naming), 'finetune(galore)').map((m) => `${m.module}.weight`));
    opt = new GaLoreAdamW(tf, { lr, rank, updateProjGap: o.galore?.updateProjGap ?? 200, scale: o.galore?.scale ?? 0.25, weightDecay: o.weightDecay ?? 0,
      project: (name, shape) => projected.has(name) && shape.length === 2 && Math.min(shape[0]!, shape[1]!) > rank });
  } else opt = createOptimizer(tf, { type: 'adamw', lr, weightDecay: o.weightDecay ?? 0 });
  const losses: number[] = [];
  const stepMs: number[] = [];
  let step = 0;
  try {
    if (o.resumeFrom) step = restore(tf, o.resumeFrom, vars, opt, o.method);
    for await (const batch of stepBatches(o.data, step, o.steps)) {
      const t0 = performance.now();
      const { loss, grads } = await trainer.lossAndGrads(batch);
      if (!Number.isFinite(loss)) {
        for (const g of grads.values()) g.dispose();
        throw new LeanformerError('EXECUTION_FAILED', `finetune(${o.method}): loss is ${loss} at step ${step + 1}; lower lr`);
      }
      if (o.clipGradNorm !== undefined) await clip(tf, grads, o.clipGradNorm);
      const rate = learningRate(o.schedule ?? { type: 'constant' }, lr, step, o.steps);
      opt.apply(vars, grads, rate);
      for (const g of grads.values()) g.dispose();
      step++;
      const ms = performance.now() - t0;
      losses.push(loss);
      stepMs.push(ms);
      await o.onProgress?.({ phase: 'finetune', done: step, total: o.steps, unit: 'steps', loss, lr: rate, ms });
      if (o.checkpointEvery && o.onCheckpoint && step % o.checkpointEvery === 0) await o.onCheckpoint(await checkpoint(vars, opt, o.method, step), step);
    }
    const weights = new Map<string, Tensor>();
    for (const [name, v] of vars) weights.set(name, new Tensor('float32', v.shape, Float32Array.from(await v.data() as Float32Array)));
    const out = prep.finish(weights);
    const evalAfter = o.evalData ? await heldOutLoss(out.graph, o.evalData, o.evalBatches, backend) : undefined;
    let stateElements = 0;
    for (const t of opt.state().values()) stateElements += t.size;
    let trainableParams = 0;
    for (const v of vars.values()) trainableParams += v.size;
    return {
      method: o.method, losses, stepMs, evalLossBefore: evalBefore, evalLossAfter: evalAfter, graph: out.graph, adapter: out.adapter, plan: prep.plan,
      trainableParams, optimizerStateElements: stateElements, checkpoint: await checkpoint(vars, opt, o.method, step),
    };
  } finally {
    opt.dispose();
    trainer.dispose();
  }
}

async function clip(tf: typeof tfc, grads: Map<string, tfc.Tensor>, max: number): Promise<void> {
  if (!(max > 0)) throw new LeanformerError('INVALID_ARGUMENT', `clipGradNorm must be > 0, got ${max}`);
  const norm = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g))))));
  const n = (await norm.data())[0]!;
  norm.dispose();
  if (n <= max) return;
  for (const [k, g] of grads) { grads.set(k, tf.mul(g, max / (n + 1e-6))); g.dispose(); }
}

async function checkpoint(vars: ReadonlyMap<string, tfc.Variable>, opt: Optimizer, method: string, step: number): Promise<Uint8Array> {
  const t = new Map<string, Tensor>();
  for (const [name, v] of vars) t.set(name, new Tensor('float32', v.shape, Float32Array.from(await v.data() as Float32Array)));
  for (const [key, s] of opt.state()) t.set(`optimizer/${key}`, new Tensor('float32', s.shape, Float32Array.from(await s.data() as Float32Array)));
  return writeSafetensors(t, { format: CHECKPOINT_FORMAT, method, step: String(step) }, { checksums: true });
}

function restore(tf: typeof tfc, bytes: Uint8Array, vars: ReadonlyMap<string, tfc.Variable>, opt: Optimizer, method: string): number {
  const format = readSafetensorsHeader(bytes).metadata.format;
  if (format !== CHECKPOINT_FORMAT && format !== LEGACY_CHECKPOINT_FORMAT) throw new LeanformerError('INVALID_ARGUMENT', `resumeFrom: not a finetune checkpoint (format '${format ?? ''}', expected '${CHECKPOINT_FORMAT}')`);
  const { tensors, metadata } = readSafetensors(bytes, { requireChecksums: format === CHECKPOINT_FORMAT });
  if (metadata.method !== method) throw new LeanformerError('INVALID_ARGUMENT', `resumeFrom: the checkpoint is for method '${metadata.method}', not '${method}'`);
  const state = new Map<string, tfc.Tensor>();
  try {
    for (const [name, t] of tensors) {
      if (name.startsWith('optimizer/')) { state.set(name.slice('optimizer/'.length), toTfTensor(tf, t, name)); continue; }
      const v = vars.get(name);
      if (!v) throw new LeanformerError('INVALID_ARGUMENT', `resumeFrom: '${name}' is not a trainable weight of this run`);
      if (v.shape.join() !== t.shape.join()) throw new LeanformerError('SHAPE_MISMATCH', `resumeFrom: '${name}' is [${t.shape.join(', ')}], the weight is [${v.shape.join(', ')}]`);
      tf.tidy(() => v.assign(toTfTensor(tf, t, name)));
    }
    const step = Number(metadata.step ?? 0);
    opt.restore(state, step);
    return step;
  } finally {
    for (const t of state.values()) t.dispose();
  }
}
