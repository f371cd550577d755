// Graph → a function of tfjs ops. Compilation resolves every node's kernel (failing with
// the full list of unsupported ops), uploads initializers once, folds host-evaluable nodes
// whose inputs are known (shape arithmetic, constants), and records when each value dies
// so inference frees intermediates as soon as their last consumer has run.

import { cloneGraph, decompose, getDecomposition, LeanformerError, type ValueType, type Graph, type Node, type Value } from '@leanformer/core';
import type * as tfc from '@tensorflow/tfjs-core';
import { tfDTypeOf, toTfTensor } from './dtypes.js';
import { HostValue, HOST_MAX_ELEMENTS } from './host.js';
import { getHostKernel, getKernel, isHost, KernelContext, type HostKernel, type Kernel, type RValue } from './kernel.js';
import { registerBuiltinKernels } from './kernels/index.js';

/** Options for {@link compileGraph}. */
export interface CompileGraphOptions {
  /** Initializers that become `tf.Variable`s (trained); the rest are constants. Default: none. */
  readonly trainable?: readonly string[] | ((v: Value) => boolean);
  /** Values to compute (graph outputs by default). */
  readonly fetches?: readonly string[];
  /** ai.onnx opset (default: the graph's own, else 21). Subgraphs inherit their parent's. */
  readonly opset?: number;
}

let variableCounter = 0;

interface Step {
  readonly node: Node;
  readonly kernel: Kernel | undefined;
  readonly host: HostKernel | undefined;
  /** Names whose last consumer is this step (freed after it in inference mode). */
  readonly dying: readonly string[];
  /** Values of this graph that the node's subgraphs read (If/Loop bodies), passed to the kernel. */
  readonly outer: readonly string[];
}

/** Names a subgraph reads from enclosing scopes (recursively), in first-use order. */
export function freeVariables(g: Graph): string[] {
  const defined = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.keys()]);
  const out: string[] = [];
  for (const n of g.nodes) {
    const reads = [...n.inputs.filter((v): v is Value => !!v).map((v) => v.name)];
    for (const sub of subgraphsOf(n)) reads.push(...freeVariables(sub));
    for (const r of reads) if (!defined.has(r) && !out.includes(r)) out.push(r);
    for (const o of n.outputs) if (o) defined.add(o.name);
  }
  return out;
}

function subgraphsOf(n: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of n.attrs.values()) {
    if (a.type === 'graph') out.push(a.value);
    else if (a.type === 'graphs') out.push(...a.value);
  }
  return out;
}

const hasKernel = (n: Node) => !!(getKernel(n.domain, n.op) || getHostKernel(n.domain, n.op));

/**
 * The graph tfjs runs: ops without a tfjs kernel (e.g. `leanformer.*`) are replaced by their
 * reference decompositions from core, on a copy so the caller's graph is left unchanged.
 */
export function lowerForTfjs(graph: Graph): Graph {
  registerBuiltinKernels();
  if (!graph.nodes.some((n) => !hasKernel(n) && getDecomposition(n.domain, n.op))) return graph;
  const copy = cloneGraph(graph);
  decompose({ filter: (n) => !hasKernel(n) }).run(copy, {});
  return copy;
}

/**
 * Value types tfjs cannot hold that occur in `graph` (inputs, outputs, initializers, node
 * outputs, Cast targets): e.g. `string tensors`, `sequence values`. Empty when all are fine.
 */
export function unsupportedTypes(graph: Graph): string[] {
  const out = new Set<string>();
  const check = (t: ValueType | null | undefined) => {
    if (!t) return;
    if (t.kind !== 'tensor') out.add(`${t.kind} values`);
    else if (t.dtype && (t.dtype.storage === 'string' || t.dtype.storagePerElement !== 1)) out.add(`${t.dtype.name} tensors`);
  };
  for (const v of [...graph.inputs, ...graph.outputs, ...graph.initializers.values()]) check(v.type);
  for (const n of graph.nodes) {
    for (const o of n.outputs) check(o?.type);
    if ((n.op === 'Cast' && n.domain === '') && n.attrs.get('to')?.value === 8) out.add('string tensors');
  }
  return [...out].sort();
}

/** Every op in `graph` (recursively) without a kernel, as `op` or `domain::op`, sorted. */
export function unsupportedOps(graph: Graph): string[] {
  registerBuiltinKernels();
  const missing = new Set<string>();
  // Recursive: a Loop or If is only as supported as the ops in its bodies.
  for (const n of graph.allNodes()) {
    if (!getKernel(n.domain, n.op) && !getHostKernel(n.domain, n.op)) missing.add(n.qualifiedOp);
  }
  return [...missing].sort();
}

/**
 * A graph compiled to tfjs ops. Owns its constant tensors and variables until `dispose()`.
 * `execute` is synchronous and must run inside `tf.tidy` (or a gradient function) so that
 * every intermediate is released.
 */
export class CompiledGraph {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Trainable initializers, by name. */
  readonly variables: ReadonlyMap<string, tfc.Variable>;
  private readonly constants = new Map<string, RValue>();
  private readonly owned: tfc.Tensor[] = [];
  /** Tensors kernels derived from constants (KernelContext.fromConstants), freed by dispose. */
  private readonly memo = new Map<string, tfc.Tensor>();
  /** How many steps read each value (directly or from a subgraph). */
  private readonly readers = new Map<string, number>();
  private readonly steps: Step[] = [];
  /** Compiled If/Loop bodies, by graph. */
  readonly subgraphs = new Map<Graph, CompiledGraph>();
  private readonly opset: number;
  private disposed = false;

  /** The graph that runs: the input graph, or a decomposed copy when it had ops without kernels. */
  readonly graph: Graph;

  constructor(readonly tf: typeof tfc, source: Graph, options: CompileGraphOptions = {}) {
    registerBuiltinKernels();
    const graph = (this.graph = lowerForTfjs(source));
    const missing = [...unsupportedOps(graph), ...unsupportedTypes(graph).map((t) => `(${t})`)];
    if (missing.length) {
      const hint = missing.some((m) => m.startsWith('com.microsoft::')) ? '; com.microsoft ops come from lowering for an ONNX Runtime target: lower the model for target tfjs (core\'s decompositions) instead' : '';
      throw new LeanformerError('NOT_SUPPORTED', `tfjs cannot run graph '${graph.name}': no kernel for ${missing.join(', ')}${hint}`, { details: { unsupported: missing } });
    }
    this.opset = options.opset ?? graph.opsets.get('') ?? 21;
    // Inputs that are also initializers (old ONNX style defaults) may be fed but need not be.
    this.inputNames = graph.inputs.filter((v) => !graph.initializers.has(v.name)).map((v) => v.name);
    this.outputNames = options.fetches ? [...options.fetches] : graph.outputs.map((v) => v.name);
    const isTrainable = typeof options.trainable === 'function'
      ? options.trainable
      : ((set) => (v: Value) => set.has(v.name))(new Set(options.trainable ?? []));
    for (const name of typeof options.trainable === 'object' ? options.trainable : []) {
      if (!graph.initializers.has(name)) throw new LeanformerError('INVALID_ARGUMENT', `trainable '${name}' is not an initializer of graph '${graph.name}'`);
    }
    const vars = new Map<string, tfc.Variable>();
    try {
      for (const [name, v] of graph.initializers) {
        const t = v.const!;
        if (isTrainable(v)) {
          if (tfDTypeOf(t.dtype) !== 'float32') throw new LeanformerError('INVALID_ARGUMENT', `trainable '${name}' is ${t.dtype.name}; only float initializers can be trained`);
          const init = toTfTensor(tf, t, `initializer '${name}'`);
          // tfjs variable names are global to the process: make them unique per compile.
          const variable = tf.variable(init, true, `${name}__lf${++variableCounter}`);
          init.dispose();
          vars.set(name, variable);
          this.owned.push(variable);
          this.constants.set(name, variable);
        } else if (t.size <= HOST_MAX_ELEMENTS && t.dtype.storage !== 'string') {
          this.constants.set(name, HostValue.fromTensor(t));
        } else {
          const x = toTfTensor(tf, t, `initializer '${name}'`);
          this.owned.push(x);
          this.constants.set(name, x);
        }
      }
      this.variables = vars;
      this.plan();
      this.prepareConstants();
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Folds what is known at compile time and orders the rest. */
  private plan(): void {
    // Initializers that are also graph inputs are defaults a feed may replace: never fold through them.
    const fed = new Set(this.graph.inputs.map((v) => v.name));
    const known = (v: Value | null) => v === null || (isHost(this.constants.get(v.name)) && !fed.has(v.name));
    const pending: Node[] = [];
    for (const node of this.graph.nodes) {
      const host = getHostKernel(node.domain, node.op);
      const staticShape = (node.op === 'Shape' || node.op === 'Size') && node.domain === '' && node.inputs[0]?.shape?.every((d) => typeof d === 'number');
      if (host && (node.inputs.every(known) || staticShape)) {
        const inputs = node.inputs.map((v) => (v ? (this.constants.get(v.name) ?? staticShapeValue(v)) : null));
        const out = tryHost(this.tf, node, this.opset, inputs, host);
        if (out) {
          out.forEach((o, i) => { const v = node.outputs[i]; if (v && o) this.constants.set(v.name, o); });
          continue;
        }
      }
      pending.push(node);
    }
    // Subgraphs compile now, outside any tidy scope, so their constants live as long as this graph.
    const outers = pending.map((node) => {
      const subs = subgraphsOf(node);
      for (const sg of subs) if (!this.subgraphs.has(sg)) this.subgraphs.set(sg, new CompiledGraph(this.tf, sg, { opset: this.opset }));
      return subs.flatMap(freeVariables).filter((n, k, all) => all.indexOf(n) === k);
    });
    // Last use of each value (direct inputs and subgraph reads), so inference frees intermediates early.
    const last = new Map<string, number>();
    pending.forEach((n, i) => {
      n.inputs.forEach((v) => { if (v) last.set(v.name, i); });
      for (const name of outers[i]!) last.set(name, i);
    });
    pending.forEach((n, i) => {
      for (const name of new Set([...n.inputs.filter((v): v is Value => !!v).map((v) => v.name), ...outers[i]!])) this.readers.set(name, (this.readers.get(name) ?? 0) + 1);
    });
    const keep = new Set(this.outputNames);
    const dying: string[][] = pending.map(() => []);
    for (const [name, i] of last) if (!keep.has(name) && !this.constants.has(name)) dying[i]!.push(name);
    pending.forEach((node, i) => this.steps.push({ node, kernel: getKernel(node.domain, node.op), host: getHostKernel(node.domain, node.op), dying: dying[i]!, outer: outers[i]! }));
    for (const name of this.outputNames) {
      if (!this.graph.lookup(name)) throw new LeanformerError('INVALID_ARGUMENT', `fetch '${name}' is not a value of graph '${this.graph.name}'`);
    }
  }

  /** Number of nodes left to run after compile-time folding. */
  get stepCount(): number { return this.steps.length; }

  /**
   * Runs the graph on tfjs tensors (or host values) keyed by input name. Synchronous; call
   * inside `tf.tidy` or a gradient function. For inference (the default) intermediates are
   * disposed after their last use; with `training`, nothing is freed early (the gradient tape
   * still needs it) and kernels use differentiable forms (explicit broadcasts). `onNode` is called
   * before each node runs (top level only), e.g. to attribute tfjs kernels to nodes.
   */
  execute(feeds: ReadonlyMap<string, RValue>, options: { fetches?: readonly string[]; training?: boolean; onNode?: (node: Node) => void } = {}): Map<string, RValue> {
    if (this.disposed) throw new LeanformerError('INVALID_ARGUMENT', 'this compiled graph was disposed');
    const { tf } = this;
    const env = new Map<string, RValue>(this.constants);
    for (const [k, v] of feeds) env.set(k, v);
    for (const name of this.inputNames) {
      if (!env.has(name)) throw new LeanformerError('INVALID_ARGUMENT', `missing feed '${name}'; graph '${this.graph.name}' needs: ${this.inputNames.join(', ')}`);
    }
    const protectedT = new Set<tfc.Tensor>();
    for (const v of env.values()) if (!isHost(v)) protectedT.add(v);
    const refs = new Map<tfc.Tensor, number>();
    const training = options.training ?? false;
    const freeEarly = !training;
    const keepNames = new Set(options.fetches ?? this.outputNames);
    for (const step of this.steps) {
      const node = step.node;
      const inputs = node.inputs.map((v) => {
        if (!v) return null;
        const x = env.get(v.name);
        if (x === undefined) throw new LeanformerError('INVALID_GRAPH', `${node.describe()} reads '${v.name}', which nothing computed before it (graph not topologically sorted?)`);
        return x;
      });
      options.onNode?.(node);
      const scratch: tfc.Tensor[] = [];
      let outs: readonly (RValue | null)[] | undefined;
      try {
        if (step.host) outs = tryHost(tf, node, this.opset, inputs, step.host, scratch);
        if (!outs) {
          if (!step.kernel) throw new LeanformerError('NOT_SUPPORTED', `${node.describe()}: no tfjs kernel, and the host form needs small host inputs`);
          const kernel = step.kernel;
          const call = (): (RValue | null)[] => {
            const ctx = new KernelContext(tf, node, this.opset, inputs, scratch, training);
            ctx.outer = new Map(step.outer.map((n) => [n, env.get(n)!]));
            // Trained variables change between steps: never constants.
            ctx.isConstant = (i) => { const v = node.inputs[i]; return !!v && this.constants.has(v.name) && !feeds.has(v.name) && !this.variables.has(v.name); };
            ctx.memoStore = this.memo;
            ctx.releaseConstants = (is) => this.releaseConsumed(node, is);
            ctx.subgraph = (g) => {
              const sub = this.subgraphs.get(g);
              if (!sub) throw new LeanformerError('INVALID_GRAPH', `${node.describe()}: subgraph '${g.name}' was not compiled`);
              return sub;
            };
            const r = kernel(ctx);
            return Array.isArray(r) ? [...r] : [r as RValue];
          };
          if (freeEarly) {
            // A scope per node frees the kernel's temporaries (and host uploads) right away.
            let res: (RValue | null)[] = [];
            tf.tidy(() => { res = call(); return res.filter((o): o is tfc.Tensor => o != null && !isHost(o)); });
            outs = res;
          } else outs = call();
        }
      } catch (e) {
        if (e instanceof LeanformerError) throw e;
        throw new LeanformerError('EXECUTION_FAILED', `${node.describe()} failed on tfjs: ${(e as Error).message}`, { cause: e, details: { op: node.op, node: node.name } });
      }
      node.outputs.forEach((v, i) => {
        const o = outs![i];
        if (!v) return;
        if (o == null) throw new LeanformerError('EXECUTION_FAILED', `${node.describe()} did not produce output ${i} ('${v.name}')`);
        env.set(v.name, o);
        if (!isHost(o)) refs.set(o, (refs.get(o) ?? 0) + 1);
      });
      if (freeEarly) {
        for (const name of step.dying) {
          if (keepNames.has(name)) continue;
          const x = env.get(name);
          env.delete(name);
          if (!x || isHost(x) || protectedT.has(x)) continue;
          const n = (refs.get(x) ?? 1) - 1;
          if (n <= 0) { refs.delete(x); x.dispose(); } else refs.set(x, n);
        }
      }
    }
    const out = new Map<string, RValue>();
    for (const name of options.fetches ?? this.outputNames) {
      const v = env.get(name);
      if (v === undefined) throw new LeanformerError('INVALID_ARGUMENT', `fetch '${name}' was not computed`);
      out.set(name, v);
    }
    return out;
  }

  /**
   * Frees the device copy of each constant input of `node` that no other step reads and no fetch
   * names (KernelContext.fromConstants cached what the node derives from it). The tensor object
   * stays in place, disposed, so its shape is still readable. Small host constants are kept.
   */
  private releaseConsumed(node: Node, inputs: readonly number[]): void {
    for (const i of inputs) {
      const name = node.inputs[i]?.name;
      if (name === undefined || this.readers.get(name) !== 1 || this.outputNames.includes(name)) continue;
      const t = this.constants.get(name);
      if (t && !isHost(t) && !this.variables.has(name)) t.dispose();
    }
  }

  /** True when `t` is one of this graph's constants or variables (owned until dispose). */
  owns(t: tfc.Tensor): boolean {
    for (const v of this.constants.values()) if (v === t || (isHost(v) && v.cached === t)) return true;
    return false;
  }

  /** Frees constants and variables. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.owned) t.dispose();
    for (const t of this.memo.values()) t.dispose();
    this.memo.clear();
    for (const sub of this.subgraphs.values()) sub.dispose();
    for (const v of this.constants.values()) if (isHost(v) && v.cached) { v.cached.dispose(); v.cached = undefined; }
    this.owned.length = 0;
    this.constants.clear();
  }

  /** Uploads a compile-time host constant once (kept until dispose) — used for constants fed to tfjs kernels. */
  prepareConstants(): void {
    for (const v of this.constants.values()) {
      if (isHost(v) && !v.cached && v.dtype.storage !== 'string') {
        try { v.cached = this.tf.keep(v.toTf(this.tf)); } catch { /* int64 beyond int32: stays host-only */ }
      }
    }
  }
}

function staticShapeValue(v: Value): RValue {
  // A stand-in carrying only the static shape (Shape/Size read nothing else).
  const shape = v.shape!.map(Number);
  return { shape, dtype: 'float32', rank: shape.length } as unknown as RValue;
}

function tryHost(tf: typeof tfc, node: Node, opset: number, inputs: readonly (RValue | null)[], host: HostKernel, scratch: tfc.Tensor[] = []): (RValue | null)[] | undefined {
  const r = host(new KernelContext(tf, node, opset, inputs, scratch));
  if (r === undefined) return undefined;
  return r instanceof HostValue ? [r] : [...(r as (HostValue | null)[])];
}
