// Element-wise ops: unary math and activations, broadcasting binary/variadic ops, comparisons, Cast, Where.
import type { Dim } from '../../ir/types.js';
import {
  BOOL, broadcastShapes, dtypeAttr, inDtype, inShape, inType, out, sameAs,
} from '../infer-util.js';
import type { InferFn, OpSchema } from '../schema.js';
import { a, ALL, FLOAT, INT, NUM, schemas, SIGNED, UINT, type OpDef } from './define.js';

/**
 * Output: input 0's dtype with all given inputs broadcast together. Before opset 7, binary ops
 * broadcast B onto A only (legacy `broadcast`/`axis` attributes), so the output has A's type.
 */
export const broadcastInfer: InferFn = (ctx) => {
  if (ctx.opset < 7 && ctx.node.inputs.length === 2 && ctx.node.op !== 'Sum' && ctx.node.op !== 'Max' && ctx.node.op !== 'Min' && ctx.node.op !== 'Mean') return [ctx.inputTypes[0] ?? null];
  let shape: Dim[] | null = null;
  let dtype = null;
  let first = true;
  for (let i = 0; i < ctx.inputTypes.length; i++) {
    if (!ctx.node.inputs[i]) continue;
    const t = inType(ctx, i);
    dtype ??= t?.dtype ?? null;
    const s = t?.shape ?? null;
    if (first) { shape = s ? [...s] : null; first = false; } else shape = broadcastShapes(shape, s);
  }
  return [out(dtype, shape)];
};

/** Broadcast shape, bool result (comparisons and logic). */
const compareInfer: InferFn = (ctx) => [out(BOOL, (broadcastInfer(ctx)[0] as { shape: readonly Dim[] | null }).shape)];

/** Same shape as input 0, bool elements (IsNaN, IsInf). */
const boolLike: InferFn = (ctx) => [out(BOOL, inShape(ctx, 0))];

const unary = (name: string, since: readonly number[], types: readonly string[] = FLOAT, attrs?: OpDef['attrs']): OpDef =>
  ({ name, since, inputs: ['X:T'], outputs: ['Y:T'], types: { T: types }, infer: sameAs(0), ...(attrs ? { attrs } : {}) });

const binary = (name: string, since: readonly number[], types: readonly string[] = NUM): OpDef =>
  ({ name, since, inputs: ['A:T', 'B:T'], outputs: ['C:T'], types: { T: types }, infer: broadcastInfer });

const compare = (name: string, since: readonly number[], types: readonly string[] = NUM): OpDef =>
  ({ name, since, inputs: ['A:T', 'B:T'], outputs: ['C:T1'], types: { T: types, T1: ['bool'] }, infer: compareInfer });

const variadic = (name: string, since: readonly number[], types: readonly string[] = NUM): OpDef =>
  ({ name, since, inputs: ['data_0+:T'], outputs: ['out:T'], types: { T: types }, infer: broadcastInfer });

const castInfer: InferFn = (ctx) => [out(dtypeAttr(ctx, 'to'), inShape(ctx, 0))];

const dropoutInfer: InferFn = (ctx) => {
  const t = inType(ctx, 0);
  return [t, out(BOOL, t?.shape ?? null)];
};

const batchNormInfer: InferFn = (ctx) => [ctx.inputTypes[0] ?? null, ctx.inputTypes[3] ?? null, ctx.inputTypes[4] ?? null, ctx.inputTypes[3] ?? null, ctx.inputTypes[4] ?? null];

const whereInfer: InferFn = (ctx) => {
  const s = broadcastShapes(broadcastShapes(inShape(ctx, 0), inShape(ctx, 1)), inShape(ctx, 2));
  return [out(inDtype(ctx, 1) ?? inDtype(ctx, 2), s)];
};

const FL = FLOAT;
const DEFS: OpDef[] = [
  // unary math
  unary('Abs', [1, 6, 13], NUM), unary('Neg', [1, 6, 13], SIGNED), unary('Ceil', [1, 6, 13]), unary('Floor', [1, 6, 13]),
  unary('Round', [11, 22]), unary('Sign', [9, 13], NUM), unary('Reciprocal', [1, 6, 13]), unary('Sqrt', [1, 6, 13]),
  unary('Exp', [1, 6, 13]), unary('Log', [1, 6, 13]), unary('Erf', [9, 13], NUM),
  unary('Sin', [7, 22]), unary('Cos', [7, 22]), unary('Tan', [7, 22]), unary('Asin', [7, 22]), unary('Acos', [7, 22]),
  unary('Atan', [7, 22]), unary('Sinh', [9, 22]), unary('Cosh', [9, 22]), unary('Asinh', [9, 22]), unary('Acosh', [9, 22]),
  unary('Atanh', [9, 22]), unary('Tanh', [1, 6, 13]), unary('Sigmoid', [1, 6, 13]),
  unary('Not', [1], ['bool']), unary('BitwiseNot', [18], INT),
  // activations
  unary('Relu', [1, 6, 13, 14], SIGNED), unary('Softplus', [1, 22]), unary('Softsign', [1, 22]), unary('Mish', [18, 22]),
  unary('Elu', [1, 6, 22], FL, { alpha: a.float(1) }),
  unary('Selu', [1, 6, 22], FL, { alpha: a.float(1.67326319217681884765625), gamma: a.float(1.05070102214813232421875) }),
  unary('Celu', [12], FL, { alpha: a.float(1) }),
  unary('LeakyRelu', [1, 6, 16], FL, { alpha: a.float(0.01) }),
  unary('ThresholdedRelu', [10, 22], FL, { alpha: a.float(1) }),
  unary('HardSigmoid', [1, 6, 22], FL, { alpha: a.float(0.2), beta: a.float(0.5) }),
  unary('HardSwish', [14, 22]),
  unary('Shrink', [9], NUM, { bias: a.float(0), lambd: a.float(0.5) }),
  unary('Gelu', [20], FL, { approximate: a.str('none') }),
  unary('Swish', [24], FL, { alpha: a.float(1) }),
  unary('Softmax', [1, 11, 13], FL, { axis: a.int(-1) }),
  unary('LogSoftmax', [1, 11, 13], FL, { axis: a.int(-1) }),
  unary('Hardmax', [1, 11, 13], FL, { axis: a.int(-1) }),
  { name: 'Identity', since: [1, 13, 14, 16, 19, 21, 23], inputs: ['input:V'], outputs: ['output:V'], types: { V: ALL }, infer: sameAs(0) },
  { name: 'IsNaN', since: [9, 13, 20], inputs: ['X:T1'], outputs: ['Y:T2'], types: { T1: FL, T2: ['bool'] }, infer: boolLike },
  { name: 'IsInf', since: [10, 20], inputs: ['X:T1'], outputs: ['Y:T2'], attrs: { detect_negative: a.int(1), detect_positive: a.int(1) }, types: { T1: FL, T2: ['bool'] }, infer: boolLike },
  { name: 'Clip', since: [1, 6], inputs: ['input:T'], outputs: ['output:T'], attrs: { min: a.float(-3.4028234663852886e38), max: a.float(3.4028234663852886e38) }, types: { T: FL }, infer: sameAs(0) },
  { name: 'Clip', since: [11, 12, 13], inputs: ['input:T', 'min?:T', 'max?:T'], outputs: ['output:T'], types: { T: NUM }, infer: sameAs(0) },
  { name: 'Dropout', since: [1, 6, 7, 10], inputs: ['data:T'], outputs: ['output:T', 'mask?:T'], attrs: { ratio: a.float(0.5), is_test: a.int(0) }, types: { T: FL }, infer: (ctx) => [ctx.inputTypes[0] ?? null, ctx.opset >= 10 ? out(BOOL, inShape(ctx, 0)) : ctx.inputTypes[0] ?? null] },
  { name: 'Dropout', since: [12, 13, 22], inputs: ['data:T', 'ratio?:T1', 'training_mode?:T2'], outputs: ['output:T', 'mask?:T2'], attrs: { seed: a.int() }, types: { T: FL, T1: FL, T2: ['bool'] }, infer: dropoutInfer },
  { name: 'Cast', since: [1, 6, 9, 13, 19, 21, 23], inputs: ['input:T1'], outputs: ['output:T2'], attrs: { to: a.reqInt(), saturate: a.int(1) }, types: { T1: ALL, T2: ALL }, infer: castInfer },
  { name: 'CastLike', since: [15, 19, 21, 23], inputs: ['input:T1', 'target_type:T2'], outputs: ['output:T2'], attrs: { saturate: a.int(1) }, types: { T1: ALL, T2: ALL }, infer: (ctx) => [out(inDtype(ctx, 1), inShape(ctx, 0))] },
  // binary arithmetic
  binary('Add', [1, 6, 7, 13, 14]), binary('Sub', [1, 6, 7, 13, 14]), binary('Mul', [1, 6, 7, 13, 14]), binary('Div', [1, 6, 7, 13, 14]),
  { name: 'Pow', since: [1, 7, 12, 13, 15], inputs: ['X:T', 'Y:T1'], outputs: ['Z:T'], types: { T: NUM, T1: NUM }, infer: broadcastInfer },
  { ...binary('Mod', [10, 13]), attrs: { fmod: a.int(0) } },
  { ...binary('BitShift', [11], UINT), attrs: { direction: a.reqStr() } },
  // slope broadcasts onto X (unidirectionally; per channel before opset 7): Y has X's type.
  { name: 'PRelu', since: [1, 6, 7, 9, 16], inputs: ['X:T', 'slope:T'], outputs: ['Y:T'], types: { T: SIGNED }, infer: sameAs(0) },
  binary('BitwiseAnd', [18], INT), binary('BitwiseOr', [18], INT), binary('BitwiseXor', [18], INT),
  // logic and comparison
  compare('And', [1, 7], ['bool']), compare('Or', [1, 7], ['bool']), compare('Xor', [1, 7], ['bool']),
  compare('Equal', [1, 7, 11, 13, 19], [...NUM, 'bool', 'string']), compare('Less', [1, 7, 9, 13]), compare('Greater', [1, 7, 9, 13]),
  compare('LessOrEqual', [12, 16]), compare('GreaterOrEqual', [12, 16]),
  // variadic
  variadic('Sum', [1, 6, 8, 13], FL), variadic('Mean', [1, 6, 8, 13], FL), variadic('Max', [1, 6, 8, 12, 13]), variadic('Min', [1, 6, 8, 12, 13]),
  { name: 'Where', since: [9, 16], inputs: ['condition:B', 'X:T', 'Y:T'], outputs: ['output:T'], types: { B: ['bool'], T: ALL }, infer: whereInfer },
  { name: 'BatchNormalization', since: [1, 6, 7, 9, 14, 15], inputs: ['X:T', 'scale:T1', 'B:T1', 'input_mean:T2', 'input_var:T2'], outputs: ['Y:T', 'running_mean?:T2', 'running_var?:T2', 'saved_mean?:T2', 'saved_var?:T2'], attrs: { epsilon: a.float(1e-5), momentum: a.float(0.9), training_mode: a.int(0), spatial: a.int(1), is_test: a.int(0) }, types: { T: FL, T1: FL, T2: FL }, infer: batchNormInfer },
];

/** Element-wise op schemas of the default domain. */
export const elementwiseSchemas: OpSchema[] = schemas(DEFS);
