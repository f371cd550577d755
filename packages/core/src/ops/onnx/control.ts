// Control flow (If, Loop, Scan), sequences and optionals. Subgraph output types come from the
// body graphs' outputs, which inferShapes types before it infers the node itself.
import { DTypes } from '../../dtype.js';
import type { Graph } from '../../ir/graph.js';
import type { Dim, ValueType } from '../../ir/types.js';
import { typesEqual } from '../../ir/types.js';
import { attrInt, dtypeAttr, I64, inShape, out } from '../infer-util.js';
import type { InferenceContext, InferFn, OpSchema } from '../schema.js';
import { a, ALL, IDX, schemas, type OpDef } from './define.js';

function graphAttr(ctx: InferenceContext, name: string): Graph | undefined {
  const at = ctx.node.attrs.get(name);
  return at?.type === 'graph' ? at.value : undefined;
}

/** The most specific type both `a` and `b` satisfy (dims that differ become unknown). */
export function unionType(a: ValueType | null, b: ValueType | null): ValueType | null {
  if (!a || !b) return null;
  if (typesEqual(a, b)) return a;
  if (a.kind === 'tensor' && b.kind === 'tensor') {
    const dtype = a.dtype === b.dtype ? a.dtype : null;
    const shape = a.shape && b.shape && a.shape.length === b.shape.length ? a.shape.map((d, i) => (d === b.shape![i] ? d : null)) : null;
    return out(dtype, shape);
  }
  if ((a.kind === 'sequence' && b.kind === 'sequence') || (a.kind === 'optional' && b.kind === 'optional')) {
    return { kind: a.kind, elem: unionType(a.elem, (b as typeof a).elem) };
  }
  return null;
}

const ifInfer: InferFn = (ctx) => {
  const t = graphAttr(ctx, 'then_branch');
  const e = graphAttr(ctx, 'else_branch');
  if (!t || !e) return ctx.fail('needs then_branch and else_branch graphs');
  if (t.outputs.length !== e.outputs.length) ctx.fail(`then_branch has ${t.outputs.length} outputs but else_branch has ${e.outputs.length}`);
  return t.outputs.map((v, i) => unionType(v.type, e.outputs[i]!.type));
};

/** Adds an unknown leading dim (Loop scan outputs are stacked over iterations). */
function stacked(t: ValueType | null, axis = 0, len: Dim = null): ValueType | null {
  if (!t || t.kind !== 'tensor') return null;
  if (!t.shape) return out(t.dtype, null);
  const s = [...t.shape];
  s.splice(axis, 0, len);
  return out(t.dtype, s);
}

const loopInfer: InferFn = (ctx) => {
  const body = graphAttr(ctx, 'body');
  if (!body) return ctx.fail('needs a body graph');
  const nCarried = ctx.node.inputs.length - 2;
  const res: (ValueType | null)[] = [];
  for (let i = 0; i < ctx.node.outputs.length; i++) {
    const bodyOut = body.outputs[i + 1]?.type ?? null;
    if (i < nCarried) res.push(unionType(ctx.inputTypes[i + 2] ?? null, bodyOut) ?? bodyOut ?? ctx.inputTypes[i + 2] ?? null);
    else res.push(bodyOut?.kind === 'tensor' ? stacked(bodyOut) : null);
  }
  return res;
};

const scanInfer: InferFn = (ctx) => {
  const body = graphAttr(ctx, 'body');
  if (!body) return ctx.fail('needs a body graph');
  const nScanIn = attrInt(ctx, 'num_scan_inputs')!;
  const first = ctx.opset < 9 ? 1 : 0; // Scan-8 has sequence_lens as its first input
  const nState = ctx.node.inputs.length - first - nScanIn;
  const outAxes = ctx.attr<readonly (number | bigint)[] | undefined>('scan_output_axes', undefined)?.map(Number);
  const inAxes = ctx.attr<readonly (number | bigint)[] | undefined>('scan_input_axes', undefined)?.map(Number);
  // The scan length is the scanned axis of the first scan input.
  const s0 = inShape(ctx, first + nState);
  const ax0 = inAxes?.[0] ?? 0;
  const batch8 = ctx.opset < 9;
  const seqLen: Dim = s0 ? s0[(ax0 < 0 ? ax0 + s0.length : ax0) + (batch8 ? 1 : 0)] ?? null : null;
  const res: (ValueType | null)[] = [];
  for (let i = 0; i < ctx.node.outputs.length; i++) {
    const b = body.outputs[i]?.type ?? null;
    if (i < nState) {
      // Scan-8 carries a batch dim on every outer input and output that the body does not see.
      if (batch8) res.push(b?.kind === 'tensor' && b.shape ? out(b.dtype, [s0?.[0] ?? null, ...b.shape]) : ctx.inputTypes[first + i] ?? null);
      else res.push(b ?? ctx.inputTypes[first + i] ?? null);
      continue;
    }
    let axis = outAxes?.[i - nState] ?? 0;
    const rank = b?.kind === 'tensor' && b.shape ? b.shape.length + 1 : null;
    if (axis < 0 && rank !== null) axis += rank;
    if (batch8 && b?.kind === 'tensor' && b.shape) {
      res.push(out(b.dtype, [s0?.[0] ?? null, seqLen, ...b.shape]));
    } else res.push(stacked(b, Math.max(0, axis), seqLen));
  }
  return res;
};

const seqOf = (t: ValueType | null): ValueType => ({ kind: 'sequence', elem: t && t.kind === 'tensor' ? t : t });
const elemOf = (t: ValueType | null): ValueType | null => (t && (t.kind === 'sequence' || t.kind === 'optional') ? t.elem : null);

const DEFS: OpDef[] = [
  { name: 'If', since: [1, 11, 13, 16, 19, 21, 23], inputs: ['cond:B'], outputs: ['outputs+:V'], attrs: { then_branch: a.graph(), else_branch: a.graph() }, types: { B: ['bool'], V: ALL }, infer: ifInfer },
  { name: 'Loop', since: [1, 11, 13, 16, 19, 21, 23], inputs: ['M?:I', 'cond?:B', 'v_initial*:V'], outputs: ['v_final_and_scan_outputs+:V'], attrs: { body: a.graph() }, types: { I: ['int64'], B: ['bool'], V: ALL }, infer: loopInfer },
  { name: 'Scan', since: [8], inputs: ['sequence_lens?:I', 'initial_state_and_scan_inputs+:V'], outputs: ['final_state_and_scan_outputs+:V'], attrs: { body: a.graph(), directions: a.ints(), num_scan_inputs: a.reqInt() }, types: { I: ['int64'], V: ALL }, infer: scanInfer },
  { name: 'Scan', since: [9, 11, 16, 19, 21, 23], inputs: ['initial_state_and_scan_inputs+:V'], outputs: ['final_state_and_scan_outputs+:V'], attrs: { body: a.graph(), num_scan_inputs: a.reqInt(), scan_input_axes: a.ints(), scan_input_directions: a.ints(), scan_output_axes: a.ints(), scan_output_directions: a.ints() }, types: { V: ALL }, infer: scanInfer },
  { name: 'SequenceEmpty', since: [11], inputs: [], outputs: ['output:S'], attrs: { dtype: a.int(1) }, types: { S: ['seq'] }, infer: (ctx) => [seqOf(out(dtypeAttr(ctx, 'dtype', 1), null))] },
  { name: 'SequenceConstruct', since: [11], inputs: ['inputs+:T'], outputs: ['output_sequence:S'], types: { T: ALL, S: ['seq'] }, infer: (ctx) => [seqOf(ctx.inputTypes.reduce<ValueType | null>((acc, t, i) => (i === 0 ? t ?? null : unionType(acc, t ?? null)), null))] },
  { name: 'SequenceInsert', since: [11], inputs: ['input_sequence:S', 'tensor:T', 'position?:I'], outputs: ['output_sequence:S'], types: { S: ['seq'], T: ALL, I: IDX }, infer: (ctx) => {
    const e = elemOf(ctx.inputTypes[0] ?? null);
    const t = ctx.inputTypes[1] ?? null;
    const emptyElem = e?.kind === 'tensor' && e.shape === null;
    return [seqOf(emptyElem && t?.kind === 'tensor' && t.dtype === e.dtype ? out(e.dtype, null) : unionType(e, t))];
  } },
  { name: 'SequenceAt', since: [11], inputs: ['input_sequence:S', 'position:I'], outputs: ['tensor:T'], types: { S: ['seq'], T: ALL, I: IDX }, infer: (ctx) => [elemOf(ctx.inputTypes[0] ?? null)] },
  { name: 'SequenceErase', since: [11], inputs: ['input_sequence:S', 'position?:I'], outputs: ['output_sequence:S'], types: { S: ['seq'], I: IDX }, infer: (ctx) => [ctx.inputTypes[0] ?? null] },
  { name: 'SequenceLength', since: [11], inputs: ['input_sequence:S'], outputs: ['length:I'], types: { S: ['seq'], I: ['int64'] }, infer: () => [out(I64, [])] },
  { name: 'SplitToSequence', since: [11], inputs: ['input:T', 'split?:I'], outputs: ['output_sequence:S'], attrs: { axis: a.int(0), keepdims: a.int(1) }, types: { T: ALL, I: IDX, S: ['seq'] }, infer: (ctx) => [seqOf(out(ctx.inputTypes[0]?.kind === 'tensor' ? ctx.inputTypes[0].dtype : null, null))] },
  { name: 'ConcatFromSequence', since: [11], inputs: ['input_sequence:S'], outputs: ['concat_result:T'], attrs: { axis: a.reqInt(), new_axis: a.int(0) }, types: { S: ['seq'], T: ALL }, infer: (ctx) => {
    const e = elemOf(ctx.inputTypes[0] ?? null);
    return [out(e?.kind === 'tensor' ? e.dtype : null, null)];
  } },
  { name: 'SequenceMap', since: [17], inputs: ['input_sequence:S', 'additional_inputs*:V'], outputs: ['out_sequence+:S'], attrs: { body: a.graph() }, types: { S: ['seq'], V: ALL }, infer: (ctx) => {
    const body = graphAttr(ctx, 'body');
    if (!body) return ctx.fail('needs a body graph');
    return body.outputs.map((v) => seqOf(v.type?.kind === 'tensor' ? out(v.type.dtype, v.type.shape) : null));
  } },
  { name: 'Optional', since: [15], inputs: ['input?:V'], outputs: ['output:O'], attrs: { type: { type: 'type_proto' } }, types: { V: ALL, O: ['optional'] }, infer: (ctx) => [{ kind: 'optional', elem: ctx.inputTypes[0] ?? ctx.attr<ValueType | null>('type', null) }] },
  { name: 'OptionalGetElement', since: [15, 18], inputs: ['input:O'], outputs: ['output:V'], types: { O: ['optional', 'seq', ...ALL], V: ALL }, infer: (ctx) => {
    const t = ctx.inputTypes[0] ?? null;
    return [t?.kind === 'optional' ? t.elem : t];
  } },
  { name: 'OptionalHasElement', since: [15, 18], inputs: ['input?:O'], outputs: ['output:B'], types: { O: ['optional', 'seq', ...ALL], B: ['bool'] }, infer: () => [out(DTypes.bool, [])] },
];

/** Control-flow, sequence and optional op schemas of the default domain. */
export const controlSchemas: OpSchema[] = schemas(DEFS);
