// leanformer.PaCALinear: a linear layer with some of its input connections (rows of our
// [in, out] weight, columns of torch's [out, in]) held in a separate tensor P, as PaCA
// (Partial Connection Adaptation) trains them. Used by @leanformer/peft while fine-tuning;
// exports merge P back into W, so no adapter remains at inference.
//
// Semantics (normative):
//   X   T [..., in]
//   W   T [in, out]      (its rows idx are ignored: P replaces them)
//   idx int64 [k]        distinct row indices in [0, in)
//   P   T [k, out]
//   W'  = W with W'[idx[j], :] = P[j, :]
//   Y   = X · W'         T [..., out]
// A runtime may implement it faster (the tfjs kernel in @leanformer/peft keeps only X[..., idx]
// for the backward pass); the reference decomposition is ScatterND + MatMul.
import { GraphBuilder } from '../../builder/builder.js';
import type { Node, Value } from '../../ir/graph.js';
import { tensorType } from '../../ir/types.js';
import { getSchema, registerSchema, type OpSchema } from '../schema.js';
import { getDecomposition, registerDecomposition } from '../../passes/decompose.js';

/** Schema of `leanformer::PaCALinear` version 1. */
export const PACA_LINEAR_SCHEMA: OpSchema = {
  domain: 'leanformer',
  name: 'PaCALinear',
  since: 1,
  inputs: [
    { name: 'X', typeStr: 'T' },
    { name: 'W', typeStr: 'T' },
    { name: 'idx', typeStr: 'tensor(int64)' },
    { name: 'P', typeStr: 'T' },
  ],
  outputs: [{ name: 'Y', typeStr: 'T' }],
  attributes: {},
  typeConstraints: { T: ['float32', 'float16'] },
  doc: 'Y = X · W\' where W\' is W with rows idx replaced by P (PaCA partial connections).',
  infer(ctx) {
    const [x, w, idx, p] = ctx.inputTypes;
    if (w?.kind === 'tensor' && w.shape && w.shape.length !== 2) ctx.fail(`W must be 2-D [in, out], got rank ${w.shape.length}`);
    if (idx?.kind === 'tensor' && idx.shape && idx.shape.length !== 1) ctx.fail(`idx must be 1-D [k], got rank ${idx.shape.length}`);
    if (p?.kind === 'tensor' && p.shape && w?.kind === 'tensor' && w.shape) {
      if (p.shape.length !== 2) ctx.fail(`P must be 2-D [k, out], got rank ${p.shape.length}`);
      const po = p.shape[1], wo = w.shape[1];
      if (typeof po === 'number' && typeof wo === 'number' && po !== wo) ctx.fail(`P has ${po} columns but W has ${wo}`);
    }
    if (x?.kind !== 'tensor') return [null];
    const out = w?.kind === 'tensor' && w.shape ? w.shape[1]! : null;
    if (x.shape && w?.kind === 'tensor' && w.shape) {
      const last = x.shape[x.shape.length - 1], inn = w.shape[0];
      if (typeof last === 'number' && typeof inn === 'number' && last !== inn) ctx.fail(`X's last dimension (${last}) must equal W's rows (${inn})`);
    }
    return [tensorType(x.dtype, x.shape ? [...x.shape.slice(0, -1), out] : null)];
  },
};

/** The reference decomposition: `W' = ScatterND(W, idx[:, None], P)`, `Y = X · W'`. */
export function pacaLinearReference(node: Node, b: GraphBuilder): Value {
  const w = b.op('ScatterND', [node.input(1), b.unsqueeze(node.input(2), [1]), node.input(3)]);
  return b.matmul(node.input(0), w);
}

/** Registers the PaCALinear schema and decomposition once (idempotent). */
export function ensurePaCALinearSchema(): void {
  if (!getSchema('leanformer', 'PaCALinear')) registerSchema(PACA_LINEAR_SCHEMA);
  if (!getDecomposition('leanformer', 'PaCALinear')) registerDecomposition('leanformer', 'PaCALinear', pacaLinearReference);
}
