// Hot-swapping LoRA adapters at inference: the adapter weights are graph inputs, fed per
// request, so one compiled session (e.g. onnxruntime-node) serves any number of adapters —
// and the base model, through rank-1 zero weights — without being re-created.

import { cloneGraph, LeanformerError, Tensor, weightsAsInitializers, type Backend, type Executor, type Graph, type RunOptions } from '@leanformer/core';
import { addAfter } from './graph-edit.js';
import { combineAdapters, type LoraAdapter } from './lora.js';
import { resolveNaming, selectModules, type ModuleNaming, type TargetModules } from './naming.js';

/** A layer of a hot-swap graph and the names of its adapter inputs. */
export interface HotSwapSlot {
  readonly module: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Graph input `[in, r]` (A). */
  readonly inputA: string;
  /** Graph input `[r, out]` (s·B: the scaling is folded in by the feeder). */
  readonly inputB: string;
}

/**
 * A copy of `graph` where each selected linear layer computes `x·W + (x·A)·B` with A and B graph
 * inputs (`lora.<module>.A` `[in, r]`, `lora.<module>.B` `[r, out]`, r symbolic per layer).
 * Feed an adapter's A and s·B per request; rank-1 zeros give the base model.
 *
 * @example
 * ```ts
 * const { graph: swap, slots } = loraHotSwapGraph(graph, ['q_proj', 'v_proj']);
 * ```
 */
export function loraHotSwapGraph(graph: Graph, targets: TargetModules, naming?: ModuleNaming | 'llama' | 'bert'): { graph: Graph; slots: HotSwapSlot[] } {
  const g = cloneGraph(graph);
  weightsAsInitializers(g);
  const slots: HotSwapSlot[] = [];
  const mods = selectModules(g, targets, resolveNaming(naming), 'loraHotSwapGraph');
  mods.forEach((m, i) => {
    const slot: HotSwapSlot = { module: m.module, inFeatures: m.inFeatures, outFeatures: m.outFeatures, inputA: `lora.${m.module}.A`, inputB: `lora.${m.module}.B` };
    addAfter(g, m.node, (b) => {
      const a = b.input(slot.inputA, 'float32', [m.inFeatures, `lora_r${i}`]);
      const bb = b.input(slot.inputB, 'float32', [`lora_r${i}`, m.outFeatures]);
      return b.matmul(b.matmul(m.node.input(0), a), bb);
    });
    slots.push(slot);
  });
  return { graph: g, slots };
}

/** Options of {@link LoraHotSwap.create}. */
export interface LoraHotSwapOptions {
  /** Layers that can take an adapter (PEFT target_modules terms). */
  readonly targetModules: TargetModules;
  readonly naming?: ModuleNaming | 'llama' | 'bert';
}

/**
 * One compiled model serving many LoRA adapters: `run(feeds, 'name')` feeds that adapter's
 * weights as graph inputs, `run(feeds, null)` runs the base model. Adapters are registered as
 * data (their feeds are prepared once), so switching costs nothing but the feeds.
 *
 * @example
 * ```ts
 * import { createOrtBackend } from '@leanformer/runtime-ort/node';
 * const swap = await LoraHotSwap.create(graph, createOrtBackend(), { targetModules: ['q_proj', 'v_proj'] });
 * swap.add(adapterA); swap.add(adapterB);
 * const a = await swap.run({ input_ids }, 'a');
 * const base = await swap.run({ input_ids }, null);
 * await swap.dispose();
 * ```
 */
export class LoraHotSwap {
  private readonly feeds = new Map<string, Record<string, Tensor>>();
  private readonly zero: Record<string, Tensor> = {};

  private constructor(readonly executor: Executor, readonly slots: readonly HotSwapSlot[]) {
    for (const s of slots) {
      this.zero[s.inputA] = Tensor.zeros('float32', [s.inFeatures, 1]);
      this.zero[s.inputB] = Tensor.zeros('float32', [1, s.outFeatures]);
    }
  }

  /** Builds the hot-swap graph and compiles it once on `backend`. */
  static async create(graph: Graph, backend: Backend, options: LoraHotSwapOptions): Promise<LoraHotSwap> {
    const { graph: g, slots } = loraHotSwapGraph(graph, options.targetModules, options.naming);
    return new LoraHotSwap(await backend.compile(g), slots);
  }

  /** Names of the registered adapters. */
  get adapters(): string[] { return [...this.feeds.keys()]; }

  /**
   * Registers (or replaces) an adapter. Its modules must be layers of this model; layers it does
   * not cover get zero weights.
   */
  add(adapter: LoraAdapter): void {
    const bySlot = new Map(this.slots.map((s) => [s.module, s]));
    const feeds: Record<string, Tensor> = { ...this.zero };
    for (const [module, w] of adapter.modules) {
      const s = bySlot.get(module);
      if (!s) throw new LeanformerError('INVALID_ARGUMENT', `LoraHotSwap.add: adapter '${adapter.name}' targets '${module}', which is not a hot-swap layer of this model (layers: ${this.slots.map((x) => x.module).join(', ')})`);
      if (w.A.shape[0] !== s.inFeatures || w.B.shape[1] !== s.outFeatures || w.A.shape[1] !== w.B.shape[0]) {
        throw new LeanformerError('SHAPE_MISMATCH', `LoraHotSwap.add: adapter '${adapter.name}' module '${module}' has A [${w.A.shape.join(', ')}], B [${w.B.shape.join(', ')}]; the layer is [${s.inFeatures}, ${s.outFeatures}]`);
      }
      const B = w.B.toFloat32();
      const sb = new Float32Array(B.length);
      for (let i = 0; i < B.length; i++) sb[i] = B[i]! * w.scaling;
      feeds[s.inputA] = w.A;
      feeds[s.inputB] = new Tensor('float32', w.B.shape, sb);
    }
    this.feeds.set(adapter.name, feeds);
  }

  /** Registers the weighted combination of registered-or-given adapters under `name` (see {@link combineAdapters}). */
  addCombination(name: string, adapters: readonly LoraAdapter[], weights: readonly number[]): void {
    this.add(combineAdapters(adapters, weights, name));
  }

  /** Forgets an adapter. */
  remove(name: string): boolean { return this.feeds.delete(name); }

  /** Runs one request with adapter `adapter` (null: the base model). */
  async run(feeds: Readonly<Record<string, Tensor>>, adapter: string | null, options?: RunOptions): Promise<Record<string, Tensor>> {
    let extra: Record<string, Tensor>;
    if (adapter === null) extra = this.zero;
    else {
      const f = this.feeds.get(adapter);
      if (!f) throw new LeanformerError('INVALID_ARGUMENT', `LoraHotSwap.run: no adapter '${adapter}'; registered: ${this.adapters.join(', ') || 'none'} (null runs the base model)`);
      extra = f;
    }
    return this.executor.run({ ...feeds, ...extra }, options);
  }

  /** Frees the compiled model. */
  async dispose(): Promise<void> { await this.executor.dispose(); }
}
