// The one linear-layer finder: MatMul / Gemm nodes whose B is a constant 2-D float weight, and
// Gather embeddings over a constant 2-D float table. Quantization (in memory and streaming),
// sparsification and LoRA injection all ask this finder, so they agree on what a layer is.
//
// Exporters put weights in three places: initializers, tensor-valued `Constant` nodes (e.g.
// paddle2onnx) and `Identity` nodes over an initializer. `weightsAsInitializers` rewrites the last
// two into plain initializers first (a mutating pass; run it on a copy), after which every weight
// is an initializer and the finder needs only one rule. A weight read by several nodes (tied
// embeddings, one projection used twice) is reported through `users`: a rewrite must keep the
// float weight for the users it does not replace.
import { DTypes } from '../dtype.js';
import type { Graph, Node, Value } from '../ir/graph.js';
import type { Pass } from '../passes/pass.js';
import type { Tensor } from '../tensor.js';

/** A linear layer `Y = X·W (+ bias)` with a constant weight. */
export interface LinearLayer {
  readonly node: Node;
  readonly kind: 'matmul' | 'gemm';
  /** The activation input X (last dimension K). */
  readonly input: Value;
  /** The initializer holding W (node input 1). */
  readonly weight: Value;
  /** Gemm's C when it is a constant vector of N values; else null. */
  readonly bias: Value | null;
  readonly K: number;
  readonly N: number;
  /** The stored weight is [N, K] (Gemm transB = 1). */
  readonly transposed: boolean;
  /** Nodes reading the weight, this one included (more than one: a shared/tied weight). */
  readonly users: number;
}

/** An embedding lookup `Gather(table, ids)` along axis 0 of a constant [V, D] table. */
export interface EmbeddingLayer {
  readonly node: Node;
  readonly table: Value;
  readonly V: number;
  readonly D: number;
  /** Nodes reading the table, this one included. */
  readonly users: number;
}

/** Options of {@link findLinearLayers}. */
export interface FindLinearOptions {
  /** Layers whose node name or weight name matches are skipped. */
  readonly exclude?: RegExp;
}

function isFloat(t: Tensor): boolean {
  return t.dtype === DTypes.float32 || t.dtype === DTypes.float16 || t.dtype === DTypes.bfloat16;
}

/** A constant 2-D float initializer that is not also a graph input (which a caller may override). */
function isFloatMatrix(v: Value | null | undefined): v is Value {
  return !!v && v.isInitializer && !v.isGraphInput && isFloat(v.const!) && v.const!.shape.length === 2;
}

function excluded(re: RegExp | undefined, ...names: string[]): boolean {
  return re !== undefined && names.some((n) => n !== '' && re.test(n));
}

function userCount(v: Value): number { return new Set(v.uses.map((u) => u.node)).size + (v.isGraphOutput ? 1 : 0); }

/**
 * The MatMul and Gemm nodes (default domain) with a constant 2-D float weight as B, in graph
 * order. Reads no weight data (shapes only), so it is safe on lazily loaded models. Weights in
 * Constant or Identity nodes are not seen: run {@link weightsAsInitializers} first.
 *
 * @example
 * ```ts
 * weightsAsInitializers(g);
 * for (const l of findLinearLayers(g)) console.log(l.node.name, l.K, l.N);
 * ```
 */
export function findLinearLayers(graph: Graph, options: FindLinearOptions = {}): LinearLayer[] {
  const out: LinearLayer[] = [];
  for (const node of graph.nodes) {
    if (node.domain !== '' || (node.op !== 'MatMul' && node.op !== 'Gemm')) continue;
    const x = node.inputs[0];
    const w = node.inputs[1];
    if (!x || x.isInitializer || !isFloatMatrix(w) || excluded(options.exclude, node.name, w.name)) continue;
    const [r, c] = w.const!.shape as [number, number];
    if (node.op === 'MatMul') {
      out.push({ node, kind: 'matmul', input: x, weight: w, bias: null, K: r, N: c, transposed: false, users: userCount(w) });
      continue;
    }
    const transB = Number(node.attr('transB', 0)) !== 0;
    if (Number(node.attr('transA', 0)) !== 0 || Number(node.attr('alpha', 1)) !== 1) continue;
    const bias = node.inputs[2] ?? null;
    if (bias && (Number(node.attr('beta', 1)) !== 1 || !bias.isInitializer || bias.const!.size !== (transB ? r : c))) continue;
    out.push({ node, kind: 'gemm', input: x, weight: w, bias, K: transB ? c : r, N: transB ? r : c, transposed: transB, users: userCount(w) });
  }
  return out;
}

/**
 * The Gather nodes (axis 0, default domain) over a constant 2-D float table, in graph order.
 *
 * @example
 * ```ts
 * const [emb] = findEmbeddings(g); // emb.V rows of emb.D values
 * ```
 */
export function findEmbeddings(graph: Graph, options: FindLinearOptions = {}): EmbeddingLayer[] {
  const out: EmbeddingLayer[] = [];
  for (const node of graph.nodes) {
    if (node.domain !== '' || node.op !== 'Gather' || Number(node.attr('axis', 0)) !== 0) continue;
    const t = node.inputs[0];
    if (!isFloatMatrix(t) || excluded(options.exclude, node.name, t.name)) continue;
    const [V, D] = t.const!.shape as [number, number];
    out.push({ node, table: t, V, D, users: userCount(t) });
  }
  return out;
}

/**
 * Turns weights the exporter placed elsewhere into initializers, in place: every tensor-valued
 * `Constant` node (attribute `value`) becomes an initializer under its output's name, and every
 * `Identity` whose input is an initializer is bypassed (its readers read the initializer; an
 * Identity whose output is a graph output stays). Returns how many nodes it removed. Values and
 * results are unchanged; only where the constant lives.
 *
 * @example
 * ```ts
 * const g = cloneGraph(imported);
 * weightsAsInitializers(g); // paddle2onnx's Constant weights are initializers now
 * ```
 */
export function weightsAsInitializers(graph: Graph): number {
  let removed = 0;
  for (const node of [...graph.nodes]) {
    if (node.domain !== '' || node.op !== 'Constant') continue;
    const a = node.attrs.get('value');
    const out = node.outputs[0];
    if (!a || a.type !== 'tensor' || !out || node.attrs.size !== 1 || graph.initializers.has(out.name)) continue;
    graph.removeNode(node, true);
    graph.setInitializer(out, a.value);
    removed++;
  }
  for (const node of [...graph.nodes]) {
    if (node.domain !== '' || node.op !== 'Identity') continue;
    const src = node.inputs[0];
    const out = node.outputs[0];
    if (!src?.isInitializer || !out || out.isGraphOutput) continue;
    out.replaceAllUsesWith(src);
    graph.removeNode(node);
    removed++;
  }
  return removed;
}

/**
 * {@link weightsAsInitializers} as a pass (for a PassManager).
 *
 * @example
 * ```ts
 * new PassManager([weightsAsInitializersPass(), deadCodeElimination()]).run(g);
 * ```
 */
export function weightsAsInitializersPass(): Pass {
  return { name: 'weights-as-initializers', run: (graph) => ({ graph, modified: weightsAsInitializers(graph) > 0 }) };
}
