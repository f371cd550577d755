// Compute precision: every float32 activation, initializer and float-typed constant of a graph in a
// 16-bit float, so GPU targets run fp16/bf16 kernels end to end (ORT's CUDA GroupQueryAttention, for
// one, takes float16/bfloat16 only). Graph inputs/outputs named in `keep` stay float32 behind a Cast
// (logits, typically); the others change type (a KV cache in fp16 halves its bytes).
import { LeanformerError } from '../errors.js';
import { DTypes, type DType } from '../dtype.js';
import { Tensor } from '../tensor.js';
import { attr, type Attribute } from '../ir/attribute.js';
import { subgraphs, type Graph, type Node, type Value } from '../ir/graph.js';
import { tensorType } from '../ir/types.js';
import type { Pass } from './pass.js';

/** The compute precisions a graph can be converted to ('fp32' leaves it as it is). */
export const COMPUTE_PRECISIONS = ['fp32', 'fp16', 'bf16'] as const;

/** One of {@link COMPUTE_PRECISIONS}. */
export type ComputePrecision = (typeof COMPUTE_PRECISIONS)[number];

/** Options of {@link computePrecisionPass}. */
export interface ComputePrecisionOptions {
  readonly precision: ComputePrecision;
  /** Graph input/output names that stay float32 (a Cast is inserted after the input / before the output). */
  readonly keep?: readonly string[];
  /**
   * ONNX op types (default domain) that compute in float32 with Casts at their borders: the ops a
   * target has no 16-bit kernel for (core's ep-facts, `float32Ops`). Trigonometric arguments and
   * sum-of-squares statistics always stay float32 (see {@link computePrecisionPass}).
   */
  readonly float32Ops?: readonly string[];
}

// ONNX attributes that name an output element type (Cast.to, RandomNormal.dtype, EyeLike.dtype, …).
const DTYPE_ATTRS: Readonly<Record<string, string>> = { Cast: 'to', RandomNormal: 'dtype', RandomUniform: 'dtype', RandomNormalLike: 'dtype', RandomUniformLike: 'dtype', EyeLike: 'dtype' };

function narrow(t: Tensor, to: DType): Tensor {
  if (t.dtype !== DTypes.float32) return t;
  const n = t.shape.reduce((a, d) => a * d, 1);
  // Lazy where the source is lazy, so a streaming writer still reads one tensor at a time.
  if (!t.isLoaded && t.lazySource) return new Tensor(to, t.shape, { byteLength: (n * to.bits) / 8, load: () => Tensor.from(to, t.shape, t.toFloat32()).bytes() });
  return Tensor.from(to, t.shape, t.toFloat32());
}

function retype(v: Value, to: DType): void {
  if (v.dtype === DTypes.float32 && v.type?.kind === 'tensor') v.type = tensorType(to, v.shape);
}

const isF32 = (v: Value | null | undefined): v is Value => v?.dtype === DTypes.float32;
const isConstant = (v: Value): boolean => v.isInitializer || v.producer?.op === 'Constant';

/**
 * Nodes of `g` that keep computing in float32 inside a 16-bit graph:
 * - `ops` (default domain): the target's missing 16-bit kernels;
 * - trigonometric arguments: Sin/Cos of a value computed from integers and constants alone (RoPE angles
 *   from positions), and that computation. Angles grow with the position: fp16's spacing at 4096 is 4,
 *   bf16's 32, so a 16-bit angle is meaningless at long context (transformers computes them in float32 too);
 * - sum-of-squares statistics: Pow(x, 2) or Mul(x, x) feeding a ReduceMean/ReduceSum, the reduction, and the
 *   nodes after it that read nothing else but constants (RMSNorm's mean square, + ε, √). A 16-bit square
 *   overflows from |x| = 256 (fp16), and real checkpoints' residual streams reach thousands (transformers'
 *   RMSNorm also computes in float32). The result re-enters the 16-bit graph through a Cast.
 */
function float32Islands(g: Graph, ops: ReadonlySet<string>): Set<Node> {
  const island = new Set<Node>();
  for (const n of g.nodes) if (!n.domain && ops.has(n.op)) island.add(n);
  // Float values computed from integers and constants alone (in node order: producers come first).
  const fromIndex = new Set<Value>();
  for (const n of g.nodes) {
    if (n.domain || n.op === 'Constant') continue;
    const ins = n.inputs.filter((v): v is Value => !!v);
    const indexed = ins.some((v) => fromIndex.has(v) || (!v.dtype?.isFloat && v.dtype !== null && !isConstant(v)));
    if (indexed && ins.every((v) => fromIndex.has(v) || !v.dtype?.isFloat || isConstant(v))) for (const o of n.outputs) if (isF32(o)) fromIndex.add(o);
  }
  const back = (v: Value): void => {
    const p = v.producer;
    if (!p || island.has(p) || !fromIndex.has(v)) return;
    island.add(p);
    for (const i of p.inputs) if (i) back(i);
  };
  for (const n of g.nodes) {
    if (n.domain || (n.op !== 'Sin' && n.op !== 'Cos') || !n.inputs[0] || !fromIndex.has(n.inputs[0])) continue;
    island.add(n);
    back(n.inputs[0]);
  }
  for (const n of g.nodes) {
    if (n.domain || !isF32(n.outputs[0])) continue;
    const [a, b] = n.inputs;
    const square = (n.op === 'Pow' && b && isConstant(b) && (b.const ?? b.producer?.attr<Tensor>('value'))?.toFloat32()[0] === 2) || (n.op === 'Mul' && a && a === b);
    if (!square || !n.outputs[0]!.uses.some((u) => !u.node.domain && (u.node.op === 'ReduceMean' || u.node.op === 'ReduceSum'))) continue;
    island.add(n);
    const work = n.outputs[0]!.uses.map((u) => u.node).filter((m) => m.op === 'ReduceMean' || m.op === 'ReduceSum');
    while (work.length) {
      const m = work.pop()!;
      if (island.has(m) || m.domain || !isF32(m.outputs[0]) || !m.inputs.every((v) => !v || isConstant(v) || (v.producer !== null && island.has(v.producer)))) continue;
      island.add(m);
      for (const o of m.outputs) for (const u of o?.uses ?? []) work.push(u.node);
    }
  }
  // Constants read only inside islands stay float32 with them.
  for (const n of g.nodes) if (n.op === 'Constant' && !n.domain && n.outputs[0]!.uses.length > 0 && n.outputs[0]!.uses.every((u) => island.has(u.node))) island.add(n);
  return island;
}

/** Casts at the borders of the float32 islands: float32 into an island, `to` out of it. */
function castIslandBorders(g: Graph, island: ReadonlySet<Node>, to: DType, keep: ReadonlySet<string>): void {
  if (island.size === 0) return;
  const first = (users: readonly Node[]): Node => g.nodes.find((n) => users.includes(n))!;
  for (const v of [...g.values()]) {
    const inside = v.uses.filter((u) => island.has(u.node));
    const outside = v.uses.filter((u) => !island.has(u.node));
    const produced = v.producer !== null && island.has(v.producer);
    if (!produced && v.dtype === to && inside.length) { // 16-bit value read by an island
      const c = g.insertBefore(first(inside.map((u) => u.node)), { op: 'Cast', inputs: [v], attrs: { to: attr.int(DTypes.float32.onnx) }, outputs: [g.uniqueName(`${v.name}_f32`)] }).output();
      c.type = tensorType(DTypes.float32, v.shape);
      for (const u of inside) u.node.setInput(u.index, c);
    }
    const output = v.isGraphOutput && !keep.has(v.name);
    if (produced && isF32(v) && (outside.length || output)) { // float32 island value read by the 16-bit graph
      const name = g.uniqueName(`${v.name}_${to.name}`);
      const c = outside.length
        ? g.insertBefore(first(outside.map((u) => u.node)), { op: 'Cast', inputs: [v], attrs: { to: attr.int(to.onnx) }, outputs: [name] }).output()
        : g.addNode({ op: 'Cast', inputs: [v], attrs: { to: attr.int(to.onnx) }, outputs: [name] }).output();
      c.type = tensorType(to, v.shape);
      for (const u of outside) u.node.setInput(u.index, c);
      const at = output ? g.outputs.indexOf(v) : -1;
      if (at >= 0) { const out = v.name; v.name = g.uniqueName(`${out}_f32`); c.name = out; g.setOutput(at, c); }
    }
  }
}

function convertGraph(g: Graph, to: DType, keep: ReadonlySet<string>, top: boolean, float32Ops: ReadonlySet<string>): void {
  const island = float32Islands(g, float32Ops);
  const keptIn = top ? g.inputs.filter((v) => keep.has(v.name) && v.dtype === DTypes.float32) : [];
  // (a kept output computed inside an island is float32 already)
  const keptOut = top ? g.outputs.filter((v) => keep.has(v.name) && v.dtype === DTypes.float32 && !(v.producer && island.has(v.producer))) : [];
  for (const v of [...g.values()]) {
    if (keptIn.includes(v)) continue;
    if (v.producer && island.has(v.producer)) continue;
    if (v.isInitializer && v.uses.length > 0 && v.uses.every((u) => island.has(u.node))) continue;
    if (v.isInitializer && v.const!.dtype === DTypes.float32) g.setInitializer(v, narrow(v.const!, to));
    retype(v, to);
  }
  for (const n of g.nodes) {
    if (island.has(n)) continue;
    const a = DTYPE_ATTRS[n.op];
    if (a && !n.domain && Number(n.attr(a, -1)) === DTypes.float32.onnx) n.attrs.set(a, attr.int(to.onnx));
    for (const [k, at] of n.attrs) {
      if (at.type === 'tensor' && at.value.dtype === DTypes.float32) n.attrs.set(k, { ...at, value: narrow(at.value, to) } as Attribute);
    }
    for (const sub of subgraphs(n)) convertGraph(sub, to, keep, false, float32Ops);
  }
  // Kept inputs: float32 outside, a Cast to the 16-bit type for every consumer.
  for (const v of keptIn) {
    const users = v.uses.filter((u) => !island.has(u.node)); // islands read the float32 input as it is
    if (!users.length) continue;
    const first = g.nodes.find((n) => users.some((u) => u.node === n))!;
    const c = g.insertBefore(first, { op: 'Cast', inputs: [v], attrs: { to: attr.int(to.onnx) }, outputs: [g.uniqueName(`${v.name}_${to.name}`)] }).output();
    c.type = tensorType(to, v.shape);
    for (const u of users) u.node.setInput(u.index, c);
  }
  // Kept outputs: the value is computed in the 16-bit type and cast back under its own name.
  for (const v of keptOut) {
    const name = v.name;
    const i = g.outputs.indexOf(v);
    v.name = g.uniqueName(`${name}_${to.name}`);
    const c = g.addNode({ op: 'Cast', inputs: [v], attrs: { to: attr.int(DTypes.float32.onnx) }, outputs: [name] }).output();
    c.type = tensorType(DTypes.float32, v.shape);
    g.setOutput(i, c);
  }
  castIslandBorders(g, island, to, top ? keep : new Set());
}

/**
 * Converts a graph's float32 compute to float16 or bfloat16: initializers, value types, float tensor
 * attributes (Constant, ConstantOfShape), Cast/Random*‍/EyeLike target types, in subgraphs too.
 * Graph inputs/outputs listed in `keep` stay float32 with a Cast in between. 'fp32' changes nothing.
 * Some nodes keep float32 with Casts at their borders: RoPE-style angles and Sin/Cos computed from
 * positions, the mean square of RMSNorm-style statistics, and `float32Ops` (what a target lacks).
 * Which targets want which precision is the caller's choice (see core's ep-facts, `computePrecisionProblem`).
 *
 * @example
 * ```ts
 * const { graph } = computePrecisionPass({ precision: 'fp16', keep: ['logits'] }).run(decoder, {});
 * ```
 */
export function computePrecisionPass(options: ComputePrecisionOptions): Pass {
  const p = options.precision;
  if (!(COMPUTE_PRECISIONS as readonly string[]).includes(p)) {
    throw new LeanformerError('INVALID_ARGUMENT', `compute precision '${String(p)}' is not one of ${COMPUTE_PRECISIONS.join(', ')}`, { details: { field: 'precision' } });
  }
  return {
    name: `compute-precision-${p}`,
    run(graph) {
      if (p === 'fp32') return { graph, modified: false };
      const keep = new Set(options.keep ?? []);
      const io = new Set([...graph.inputs, ...graph.outputs].map((v) => v.name));
      const unknown = [...keep].filter((k) => !io.has(k));
      if (unknown.length) throw new LeanformerError('INVALID_ARGUMENT', `compute precision: keep names ${unknown.map((k) => `'${k}'`).join(', ')}, which are not graph inputs or outputs (${[...io].join(', ')})`, { details: { field: 'keep' } });
      convertGraph(graph, p === 'fp16' ? DTypes.float16 : DTypes.bfloat16, keep, true, new Set(options.float32Ops ?? []));
      return { graph, modified: true };
    },
  };
}
