// Quantization ops of the default domain.
import { DTypes } from '../../dtype.js';
import { dtypeAttr, hasInput, inDtype, inShape, out } from '../infer-util.js';
import type { InferFn, OpSchema } from '../schema.js';
import { a, FLOAT, FP8, Q4, schemas, type OpDef } from './define.js';

const QTYPES = ['int8', 'uint8', 'int16', 'uint16', 'int32', ...FP8, ...Q4];

/** Output dtype: y_zero_point's, else the output_dtype attribute, else uint8. */
const quantizeInfer: InferFn = (ctx) => {
  const dt = (hasInput(ctx, 2) ? inDtype(ctx, 2) : null) ?? (ctx.node.attrs.has('output_dtype') ? dtypeAttr(ctx, 'output_dtype') : null) ?? DTypes.uint8;
  return [out(dt, inShape(ctx, 0))];
};

/** Output dtype: the output_dtype attribute (23), else x_scale's dtype (19+), else float32. */
const dequantizeInfer: InferFn = (ctx) => {
  const dt = (ctx.node.attrs.has('output_dtype') ? dtypeAttr(ctx, 'output_dtype') : null) ?? (ctx.opset >= 19 ? inDtype(ctx, 1) : null) ?? DTypes.float32;
  return [out(dt, inShape(ctx, 0))];
};

const DEFS: OpDef[] = [
  { name: 'QuantizeLinear', since: [10, 13, 19, 21, 23], inputs: ['x:T1', 'y_scale:T1', 'y_zero_point?:T2'], outputs: ['y:T2'], attrs: { axis: a.int(1), saturate: a.int(1), block_size: a.int(0), output_dtype: a.int(0), precision: a.int(0) }, types: { T1: [...FLOAT, 'int32'], T2: QTYPES }, infer: quantizeInfer },
  { name: 'DequantizeLinear', since: [10, 13, 19, 21, 23], inputs: ['x:T1', 'x_scale:T2', 'x_zero_point?:T1'], outputs: ['y:T2'], attrs: { axis: a.int(1), block_size: a.int(0), output_dtype: a.int(0) }, types: { T1: QTYPES, T2: FLOAT }, infer: dequantizeInfer },
  { name: 'DynamicQuantizeLinear', since: [11], inputs: ['x:T1'], outputs: ['y:T2', 'y_scale:tensor(float)', 'y_zero_point:T2'], types: { T1: ['float32'], T2: ['uint8'] }, infer: (ctx) => [out(DTypes.uint8, inShape(ctx, 0)), out(DTypes.float32, []), out(DTypes.uint8, [])] },
];

/** Quantization op schemas of the default domain. */
export const quantizationSchemas: OpSchema[] = schemas(DEFS);
