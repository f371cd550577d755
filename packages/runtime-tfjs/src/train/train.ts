// Training through the compiled function: trainable initializers become tf.Variables,
// tfjs autograd differentiates the graph's ops, and a small loop adds optimizers, schedules,
// clipping, accumulation and safetensors checkpoints.

import { LeanformerError, readSafetensors, readSafetensorsHeader, Tensor, writeSafetensors, type Graph, type ProgressEvent, type TfjsBackendName, type Value } from '@leanformer/core';
import type * as tfc from '@tensorflow/tfjs-core';
import { createTfjsBackend, feedsToTf, TfjsBackend } from '../backend.js';
import { CompiledGraph } from '../compile.js';
import { fromTfData, toTfTensor } from '../dtypes.js';
import { tfjsGradientKernels } from '../gradients/index.js';
import { isHost } from '../kernel.js';
import { createOptimizer, type Optimizer, type OptimizerConfig } from './optimizers.js';
import { learningRate, type LrSchedule } from './schedule.js';

/** One batch: graph inputs by name, plus any extra tensors the loss reads (e.g. `labels`). */
export type TrainBatch = Readonly<Record<string, Tensor>>;

/**
 * The loss: the name of a scalar value in the graph, or a function of the fetched values
 * (tfjs tensors) and the batch (as tfjs tensors) that returns a scalar.
 */
export type LossSpec =
  | string
  | ((outputs: ReadonlyMap<string, tfc.Tensor>, batch: ReadonlyMap<string, tfc.Tensor>, tf: typeof tfc) => tfc.Tensor);

/** Where batches come from: a function of (step, micro-batch index), or an (async) iterable. */
export type DataSource = ((step: number, micro: number) => TrainBatch | Promise<TrainBatch>) | Iterable<TrainBatch> | AsyncIterable<TrainBatch>;

/**
 * Progress reported after every optimizer step: core's {@link ProgressEvent} (`done`: optimizer steps
 * taken, 1-based; `total`: the steps the schedule spans) plus the step's loss, rate and gradient norm.
 */
export interface TrainProgress extends ProgressEvent {
  readonly phase: 'train';
  readonly unit: 'steps';
  readonly total: number;
  /** Mean loss over this step's micro-batches. */
  readonly loss: number;
  readonly lr: number;
  /** Global L2 norm of the (accumulated) gradient before clipping. */
  readonly gradNorm: number;
}

/** Options of {@link Trainer} and {@link train}. */
export interface TrainerOptions {
  readonly loss: LossSpec;
  readonly optimizer: OptimizerConfig;
  /** Values the loss function reads (default: graph outputs). Ignored when `loss` is a name. */
  readonly fetches?: readonly string[];
  /** Initializers to train (default: {@link defaultTrainable}). */
  readonly trainable?: readonly string[] | ((v: Value) => boolean);
  /** Backend (default tfjs 'cpu'). */
  readonly backend?: TfjsBackend | TfjsBackendName;
  /** Learning-rate schedule (default constant). */
  readonly schedule?: LrSchedule;
  /** Total optimizer steps the schedule spans (train() sets it to `steps`). */
  readonly totalSteps?: number;
  /** Clip the global gradient L2 norm to this value. */
  readonly clipGradNorm?: number;
  /** Micro-batches whose gradients are averaged per optimizer step (default 1). */
  readonly gradAccumulation?: number;
}

/** Options of {@link train}. */
export interface TrainOptions extends TrainerOptions {
  readonly data: DataSource;
  readonly steps: number;
  /** Called after every optimizer step; may be async (e.g. to write a checkpoint). */
  readonly onProgress?: (p: TrainProgress) => void | Promise<void>;
  /** Resume from checkpoint bytes written by {@link Trainer.checkpoint}. */
  readonly resumeFrom?: Uint8Array;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** Mean loss of each step. */
  readonly losses: number[];
  /** Trained weights by initializer name. */
  readonly weights: Map<string, Tensor>;
  /** Safetensors bytes of weights and optimizer state (resume with `resumeFrom`). */
  readonly checkpoint: Uint8Array;
}

/**
 * The default choice of weights to train: float initializers with more than one element, all
 * finite, whose names are not the `const…`/`scalar…` names GraphBuilder gives unnamed constants
 * (exponents, epsilons, masks' −∞, RoPE frequencies). Pass `trainable` to choose exactly.
 */
export function defaultTrainable(v: Value): boolean {
  const t = v.const;
  if (!t || !t.dtype.isFloat || t.size <= 1) return false;
  if (/^(const|scalar)(_\d+)?$/.test(v.name)) return false;
  const data = t.toFloat32();
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return false;
  return true;
}

// Version 2 checkpoints carry CRC-32C checksums, verified on restore (a damaged checkpoint is a
// CORRUPT_FILE error, not silently different weights); version 1 (older) restores unverified.
const CHECKPOINT_FORMAT = 'leanformer-tfjs-train/2';
const LEGACY_CHECKPOINT_FORMAT = 'leanformer-tfjs-train/1';

/**
 * Trains a graph's initializers with tfjs autograd. Trainable initializers become
 * `tf.Variable`s; every other initializer stays constant. Deterministic: it uses no randomness
 * of its own, so the same graph, data and options give the same weights on the same backend.
 *
 * @example
 * ```ts
 * const trainer = await Trainer.create(graph, { loss: 'loss', optimizer: { type: 'adamw', lr: 1e-3 } });
 * for (let s = 0; s < 100; s++) await trainer.step([batch(s)]);
 * const weights = await trainer.weights();
 * trainer.dispose();
 * ```
 */
export class Trainer {
  private stepCount = 0;
  private constructor(
    readonly tf: typeof tfc,
    readonly compiled: CompiledGraph,
    readonly optimizer: Optimizer,
    readonly options: TrainerOptions,
    private readonly fetchNames: readonly string[],
  ) {}

  /** Compiles `graph` for training on the chosen backend. */
  static async create(graph: Graph, options: TrainerOptions): Promise<Trainer> {
    const backend = typeof options.backend === 'string' || options.backend === undefined ? createTfjsBackend(options.backend ?? 'cpu') : options.backend;
    const tf = await backend.ready();
    const trainable = options.trainable ?? defaultTrainable;
    const fetchNames = typeof options.loss === 'string' ? [options.loss] : (options.fetches ?? graph.outputs.map((v) => v.name));
    const compiled = new CompiledGraph(tf, graph, { trainable, fetches: fetchNames });
    if (compiled.variables.size === 0) {
      compiled.dispose();
      throw new LeanformerError('INVALID_ARGUMENT', `graph '${graph.name}' has no trainable initializers (check 'trainable')`);
    }
    const acc = options.gradAccumulation ?? 1;
    if (!Number.isInteger(acc) || acc < 1) throw new LeanformerError('INVALID_ARGUMENT', `gradAccumulation must be a positive integer, got ${acc}`);
    if (options.clipGradNorm !== undefined && !(options.clipGradNorm > 0)) throw new LeanformerError('INVALID_ARGUMENT', `clipGradNorm must be > 0, got ${options.clipGradNorm}`);
    return new Trainer(tf, compiled, createOptimizer(tf, options.optimizer), options, fetchNames);
  }

  /** Optimizer steps taken. */
  get steps(): number { return this.stepCount; }

  /**
   * Loss and gradients (by initializer name) of one batch. The caller disposes the gradients.
   * Asynchronous because the loss is read back with `data()`: tfjs-webgpu under Node has no
   * synchronous readback (its `dataSync` needs a browser's OffscreenCanvas).
   */
  async lossAndGrads(batch: TrainBatch): Promise<{ loss: number; grads: Map<string, tfc.Tensor> }> {
    const { tf, compiled } = this;
    const graphFeeds: Record<string, Tensor> = {};
    const extra = new Map<string, tfc.Tensor>();
    for (const [k, t] of Object.entries(batch)) {
      if (compiled.inputNames.includes(k)) graphFeeds[k] = t;
      else extra.set(k, toTfTensor(tf, t, `batch '${k}'`));
    }
    const feeds = feedsToTf(compiled.graph, compiled.inputNames, graphFeeds);
    const varList = [...compiled.variables.values()];
    const byTfName = new Map([...compiled.variables].map(([ir, v]) => [v.name, ir]));
    try {
      const { value, grads } = tf.variableGrads(() => {
        const outs = compiled.execute(feeds, { fetches: this.fetchNames, training: true });
        const tensors = new Map<string, tfc.Tensor>();
        for (const [k, v] of outs) tensors.set(k, isHost(v) ? v.toTf(tf) : (v as tfc.Tensor));
        const loss = typeof this.options.loss === 'string' ? tensors.get(this.options.loss)! : this.options.loss(tensors, new Map([...feeds, ...extra]), tf);
        if (loss.size !== 1) throw new LeanformerError('INVALID_ARGUMENT', `the loss must be a scalar, got shape [${loss.shape.join(', ')}]`);
        return tf.reshape(loss, []) as tfc.Scalar;
      }, varList);
      const lossValue = (await value.data())[0]!;
      value.dispose();
      const out = new Map<string, tfc.Tensor>();
      for (const [tfName, g] of Object.entries(grads)) out.set(byTfName.get(tfName)!, g);
      return { loss: lossValue, grads: out };
    } catch (e) {
      // tfjs' backprop names a kernel without a gradient only in its message.
      const kernel = /gradient function not found for (\w+)/.exec(String((e as Error | undefined)?.message))?.[1];
      if (kernel) throw this.missingGradient(kernel, feeds, e);
      throw e;
    } finally {
      for (const t of feeds.values()) t.dispose();
      for (const t of extra.values()) t.dispose();
    }
  }

  /**
   * The error for a training step that differentiated through `kernel`, which has no gradient: which
   * nodes emit it, found by running the forward pass again with that kernel wrapped to note the node
   * running (error path only), and which kernels do have one.
   */
  private missingGradient(kernel: string, feeds: ReadonlyMap<string, tfc.Tensor>, cause: unknown): LeanformerError {
    const { tf } = this;
    const nodes = new Set<string>();
    const backend = tf.getBackend();
    const config = tf.getKernel(kernel, backend);
    if (config) {
      let current = '';
      tf.unregisterKernel(kernel, backend);
      tf.registerKernel({ ...config, kernelFunc: (args) => { if (current) nodes.add(current); return config.kernelFunc(args); } });
      try {
        tf.tidy(() => { this.compiled.execute(feeds, { fetches: this.fetchNames, training: true, onNode: (n) => { current = n.describe(); } }); });
      } catch { /* attribution is best effort: the error below stands without it */ } finally {
        tf.unregisterKernel(kernel, backend);
        tf.registerKernel(config);
      }
    }
    const where = nodes.size ? ` (emitted by ${[...nodes].join(', ')})` : ' (not emitted by a graph node: the loss function?)';
    const supported = tfjsGradientKernels();
    return new LeanformerError('NOT_SUPPORTED', `training differentiates through the tfjs kernel '${kernel}'${where}, which has no gradient; runtime-tfjs defines gradients for: ${supported.join(', ')}. Keep that node off the trainable path (train only weights after it) or express it with supported ops`, { cause, details: { kernel, nodes: [...nodes], supported } });
  }

  /**
   * One optimizer step over `microBatches` (gradients averaged; default accumulation count
   * is `gradAccumulation`, but any non-empty list works). Returns the step's progress.
   */
  async step(microBatches: readonly TrainBatch[]): Promise<TrainProgress> {
    const { tf } = this;
    if (microBatches.length === 0) throw new LeanformerError('INVALID_ARGUMENT', 'step needs at least one batch');
    let sum: Map<string, tfc.Tensor> | undefined;
    let lossSum = 0;
    for (const b of microBatches) {
      const { loss, grads } = await this.lossAndGrads(b);
      if (!Number.isFinite(loss)) {
        for (const g of grads.values()) g.dispose();
        for (const g of sum?.values() ?? []) g.dispose();
        throw new LeanformerError('EXECUTION_FAILED', `loss is ${loss} at step ${this.stepCount + 1}; lower the learning rate or check the data`);
      }
      lossSum += loss;
      if (!sum) sum = grads;
      else {
        for (const [k, g] of grads) {
          const prev = sum.get(k);
          sum.set(k, prev ? tf.add(prev, g) : g);
          if (prev) { prev.dispose(); g.dispose(); }
        }
      }
    }
    const n = microBatches.length;
    const grads = new Map<string, tfc.Tensor>();
    for (const [k, g] of sum!) { grads.set(k, n === 1 ? g : tf.div(g, n)); if (n !== 1) g.dispose(); }
    const norm = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))))) as tfc.Scalar;
    const gradNorm = (await norm.data())[0]!;
    norm.dispose();
    const clip = this.options.clipGradNorm;
    if (clip !== undefined && gradNorm > clip) {
      const scale = clip / (gradNorm + 1e-6);
      for (const [k, g] of grads) { grads.set(k, tf.mul(g, scale)); g.dispose(); }
    }
    const lr = learningRate(this.options.schedule ?? { type: 'constant' }, this.options.optimizer.lr, this.stepCount, this.options.totalSteps ?? Number.MAX_SAFE_INTEGER);
    this.optimizer.apply(this.compiled.variables, grads, lr);
    for (const g of grads.values()) g.dispose();
    this.stepCount++;
    return { phase: 'train', done: this.stepCount, total: this.options.totalSteps ?? this.stepCount, unit: 'steps', loss: lossSum / n, lr, gradNorm };
  }

  /** Current values of the trained initializers, as IR tensors of their original dtypes. */
  async weights(): Promise<Map<string, Tensor>> {
    const out = new Map<string, Tensor>();
    for (const [name, v] of this.compiled.variables) {
      const declared = this.compiled.graph.initializers.get(name)!.const!.dtype;
      out.set(name, fromTfData((await v.data()) as Float32Array, v.shape, declared));
    }
    return out;
  }

  /** Weights and optimizer state as safetensors bytes (optimizer state under `optimizer/…`). */
  async checkpoint(): Promise<Uint8Array> {
    const tensors = new Map<string, Tensor>();
    for (const [name, v] of this.compiled.variables) tensors.set(name, new Tensor('float32', v.shape, (await v.data()) as Float32Array));
    for (const [key, t] of this.optimizer.state()) tensors.set(`optimizer/${key}`, new Tensor('float32', t.shape, (await t.data()) as Float32Array));
    return writeSafetensors(tensors, { format: CHECKPOINT_FORMAT, step: String(this.stepCount), optimizer: JSON.stringify(this.options.optimizer) }, { checksums: true });
  }

  /** Restores weights, optimizer state and the step counter from {@link checkpoint} bytes. */
  restore(bytes: Uint8Array): void {
    const format = readSafetensorsHeader(bytes).metadata.format;
    if (format !== CHECKPOINT_FORMAT && format !== LEGACY_CHECKPOINT_FORMAT) throw new LeanformerError('INVALID_ARGUMENT', `not a leanformer training checkpoint (format '${format ?? ''}', expected '${CHECKPOINT_FORMAT}')`);
    const { tensors, metadata } = readSafetensors(bytes, { requireChecksums: format === CHECKPOINT_FORMAT });
    const opt = new Map<string, tfc.Tensor>();
    try {
      for (const [name, t] of tensors) {
        if (name.startsWith('optimizer/')) { opt.set(name.slice('optimizer/'.length), toTfTensor(this.tf, t, name)); continue; }
        const v = this.compiled.variables.get(name);
        if (!v) throw new LeanformerError('INVALID_ARGUMENT', `checkpoint tensor '${name}' is not a trainable initializer of this graph`);
        if (v.shape.join() !== t.shape.join()) throw new LeanformerError('SHAPE_MISMATCH', `checkpoint '${name}' is [${t.shape.join(', ')}], the variable is [${v.shape.join(', ')}]`);
        this.tf.tidy(() => v.assign(toTfTensor(this.tf, t, name)));
      }
      this.optimizer.restore(opt, Number(metadata.step ?? 0));
      this.stepCount = Number(metadata.step ?? 0);
    } finally {
      for (const t of opt.values()) t.dispose();
    }
  }

  /** Frees variables, constants and optimizer state. */
  dispose(): void {
    this.optimizer.dispose();
    this.compiled.dispose();
  }
}

async function* batches(data: DataSource, steps: number, acc: number, start: number): AsyncGenerator<TrainBatch[]> {
  if (typeof data === 'function') {
    for (let s = start; s < steps; s++) {
      const list: TrainBatch[] = [];
      for (let m = 0; m < acc; m++) list.push(await data(s, m));
      yield list;
    }
    return;
  }
  const it = (Symbol.asyncIterator in data ? (data as AsyncIterable<TrainBatch>)[Symbol.asyncIterator]() : (data as Iterable<TrainBatch>)[Symbol.iterator]()) as AsyncIterator<TrainBatch> | Iterator<TrainBatch>;
  for (let s = start; s < steps; s++) {
    const list: TrainBatch[] = [];
    for (let m = 0; m < acc; m++) {
      const r = await it.next();
      if (r.done) throw new LeanformerError('INVALID_ARGUMENT', `data ran out at step ${s + 1} of ${steps}`);
      list.push(r.value);
    }
    yield list;
  }
}

/**
 * Trains `graph` for `steps` optimizer steps and returns the losses, the trained weights and
 * a checkpoint.
 *
 * @example
 * ```ts
 * const task = syntheticSequenceTask({ vocab: 16, seqLen: 12, batch: 16, seed: 0 });
 * const { losses, weights } = await train(graph, {
 *   loss: crossEntropyLoss('logits', 'labels'), data: task, steps: 100,
 *   optimizer: { type: 'adamw', lr: 3e-3, weightDecay: 0 }, schedule: { type: 'cosine', warmupSteps: 10 },
 *   clipGradNorm: 1, onProgress: (p) => console.log(p.done, p.loss),
 * });
 * ```
 */
export async function train(graph: Graph, options: TrainOptions): Promise<TrainResult> {
  if (!Number.isInteger(options.steps) || options.steps < 1) throw new LeanformerError('INVALID_ARGUMENT', `steps must be a positive integer, got ${options.steps}`);
  const trainer = await Trainer.create(graph, { ...options, totalSteps: options.totalSteps ?? options.steps });
  try {
    if (options.resumeFrom) trainer.restore(options.resumeFrom);
    const losses: number[] = [];
    for await (const micro of batches(options.data, options.steps, options.gradAccumulation ?? 1, trainer.steps)) {
      const p = await trainer.step(micro);
      losses.push(p.loss);
      await options.onProgress?.(p);
    }
    return { losses, weights: await trainer.weights(), checkpoint: await trainer.checkpoint() };
  } finally {
    trainer.dispose();
  }
}

/**
 * Mean token cross-entropy of `logits` (`[..., vocab]`, a fetched value) against integer
 * `labels` (a batch entry of the same leading shape). Labels equal to `ignoreIndex` are skipped.
 *
 * @example
 * ```ts
 * await train(graph, { loss: crossEntropyLoss('logits', 'labels'), ... });
 * ```
 */
export function crossEntropyLoss(logits: string, labels: string, ignoreIndex = -100): Exclude<LossSpec, string> {
  return (outs, batch, tf) => {
    const z = outs.get(logits);
    const y = batch.get(labels);
    if (!z) throw new LeanformerError('INVALID_ARGUMENT', `crossEntropyLoss: '${logits}' is not among the fetched values (${[...outs.keys()].join(', ')})`);
    if (!y) throw new LeanformerError('INVALID_ARGUMENT', `crossEntropyLoss: the batch has no '${labels}'`);
    const v = z.shape[z.shape.length - 1]!;
    const flatZ = tf.reshape(z, [-1, v]);
    const flatY = tf.reshape(tf.cast(y, 'int32'), [-1]);
    const keep = tf.cast(tf.notEqual(flatY, tf.scalar(ignoreIndex, 'int32')), 'float32');
    const safeY = tf.where(tf.equal(flatY, tf.scalar(ignoreIndex, 'int32')), tf.zerosLike(flatY), flatY);
    const nll = tf.neg(tf.sum(tf.mul(tf.oneHot(safeY, v), tf.logSoftmax(flatZ)), -1));
    return tf.div(tf.sum(tf.mul(nll, keep)), tf.maximum(tf.sum(keep), 1));
  };
}

