// Reductions: ReduceX (axes as attribute, or as input since 13 for ReduceSum and 18 for the rest), ArgMax/ArgMin, CumSum.
import type { Dim } from '../../ir/types.js';
import { attrInt, attrInts, constInts, hasInput, I64, inDtype, inShape, normAxis, out, sameAs, unknownShape } from '../infer-util.js';
import type { InferenceContext, InferFn, OpSchema } from '../schema.js';
import { a, IDX, NUM, schemas, type OpDef } from './define.js';

/** Reduced shape for `axes` (empty = all unless noop). Null axes: unknown which axes. */
export function reducedShape(ctx: InferenceContext, shape: readonly Dim[] | null, axes: number[] | null, keepdims: boolean, noopEmpty: boolean): Dim[] | null {
  if (!shape) return null;
  const r = shape.length;
  if (axes === null) return keepdims ? unknownShape(r) : null;
  if (axes.length === 0) {
    if (noopEmpty) return [...shape];
    axes = shape.map((_, i) => i);
  }
  const set = new Set(axes.map((x) => normAxis(ctx, x, r, 'axes entry')));
  const res: Dim[] = [];
  shape.forEach((d, i) => { if (!set.has(i)) res.push(d); else if (keepdims) res.push(1); });
  return res;
}

const reduceInfer: InferFn = (ctx) => {
  const shape = inShape(ctx, 0);
  let axes: number[] | null;
  if (hasInput(ctx, 1)) axes = constInts(ctx, 1) ?? null;
  else axes = attrInts(ctx, 'axes') ?? [];
  const keep = attrInt(ctx, 'keepdims', 1) !== 0;
  const noop = attrInt(ctx, 'noop_with_empty_axes', 0) !== 0;
  return [out(inDtype(ctx, 0), reducedShape(ctx, shape, axes, keep, noop))];
};

const argInfer: InferFn = (ctx) => {
  const shape = inShape(ctx, 0);
  const axis = attrInt(ctx, 'axis', 0)!;
  const keep = attrInt(ctx, 'keepdims', 1) !== 0;
  return [out(I64, reducedShape(ctx, shape, shape ? [axis] : null, keep, false))];
};

const reduce = (name: string, attrVersions: number[], inputVersions: number[], types: readonly string[] = NUM): OpDef[] => [
  { name, since: attrVersions, inputs: ['data:T'], outputs: ['reduced:T'], attrs: { axes: a.ints(), keepdims: a.int(1) }, types: { T: types }, infer: reduceInfer },
  { name, since: inputVersions, inputs: ['data:T', 'axes?:tensor(int64)'], outputs: ['reduced:T'], attrs: { keepdims: a.int(1), noop_with_empty_axes: a.int(0) }, types: { T: types }, infer: reduceInfer },
];

const DEFS: OpDef[] = [
  ...reduce('ReduceSum', [1, 11], [13]),
  ...reduce('ReduceMean', [1, 11, 13], [18]),
  ...reduce('ReduceMax', [1, 11, 12, 13], [18, 20], [...NUM, 'bool']),
  ...reduce('ReduceMin', [1, 11, 12, 13], [18, 20], [...NUM, 'bool']),
  ...reduce('ReduceProd', [1, 11, 13], [18]),
  ...reduce('ReduceL1', [1, 11, 13], [18]),
  ...reduce('ReduceL2', [1, 11, 13], [18]),
  ...reduce('ReduceLogSum', [1, 11, 13], [18]),
  ...reduce('ReduceLogSumExp', [1, 11, 13], [18]),
  ...reduce('ReduceSumSquare', [1, 11, 13], [18]),
  { name: 'ArgMax', since: [1, 11, 12, 13], inputs: ['data:T'], outputs: ['reduced:tensor(int64)'], attrs: { axis: a.int(0), keepdims: a.int(1), select_last_index: a.int(0) }, types: { T: NUM }, infer: argInfer },
  { name: 'ArgMin', since: [1, 11, 12, 13], inputs: ['data:T'], outputs: ['reduced:tensor(int64)'], attrs: { axis: a.int(0), keepdims: a.int(1), select_last_index: a.int(0) }, types: { T: NUM }, infer: argInfer },
  { name: 'CumSum', since: [11, 14], inputs: ['x:T', 'axis:T2'], outputs: ['y:T'], attrs: { exclusive: a.int(0), reverse: a.int(0) }, types: { T: NUM, T2: IDX }, infer: sameAs(0) },
];

/** Reduction op schemas of the default domain. */
export const reductionSchemas: OpSchema[] = schemas(DEFS);
