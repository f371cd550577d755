// Compute precision: every float32 activation, initializer and float-typed constant of a graph in a
// 16-bit float, so GPU targets run fp16/bf16 kernels end to end (ORT's CUDA GroupQueryAttention, for
// one, takes float16/bfloat16 only). Graph inputs/outputs named in `keep` stay float32 behind a Cast
// (logits, typically); the others change type (a KV cache in fp16 halves its bytes).
import { LeanformerError } from '../errors.js';
import { DTypes, type DType } from '../dtype.js';
import { Tensor } from '../tensor.js';
import { attr, type Attribute } from '../ir/attribute.js';
import { subgraphs, type Graph, type Value } from '../ir/graph.js';
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

function convertGraph(g: Graph, to: DType, keep: ReadonlySet<string>, top: boolean): void {
  const keptIn = top ? g.inputs.filter((v) => keep.has(v.name) && v.dtype === DTypes.float32) : [];
  const keptOut = top ? g.outputs.filter((v) => keep.has(v.name) && v.dtype === DTypes.float32) : [];
  for (const v of [...g.values()]) {
    if (keptIn.includes(v)) continue;
    if (v.isInitializer && v.const!.dtype === DTypes.float32) g.setInitializer(v, narrow(v.const!, to));
    retype(v, to);
  }
  for (const n of g.nodes) {
    const a = DTYPE_ATTRS[n.op];
    if (a && !n.domain && Number(n.attr(a, -1)) === DTypes.float32.onnx) n.attrs.set(a, attr.int(to.onnx));
    for (const [k, at] of n.attrs) {
      if (at.type === 'tensor' && at.value.dtype === DTypes.float32) n.attrs.set(k, { ...at, value: narrow(at.value, to) } as Attribute);
    }
    for (const sub of subgraphs(n)) convertGraph(sub, to, keep, false);
  }
  // Kept inputs: float32 outside, a Cast to the 16-bit type for every consumer.
  for (const v of keptIn) {
    const users = [...v.uses];
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
}

/**
 * Converts a graph's float32 compute to float16 or bfloat16: initializers, value types, float tensor
 * attributes (Constant, ConstantOfShape), Cast/Random*‍/EyeLike target types, in subgraphs too.
 * Graph inputs/outputs listed in `keep` stay float32 with a Cast in between. 'fp32' changes nothing.
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
      convertGraph(graph, p === 'fp16' ? DTypes.float16 : DTypes.bfloat16, keep, true);
      return { graph, modified: true };
    },
  };
}
