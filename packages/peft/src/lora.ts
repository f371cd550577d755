// LoRA (Hu et al. 2021) on the IR: y = x·W + s·(x·A)·B with A [in, r], B [r, out] in our
// [in, out] weight layout (PEFT's lora_A.weight is Aᵀ, lora_B.weight is Bᵀ), s = α/r, or α/√r
// with rsLoRA. Adapters are plain data (tensors per module); injecting one adds the branch
// to a copy of the graph with standard ONNX ops, so every runtime trains or runs it.

import { cloneGraph, LeanformerError, rng, Tensor, weightsAsInitializers, type Graph, type Pass } from '@leanformer/core';
import { addAfter } from './graph-edit.js';
import { LLAMA_NAMING, resolveNaming, selectModules, withInitializerWeights, type LinearModule, type ModuleNaming, type TargetModules } from './naming.js';

/** Configuration of a LoRA adapter (PEFT's LoraConfig, camel-cased). */
export interface LoraConfig {
  /** Rank r (positive integer). */
  readonly r: number;
  /** lora_alpha (default 8, PEFT's default). */
  readonly alpha?: number;
  /**
   * lora_dropout, kept in the config and adapter files (default 0). Training with dropout > 0 is
   * refused by finetune: the tfjs training loop is deterministic and draws no dropout masks.
   */
  readonly dropout?: number;
  /** rsLoRA scaling α/√r instead of α/r (default false). */
  readonly useRslora?: boolean;
  /** Which linear layers get an adapter (PEFT's target_modules). */
  readonly targetModules: TargetModules;
  /** How our module names map to HF's (target matching and adapter files). Default LLaMA. */
  readonly naming?: ModuleNaming | 'llama' | 'bert';
  /** Seed of A's init (default 0). */
  readonly seed?: number;
}

/** One module's adapter weights in our layout. */
export interface LoraModuleWeights {
  /** `[in, r]` (PEFT's lora_A.weight transposed). */
  readonly A: Tensor;
  /** `[r, out]` (PEFT's lora_B.weight transposed). */
  readonly B: Tensor;
  /** The factor s in `W + s·A·B`. */
  readonly scaling: number;
}

/** A named LoRA adapter: its config and weights per module (our module names). */
export interface LoraAdapter {
  readonly name: string;
  readonly config: LoraConfig;
  readonly modules: ReadonlyMap<string, LoraModuleWeights>;
}

/** LoRA's scaling: α/r, or α/√r with rsLoRA. */
export function loraScaling(r: number, alpha: number, useRslora = false): number {
  return useRslora ? alpha / Math.sqrt(r) : alpha / r;
}

function checkConfig(c: LoraConfig, where: string): void {
  if (!Number.isInteger(c.r) || c.r < 1) throw new LeanformerError('INVALID_ARGUMENT', `${where}: r must be a positive integer, got ${c.r}`);
  if (c.alpha !== undefined && !Number.isFinite(c.alpha)) throw new LeanformerError('INVALID_ARGUMENT', `${where}: alpha must be a finite number, got ${c.alpha}`);
  const d = c.dropout ?? 0;
  if (!(d >= 0 && d < 1)) throw new LeanformerError('INVALID_ARGUMENT', `${where}: dropout must be in [0, 1), got ${d}`);
}

/** Initializer names of one module's adapter weights inside an injected graph. */
export function loraParamNames(module: string, adapter: string): { A: string; B: string } {
  return { A: `${module}.lora_A.${adapter}.weight`, B: `${module}.lora_B.${adapter}.weight` };
}

/**
 * A fresh adapter for the linear layers of `graph` that `config.targetModules` selects, initialised
 * as PEFT does: A uniform in ±1/√in (Kaiming-uniform with a = √5), B zero, so the adapted model
 * starts equal to the base model.
 *
 * @example
 * ```ts
 * const adapter = createLoraAdapter(graph, { r: 8, alpha: 16, targetModules: ['q_proj', 'v_proj'] }, 'task-a');
 * ```
 */
export function createLoraAdapter(graph: Graph, config: LoraConfig, name = 'default'): LoraAdapter {
  checkConfig(config, 'createLoraAdapter');
  checkAdapterName(name);
  const naming = resolveNaming(config.naming);
  const r = rng(config.seed ?? 0);
  const s = loraScaling(config.r, config.alpha ?? 8, config.useRslora);
  const modules = new Map<string, LoraModuleWeights>();
  const selected = selectModules(withInitializerWeights(graph), config.targetModules, naming, 'createLoraAdapter');
  // A rank above min(in, out) adds parameters without adding rank; refuse it before allocating A and B.
  const narrowest = selected.reduce<LinearModule | undefined>((a, m) => (a && Math.min(a.inFeatures, a.outFeatures) <= Math.min(m.inFeatures, m.outFeatures) ? a : m), undefined);
  if (narrowest && config.r > Math.min(narrowest.inFeatures, narrowest.outFeatures)) {
    throw new LeanformerError('INVALID_ARGUMENT', `createLoraAdapter: r = ${config.r} exceeds min(in, out) = ${Math.min(narrowest.inFeatures, narrowest.outFeatures)} of target '${narrowest.module}' [${narrowest.inFeatures} → ${narrowest.outFeatures}]; r must be ≤ the smallest dimension of every target layer`, { details: { argument: 'r' } });
  }
  for (const m of selected) {
    const bound = 1 / Math.sqrt(m.inFeatures);
    modules.set(m.module, { A: r.uniformTensor([m.inFeatures, config.r], -bound, bound), B: Tensor.zeros('float32', [config.r, m.outFeatures]), scaling: s });
  }
  return { name, config, modules };
}

function checkAdapterName(name: string): void {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new LeanformerError('INVALID_ARGUMENT', `adapter name '${name}' may only hold letters, digits, '_' and '-'`);
}

/** The linear layers of `graph` by module name. */
function linearByModule(graph: Graph): Map<string, LinearModule> {
  return new Map(selectModules(graph, /.*/, LLAMA_NAMING).map((m) => [m.module, m]));
}


/**
 * A copy of `graph` with each adapter's branch `+ s·(x·A)·B` added to its target layers; A and B
 * become initializers named by {@link loraParamNames} (train them, or run the graph as is). Several
 * adapters add several branches. The base weights are untouched.
 *
 * @example
 * ```ts
 * const adapter = createLoraAdapter(graph, { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] });
 * const { graph: injected, trainable } = injectLora(graph, adapter);
 * const { weights } = await train(injected, { trainable, ... });
 * const trained = adapterFromWeights(adapter, weights);
 * ```
 */
export function injectLora(graph: Graph, adapters: LoraAdapter | readonly LoraAdapter[]): { graph: Graph; trainable: string[] } {
  const list = Array.isArray(adapters) ? (adapters as readonly LoraAdapter[]) : [adapters as LoraAdapter];
  const g = cloneGraph(graph);
  weightsAsInitializers(g); // weights in Constant/Identity nodes (e.g. paddle2onnx exports) too
  const linears = linearByModule(g);
  const trainable: string[] = [];
  const seen = new Set<string>();
  for (const ad of list) {
    checkAdapterName(ad.name);
    if (seen.has(ad.name)) throw new LeanformerError('INVALID_ARGUMENT', `injectLora: two adapters are named '${ad.name}'`);
    seen.add(ad.name);
    for (const [module, w] of ad.modules) {
      const lin = linears.get(module);
      if (!lin) throw new LeanformerError('INVALID_ARGUMENT', `injectLora: adapter '${ad.name}' has weights for '${module}', which is not a linear layer of graph '${graph.name}'`);
      checkModuleShapes(ad.name, module, w, lin);
      const names = loraParamNames(module, ad.name);
      addAfter(g, lin.node, (b) => {
        const x = lin.node.input(0);
        const d = b.matmul(b.matmul(x, b.param(names.A, w.A)), b.param(names.B, w.B));
        return w.scaling === 1 ? d : b.mul(d, w.scaling);
      });
      trainable.push(names.A, names.B);
    }
  }
  return { graph: g, trainable };
}

/**
 * {@link injectLora} as a `Pass`, to compose with other module transforms and core passes in one
 * `PassManager`. The pass returns the injected copy; the trainable names are those of
 * {@link loraParamNames} for each adapter module (call `injectLora` itself to get the list).
 * `modified` is true when some adapter has a module.
 *
 * @example
 * ```ts
 * const pm = new PassManager([injectLoraPass({ adapters: [adapter] }), deadCodeElimination()]);
 * const { graph: injected } = pm.run(graph);
 * ```
 */
export function injectLoraPass(options: { readonly adapters: LoraAdapter | readonly LoraAdapter[] }): Pass {
  return {
    name: 'lora-inject',
    run(graph) {
      const list = Array.isArray(options.adapters) ? (options.adapters as readonly LoraAdapter[]) : [options.adapters as LoraAdapter];
      return { graph: injectLora(graph, list).graph, modified: list.some((a) => a.modules.size > 0) };
    },
  };
}

function checkModuleShapes(adapter: string, module: string, w: LoraModuleWeights, lin: { inFeatures: number; outFeatures: number }): void {
  const [inA, rA] = w.A.shape;
  const [rB, outB] = w.B.shape;
  if (w.A.shape.length !== 2 || w.B.shape.length !== 2 || inA !== lin.inFeatures || outB !== lin.outFeatures || rA !== rB) {
    throw new LeanformerError('SHAPE_MISMATCH', `adapter '${adapter}' module '${module}': A is [${w.A.shape.join(', ')}] and B is [${w.B.shape.join(', ')}]; the layer needs A [${lin.inFeatures}, r] and B [r, ${lin.outFeatures}]`);
  }
  if (!Number.isFinite(w.scaling)) throw new LeanformerError('INVALID_ARGUMENT', `adapter '${adapter}' module '${module}': scaling is ${w.scaling}`);
}

/**
 * The adapter with its A and B replaced by trained values (e.g. `train(...).weights`), looked
 * up by {@link loraParamNames}. Modules absent from `weights` keep their values.
 */
export function adapterFromWeights(adapter: LoraAdapter, weights: ReadonlyMap<string, Tensor>, name = adapter.name): LoraAdapter {
  const modules = new Map<string, LoraModuleWeights>();
  for (const [module, w] of adapter.modules) {
    const n = loraParamNames(module, adapter.name);
    modules.set(module, { A: weights.get(n.A) ?? w.A, B: weights.get(n.B) ?? w.B, scaling: w.scaling });
  }
  return { name, config: adapter.config, modules };
}

/** `s·A·B` in float64, row-major `[in, out]`. */
export function loraDelta(w: LoraModuleWeights): Float64Array {
  const [n, r] = w.A.shape as [number, number];
  const m = w.B.shape[1]!;
  const A = w.A.toFloat32();
  const B = w.B.toFloat32();
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < r; k++) {
      const a = A[i * r + k]! * w.scaling;
      if (a === 0) continue;
      const row = k * m;
      for (let j = 0; j < m; j++) out[i * m + j] += a * B[row + j]!;
    }
  }
  return out;
}

function applyDelta(graph: Graph, adapter: LoraAdapter, sign: 1 | -1, weight: number, where: string): Graph {
  if (!Number.isFinite(weight)) throw new LeanformerError('INVALID_ARGUMENT', `${where}: weight must be a finite number, got ${weight}`);
  const g = cloneGraph(graph);
  weightsAsInitializers(g); // weights in Constant/Identity nodes (e.g. paddle2onnx exports) too
  const linears = linearByModule(g);
  for (const [module, w] of adapter.modules) {
    const lin = linears.get(module);
    if (!lin) throw new LeanformerError('INVALID_ARGUMENT', `${where}: adapter '${adapter.name}' has weights for '${module}', which is not a linear layer of graph '${graph.name}'`);
    checkModuleShapes(adapter.name, module, w, lin);
    const base = lin.weight.const!;
    if (base.dtype.name !== 'float32') throw new LeanformerError('NOT_SUPPORTED', `${where}: '${module}.weight' is ${base.dtype.name}; merging supports float32 weights`);
    const W = base.toFloat32();
    const d = loraDelta(w);
    const out = new Float32Array(W.length);
    const f = sign * weight;
    // One rounding per element (the sum is formed in float64), so unmerge(merge(W)) is W to within an ulp.
    for (let i = 0; i < W.length; i++) out[i] = W[i]! + f * d[i]!;
    g.setInitializer(lin.weight, new Tensor('float32', base.shape, out));
  }
  return g;
}

/**
 * A copy of `graph` with the adapter folded into the base weights, `W + weight·s·A·B` (no extra
 * ops at inference: the fastest export).
 *
 * @example
 * ```ts
 * const merged = mergeLora(graph, adapter);
 * ```
 */
export function mergeLora(graph: Graph, adapter: LoraAdapter, options: { weight?: number } = {}): Graph {
  return applyDelta(graph, adapter, 1, options.weight ?? 1, 'mergeLora');
}

/**
 * {@link mergeLora} as a `Pass`: returns the merged copy (`W + weight·s·A·B`); `modified` is true
 * when the adapter has a module.
 *
 * @example
 * ```ts
 * const { graph: merged } = new PassManager([mergeLoraPass({ adapter }), constantFolding()]).run(graph);
 * ```
 */
export function mergeLoraPass(options: { readonly adapter: LoraAdapter; readonly weight?: number }): Pass {
  return {
    name: 'lora-merge',
    run(graph) {
      return { graph: mergeLora(graph, options.adapter, { weight: options.weight }), modified: options.adapter.modules.size > 0 };
    },
  };
}

/**
 * The inverse of {@link mergeLora}: a copy of `graph` with `weight·s·A·B` subtracted, which
 * restores the base weights of a merged graph (to within float32 rounding of one add and one subtract).
 */
export function unmergeLora(graph: Graph, adapter: LoraAdapter, options: { weight?: number } = {}): Graph {
  return applyDelta(graph, adapter, -1, options.weight ?? 1, 'unmergeLora');
}

/**
 * A weighted combination of adapters as one adapter whose delta is exactly
 * `Σᵢ weightᵢ·sᵢ·Aᵢ·Bᵢ`: the A's are concatenated along the rank axis, the B's stacked with
 * `weightᵢ·sᵢ` folded in (PEFT's 'cat' combination), scaling 1. Modules missing from an adapter
 * contribute nothing there.
 *
 * @example
 * ```ts
 * const mix = combineAdapters([a, b], [0.7, 0.3], 'mix');
 * ```
 */
export function combineAdapters(adapters: readonly LoraAdapter[], weights: readonly number[], name = 'combined'): LoraAdapter {
  if (!adapters.length) throw new LeanformerError('INVALID_ARGUMENT', 'combineAdapters: needs at least one adapter');
  if (weights.length !== adapters.length) throw new LeanformerError('INVALID_ARGUMENT', `combineAdapters: ${adapters.length} adapters but ${weights.length} weights`);
  for (const w of weights) if (!Number.isFinite(w)) throw new LeanformerError('INVALID_ARGUMENT', `combineAdapters: weights must be finite numbers, got ${w}`);
  checkAdapterName(name);
  const modules = new Map<string, LoraModuleWeights>();
  const all = new Set(adapters.flatMap((a) => [...a.modules.keys()]));
  for (const module of all) {
    const parts = adapters.map((a, i) => ({ w: a.modules.get(module), f: weights[i]! })).filter((p): p is { w: LoraModuleWeights; f: number } => !!p.w);
    const n = parts[0]!.w.A.shape[0]!;
    const m = parts[0]!.w.B.shape[1]!;
    const R = parts.reduce((s, p) => s + p.w.A.shape[1]!, 0);
    const A = new Float32Array(n * R);
    const B = new Float32Array(R * m);
    let off = 0;
    for (const { w, f } of parts) {
      const r = w.A.shape[1]!;
      if (w.A.shape[0] !== n || w.B.shape[1] !== m) throw new LeanformerError('SHAPE_MISMATCH', `combineAdapters: module '${module}' has different layer shapes across adapters`);
      const a = w.A.toFloat32();
      const bb = w.B.toFloat32();
      for (let i = 0; i < n; i++) for (let k = 0; k < r; k++) A[i * R + off + k] = a[i * r + k]!;
      const s = f * w.scaling;
      for (let k = 0; k < r; k++) for (let j = 0; j < m; j++) B[(off + k) * m + j] = s * bb[k * m + j]!;
      off += r;
    }
    modules.set(module, { A: new Tensor('float32', [n, R], A), B: new Tensor('float32', [R, m], B), scaling: 1 });
  }
  const first = adapters[0]!.config;
  const rMax = Math.max(...[...modules.values()].map((w) => w.A.shape[1]!));
  return { name, config: { ...first, r: rMax, alpha: rMax, useRslora: false, dropout: 0, targetModules: [...modules.keys()] }, modules };
}
