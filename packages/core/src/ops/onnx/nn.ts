// Neural-network ops: MatMul/Gemm, convolution, pooling, recurrent cells, and other image/detection ops.
import { DTypes } from '../../dtype.js';
import type { Dim } from '../../ir/types.js';
import { attrInt, attrInts, attrString, broadcastShapes, constInts, hasInput, I64, inDtype, inShape, mergeDim, out, unknownShape } from '../infer-util.js';
import type { InferenceContext, InferFn, OpSchema } from '../schema.js';
import { a, FLOAT, NUM, schemas, type OpDef } from './define.js';

/** numpy.matmul shape rule (1-D operands promoted and the added dim removed). */
export function matmulShape(ctx: InferenceContext, sa: readonly Dim[] | null, sb: readonly Dim[] | null): Dim[] | null {
  if (!sa || !sb) return null;
  if (sa.length === 0 || sb.length === 0) ctx.fail('MatMul operands must have rank ≥ 1');
  const A = sa.length === 1 ? [1, sa[0]!] : sa;
  const B = sb.length === 1 ? [sb[0]!, 1] : sb;
  const k1 = A[A.length - 1]!;
  const k2 = B[B.length - 2]!;
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) ctx.fail(`inner dims differ: [${sa.join(', ')}] × [${sb.join(', ')}]`);
  const batch = broadcastShapes(A.slice(0, -2), B.slice(0, -2));
  const res: Dim[] = [...batch];
  if (sa.length !== 1) res.push(A[A.length - 2]!);
  if (sb.length !== 1) res.push(B[B.length - 1]!);
  return res;
}

const matmulInfer: InferFn = (ctx) => [out(inDtype(ctx, 0), matmulShape(ctx, inShape(ctx, 0), inShape(ctx, 1)))];

const gemmInfer: InferFn = (ctx) => {
  const sa = inShape(ctx, 0);
  const sb = inShape(ctx, 1);
  const ta = attrInt(ctx, 'transA', 0) !== 0;
  const tb = attrInt(ctx, 'transB', 0) !== 0;
  const m = sa && sa.length === 2 ? sa[ta ? 1 : 0]! : null;
  const n = sb && sb.length === 2 ? sb[tb ? 0 : 1]! : null;
  return [out(inDtype(ctx, 0), [m, n])];
};

/** Kernel spatial shape: attribute, else the weight's trailing dims. */
function kernelShape(ctx: InferenceContext, wIndex: number | null, spatial: number): Dim[] {
  const k = attrInts(ctx, 'kernel_shape');
  if (k) return k;
  const w = wIndex === null ? null : inShape(ctx, wIndex);
  return w ? w.slice(2) : new Array<Dim>(spatial).fill(null);
}

/** Output spatial dims of a convolution or pooling window. */
function windowDims(ctx: InferenceContext, x: readonly Dim[], kernel: readonly Dim[], ceil = false): Dim[] {
  const n = x.length - 2;
  const strides = attrInts(ctx, 'strides') ?? new Array<number>(n).fill(1);
  const dil = attrInts(ctx, 'dilations') ?? new Array<number>(n).fill(1);
  const pads = attrInts(ctx, 'pads') ?? new Array<number>(2 * n).fill(0);
  const autoPad = attrString(ctx, 'auto_pad', 'NOTSET');
  const res: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const d = x[i + 2]!;
    const k = kernel[i]!;
    const s = strides[i]!;
    if (typeof d !== 'number' || typeof k !== 'number') { res.push(null); continue; }
    const ek = (k - 1) * dil[i]! + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') { res.push(Math.ceil(d / s)); continue; }
    if (autoPad === 'VALID') { res.push(Math.floor((d - ek) / s) + 1); continue; }
    const total = d + pads[i]! + pads[i + n]! - ek;
    let o = (ceil ? Math.ceil(total / s) : Math.floor(total / s)) + 1;
    // A window that would start inside the trailing padding is dropped (ceil mode).
    if (ceil && (o - 1) * s >= d + pads[i]!) o--;
    res.push(o);
  }
  return res;
}

const convInfer: InferFn = (ctx) => {
  const x = inShape(ctx, 0);
  const w = inShape(ctx, 1);
  const dt = ctx.node.op === 'ConvInteger' ? DTypes.int32 : ctx.node.op === 'QLinearConv' ? inDtype(ctx, 7) : inDtype(ctx, 0);
  const wIdx = ctx.node.op === 'QLinearConv' ? 3 : 1;
  const ws = ctx.node.op === 'QLinearConv' ? inShape(ctx, 3) : w;
  if (!x) return [out(dt, null)];
  const k = kernelShape(ctx, wIdx, x.length - 2);
  return [out(dt, [x[0]!, ws ? ws[0]! : null, ...windowDims(ctx, x, k)])];
};

const convTransposeInfer: InferFn = (ctx) => {
  const x = inShape(ctx, 0);
  const w = inShape(ctx, 1);
  const dt = inDtype(ctx, 0);
  if (!x) return [out(dt, null)];
  const n = x.length - 2;
  const group = attrInt(ctx, 'group', 1)!;
  const c: Dim = w && typeof w[1] === 'number' ? w[1] * group : null;
  const outputShape = attrInts(ctx, 'output_shape');
  if (outputShape) return [out(dt, [x[0]!, c, ...outputShape.slice(-n)])];
  const k = kernelShape(ctx, 1, n);
  const strides = attrInts(ctx, 'strides') ?? new Array<number>(n).fill(1);
  const dil = attrInts(ctx, 'dilations') ?? new Array<number>(n).fill(1);
  const pads = attrInts(ctx, 'pads') ?? new Array<number>(2 * n).fill(0);
  const opad = attrInts(ctx, 'output_padding') ?? new Array<number>(n).fill(0);
  const autoPad = attrString(ctx, 'auto_pad', 'NOTSET');
  const sp: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const d = x[i + 2]!;
    const kk = k[i]!;
    if (typeof d !== 'number' || typeof kk !== 'number') { sp.push(null); continue; }
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') { sp.push(d * strides[i]!); continue; }
    sp.push(strides[i]! * (d - 1) + opad[i]! + (kk - 1) * dil[i]! + 1 - pads[i]! - pads[i + n]!);
  }
  return [out(dt, [x[0]!, c, ...sp])];
};

const poolInfer: InferFn = (ctx) => {
  const x = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  if (!x) return [out(dt, null), out(I64, null)];
  const k = kernelShape(ctx, null, x.length - 2);
  const s = [x[0]!, x[1]!, ...windowDims(ctx, x, k, attrInt(ctx, 'ceil_mode', 0) !== 0)];
  return [out(dt, s), out(I64, s)];
};

const globalPoolInfer: InferFn = (ctx) => {
  const x = inShape(ctx, 0);
  return [out(inDtype(ctx, 0), x ? [x[0]!, x[1]!, ...x.slice(2).map(() => 1)] : null)];
};

const maxUnpoolInfer: InferFn = (ctx) => {
  const x = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  const os = constInts(ctx, 2);
  if (os) return [out(dt, os)];
  if (!x) return [out(dt, null)];
  // An output_shape input that is not constant decides the spatial dims at run time.
  if (hasInput(ctx, 2)) return [out(dt, [x[0]!, x[1]!, ...x.slice(2).map(() => null)])];
  const n = x.length - 2;
  const k = attrInts(ctx, 'kernel_shape') ?? [];
  const strides = attrInts(ctx, 'strides') ?? new Array<number>(n).fill(1);
  const pads = attrInts(ctx, 'pads') ?? new Array<number>(2 * n).fill(0);
  return [out(dt, [x[0]!, x[1]!, ...x.slice(2).map((d, i) => (typeof d === 'number' ? (d - 1) * strides[i]! + k[i]! - pads[i]! - pads[i + n]! : null))])];
};

/** RNN/GRU/LSTM: Y, Y_h (and Y_c) from X's sequence/batch dims, the direction and hidden_size. */
const rnnInfer: InferFn = (ctx) => {
  const x = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  const dirs = attrString(ctx, 'direction', 'forward') === 'bidirectional' ? 2 : 1;
  let hidden: Dim = attrInt(ctx, 'hidden_size') ?? null;
  if (hidden === null) {
    const r = inShape(ctx, 2);
    hidden = r ? r[2]! : null;
  }
  const layout = attrInt(ctx, 'layout', 0)!;
  const seq: Dim = x ? x[layout ? 1 : 0]! : null;
  const batch: Dim = x ? x[layout ? 0 : 1]! : null;
  const y = layout ? [batch, seq, dirs, hidden] : [seq, dirs, batch, hidden];
  const h = layout ? [batch, dirs, hidden] : [dirs, batch, hidden];
  return [out(dt, y), out(dt, h), out(dt, h)];
};

const gridSampleInfer: InferFn = (ctx) => {
  const x = inShape(ctx, 0);
  const g = inShape(ctx, 1);
  const dt = inDtype(ctx, 0);
  if (!x || !g) return [out(dt, null)];
  return [out(dt, [mergeDim(x[0]!, g[0]!), x[1]!, ...g.slice(1, -1)])];
};

const roiAlignInfer: InferFn = (ctx) => {
  const x = inShape(ctx, 0);
  const r = inShape(ctx, 1);
  return [out(inDtype(ctx, 0), [r ? r[0]! : null, x ? x[1]! : null, attrInt(ctx, 'output_height', 1)!, attrInt(ctx, 'output_width', 1)!])];
};

const POOL_ATTRS = { auto_pad: a.str('NOTSET'), kernel_shape: a.reqInts(), pads: a.ints(), strides: a.ints(), ceil_mode: a.int(0) };
const CONV_ATTRS = { auto_pad: a.str('NOTSET'), dilations: a.ints(), group: a.int(1), kernel_shape: a.ints(), pads: a.ints(), strides: a.ints() };
const RNN_ATTRS = { activation_alpha: a.floats(), activation_beta: a.floats(), activations: a.strings(), clip: a.float(), direction: a.str('forward'), hidden_size: a.int(), layout: a.int(0) };

const DEFS: OpDef[] = [
  { name: 'MatMul', since: [1, 9, 13], inputs: ['A:T', 'B:T'], outputs: ['Y:T'], types: { T: NUM }, infer: matmulInfer },
  { name: 'MatMulInteger', since: [10], inputs: ['A:T1', 'B:T2', 'a_zero_point?:T1', 'b_zero_point?:T2'], outputs: ['Y:T3'], types: { T1: ['int8', 'uint8'], T2: ['int8', 'uint8'], T3: ['int32'] }, infer: (ctx) => [out(DTypes.int32, matmulShape(ctx, inShape(ctx, 0), inShape(ctx, 1)))] },
  { name: 'QLinearMatMul', since: [10, 21], inputs: ['a:T1', 'a_scale:TS', 'a_zero_point:T1', 'b:T2', 'b_scale:TS', 'b_zero_point:T2', 'y_scale:TS', 'y_zero_point:T3'], outputs: ['y:T3'], types: { T1: ['int8', 'uint8'], T2: ['int8', 'uint8'], T3: ['int8', 'uint8'], TS: FLOAT }, infer: (ctx) => [out(inDtype(ctx, 7), matmulShape(ctx, inShape(ctx, 0), inShape(ctx, 3)))] },
  { name: 'Gemm', since: [1, 6, 7, 9, 11, 13], inputs: ['A:T', 'B:T', 'C?:T'], outputs: ['Y:T'], attrs: { alpha: a.float(1), beta: a.float(1), transA: a.int(0), transB: a.int(0) }, types: { T: NUM }, infer: gemmInfer },
  { name: 'Conv', since: [1, 11, 22], inputs: ['X:T', 'W:T', 'B?:T'], outputs: ['Y:T'], attrs: CONV_ATTRS, types: { T: FLOAT }, infer: convInfer },
  { name: 'ConvInteger', since: [10], inputs: ['x:T1', 'w:T2', 'x_zero_point?:T1', 'w_zero_point?:T2'], outputs: ['y:T3'], attrs: CONV_ATTRS, types: { T1: ['int8', 'uint8'], T2: ['int8', 'uint8'], T3: ['int32'] }, infer: convInfer },
  { name: 'QLinearConv', since: [10], inputs: ['x:T1', 'x_scale:tensor(float)', 'x_zero_point:T1', 'w:T2', 'w_scale:tensor(float)', 'w_zero_point:T2', 'y_scale:tensor(float)', 'y_zero_point:T3', 'B?:T4'], outputs: ['y:T3'], attrs: CONV_ATTRS, types: { T1: ['int8', 'uint8'], T2: ['int8', 'uint8'], T3: ['int8', 'uint8'], T4: ['int32'] }, infer: convInfer },
  { name: 'ConvTranspose', since: [1, 11, 22], inputs: ['X:T', 'W:T', 'B?:T'], outputs: ['Y:T'], attrs: { ...CONV_ATTRS, output_padding: a.ints(), output_shape: a.ints() }, types: { T: FLOAT }, infer: convTransposeInfer },
  { name: 'MaxPool', since: [1, 8, 10, 11, 12, 22], inputs: ['X:T'], outputs: ['Y:T', 'Indices?:I'], attrs: { ...POOL_ATTRS, dilations: a.ints(), storage_order: a.int(0) }, types: { T: [...FLOAT, 'int8', 'uint8'], I: ['int64'] }, infer: poolInfer },
  { name: 'AveragePool', since: [1, 7, 10, 11, 19, 22], inputs: ['X:T'], outputs: ['Y:T'], attrs: { ...POOL_ATTRS, count_include_pad: a.int(0), dilations: a.ints() }, types: { T: FLOAT }, infer: poolInfer },
  { name: 'LpPool', since: [1, 2, 11, 18, 22], inputs: ['X:T'], outputs: ['Y:T'], attrs: { ...POOL_ATTRS, p: a.int(2), dilations: a.ints() }, types: { T: FLOAT }, infer: poolInfer },
  { name: 'GlobalAveragePool', since: [1, 22], inputs: ['X:T'], outputs: ['Y:T'], types: { T: FLOAT }, infer: globalPoolInfer },
  { name: 'GlobalMaxPool', since: [1, 22], inputs: ['X:T'], outputs: ['Y:T'], types: { T: FLOAT }, infer: globalPoolInfer },
  { name: 'GlobalLpPool', since: [1, 2, 22], inputs: ['X:T'], outputs: ['Y:T'], attrs: { p: a.int(2) }, types: { T: FLOAT }, infer: globalPoolInfer },
  { name: 'MaxUnpool', since: [9, 11, 22], inputs: ['X:T1', 'I:T2', 'output_shape?:T2'], outputs: ['output:T1'], attrs: { kernel_shape: a.reqInts(), pads: a.ints(), strides: a.ints() }, types: { T1: FLOAT, T2: ['int64'] }, infer: maxUnpoolInfer },
  { name: 'RNN', since: [1, 7, 14, 22], inputs: ['X:T', 'W:T', 'R:T', 'B?:T', 'sequence_lens?:T1', 'initial_h?:T'], outputs: ['Y?:T', 'Y_h?:T'], attrs: RNN_ATTRS, types: { T: FLOAT, T1: ['int32'] }, infer: rnnInfer },
  { name: 'GRU', since: [1, 3, 7, 14, 22], inputs: ['X:T', 'W:T', 'R:T', 'B?:T', 'sequence_lens?:T1', 'initial_h?:T'], outputs: ['Y?:T', 'Y_h?:T'], attrs: { ...RNN_ATTRS, linear_before_reset: a.int(0) }, types: { T: FLOAT, T1: ['int32'] }, infer: rnnInfer },
  { name: 'LSTM', since: [1, 7, 14, 22], inputs: ['X:T', 'W:T', 'R:T', 'B?:T', 'sequence_lens?:T1', 'initial_h?:T', 'initial_c?:T', 'P?:T'], outputs: ['Y?:T', 'Y_h?:T', 'Y_c?:T'], attrs: { ...RNN_ATTRS, input_forget: a.int(0) }, types: { T: FLOAT, T1: ['int32'] }, infer: rnnInfer },
  { name: 'GridSample', since: [16, 20, 22], inputs: ['X:T1', 'grid:T2'], outputs: ['Y:T1'], attrs: { align_corners: a.int(0), mode: a.str('linear'), padding_mode: a.str('zeros') }, types: { T1: NUM, T2: FLOAT }, infer: gridSampleInfer },
  { name: 'RoiAlign', since: [10, 16, 22], inputs: ['X:T1', 'rois:T1', 'batch_indices:T2'], outputs: ['Y:T1'], attrs: { coordinate_transformation_mode: a.str('half_pixel'), mode: a.str('avg'), output_height: a.int(1), output_width: a.int(1), sampling_ratio: a.int(0), spatial_scale: a.float(1) }, types: { T1: FLOAT, T2: ['int64'] }, infer: roiAlignInfer },
  { name: 'NonMaxSuppression', since: [10, 11], inputs: ['boxes:tensor(float)', 'scores:tensor(float)', 'max_output_boxes_per_class?:tensor(int64)', 'iou_threshold?:tensor(float)', 'score_threshold?:tensor(float)'], outputs: ['selected_indices:tensor(int64)'], attrs: { center_point_box: a.int(0) }, infer: () => [out(I64, [null, 3])] },
  { name: 'MaxRoiPool', since: [1, 22], inputs: ['X:T', 'rois:T'], outputs: ['Y:T'], attrs: { pooled_shape: a.reqInts(), spatial_scale: a.float(1) }, types: { T: FLOAT }, infer: (ctx) => {
    const x = inShape(ctx, 0);
    const r = inShape(ctx, 1);
    const p = attrInts(ctx, 'pooled_shape') ?? [];
    return [out(inDtype(ctx, 0), [r ? r[0]! : null, x ? x[1]! : null, ...p])];
  } },
  { name: 'DeformConv', since: [19, 22], inputs: ['X:T', 'W:T', 'offset:T', 'B?:T', 'mask?:T'], outputs: ['Y:T'], attrs: { dilations: a.ints(), group: a.int(1), kernel_shape: a.ints(), offset_group: a.int(1), pads: a.ints(), strides: a.ints() }, types: { T: FLOAT }, infer: convInfer },
  { name: 'AffineGrid', since: [20], inputs: ['theta:T1', 'size:T2'], outputs: ['grid:T1'], attrs: { align_corners: a.int(0) }, types: { T1: FLOAT, T2: ['int64'] }, infer: (ctx) => {
    const size = constInts(ctx, 1);
    if (!size) return [out(inDtype(ctx, 0), null)];
    return [out(inDtype(ctx, 0), [size[0]!, ...size.slice(2), size.length - 2])];
  } },
  { name: 'Col2Im', since: [18], inputs: ['input:T', 'image_shape:tensor(int64)', 'block_shape:tensor(int64)'], outputs: ['output:T'], attrs: { dilations: a.ints(), pads: a.ints(), strides: a.ints() }, types: { T: NUM }, infer: (ctx) => {
    const s = inShape(ctx, 0);
    const img = constInts(ctx, 1);
    const blk = constInts(ctx, 2);
    if (!s || !img) return [out(inDtype(ctx, 0), img ? unknownShape(img.length + 2) : null)];
    const c: Dim = blk && typeof s[1] === 'number' ? s[1] / blk.reduce((x, y) => x * y, 1) : null;
    return [out(inDtype(ctx, 0), [s[0]!, c, ...img])];
  } },
];

/** Neural-network op schemas (matmul, conv, pooling, RNNs, detection) of the default domain. */
export const nnSchemas: OpSchema[] = schemas(DEFS);
