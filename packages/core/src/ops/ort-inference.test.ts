// Shape inference checked against ONNX Runtime 1.30 CPU (com.microsoft transformer ops and default-domain
// ops at opsets 18-23, which the ONNX backend node data does not reach): each op runs once on a small model
// (encoded here with a minimal protobuf writer) and the output dims and dtypes must equal inferNode's; where
// evaluateNode has a kernel (RMSNormalization-23, Gelu-20, blocked Q/DQ-21, Split-18, ScatterND-18, …), its
// values must match ORT's within rtol 1e-3, atol 1e-5.
import { describe, expect, it } from 'vitest';
import { DTypes, type DType } from '../dtype.js';
import { attr, type Attribute } from '../ir/attribute.js';
import { Graph } from '../ir/graph.js';
import { tensorType } from '../ir/types.js';
import { Tensor } from '../tensor.js';
import { evaluableOps, evaluateNode, inferNode } from './index.js';

type Ort = typeof import('onnxruntime-node');
let ort: Ort | undefined;
try { ort = await import('onnxruntime-node'); } catch { ort = undefined; }

// ---- minimal ModelProto writer (field numbers from onnx.proto) ----
const enc = new TextEncoder();
function varint(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do { let b = Number(v & 0x7fn); v >>= 7n; if (v) b |= 0x80; out.push(b); } while (v);
  return out;
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
const msg = (field: number, body: number[]) => [...key(field, 2), ...varint(body.length), ...body];
const str = (field: number, s: string) => msg(field, [...enc.encode(s)]);
const int = (field: number, n: number | bigint) => [...key(field, 0), ...varint(n)];
const f32 = (field: number, x: number) => [...key(field, 5), ...new Uint8Array(new Float32Array([x]).buffer)];

function attrProto(name: string, a: Attribute): number[] {
  switch (a.type) {
    case 'int': return [...str(1, name), ...int(20, 2), ...int(3, a.value)];
    case 'float': return [...str(1, name), ...int(20, 1), ...f32(2, a.value)];
    case 'ints': return [...str(1, name), ...int(20, 7), ...a.value.flatMap((v) => int(8, v))];
    case 'string': return [...str(1, name), ...int(20, 3), ...str(4, a.value)];
    default: throw new Error(`attribute type ${a.type} not needed here`);
  }
}
const typeProto = (dt: DType, shape: number[] | null) => msg(1, [...int(1, dt.onnx), ...(shape ? msg(2, shape.flatMap((d) => msg(1, int(1, d)))) : [])]);
const valueInfo = (field: number, name: string, dt: DType, shape: number[] | null) => msg(field, [...str(1, name), ...msg(2, typeProto(dt, shape))]);

interface Case { op: string; domain?: string; inputs: (Tensor | null)[]; outputs: (DType | null)[]; attrs?: Record<string, Attribute>; opset?: number; /** Output dims that depend on data may be inferred as unknown (null). */ dataDependent?: boolean }

function encodeModel(c: Case): Uint8Array {
  const ins = c.inputs.map((t, i) => (t ? `in${i}` : ''));
  const outs = c.outputs.map((t, i) => (t ? `out${i}` : ''));
  const node = [...ins.flatMap((n) => str(1, n)), ...outs.flatMap((n) => str(2, n)), ...str(4, c.op), ...str(7, c.domain ?? 'com.microsoft'),
    ...Object.entries(c.attrs ?? {}).flatMap(([k, a]) => msg(5, attrProto(k, a)))];
  const graph = [...msg(1, node), ...str(2, 'g'),
    ...c.inputs.flatMap((t, i) => (t ? valueInfo(11, `in${i}`, t.dtype, [...t.shape]) : [])),
    ...c.outputs.flatMap((t, i) => (t ? valueInfo(12, `out${i}`, t, null) : []))];
  return new Uint8Array([...int(1, 10), ...msg(8, [...str(1, ''), ...int(2, c.opset ?? 21)]), ...msg(8, [...str(1, 'com.microsoft'), ...int(2, 1)]), ...msg(7, graph)]);
}

/** Runs the case on ORT CPU and with inferNode (given constant inputs); returns both output shapes. */
async function check(c: Case): Promise<void> {
  const session = await ort!.InferenceSession.create(encodeModel(c), { executionProviders: ['cpu'] });
  const feeds: Record<string, InstanceType<Ort['Tensor']>> = {};
  c.inputs.forEach((t, i) => {
    if (!t) return;
    const d = t.data as Float32Array;
    feeds[`in${i}`] = new ort!.Tensor(t.dtype.ort as 'float32', d, [...t.shape]);
  });
  const res = await session.run(feeds);
  await session.release();
  const g = new Graph('g');
  const node = g.addNode({ op: c.op, domain: c.domain ?? 'com.microsoft', inputs: c.inputs.map((t, i) => (t ? g.addInput(`in${i}`, tensorType(t.dtype, t.shape)) : null)), outputs: c.outputs.map((t, i) => (t ? `out${i}` : null)), attrs: c.attrs ?? {} });
  const types = inferNode(node, (c.domain ?? 'com.microsoft') === '' ? c.opset ?? 21 : 1, { constInputs: c.inputs.map((t) => t ?? undefined), checkTypes: true });
  // Where the reference evaluator has a kernel, its values must match ORT's too (float32 tolerance).
  const evaluated = (c.domain ?? 'com.microsoft') === '' && evaluableOps().includes(c.op)
    ? evaluateNode(node, c.inputs.map((t) => t ?? undefined), c.opset ?? 21) : undefined;
  c.outputs.forEach((dt, i) => {
    if (!dt) return;
    const got = res[`out${i}`]!;
    const ev = evaluated?.[i];
    if (ev) {
      const want = Array.from(got.data as ArrayLike<number | bigint | string>, (v) => (typeof v === 'bigint' ? Number(v) : v));
      const mine = ev.toArray().map((v) => (typeof v === 'bigint' ? Number(v) : v));
      expect(mine.length, `${c.op} output ${i} size`).toBe(want.length);
      mine.forEach((v, k) => {
        const w = want[k]!;
        if (typeof v === 'number' && typeof w === 'number') expect(Math.abs(v - w) <= 1e-5 + 1e-3 * Math.abs(w), `${c.op} output ${i}[${k}]: ${v} vs ${w}`).toBe(true);
        else expect(v).toBe(w);
      });
    }
    const t = types[i];
    const dims = [...got.dims];
    if (c.dataDependent && t?.kind === 'tensor' && t.shape) t.shape.forEach((dd, k) => { if (dd === null) dims[k] = null as unknown as number; });
    expect(t && t.kind === 'tensor' ? { dtype: t.dtype?.name, shape: t.shape } : null, `${c.op} output ${i}`).toEqual({ dtype: dt.name, shape: dims });
  });
}

const rnd = (shape: number[], dt: DType = DTypes.float32) => Tensor.from(dt, shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (dt.isFloat ? Math.sin(i) : i % 7)));
const F = DTypes.float32;

describe.skipIf(!ort)('com.microsoft inference vs ONNX Runtime CPU', () => {
  it('MatMulNBits', async () => {
    await check({ op: 'MatMulNBits', inputs: [rnd([2, 3, 32]), rnd([8, 2, 8], DTypes.uint8), rnd([16])], outputs: [F], attrs: { K: attr.int(32), N: attr.int(8), bits: attr.int(4), block_size: attr.int(16) } });
  });
  it('GroupQueryAttention (prefill, with and without past)', async () => {
    const i32 = (shape: number[], v: number[]) => Tensor.from('int32', shape, v);
    const attrs = { num_heads: attr.int(4), kv_num_heads: attr.int(2) };
    await check({ op: 'GroupQueryAttention', inputs: [rnd([1, 4, 64]), rnd([1, 4, 32]), rnd([1, 4, 32]), null, null, i32([1], [3]), i32([], [4])], outputs: [F, F, F], attrs });
    await check({ op: 'GroupQueryAttention', inputs: [rnd([1, 1, 64]), rnd([1, 1, 32]), rnd([1, 1, 32]), rnd([1, 2, 4, 16]), rnd([1, 2, 4, 16]), i32([1], [4]), i32([], [5])], outputs: [F, F, F], attrs });
  });
  // SparseAttention is not run here: ORT CPU requires present_key/value to share past_key/value's
  // buffer (IO binding), which a plain session.run cannot arrange; infer.test.ts covers its shapes.
  it('MultiHeadAttention', async () => {
    await check({ op: 'MultiHeadAttention', inputs: [rnd([2, 3, 32]), rnd([2, 5, 32]), rnd([2, 5, 24])], outputs: [F], attrs: { num_heads: attr.int(4) } });
  });
  it('SkipLayerNormalization and SkipSimplifiedLayerNormalization', async () => {
    await check({ op: 'SkipLayerNormalization', inputs: [rnd([2, 3, 8]), rnd([2, 3, 8]), rnd([8]), rnd([8])], outputs: [F, null, null, F] });
    await check({ op: 'SkipSimplifiedLayerNormalization', inputs: [rnd([2, 3, 8]), rnd([2, 3, 8]), rnd([8])], outputs: [F, null, null, F] });
  });
  it('SimplifiedLayerNormalization (default domain, as ORT registers it)', async () => {
    await check({ op: 'SimplifiedLayerNormalization', domain: '', inputs: [rnd([2, 3, 8]), rnd([8])], outputs: [F] });
  });
  it('Gelu, FastGelu, BiasGelu, QuickGelu', async () => {
    await check({ op: 'Gelu', inputs: [rnd([2, 5])], outputs: [F] });
    await check({ op: 'FastGelu', inputs: [rnd([2, 5]), rnd([5])], outputs: [F] });
    await check({ op: 'BiasGelu', inputs: [rnd([2, 5]), rnd([5])], outputs: [F] });
    await check({ op: 'QuickGelu', inputs: [rnd([2, 5])], outputs: [F], attrs: { alpha: attr.float(1.5) } });
  });
  it('RotaryEmbedding', async () => {
    await check({ op: 'RotaryEmbedding', inputs: [rnd([1, 3, 32]), Tensor.from('int64', [1, 3], [0n, 1n, 2n]), rnd([8, 8]), rnd([8, 8])], outputs: [F], attrs: { num_heads: attr.int(2) } });
  });
  it('GatherBlockQuantized (uint8 packing two int4 per byte)', async () => {
    await check({ op: 'GatherBlockQuantized', inputs: [rnd([16, 16], DTypes.uint8), Tensor.from('int64', [2, 3], [0n, 1n, 2n, 3n, 4n, 5n]), rnd([16, 1])], outputs: [F], attrs: { block_size: attr.int(32), quantize_axis: attr.int(1), gather_axis: attr.int(0) } });
  });
  it('DequantizeLinear / QuantizeLinear (com.microsoft)', async () => {
    await check({ op: 'DequantizeLinear', inputs: [rnd([2, 4], DTypes.uint8), Tensor.from('float32', [], [0.5]), Tensor.from('uint8', [], [3])], outputs: [F] });
    await check({ op: 'QuantizeLinear', inputs: [rnd([2, 4]), Tensor.from('float32', [], [0.5]), Tensor.from('int8', [], [0])], outputs: [DTypes.int8] });
  });
});

const i64 = (v: number[], shape = [v.length]) => Tensor.from('int64', shape, v.map(BigInt));

describe.skipIf(!ort)('default-domain inference at opsets 18-23 vs ONNX Runtime CPU', () => {
  const d = (c: Omit<Case, 'domain'>) => check({ ...c, domain: '' });
  it('Split-18 num_outputs (uneven), ReduceMean-18 axes input, Pad-18 axes', async () => {
    await d({ op: 'Split', opset: 18, inputs: [rnd([7, 2])], outputs: [F, F, F], attrs: { num_outputs: attr.int(3) } });
    await d({ op: 'ReduceMean', opset: 18, inputs: [rnd([2, 3, 4]), i64([1])], outputs: [F], attrs: { keepdims: attr.int(0) } });
    await d({ op: 'Pad', opset: 18, inputs: [rnd([2, 3]), i64([1, 2]), null, i64([1])], outputs: [F] });
  });
  it('Resize-19 sizes with axes and keep_aspect_ratio_policy; scales', async () => {
    await d({ op: 'Resize', opset: 19, inputs: [rnd([1, 1, 4, 6]), null, null, i64([8, 8])], outputs: [F], attrs: { axes: attr.ints([2, 3]), keep_aspect_ratio_policy: attr.string('not_larger') } });
    await d({ op: 'Resize', opset: 19, inputs: [rnd([1, 1, 4, 6]), null, null, i64([8, 8])], outputs: [F], attrs: { axes: attr.ints([2, 3]), keep_aspect_ratio_policy: attr.string('not_smaller') } });
    await d({ op: 'Resize', opset: 19, inputs: [rnd([1, 2, 3, 5]), null, Tensor.from('float32', [4], [1, 1, 1.5, 0.6])], outputs: [F] });
    await d({ op: 'Resize', opset: 19, inputs: [rnd([1, 2, 3, 5]), null, Tensor.from('float32', [4], [1, 1, 1.7, 0.6])], outputs: [F], attrs: { mode: attr.string('linear'), coordinate_transformation_mode: attr.string('half_pixel_symmetric') } });
    await d({ op: 'Resize', opset: 19, inputs: [rnd([1, 1, 4, 4]), null, null, i64([3, 7])], outputs: [F], attrs: { mode: attr.string('cubic'), axes: attr.ints([2, 3]), exclude_outside: attr.int(1) } });
  });
  it('GroupNormalization-21, RMSNormalization-23, Gelu-20, Mish, BitwiseAnd', async () => {
    await d({ op: 'GroupNormalization', opset: 21, inputs: [rnd([2, 4, 3]), rnd([4]), rnd([4])], outputs: [F], attrs: { num_groups: attr.int(2) } });
    await d({ op: 'RMSNormalization', opset: 23, inputs: [rnd([2, 3, 8]), rnd([8])], outputs: [F] });
    await d({ op: 'Gelu', opset: 20, inputs: [rnd([2, 3])], outputs: [F], attrs: { approximate: attr.string('tanh') } });
    await d({ op: 'Mish', opset: 18, inputs: [rnd([4])], outputs: [F] });
    await d({ op: 'BitwiseAnd', opset: 18, inputs: [rnd([2, 1], DTypes.int32), rnd([3], DTypes.int32)], outputs: [DTypes.int32] });
  });
  it('Attention-23 and RotaryEmbedding-23', async () => {
    await d({ op: 'Attention', opset: 23, inputs: [rnd([1, 2, 3, 8]), rnd([1, 2, 5, 8]), rnd([1, 2, 5, 6])], outputs: [F] });
    await d({ op: 'Attention', opset: 23, inputs: [rnd([1, 3, 16]), rnd([1, 5, 8]), rnd([1, 5, 12])], outputs: [F], attrs: { q_num_heads: attr.int(2), kv_num_heads: attr.int(1) } });
    await d({ op: 'RotaryEmbedding', opset: 23, inputs: [rnd([1, 2, 3, 8]), rnd([8, 4]), rnd([8, 4]), i64([0, 1, 2], [1, 3])], outputs: [F] });
  });
  it('DFT-20, CenterCropPad-18, AffineGrid-20, Col2Im-18', async () => {
    await d({ op: 'DFT', opset: 20, inputs: [rnd([2, 8, 1])], outputs: [F] });
    await d({ op: 'DFT', opset: 20, inputs: [rnd([2, 8, 1]), null, i64([1], [])], outputs: [F], attrs: { onesided: attr.int(1) } });
    await d({ op: 'CenterCropPad', opset: 18, inputs: [rnd([5, 7]), i64([4, 9])], outputs: [F] });
    await d({ op: 'AffineGrid', opset: 20, inputs: [rnd([2, 2, 3]), i64([2, 3, 4, 5])], outputs: [F] });
    await d({ op: 'Col2Im', opset: 18, inputs: [rnd([1, 4, 9]), i64([4, 4]), i64([2, 2])], outputs: [F] });
  });
  it('MaxRoiPool, DeformConv-19, StringConcat-20, StringSplit-20', async () => {
    await d({ op: 'MaxRoiPool', opset: 21, inputs: [rnd([1, 3, 8, 8]), Tensor.from('float32', [2, 5], [0, 0, 0, 4, 4, 0, 1, 1, 6, 6])], outputs: [F], attrs: { pooled_shape: attr.ints([2, 3]) } });
    await d({ op: 'DeformConv', opset: 19, inputs: [rnd([1, 2, 5, 5]), rnd([4, 2, 3, 3]), rnd([1, 18, 3, 3])], outputs: [F], attrs: { kernel_shape: attr.ints([3, 3]) } });
    await d({ op: 'StringConcat', opset: 20, inputs: [Tensor.from('string', [2, 1], ['a', 'b']), Tensor.from('string', [3], ['x', 'y', 'z'])], outputs: [DTypes.string] });
    await d({ op: 'StringSplit', opset: 20, inputs: [Tensor.from('string', [2], ['a b c', 'd'])], outputs: [DTypes.string, DTypes.int64], dataDependent: true });
  });
  it('blocked DequantizeLinear-21 and QuantizeLinear-21, ScatterND-18 reduction, Shape-21 start/end', async () => {
    const scales = Tensor.from('float32', [4, 2], [0.5, 0.25, 0.1, 2, 0.03, 0.7, 1, 0.125]);
    await d({ op: 'DequantizeLinear', opset: 21, inputs: [rnd([4, 8], DTypes.int8), scales, null], outputs: [F], attrs: { axis: attr.int(1), block_size: attr.int(4) } });
    await d({ op: 'QuantizeLinear', opset: 21, inputs: [rnd([4, 8]), scales, Tensor.from('int8', [4, 2], [0, 1, -2, 3, 0, 0, 5, -1])], outputs: [DTypes.int8], attrs: { axis: attr.int(1), block_size: attr.int(4) } });
    await d({ op: 'ScatterND', opset: 18, inputs: [rnd([4]), i64([1], [1, 1]), rnd([1])], outputs: [F], attrs: { reduction: attr.string('max') } });
    await d({ op: 'Shape', opset: 21, inputs: [rnd([2, 3, 4, 5])], outputs: [DTypes.int64], attrs: { start: attr.int(1), end: attr.int(-1) } });
  });
});
