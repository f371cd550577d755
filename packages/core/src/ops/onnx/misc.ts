// Signal processing, random generators, text ops, and the preview training optimizers.
import { DTypes } from '../../dtype.js';
import type { Dim, ValueType } from '../../ir/types.js';
import { attrInt, attrInts, broadcastShapes, constInts, dtypeAttr, hasInput, inDtype, inShape, normAxis, out } from '../infer-util.js';
import type { InferFn, OpSchema } from '../schema.js';
import { a, ALL, FLOAT, IDX, NUM, schemas, type OpDef } from './define.js';

const dftInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  if (!s) return [out(dt, null)];
  const onesided = attrInt(ctx, 'onesided', 0) !== 0;
  const inverse = attrInt(ctx, 'inverse', 0) !== 0;
  let axis: number;
  if (ctx.opset >= 20) {
    const ax = hasInput(ctx, 2) ? constInts(ctx, 2) : [-2];
    if (!ax) return [out(dt, s.map((d, i) => (i === s.length - 1 ? 2 : null)))];
    axis = ax[0]! < 0 ? ax[0]! + s.length : ax[0]!;
  } else axis = normAxis(ctx, attrInt(ctx, 'axis', 1)!, s.length);
  const len = hasInput(ctx, 1) ? constInts(ctx, 1)?.[0] ?? null : s[axis]!;
  const res: Dim[] = [...s];
  res[res.length - 1] = 2;
  res[axis] = onesided && !inverse ? (typeof len === 'number' ? Math.floor(len / 2) + 1 : null) : len;
  return [out(dt, res)];
};

const stftInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  const step = constInts(ctx, 1)?.[0];
  const win = inShape(ctx, 2);
  const fl = hasInput(ctx, 3) ? constInts(ctx, 3)?.[0] : win && typeof win[0] === 'number' ? win[0] : undefined;
  const onesided = attrInt(ctx, 'onesided', 1) !== 0;
  const batch: Dim = s ? s[0]! : null;
  const length = s ? s[1]! : null;
  const frames: Dim = typeof length === 'number' && step !== undefined && fl !== undefined ? Math.floor((length - fl) / step) + 1 : null;
  const bins: Dim = fl === undefined ? null : onesided ? Math.floor(fl / 2) + 1 : fl;
  return [out(dt, [batch, frames, bins, 2])];
};

const windowInfer: InferFn = (ctx) => {
  const n = constInts(ctx, 0)?.[0] ?? null;
  return [out(dtypeAttr(ctx, 'output_datatype', 1), [n])];
};

const melInfer: InferFn = (ctx) => {
  const mel = constInts(ctx, 0)?.[0] ?? null;
  const dft = constInts(ctx, 1)?.[0];
  return [out(dtypeAttr(ctx, 'output_datatype', 1), [dft === undefined ? null : Math.floor(dft / 2) + 1, mel])];
};

const likeInfer: InferFn = (ctx) => [out(dtypeAttr(ctx, 'dtype') ?? inDtype(ctx, 0), inShape(ctx, 0))];

const tfidfInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const idx = attrInts(ctx, 'ngram_indexes') ?? [];
  const width = idx.length ? Math.max(...idx) + 1 : null;
  if (!s) return [out(DTypes.float32, null)];
  return [out(DTypes.float32, s.length === 1 ? [width] : [s[0]!, width])];
};

const stringNormalizerInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const stop = ctx.attr<readonly string[] | undefined>('stopwords', undefined);
  if (!s || !stop || stop.length === 0) return [out(DTypes.string, s)];
  return [out(DTypes.string, s.map((d, i) => (i === s.length - 1 ? null : d)))];
};

/** Optimizers take R, T and n groups of tensors; output group k has the type of input group `groups[k]`. */
const optimizerInfer = (inGroups: number, outGroups: readonly number[]): InferFn => (ctx) => {
  const n = (ctx.node.inputs.length - 2) / inGroups;
  if (!Number.isInteger(n)) ctx.fail(`expected 2 + ${inGroups}·n inputs, got ${ctx.node.inputs.length}`);
  const res: (ValueType | null)[] = [];
  for (const g of outGroups) for (let i = 0; i < n; i++) res.push(ctx.inputTypes[2 + g * n + i] ?? null);
  return res;
};

const DEFS: OpDef[] = [
  { name: 'DFT', since: [17], inputs: ['input:T1', 'dft_length?:T2'], outputs: ['output:T1'], attrs: { axis: a.int(1), inverse: a.int(0), onesided: a.int(0) }, types: { T1: FLOAT, T2: IDX }, infer: dftInfer },
  { name: 'DFT', since: [20], inputs: ['input:T1', 'dft_length?:T2', 'axis?:tensor(int64)'], outputs: ['output:T1'], attrs: { inverse: a.int(0), onesided: a.int(0) }, types: { T1: FLOAT, T2: IDX }, infer: dftInfer },
  { name: 'STFT', since: [17], inputs: ['signal:T1', 'frame_step:T2', 'window?:T1', 'frame_length?:T2'], outputs: ['output:T1'], attrs: { onesided: a.int(1) }, types: { T1: FLOAT, T2: IDX }, infer: stftInfer },
  { name: 'BlackmanWindow', since: [17], inputs: ['size:T1'], outputs: ['output:T2'], attrs: { output_datatype: a.int(1), periodic: a.int(1) }, types: { T1: IDX, T2: NUM }, infer: windowInfer },
  { name: 'HannWindow', since: [17], inputs: ['size:T1'], outputs: ['output:T2'], attrs: { output_datatype: a.int(1), periodic: a.int(1) }, types: { T1: IDX, T2: NUM }, infer: windowInfer },
  { name: 'HammingWindow', since: [17], inputs: ['size:T1'], outputs: ['output:T2'], attrs: { output_datatype: a.int(1), periodic: a.int(1) }, types: { T1: IDX, T2: NUM }, infer: windowInfer },
  { name: 'MelWeightMatrix', since: [17], inputs: ['num_mel_bins:T1', 'dft_length:T1', 'sample_rate:T1', 'lower_edge_hertz:T2', 'upper_edge_hertz:T2'], outputs: ['output:T3'], attrs: { output_datatype: a.int(1) }, types: { T1: IDX, T2: FLOAT, T3: NUM }, infer: melInfer },
  { name: 'Bernoulli', since: [15, 22], inputs: ['input:T1'], outputs: ['output:T2'], attrs: { dtype: a.int(), seed: a.float() }, types: { T1: FLOAT, T2: [...NUM, 'bool'] }, infer: likeInfer },
  { name: 'RandomUniformLike', since: [1, 22], inputs: ['input:T1'], outputs: ['output:T2'], attrs: { dtype: a.int(), high: a.float(1), low: a.float(0), seed: a.float() }, types: { T1: ALL, T2: FLOAT }, infer: likeInfer },
  { name: 'RandomNormalLike', since: [1, 22], inputs: ['input:T1'], outputs: ['output:T2'], attrs: { dtype: a.int(), mean: a.float(0), scale: a.float(1), seed: a.float() }, types: { T1: ALL, T2: FLOAT }, infer: likeInfer },
  { name: 'RandomUniform', since: [1, 22], inputs: [], outputs: ['output:T'], attrs: { dtype: a.int(1), high: a.float(1), low: a.float(0), seed: a.float(), shape: a.reqInts() }, types: { T: FLOAT }, infer: (ctx) => [out(dtypeAttr(ctx, 'dtype', 1), attrInts(ctx, 'shape') ?? null)] },
  { name: 'RandomNormal', since: [1, 22], inputs: [], outputs: ['output:T'], attrs: { dtype: a.int(1), mean: a.float(0), scale: a.float(1), seed: a.float(), shape: a.reqInts() }, types: { T: FLOAT }, infer: (ctx) => [out(dtypeAttr(ctx, 'dtype', 1), attrInts(ctx, 'shape') ?? null)] },
  { name: 'Multinomial', since: [7, 22], inputs: ['input:T1'], outputs: ['output:T2'], attrs: { dtype: a.int(6), sample_size: a.int(1), seed: a.float() }, types: { T1: FLOAT, T2: IDX }, infer: (ctx) => [out(dtypeAttr(ctx, 'dtype', 6), [inShape(ctx, 0)?.[0] ?? null, attrInt(ctx, 'sample_size', 1)!])] },
  { name: 'TfIdfVectorizer', since: [9], inputs: ['X:T'], outputs: ['Y:T1'], attrs: { max_gram_length: a.reqInt(), max_skip_count: a.reqInt(), min_gram_length: a.reqInt(), mode: a.reqStr(), ngram_counts: a.reqInts(), ngram_indexes: a.reqInts(), pool_int64s: a.ints(), pool_strings: a.strings(), weights: a.floats() }, types: { T: ['string', 'int32', 'int64'], T1: ['float32'] }, infer: tfidfInfer },
  { name: 'StringNormalizer', since: [10], inputs: ['X:tensor(string)'], outputs: ['Y:tensor(string)'], attrs: { case_change_action: a.str('NONE'), is_case_sensitive: a.int(0), locale: a.str(), stopwords: a.strings() }, infer: stringNormalizerInfer },
  { name: 'RegexFullMatch', since: [20], inputs: ['X:T1'], outputs: ['Y:T2'], attrs: { pattern: a.str() }, types: { T1: ['string'], T2: ['bool'] }, infer: (ctx) => [out(DTypes.bool, inShape(ctx, 0))] },
  { name: 'StringConcat', since: [20], inputs: ['X:T', 'Y:T'], outputs: ['Z:T'], types: { T: ['string'] }, infer: (ctx) => [out(DTypes.string, broadcastShapes(inShape(ctx, 0), inShape(ctx, 1)))] },
  { name: 'StringSplit', since: [20], inputs: ['X:T1'], outputs: ['Y:T2', 'Z:T3'], attrs: { delimiter: a.str(), maxsplit: a.int() }, types: { T1: ['string'], T2: ['string'], T3: ['int64'] }, infer: (ctx) => {
    const s = inShape(ctx, 0);
    return [out(DTypes.string, s ? [...s, null] : null), out(DTypes.int64, s)];
  } },
  { name: 'Adagrad', domain: 'ai.onnx.preview.training', since: [1], inputs: ['R:T1', 'T:T2', 'inputs+:T3'], outputs: ['outputs+:T3'], attrs: { decay_factor: a.float(0), epsilon: a.float(1e-6), norm_coefficient: a.float(0) }, types: { T1: FLOAT, T2: ['int64'], T3: FLOAT }, infer: optimizerInfer(3, [0, 2]) },
  { name: 'Momentum', domain: 'ai.onnx.preview.training', since: [1], inputs: ['R:T1', 'T:T2', 'inputs+:T3'], outputs: ['outputs+:T3'], attrs: { alpha: a.reqFloat(), beta: a.reqFloat(), mode: a.reqStr(), norm_coefficient: a.reqFloat() }, types: { T1: FLOAT, T2: ['int64'], T3: FLOAT }, infer: optimizerInfer(3, [0, 2]) },
  { name: 'Adam', domain: 'ai.onnx.preview.training', since: [1], inputs: ['R:T1', 'T:T2', 'inputs+:T3'], outputs: ['outputs+:T3'], attrs: { alpha: a.float(0.9), beta: a.float(0.999), epsilon: a.float(1e-6), norm_coefficient: a.float(0), norm_coefficient_post: a.float(0) }, types: { T1: FLOAT, T2: ['int64'], T3: FLOAT }, infer: optimizerInfer(4, [0, 2, 3]) },
];

/** Signal, random, text and training op schemas. */
export const miscSchemas: OpSchema[] = schemas(DEFS);
