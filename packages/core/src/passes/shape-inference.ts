// Graph-level shape and type inference: walks nodes in order (and subgraphs), fills in Value.type.
import { DTypes } from '../dtype.js';
import { LeanformerError, isLeanformerError } from '../errors.js';
import type { Graph, Node, Value } from '../ir/graph.js';
import { subgraphs } from '../ir/graph.js';
import { formatType, tensorType, typesEqual, type Dim, type ValueType } from '../ir/types.js';
import { evaluateNode } from '../ops/evaluate.js';
import { inferNode } from '../ops/infer.js';
import { getSchema } from '../ops/schema.js';
import { Tensor } from '../tensor.js';
import type { Pass } from './pass.js';

/** Options for {@link inferShapes}. */
export interface InferShapesOptions {
  /** Throw on inference errors and on conflicts between declared and inferred types. Default false. */
  readonly strict?: boolean;
  /**
   * Largest constant (elements) computed on the side to sharpen inference (e.g. Shape → Concat →
   * Reshape chains over static shapes). The graph itself is not changed. Default 4096; 0 disables.
   */
  readonly maxConstElements?: number;
}

/** What {@link inferShapes} did. */
export interface InferShapesResult {
  /** Number of values whose type was set or made more specific. */
  inferred: number;
  /** `domain::op` of nodes without a schema (left untyped), each listed once. */
  unknownOps: string[];
  /** Non-strict mode: inference errors and declared/inferred conflicts that were skipped. */
  warnings: string[];
}

/**
 * Infers value types across a graph and its subgraphs, in node order. A value without a type gets
 * the inferred one; a declared type is kept where it is more specific and sharpened where the
 * inferred one is; a conflict (different dtype, rank or static dim) is an error in strict mode and
 * a warning otherwise (the declared type is kept). Ops without a schema are left untyped.
 *
 * @example
 * ```ts
 * const { inferred, unknownOps } = inferShapes(graph, { strict: true });
 * ```
 */
export function inferShapes(graph: Graph, options: InferShapesOptions = {}): InferShapesResult {
  const state: State = {
    strict: options.strict ?? false,
    maxConst: options.maxConstElements ?? 4096,
    consts: new Map(),
    shapes: new Map(),
    result: { inferred: 0, unknownOps: [], warnings: [] },
    unknown: new Set(),
  };
  inferGraph(graph, rootOpsets(graph), state);
  state.result.unknownOps = [...state.unknown];
  return state.result;
}

/**
 * The shape-inference pass: runs {@link inferShapes} and reports `modified` when any type changed.
 *
 * @example
 * ```ts
 * new PassManager([shapeInference({ strict: true })]).run(graph);
 * ```
 */
export function shapeInference(options: InferShapesOptions = {}): Pass {
  return {
    name: 'shape-inference',
    run(graph, ctx) {
      const r = inferShapes(graph, options);
      if (r.unknownOps.length) ctx.log?.(`shape-inference: no schema for ${r.unknownOps.join(', ')}`);
      for (const w of r.warnings) ctx.log?.(`shape-inference: ${w}`);
      return { graph, modified: r.inferred > 0 };
    },
  };
}

interface State {
  readonly strict: boolean;
  readonly maxConst: number;
  /** Constant values computed on the side (never written into the graph). */
  readonly consts: Map<Value, Tensor>;
  /** Symbolic content of shape-like integer values (Shape → Gather → Concat chains). */
  readonly shapes: Map<Value, Dim[]>;
  readonly result: InferShapesResult;
  readonly unknown: Set<string>;
}

function rootOpsets(graph: Graph): Map<string, number> {
  let g: Graph = graph;
  while (g.parent && g.opsets.size === 0) g = g.parent;
  return g.opsets;
}

function opsetFor(opsets: Map<string, number>, domain: string): number {
  return opsets.get(domain) ?? (domain === '' ? opsets.get('ai.onnx') : undefined) ?? (domain === 'com.microsoft' ? 1 : Number.MAX_SAFE_INTEGER);
}

function inferGraph(graph: Graph, opsets: Map<string, number>, st: State): void {
  for (const node of graph.nodes) {
    prepareSubgraphs(node, opsets, st);
    const opset = opsetFor(opsets, node.domain);
    if (!getSchema(node.domain, node.op, opset)) {
      st.unknown.add(node.qualifiedOp);
      continue;
    }
    const constInputs = node.inputs.map((v) => (v ? v.const ?? st.consts.get(v) : undefined));
    const shapeInputs = node.inputs.map((v) => (v ? st.shapes.get(v) : undefined));
    let types: (ValueType | null)[];
    try {
      types = inferNode(node, opset, { constInputs, shapeInputs, checkTypes: st.strict });
    } catch (e) {
      if (st.strict || !isLeanformerError(e)) throw e;
      st.result.warnings.push((e as Error).message);
      continue;
    }
    node.outputs.forEach((v, i) => { if (v) assign(v, types[i] ?? null, node, st); });
    foldOnTheSide(node, opset, constInputs, st);
    propagateShapeValues(node, st);
  }
}

/** Content of a shape-like value as dims: constant ints, or tracked symbolic content. */
function dimsOf(v: Value | null, st: State): Dim[] | undefined {
  if (!v) return undefined;
  const c = v.const ?? st.consts.get(v);
  if (c) {
    if (c.dtype.isFloat || c.dtype.storage === 'string' || c.shape.length > 1 || c.dtype.isPacked) return undefined;
    return Array.from(c.data as ArrayLike<number | bigint>, Number);
  }
  return st.shapes.get(v);
}

const dimArith: Record<string, (a: Dim, b: Dim) => Dim> = {
  Add: (a, b) => (typeof a === 'number' && typeof b === 'number' ? a + b : a === 0 ? b : b === 0 ? a : null),
  Sub: (a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : b === 0 ? a : null),
  Mul: (a, b) => (typeof a === 'number' && typeof b === 'number' ? a * b : a === 1 ? b : b === 1 ? a : null),
  Div: (a, b) => (typeof a === 'number' && typeof b === 'number' ? Math.trunc(a / b) : b === 1 ? a : null),
};

/**
 * Tracks symbolic dims through the small integer computations models use to build shapes
 * (Shape, Gather, Concat, Slice, Unsqueeze, Squeeze, Cast, Identity, Add/Sub/Mul/Div), so that a
 * later Reshape/Expand/ConstantOfShape sees e.g. ['batch', 'seq', 12, 64].
 */
function propagateShapeValues(node: Node, st: State): void {
  if (node.domain !== '') return;
  const outV = node.outputs[0];
  if (!outV || outV.const || st.consts.has(outV)) return;
  const ins = node.inputs;
  let res: Dim[] | undefined;
  switch (node.op) {
    case 'Shape': {
      const s = ins[0]?.shape;
      if (!s) return;
      const r = s.length;
      const clamp = (x: number) => Math.min(r, Math.max(0, x < 0 ? x + r : x));
      const start = clamp(Number(node.attr<number | bigint>('start', 0)));
      const end = clamp(Number(node.attr<number | bigint>('end', r)));
      res = s.slice(start, Math.max(start, end));
      break;
    }
    case 'Identity': case 'Unsqueeze': case 'Squeeze': case 'Reshape': case 'Flatten':
      res = dimsOf(ins[0] ?? null, st);
      break;
    case 'Cast': {
      const to = Number(node.attr<number | bigint>('to', 0));
      if (to === 6 || to === 7) res = dimsOf(ins[0] ?? null, st);
      break;
    }
    case 'Gather': {
      const data = dimsOf(ins[0] ?? null, st);
      const idx = dimsOf(ins[1] ?? null, st);
      if (!data || !idx || Number(node.attr<number | bigint>('axis', 0)) !== 0 || (ins[0]?.shape?.length ?? 1) !== 1) return;
      if (!idx.every((i): i is number => typeof i === 'number')) return;
      res = idx.map((i) => data[i < 0 ? i + data.length : i] ?? null);
      break;
    }
    case 'Concat': {
      const parts = ins.map((v) => dimsOf(v, st));
      if (parts.some((p) => !p)) return;
      res = parts.flatMap((p) => p!);
      break;
    }
    case 'Slice': {
      const data = dimsOf(ins[0] ?? null, st);
      const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => dimsOf(ins[i] ?? null, st));
      if (!data || !starts || !ends || (axes && axes[0] !== 0 && axes[0] !== -1)) return;
      const [b, e, k] = [starts[0], ends[0], steps?.[0] ?? 1];
      if (typeof b !== 'number' || typeof e !== 'number' || typeof k !== 'number' || k === 0) return;
      const n = data.length;
      const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x < 0 ? x + n : x));
      const from = clamp(b, k < 0 ? -1 : 0, k < 0 ? n - 1 : n);
      const to = clamp(e, k < 0 ? -1 : 0, k < 0 ? n - 1 : n);
      res = [];
      for (let i = from; k > 0 ? i < to : i > to; i += k) res.push(data[i]!);
      break;
    }
    default: {
      const f = dimArith[node.op];
      if (!f) return;
      const a = dimsOf(ins[0] ?? null, st);
      const c = dimsOf(ins[1] ?? null, st);
      if (!a || !c || (a.length !== c.length && a.length !== 1 && c.length !== 1)) return;
      const n = Math.max(a.length, c.length);
      res = Array.from({ length: n }, (_, i) => f(a[a.length === 1 ? 0 : i]!, c[c.length === 1 ? 0 : i]!));
    }
  }
  if (res && res.length <= 64) st.shapes.set(outV, res);
}

/** Types subgraph inputs from the node's inputs (Loop, Scan, SequenceMap), then infers the subgraphs. */
function prepareSubgraphs(node: Node, opsets: Map<string, number>, st: State): void {
  const subs = subgraphs(node);
  if (!subs.length) return;
  const t = (i: number): ValueType | null => node.inputs[i]?.type ?? null;
  if (node.domain === '' && node.op === 'Loop') {
    const body = subs[0]!;
    const want: (ValueType | null)[] = [tensorType(getDT('int64'), []), tensorType(getDT('bool'), []), ...node.inputs.slice(2).map((_, i) => t(i + 2))];
    body.inputs.forEach((v, i) => { if (!v.type && want[i]) v.type = want[i]!; });
  } else if (node.domain === '' && node.op === 'Scan') {
    const body = subs[0]!;
    const nScan = Number(node.attr<number | bigint>('num_scan_inputs', 0));
    const first = opsetFor(opsets, '') < 9 ? 1 : 0;
    const nState = node.inputs.length - first - nScan;
    const axes = node.attr<readonly (number | bigint)[] | undefined>('scan_input_axes', undefined)?.map(Number);
    body.inputs.forEach((v, i) => {
      if (v.type) return;
      const src = t(first + i);
      const batched = first === 1 ? 1 : 0; // Scan-8: outer values carry a leading batch dim
      if (i < nState || !src || src.kind !== 'tensor' || !src.shape) {
        if (i < nState && src) v.type = batched && src.kind === 'tensor' && src.shape ? tensorType(src.dtype, src.shape.slice(1)) : src;
        return;
      }
      const s = [...src.shape];
      let ax = (axes?.[i - nState] ?? 0);
      if (ax < 0) ax += s.length - batched;
      s.splice(ax + batched, 1);
      if (batched) s.splice(0, 1);
      v.type = tensorType(src.dtype, s);
    });
  } else if (node.domain === '' && node.op === 'SequenceMap') {
    const body = subs[0]!;
    body.inputs.forEach((v, i) => {
      const src = t(i);
      if (v.type || !src) return;
      v.type = src.kind === 'sequence' ? src.elem ?? null : src;
    });
  }
  for (const g of subs) inferGraph(g, g.opsets.size ? g.opsets : opsets, st);
}

function getDT(name: 'int64' | 'bool') {
  return name === 'int64' ? DTypes.int64 : DTypes.bool;
}

/** Computes small constant outputs (Constant, Shape of static shapes, …) to sharpen later nodes. */
function foldOnTheSide(node: Node, opset: number, constInputs: readonly (Tensor | undefined)[], st: State): void {
  if (st.maxConst <= 0 || node.domain !== '') return;
  const outs = node.outputs;
  if (node.op === 'Shape' || node.op === 'Size') {
    // Only the input's shape matters: fold when that shape is fully static (symbolic shapes are
    // tracked by propagateShapeValues instead).
    const s = node.inputs[0]?.shape;
    const v = outs[0];
    if (!v || !s || !s.every((d): d is number => typeof d === 'number')) return;
    if (node.op === 'Size') { st.consts.set(v, Tensor.from(DTypes.int64, [], [BigInt(s.reduce((a, b) => a * b, 1))])); return; }
    const r = s.length;
    const clamp = (x: number) => Math.min(r, Math.max(0, x < 0 ? x + r : x));
    const start = clamp(Number(node.attr<number | bigint>('start', 0)));
    const end = clamp(Number(node.attr<number | bigint>('end', r)));
    const dims = s.slice(start, Math.max(start, end));
    st.consts.set(v, Tensor.from(DTypes.int64, [dims.length], dims.map((d) => BigInt(d))));
    return;
  }
  if (node.inputs.some((v, i) => v && !constInputs[i])) return;
  let res: Tensor[] | undefined;
  try {
    res = evaluateNode(node, constInputs, opset, { maxElements: st.maxConst });
  } catch {
    return; // the evaluator found the inputs invalid; inference already reported what it could
  }
  res?.forEach((t, i) => { const v = outs[i]; if (v) st.consts.set(v, t); });
}

/** Merges an inferred type into a value's declared one. */
function assign(v: Value, inferred: ValueType | null, node: Node, st: State): void {
  if (!inferred) return;
  const declared = v.type;
  if (!declared) { v.type = inferred; st.result.inferred++; return; }
  const merged = mergeTypes(declared, inferred);
  if (merged === 'conflict') {
    const msg = `${node.describe()}: output '${v.name}' is declared ${formatType(declared)} but inferred ${formatType(inferred)}`;
    if (st.strict) throw new LeanformerError('SHAPE_INFERENCE', msg, { details: { value: v.name, op: node.qualifiedOp } });
    st.result.warnings.push(msg);
    return;
  }
  if (!typesEqual(merged, declared)) { v.type = merged; st.result.inferred++; }
}

/** The more specific of two compatible types, or 'conflict'. */
export function mergeTypes(declared: ValueType, inferred: ValueType): ValueType | 'conflict' {
  if (declared.kind !== inferred.kind) return 'conflict';
  if (declared.kind === 'tensor' || declared.kind === 'sparse_tensor') {
    const inf = inferred as typeof declared;
    if (declared.dtype && inf.dtype && declared.dtype !== inf.dtype) return 'conflict';
    const dtype = declared.dtype ?? inf.dtype;
    let shape: readonly Dim[] | null = declared.shape ?? inf.shape;
    if (declared.shape && inf.shape) {
      if (declared.shape.length !== inf.shape.length) return 'conflict';
      const dims: Dim[] = [];
      for (let i = 0; i < declared.shape.length; i++) {
        const a = declared.shape[i]!;
        const b = inf.shape[i]!;
        if (typeof a === 'number' && typeof b === 'number' && a !== b) return 'conflict';
        // A static dim is the most specific; a declared symbol beats an inferred one.
        dims.push(typeof a === 'number' ? a : typeof b === 'number' ? b : a ?? b);
      }
      shape = dims;
    }
    return { ...declared, dtype, shape: shape ? Object.freeze([...shape]) : null };
  }
  if (declared.kind === 'sequence' || declared.kind === 'optional') {
    const ie = (inferred as typeof declared).elem;
    if (!declared.elem || !ie) return { ...declared, elem: declared.elem ?? ie };
    const m = mergeTypes(declared.elem, ie);
    return m === 'conflict' ? m : { ...declared, elem: m };
  }
  return declared;
}
