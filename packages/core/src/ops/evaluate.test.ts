import { describe, expect, it } from 'vitest';
import { DTypes } from '../dtype.js';
import { isLeanformerError } from '../errors.js';
import { attr, type Attribute } from '../ir/attribute.js';
import { Graph } from '../ir/graph.js';
import { Tensor } from '../tensor.js';
import { evaluateNode } from './index.js';
import { erf } from './evaluate.js';

/** Runs one node on constant inputs. */
function run(op: string, inputs: (Tensor | null)[], attrs: Record<string, Attribute> = {}, opts: { opset?: number; outputs?: number; maxElements?: number } = {}) {
  const g = new Graph('t');
  const ins = inputs.map((t, i) => (t ? g.addInput(`x${i}`, null) : null));
  const n = g.addNode({ op, inputs: ins, attrs, outputs: Array.from({ length: opts.outputs ?? 1 }, (_, i) => `y${i}`) });
  return evaluateNode(n, inputs.map((t) => t ?? undefined), opts.opset ?? 17, opts.maxElements ? { maxElements: opts.maxElements } : {});
}
const T = Tensor.from;
const i64 = (v: number[], shape = [v.length]) => T('int64', shape, v.map(BigInt));
const vals = (t: Tensor | undefined) => t!.toArray().map(Number);

describe('evaluateNode', () => {
  it('broadcasts arithmetic in float64 and casts to the output dtype', () => {
    const [y] = run('Add', [T('float32', [2, 1], [1, 2]), T('float32', [3], [10, 20, 30])])!;
    expect(y!.shape).toEqual([2, 3]);
    expect(vals(y)).toEqual([11, 21, 31, 12, 22, 32]);
    expect(vals(run('Div', [T('int32', [3], [7, -7, 9]), T('int32', [], [2])])![0])).toEqual([3, -3, 4]); // truncation
    expect(vals(run('Mod', [T('int32', [2], [-7, 7]), T('int32', [], [3])])![0])).toEqual([2, 1]); // sign of divisor
    expect(vals(run('Mod', [T('float32', [1], [-7]), T('float32', [], [3])], { fmod: attr.int(1) })![0])).toEqual([-1]);
    const h = run('Mul', [T('float16', [2], [1.5, 2]), T('float16', [2], [2, 0.25])])![0]!;
    expect(h.dtype).toBe(DTypes.float16);
    expect(vals(h)).toEqual([3, 0.5]);
  });

  it('refuses integer results float64 cannot hold exactly, and oversized outputs', () => {
    expect(run('Mul', [i64([2 ** 40]), i64([2 ** 20])])).toBeUndefined();
    expect(run('ConstantOfShape', [i64([2000, 2000])])).toBeUndefined();
    expect(run('Expand', [T('float32', [1], [1]), i64([10, 10])], {}, { maxElements: 50 })).toBeUndefined();
    expect(run('Expand', [T('float32', [1], [1]), i64([5, 10])], {}, { maxElements: 50 })![0]!.size).toBe(50);
  });

  it('returns undefined for unsupported ops or missing inputs', () => {
    expect(run('NonMaxSuppression', [T('float32', [1, 1, 4], [0, 0, 1, 1]), T('float32', [1, 1, 1], [1])])).toBeUndefined();
    expect(() => run('Conv', [T('float32', [1], [1]), T('float32', [1], [1])])).toThrow(/X must have rank ≥ 3/);
    const g = new Graph('t');
    const n = g.addNode({ op: 'Add', inputs: [g.addInput('a', null), g.addInput('b', null)] });
    expect(evaluateNode(n, [T('float32', [1], [1]), undefined], 17)).toBeUndefined();
  });

  it('moves data exactly for any dtype (int64 beyond 2^53, strings)', () => {
    const big = T('int64', [2, 2], [2n ** 62n, -3n, 5n, 2n ** 60n + 1n]);
    expect(run('Transpose', [big])![0]!.toArray()).toEqual([2n ** 62n, 5n, -3n, 2n ** 60n + 1n]);
    expect(run('Gather', [big, i64([-1])], { axis: attr.int(1) })![0]!.toArray()).toEqual([-3n, 2n ** 60n + 1n]);
    const s = T('string', [3], ['a', 'b', 'c']);
    expect(run('Slice', [s, i64([2]), i64([-10]), i64([0]), i64([-1])])![0]!.toArray()).toEqual(['c', 'b', 'a']);
    expect(run('Concat', [s, T('string', [1], ['d'])], { axis: attr.int(0) })![0]!.toArray()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('computes Shape/Reshape/Unsqueeze/Squeeze/Flatten/Tile/Split/Where', () => {
    const x = T('float32', [2, 3], [1, 2, 3, 4, 5, 6]);
    expect(run('Shape', [x], { start: attr.int(-1) })![0]!.toArray()).toEqual([3n]);
    expect(run('Reshape', [x, i64([1, 0, -1])], { allowzero: attr.int(0) })![0]!.shape).toEqual([1, 3, 2]);
    expect(run('Reshape', [T('float32', [0, 3], []), i64([3, 0])], { allowzero: attr.int(1) })![0]!.shape).toEqual([3, 0]);
    expect(() => run('Reshape', [x, i64([4, -1])])).toThrow(/cannot reshape/);
    expect(run('Unsqueeze', [x, i64([0, 3])])![0]!.shape).toEqual([1, 2, 3, 1]);
    expect(run('Squeeze', [T('float32', [1, 2, 1], [1, 2])])![0]!.shape).toEqual([2]);
    expect(run('Flatten', [T('float32', [2, 3, 4], new Array(24).fill(0))], { axis: attr.int(2) })![0]!.shape).toEqual([6, 4]);
    expect(vals(run('Tile', [T('int32', [2], [1, 2]), i64([3])])![0])).toEqual([1, 2, 1, 2, 1, 2]);
    const parts = run('Split', [x, i64([1, 2])], { axis: attr.int(1) }, { outputs: 2 })!;
    expect(parts.map((p) => [p.shape, vals(p)])).toEqual([[[2, 1], [1, 4]], [[2, 2], [2, 3, 5, 6]]]);
    const w = run('Where', [T('bool', [3], [1, 0, 1]), T('int64', [3], [1n, 2n, 3n]), T('int64', [], [-1n])])![0]!;
    expect(w.toArray()).toEqual([1n, -1n, 3n]);
  });

  it('casts between all numeric dtypes with C semantics and rounds fp16/bf16 to nearest even', () => {
    const x = T('float32', [4], [1.7, -1.7, 300, 1 + 2 ** -9]);
    expect(vals(run('Cast', [x], { to: attr.int(6) })![0])).toEqual([1, -1, 300, 1]);
    expect(vals(run('Cast', [x], { to: attr.int(2) })![0])).toEqual([1, 255, 44, 1]); // wraps like a C cast
    expect([...(run('Cast', [T('float32', [1], [1 + 2 ** -11])], { to: attr.int(10) })![0]!.data as Uint16Array)]).toEqual([0x3c00]);
    expect([...(run('Cast', [T('float32', [1], [1 + 2 ** -8])], { to: attr.int(16) })![0]!.data as Uint16Array)]).toEqual([0x3f80]);
    expect(run('Cast', [T('int64', [1], [2n ** 62n])], { to: attr.int(7) })![0]!.toArray()).toEqual([2n ** 62n]);
    expect(vals(run('Cast', [T('string', [3], ['1.5', '-INF', 'NaN'])], { to: attr.int(1) })![0])).toEqual([1.5, -Infinity, NaN]);
    expect(vals(run('Cast', [T('float32', [2], [0, 0.5])], { to: attr.int(9) })![0])).toEqual([0, 1]);
  });

  it('reduces, takes argmax and matmuls against a float64 reference', () => {
    const data = Array.from({ length: 24 }, (_, i) => Math.sin(i) * 3);
    const x = T('float64', [2, 3, 4], data);
    const sum = run('ReduceSum', [x, i64([1])], { keepdims: attr.int(0) }, { opset: 13 })![0]!;
    const ref: number[] = [];
    for (let a = 0; a < 2; a++) for (let c = 0; c < 4; c++) { let s = 0; for (let b = 0; b < 3; b++) s += data[a * 12 + b * 4 + c]!; ref.push(s); }
    expect(sum.shape).toEqual([2, 4]);
    vals(sum).forEach((v, i) => expect(v).toBeCloseTo(ref[i]!, 12));
    const am = run('ArgMax', [x], { axis: attr.int(2), keepdims: attr.int(0) })![0]!;
    const refArg = Array.from({ length: 6 }, (_, r) => { const row = data.slice(r * 4, r * 4 + 4); return row.indexOf(Math.max(...row)); });
    expect(vals(am)).toEqual(refArg);
    const a = T('float32', [2, 3], [1, 2, 3, 4, 5, 6]);
    const b = T('float32', [3, 2], [7, 8, 9, 10, 11, 12]);
    expect(vals(run('MatMul', [a, b])![0])).toEqual([58, 64, 139, 154]);
    expect(vals(run('MatMul', [T('int32', [3], [1, 2, 3]), T('int32', [3], [4, 5, 6])])![0])).toEqual([32]);
    const keepAll = run('ReduceMax', [x], {}, { opset: 18 })![0]!;
    expect(keepAll.shape).toEqual([1, 1, 1]);
    expect(vals(keepAll)[0]).toBe(Math.max(...data));
  });

  it('softmax sums to one along the axis', () => {
    const x = T('float32', [2, 3], [1, 2, 3, -1, 0, 1000]);
    const y = vals(run('Softmax', [x], {}, { opset: 13 })![0]);
    expect(y[0]! + y[1]! + y[2]!).toBeCloseTo(1, 6);
    expect(y[2]).toBeCloseTo(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3)), 6);
    expect(y[5]).toBe(1);
  });

  it('quantizes per tensor and per axis with round-half-to-even and saturation', () => {
    const x = T('float32', [2, 3], [0.5, 1.5, 2.5, -300, 300, 1]);
    const q = run('QuantizeLinear', [x, T('float32', [], [1]), T('int8', [], [0])])![0]!;
    expect(q.dtype).toBe(DTypes.int8);
    expect(vals(q)).toEqual([0, 2, 2, -128, 127, 1]);
    const qa = run('QuantizeLinear', [x, T('float32', [2], [1, 2]), T('uint8', [2], [10, 20])], { axis: attr.int(0) })![0]!;
    expect(vals(qa)).toEqual([10, 12, 12, 0, 170, 20]);
    const dq = run('DequantizeLinear', [qa, T('float32', [2], [1, 2]), T('uint8', [2], [10, 20])], { axis: attr.int(0) })![0]!;
    expect(vals(dq)).toEqual([0, 2, 2, -40, 300, 0]);
    const q4 = run('QuantizeLinear', [T('float32', [3], [-9, 3.5, 7]), T('float32', [], [1]), T('int4', [], [0])])![0]!;
    expect(q4.dtype).toBe(DTypes.int4);
    expect(vals(q4)).toEqual([-8, 4, 7]);
  });

  it('convolves and pools against a direct float64 reference', () => {
    // 1×2×4×4 input, 3 output channels, 3×3 kernel, stride 2, pad 1, and a 2-group variant.
    const x = Array.from({ length: 32 }, (_, i) => Math.cos(i * 0.7));
    const w = Array.from({ length: 3 * 2 * 9 }, (_, i) => Math.sin(i * 0.3));
    const y = run('Conv', [T('float64', [1, 2, 4, 4], x), T('float64', [3, 2, 3, 3], w), T('float64', [3], [0.5, -1, 2])], { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) })![0]!;
    expect(y.shape).toEqual([1, 3, 2, 2]);
    const ref: number[] = [];
    for (let m = 0; m < 3; m++) for (let oh = 0; oh < 2; oh++) for (let ow = 0; ow < 2; ow++) {
      let s = [0.5, -1, 2][m]!;
      for (let c = 0; c < 2; c++) for (let kh = 0; kh < 3; kh++) for (let kw = 0; kw < 3; kw++) {
        const h = oh * 2 + kh - 1;
        const ww = ow * 2 + kw - 1;
        if (h >= 0 && h < 4 && ww >= 0 && ww < 4) s += x[c * 16 + h * 4 + ww]! * w[((m * 2) + c) * 9 + kh * 3 + kw]!;
      }
      ref.push(s);
    }
    vals(y).forEach((v, i) => expect(v).toBeCloseTo(ref[i]!, 12));
    const g = run('Conv', [T('float64', [1, 2, 4, 4], x), T('float64', [2, 1, 1, 1], [2, 3])], { group: attr.int(2) })![0]!;
    expect(vals(g)).toEqual(x.map((v, i) => v * (i < 16 ? 2 : 3)));
    const [mp, idx] = run('MaxPool', [T('float64', [1, 1, 4, 4], x.slice(0, 16))], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) }, { outputs: 2 })!;
    const refMax = [0, 2, 8, 10].map((o) => Math.max(x[o]!, x[o + 1]!, x[o + 4]!, x[o + 5]!));
    expect(vals(mp)).toEqual(refMax);
    expect(vals(idx)).toEqual([0, 2, 8, 10].map((o) => [o, o + 1, o + 4, o + 5].find((k) => x[k] === refMax[[0, 2, 8, 10].indexOf(o)])));
    const pad = run('Pad', [T('int32', [3], [1, 2, 3]), i64([2, 1])], { mode: attr.string('reflect') })![0]!;
    expect(vals(pad)).toEqual([3, 2, 1, 2, 3, 2]);
  });

  it('erf matches known values', () => {
    expect(erf(0)).toBe(0);
    expect(erf(1e-5)).toBeCloseTo(1.1283791670578999e-5, 15);
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(-2)).toBeCloseTo(-0.9953222650189527, 14);
    expect(erf(4.5)).toBeCloseTo(0.9999999998033839, 13);
  });

  it('wraps invalid inputs as EXECUTION_FAILED naming the node', () => {
    try { run('Gather', [T('float32', [2], [1, 2]), i64([5])]); expect.unreachable(); } catch (e) {
      expect(isLeanformerError(e, 'EXECUTION_FAILED')).toBe(true);
      expect((e as Error).message).toMatch(/Gather node.*index 5 is out of range/);
    }
  });
});
