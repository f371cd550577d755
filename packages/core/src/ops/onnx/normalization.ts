// Normalization ops and losses.
import { DTypes } from '../../dtype.js';
import type { Dim } from '../../ir/types.js';
import { attrInt, attrString, dtypeAttr, inDtype, inShape, normAxis, out, sameAs } from '../infer-util.js';
import type { InferFn, OpSchema } from '../schema.js';
import { a, FLOAT, IDX, schemas, type OpDef } from './define.js';

const layerNormInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const stash = dtypeAttr(ctx, 'stash_type', 1) ?? DTypes.float32;
  if (!s) return [ctx.inputTypes[0] ?? null, out(stash, null), out(stash, null)];
  const axis = normAxis(ctx, attrInt(ctx, 'axis', -1)!, s.length);
  const red: Dim[] = s.map((d, i) => (i < axis ? d : 1));
  return [ctx.inputTypes[0] ?? null, out(stash, red), out(stash, red)];
};

const lossInfer: InferFn = (ctx) => {
  const reduction = attrString(ctx, 'reduction', 'mean');
  const target = inShape(ctx, 1);
  const dt = inDtype(ctx, 0);
  return [out(dt, reduction === 'none' ? target : []), ctx.inputTypes[0] ?? null];
};

const DEFS: OpDef[] = [
  { name: 'LayerNormalization', since: [17], inputs: ['X:T', 'Scale:T', 'B?:T'], outputs: ['Y:T', 'Mean?:U', 'InvStdDev?:U'], attrs: { axis: a.int(-1), epsilon: a.float(1e-5), stash_type: a.int(1) }, types: { T: FLOAT, U: ['float32', 'bfloat16'] }, infer: layerNormInfer },
  { name: 'RMSNormalization', since: [23], inputs: ['X:T', 'scale:V'], outputs: ['Y:V'], attrs: { axis: a.int(-1), epsilon: a.float(1e-5), stash_type: a.int(1) }, types: { T: FLOAT, V: FLOAT }, infer: (ctx) => [out(inDtype(ctx, 1) ?? inDtype(ctx, 0), inShape(ctx, 0))] },
  { name: 'GroupNormalization', since: [18, 21], inputs: ['X:T', 'scale:T', 'bias:T'], outputs: ['Y:T'], attrs: { epsilon: a.float(1e-5), num_groups: a.reqInt(), stash_type: a.int(1) }, types: { T: FLOAT }, infer: sameAs(0) },
  { name: 'InstanceNormalization', since: [1, 6, 22], inputs: ['input:T', 'scale:T', 'B:T'], outputs: ['output:T'], attrs: { epsilon: a.float(1e-5) }, types: { T: FLOAT }, infer: sameAs(0) },
  { name: 'LRN', since: [1, 13], inputs: ['X:T'], outputs: ['Y:T'], attrs: { alpha: a.float(0.0001), beta: a.float(0.75), bias: a.float(1), size: a.reqInt() }, types: { T: FLOAT }, infer: sameAs(0) },
  { name: 'MeanVarianceNormalization', since: [9, 13], inputs: ['X:T'], outputs: ['Y:T'], attrs: { axes: a.ints([0, 2, 3]) }, types: { T: FLOAT }, infer: sameAs(0) },
  { name: 'LpNormalization', since: [1, 22], inputs: ['input:T'], outputs: ['output:T'], attrs: { axis: a.int(-1), p: a.int(2) }, types: { T: FLOAT }, infer: sameAs(0) },
  { name: 'NegativeLogLikelihoodLoss', since: [12, 13, 22], inputs: ['input:T', 'target:Tind', 'weight?:T'], outputs: ['loss:T'], attrs: { ignore_index: a.int(), reduction: a.str('mean') }, types: { T: FLOAT, Tind: IDX }, infer: (ctx) => [lossInfer(ctx)[0]!] },
  { name: 'SoftmaxCrossEntropyLoss', since: [12, 13], inputs: ['scores:T', 'labels:Tind', 'weights?:T'], outputs: ['output:T', 'log_prob?:T'], attrs: { ignore_index: a.int(), reduction: a.str('mean') }, types: { T: FLOAT, Tind: IDX }, infer: lossInfer },
];

/** Normalization and loss op schemas of the default domain. */
export const normalizationSchemas: OpSchema[] = schemas(DEFS);
