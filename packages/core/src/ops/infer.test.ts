import { describe, expect, it } from 'vitest';
import { DTypes } from '../dtype.js';
import { isLeanformerError } from '../errors.js';
import { attr } from '../ir/attribute.js';
import { Graph } from '../ir/graph.js';
import { formatType, tensorType, type Dim, type ValueType } from '../ir/types.js';
import { Tensor } from '../tensor.js';
import { allSchemas, getSchema, registerSchema } from './schema.js';
import { inferNode } from './index.js';
import { broadcastShapes } from './infer-util.js';

const f32 = (shape: Dim[] | null) => tensorType(DTypes.float32, shape);

/** Builds a one-node graph; `consts` become initializers. Returns formatted output types. */
function infer(op: string, inputs: (ValueType | Tensor | null)[], attrs: Record<string, ReturnType<typeof attr.int>> = {}, opts: { opset?: number; outputs?: number; domain?: string } = {}): string[] {
  const g = new Graph('t');
  const ins = inputs.map((x, i) => (x === null ? null : x instanceof Tensor ? g.addInitializer(`c${i}`, x) : g.addInput(`x${i}`, x)));
  // explicit output names: Graph.addNode gives every generated output the same name when there are several
  const n = g.addNode({ op, domain: opts.domain ?? '', inputs: ins, attrs, outputs: Array.from({ length: opts.outputs ?? 1 }, (_, i) => `y${i}`) });
  return inferNode(n, opts.opset ?? 17).map(formatType);
}
const i64 = (v: number[]) => Tensor.from('int64', [v.length], v.map(BigInt));

describe('broadcastShapes', () => {
  it('follows numpy rules and keeps symbols', () => {
    expect(broadcastShapes(['batch', 1, 4], [3, 1])).toEqual(['batch', 3, 4]);
    expect(broadcastShapes([2, 'n'], ['n'])).toEqual([2, 'n']);
    expect(broadcastShapes(['a'], ['b'])).toEqual([null]);
    expect(broadcastShapes([null], [5])).toEqual([5]);
    expect(broadcastShapes(null, [5])).toBeNull();
    expect(() => broadcastShapes([2, 3], [4])).toThrow(/Cannot broadcast shapes \[2, 3\] and \[4\]/);
  });
});

describe('schema registry', () => {
  it('holds built-in versions and picks the one in force', () => {
    expect(getSchema('', 'Reshape', 4)!.since).toBe(1);
    expect(getSchema('', 'LayerNormalization', 16)).toBeUndefined();
    expect(getSchema('', 'Reshape', 12)!.since).toBe(5);
    expect(getSchema('', 'Squeeze', 12)!.inputs.length).toBe(1);
    expect(getSchema('', 'Squeeze', 13)!.inputs.length).toBe(2);
    expect(getSchema('ai.onnx', 'ReduceMean', 18)!.inputs[1]!.option).toBe('optional');
    expect(getSchema('com.microsoft', 'MatMulNBits', 1)!.attributes!.bits!.default).toBe(4);
    expect(allSchemas().length).toBeGreaterThan(400);
  });
  it('refuses to register a duplicate version, including built-ins', () => {
    expect(() => registerSchema({ domain: '', name: 'Relu', since: 14, inputs: [], outputs: [] })).toThrow(/already registered/);
    registerSchema({ domain: 'test.h2', name: 'MyOp', since: 1, inputs: [{ name: 'x' }], outputs: [{ name: 'y' }], infer: (c) => [c.inputTypes[0] ?? null] });
    expect(getSchema('test.h2', 'MyOp')!.since).toBe(1);
  });
});

describe('inferNode', () => {
  it('broadcasts element-wise ops and keeps symbols', () => {
    expect(infer('Add', [f32(['batch', 3, 1]), f32([4])])).toEqual(['float32[batch, 3, 4]']);
    expect(infer('Less', [f32(['n']), f32([])])).toEqual(['bool[n]']);
    expect(infer('Where', [tensorType(DTypes.bool, [2, 1]), f32([1, 3]), f32([])])).toEqual(['float32[2, 3]']);
    expect(infer('Cast', [f32(['n'])], { to: attr.int(10) })).toEqual(['float16[n]']);
  });
  it('names the node on inconsistent inputs', () => {
    try { infer('Add', [f32([2]), f32([3])]); expect.unreachable(); } catch (e) {
      expect(isLeanformerError(e, 'SHAPE_INFERENCE')).toBe(true);
      expect((e as Error).message).toMatch(/Add node.*broadcast/);
    }
    expect(() => infer('Relu', [null])).toThrow(/required input 0 \('X'\) is missing/);
    expect(() => infer('Relu', [f32([1]), f32([1])])).toThrow(/at most 1 allowed/);
  });
  it('uses constant inputs for Reshape, Expand, Slice, Tile, Pad, ConstantOfShape, Range', () => {
    expect(infer('Reshape', [f32(['b', 12, 64]), i64([0, -1])])).toEqual(['float32[b, 768]']);
    expect(infer('Reshape', [f32(['b', 's', 768]), i64([0, 0, 12, 64])])).toEqual(['float32[b, s, 12, 64]']);
    expect(infer('Reshape', [f32(['b', 's', 768]), i64([0, 0, -1, 64])])).toEqual(['float32[b, s, 12, 64]']);
    expect(infer('Reshape', [f32(['b', 4]), tensorType(DTypes.int64, [3])])).toEqual(['float32[?, ?, ?]']);
    expect(() => infer('Reshape', [f32([2, 3]), i64([4, 2])])).toThrow(/6 elements/);
    expect(infer('Expand', [f32([3, 1]), i64([2, 1, 4])])).toEqual(['float32[2, 3, 4]']);
    expect(infer('Slice', [f32([10, 'n']), i64([1]), i64([-1]), i64([0])])).toEqual(['float32[8, n]']);
    expect(infer('Slice', [f32([10]), i64([-1]), i64([-1000]), i64([0]), i64([-2])])).toEqual(['float32[5]']);
    expect(infer('Tile', [f32([2, 'n']), i64([3, 1])])).toEqual(['float32[6, n]']);
    expect(infer('Pad', [f32([2, 3]), i64([1, 0, 1, 2])])).toEqual(['float32[4, 5]']);
    expect(infer('ConstantOfShape', [i64([2, 3])], { value: attr.tensor(Tensor.from('int32', [1], [7])) })).toEqual(['int32[2, 3]']);
    expect(infer('Range', [Tensor.from('int64', [], [0n]), Tensor.from('int64', [], [10n]), Tensor.from('int64', [], [3n])])).toEqual(['int64[4]']);
  });
  it('handles axes as attribute before opset 13 and as input after', () => {
    expect(infer('Unsqueeze', [f32(['n'])], { axes: attr.ints([0, -1]) }, { opset: 11 })).toEqual(['float32[1, n, 1]']);
    expect(infer('Unsqueeze', [f32(['n']), i64([0, -1])], {}, { opset: 13 })).toEqual(['float32[1, n, 1]']);
    expect(infer('Squeeze', [f32([1, 'n', 1]), i64([0])], {}, { opset: 13 })).toEqual(['float32[n, 1]']);
    expect(infer('ReduceSum', [f32([2, 3, 4]), i64([1])], { keepdims: attr.int(0) }, { opset: 13 })).toEqual(['float32[2, 4]']);
    expect(infer('ReduceMean', [f32([2, 3, 4])], { axes: attr.ints([-1]) }, { opset: 13 })).toEqual(['float32[2, 3, 1]']);
    expect(infer('ReduceMean', [f32([2, 3, 4]), tensorType(DTypes.int64, [1])], {}, { opset: 18 })).toEqual(['float32[?, ?, ?]']);
  });
  it('infers conv, pooling, matmul and gemm shapes', () => {
    expect(infer('Conv', [f32(['N', 3, 224, 224]), f32([64, 3, 7, 7])], { strides: attr.ints([2, 2]), pads: attr.ints([3, 3, 3, 3]) })).toEqual(['float32[N, 64, 112, 112]']);
    expect(infer('MaxPool', [f32([1, 64, 112, 112])], { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) }, { outputs: 2 })).toEqual(['float32[1, 64, 56, 56]', 'int64[1, 64, 56, 56]']);
    expect(infer('MatMul', [f32(['b', 1, 's', 64]), f32([12, 64, 's'])])).toEqual(['float32[b, 12, s, s]']);
    expect(infer('MatMul', [f32([64]), f32([64, 8])])).toEqual(['float32[8]']);
    expect(infer('Gemm', [f32([4, 'k']), f32([5, 'k'])], { transB: attr.int(1) })).toEqual(['float32[4, 5]']);
  });
  it('infers com.microsoft transformer ops', () => {
    expect(infer('MatMulNBits', [f32(['b', 's', 4096]), tensorType(DTypes.uint8, [11008, 128, 16]), f32([11008 * 128])], { K: attr.int(4096), N: attr.int(11008), block_size: attr.int(32) }, { domain: 'com.microsoft', opset: 1 })).toEqual(['float32[b, s, 11008]']);
    const f16 = (s: Dim[]) => tensorType(DTypes.float16, s);
    const gqa = infer('GroupQueryAttention', [f16(['b', 's', 4096]), f16(['b', 's', 1024]), f16(['b', 's', 1024]), f16(['b', 8, 'past', 128]), f16(['b', 8, 'past', 128]), tensorType(DTypes.int32, ['b']), tensorType(DTypes.int32, [])], { num_heads: attr.int(32), kv_num_heads: attr.int(8) }, { domain: 'com.microsoft', opset: 1, outputs: 3 });
    expect(gqa).toEqual(['float16[b, s, 4096]', 'float16[b, 8, ?, 128]', 'float16[b, 8, ?, 128]']);
    expect(infer('SkipLayerNormalization', [f32(['b', 's', 768]), f32(['b', 's', 768]), f32([768])], {}, { domain: 'com.microsoft', opset: 1, outputs: 4 })).toEqual(['float32[b, s, 768]', 'float32[b, s, 1]', 'float32[b, s, 1]', 'float32[b, s, 768]']);
    const sa = infer('SparseAttention', [f16(['b', 's', 4096]), f16(['b', 's', 1024]), f16(['b', 's', 1024]), f16(['b', 8, 4096, 128]), f16(['b', 8, 4096, 128]), tensorType(DTypes.int32, [1, 33]), tensorType(DTypes.int32, [1, 528]), tensorType(DTypes.int32, []), tensorType(DTypes.int32, ['b'])], { num_heads: attr.int(32), kv_num_heads: attr.int(8), sparse_block_size: attr.int(64) }, { domain: 'com.microsoft', opset: 1, outputs: 3 });
    expect(sa).toEqual(['float16[b, s, 4096]', 'float16[b, 8, 4096, 128]', 'float16[b, 8, 4096, 128]']); // present shares past's buffer
    expect(infer('GatherBlockQuantized', [tensorType(DTypes.uint8, [32000, 2048]), tensorType(DTypes.int64, ['b', 's']), tensorType(DTypes.float16, [32000, 128])], { block_size: attr.int(32) }, { domain: 'com.microsoft', opset: 1 })).toEqual(['float16[b, s, 4096]']);
  });
  it('checks type constraints on request', () => {
    const g = new Graph('t');
    const a = g.addInput('a', f32([2]));
    const h = g.addInput('h', tensorType(DTypes.float16, [2]));
    const s = g.addInput('s', tensorType(DTypes.string, [2]));
    const add = g.addNode({ op: 'Add', inputs: [a, h], outputs: ['y'] });
    expect(inferNode(add, 17)[0]).not.toBeNull(); // unchecked by default
    expect(() => inferNode(add, 17, { checkTypes: true })).toThrow(/inputs 0 and 1 are both of type T but have dtypes float32 and float16/);
    const relu = g.addNode({ op: 'Relu', inputs: [s], outputs: ['r'] });
    expect(() => inferNode(relu, 17, { checkTypes: true })).toThrow(/input 0 \('X'\) has dtype string; allowed for T: float16, float32/);
    const cat = g.addNode({ op: 'Concat', inputs: [a, h], attrs: { axis: attr.int(0) }, outputs: ['c'] });
    expect(() => inferNode(cat, 17, { checkTypes: true })).toThrow(/both of type T/);
    const rs = g.addNode({ op: 'Reshape', inputs: [a, g.addInput('shp', tensorType(DTypes.int32, [1]))], outputs: ['rs'] });
    expect(() => inferNode(rs, 17, { checkTypes: true })).toThrow(/input 1 \('shape'\) has dtype int32; allowed: int64/);
  });

  it('gives nulls for ops without a schema', () => {
    expect(infer('NoSuchOp', [f32([1])], {}, { outputs: 2 })).toEqual(['?', '?']);
  });
});
