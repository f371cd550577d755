// leanformer.QGather: an embedding lookup from a table quantized in blocks along its rows.
//
// Semantics (normative):
//   data        uint8 [V, D·bits/8], each row's D codes packed low bits first
//   indices     int32/int64, any shape I (rows of the table, gathered along axis 0)
//   scales      T [V, D/blockSize]
//   zero_points uint8 [V, ceil((D/blockSize)·bits/8)] packed like data, or T/float32
//               [V, D/blockSize]; absent → 2^(bits−1)
//   out[i…, d]  = (code[idx, d] − zp[idx, ⌊d/blockSize⌋]) · scale[idx, ⌊d/blockSize⌋]
//   output      T [...I, D]
// Attributes: bits (4 or 8), block_size (16…256, core's blockSizeProblem, dividing D).
// This matches com.microsoft.GatherBlockQuantized with uint8 data, gather_axis 0 and
// quantize_axis = last, so ORT targets lower it by renaming.
import { LeanformerError } from '../../errors.js';
import { DTypes } from '../../dtype.js';
import { blockSizeProblem } from '../../ep-facts.js';
import { GraphBuilder } from '../../builder/builder.js';
import type { Node, Value } from '../../ir/graph.js';
import { tensorType } from '../../ir/types.js';
import { getSchema, registerSchema, type OpSchema } from '../schema.js';
import { getDecomposition, registerDecomposition } from '../../passes/decompose.js';
import { LEANFORMER_DOMAIN, unpackCodes } from './qmatmul.js';

/** Schema of `leanformer::QGather` version 1. */
export const QGATHER_SCHEMA: OpSchema = {
  domain: LEANFORMER_DOMAIN,
  name: 'QGather',
  since: 1,
  inputs: [
    { name: 'data', typeStr: 'tensor(uint8)' },
    { name: 'indices', typeStr: 'Tind' },
    { name: 'scales', typeStr: 'T' },
    { name: 'zero_points', option: 'optional', typeStr: 'TZ' },
  ],
  outputs: [{ name: 'output', typeStr: 'T' }],
  attributes: { bits: { type: 'int', default: 4 }, block_size: { type: 'int', required: true } },
  typeConstraints: { T: ['float32', 'float16'], TZ: ['uint8', 'float32', 'float16'], Tind: ['int32', 'int64'] },
  doc: 'Embedding gather from a block-quantized table (rows packed along the last axis).',
  infer(ctx) {
    const bits = Number(ctx.attr('bits', 4));
    const bs = Number(ctx.attr('block_size'));
    if (bits !== 4 && bits !== 8) ctx.fail(`bits must be 4 or 8, got ${bits}`);
    const bsWhy = blockSizeProblem(bs);
    if (bsWhy) ctx.fail(`block_size ${bsWhy}`);
    const data = ctx.inputTypes[0];
    const idx = ctx.inputTypes[1];
    const sc = ctx.inputTypes[2];
    const dt = sc?.kind === 'tensor' ? sc.dtype : null;
    if (data?.kind !== 'tensor' || !data.shape || idx?.kind !== 'tensor' || !idx.shape) return [tensorType(dt, null)];
    const packed = data.shape[1];
    const D = typeof packed === 'number' ? (packed * 8) / bits : null;
    if (D !== null && D % bs !== 0) ctx.fail(`embedding width ${D} must be a multiple of block_size ${bs}`);
    return [tensorType(dt, [...idx.shape, D])];
  },
};

/** Registers the QGather schema and its reference decomposition once (idempotent). */
export function ensureQGatherSchema(): void {
  if (!getSchema(LEANFORMER_DOMAIN, 'QGather')) registerSchema(QGATHER_SCHEMA);
  if (!getDecomposition(LEANFORMER_DOMAIN, 'QGather')) registerDecomposition(LEANFORMER_DOMAIN, 'QGather', qgatherReference);
}

/** Reads and checks QGather's attributes and static sizes. */
export function qgatherAttrs(node: Node): { bits: number; blockSize: number; V: number; D: number; blocks: number } {
  const bits = Number(node.attr('bits', 4));
  const blockSize = Number(node.attr('block_size'));
  const shape = node.input(0).shape;
  if (!shape || shape.length !== 2 || typeof shape[0] !== 'number' || typeof shape[1] !== 'number') {
    throw new LeanformerError('INVALID_GRAPH', `${node.describe()}: data must have a static 2-D shape, got ${shape ? `[${shape.join(', ')}]` : 'unknown'}`);
  }
  const D = (shape[1] * 8) / bits;
  if ((bits !== 4 && bits !== 8) || blockSizeProblem(blockSize) || D % blockSize !== 0) {
    throw new LeanformerError('INVALID_GRAPH', `${node.describe()}: bits=${bits}, block_size=${blockSize}, width ${D} (bits 4|8, block_size 16, 32, 64, 128 or 256 dividing the width)`);
  }
  return { bits, blockSize, V: shape[0], D, blocks: D / blockSize };
}

/**
 * Reference decomposition: gathers the packed rows, their scales and zero points, then
 * unpacks and dequantizes only those rows (standard ONNX ops). Returns the replacing value.
 *
 * @example
 * ```ts
 * decomposeQGather(node); // Gather ×3 → Cast/Floor unpack → (q − zp)·scale → Reshape
 * ```
 */
export function decomposeQGather(node: Node): Value {
  if (node.domain !== LEANFORMER_DOMAIN || node.op !== 'QGather') throw new LeanformerError('INVALID_ARGUMENT', `decomposeQGather: expected a leanformer::QGather node, got ${node.describe()}`);
  const g = node.graph;
  const y = qgatherReference(node, GraphBuilder.editing(g, node));
  g.replaceNode(node, [y]);
  return y;
}

/** The decomposition as a `DecompositionFn` (inserts before the node through `b`). */
export function qgatherReference(node: Node, b: GraphBuilder): Value {
  const { bits, blockSize, D, blocks } = qgatherAttrs(node);
  const idxShape = node.input(1).shape;
  if (!idxShape) throw new LeanformerError('INVALID_GRAPH', `${node.describe()}: indices need a known rank to decompose`);
  const r = idxShape.length;
  const keep = new Array<number>(r).fill(0); // Reshape 0 = copy that leading dim
  const dt = node.input(2).dtype === DTypes.float16 ? DTypes.float16 : DTypes.float32;
  const idx = node.input(1);
  const rows = b.gather(node.input(0), idx, 0);
  const codes = b.reshape(unpackCodes(b, rows, bits, dt), [...keep, blocks, blockSize]);
  const scales = b.unsqueeze(b.gather(node.input(2), idx, 0), [-1]);
  const zpIn = node.inputs[3] ?? null;
  let zp: Value;
  if (!zpIn) zp = b.scalar(2 ** (bits - 1), dt);
  else if (zpIn.dtype === DTypes.uint8) {
    const per = Math.ceil((blocks * bits) / 8);
    const un = b.reshape(unpackCodes(b, b.gather(zpIn, idx, 0), bits, dt), [...keep, (per * 8) / bits]);
    zp = b.unsqueeze(b.slice(un, [0], [blocks], [r]), [-1]);
  } else zp = b.unsqueeze(b.gather(zpIn.dtype === dt ? zpIn : b.cast(zpIn, dt), idx, 0), [-1]);
  return b.reshape(b.mul(b.sub(codes, zp), scales), [...keep, D]);
}
