// leanformer.QMatMul: `Y = A · dequant(B) (+ bias)` with B block-quantized along K.
// The inputs mirror com.microsoft.MatMulNBits (so the ORT lowering is a renaming), but the
// op is ours: every target may lower it differently (MatMulNBits, DequantizeLinear + MatMul,
// the reference decomposition below, a tfjs dequantize-on-the-fly kernel).
//
// Semantics (normative):
//   B           uint8 [N, kBlocks, blockSize·bits/8], codes packed low bits first along K
//   scales      T [N·kBlocks] (or [N, kBlocks])
//   zero_points uint8 packed like B's codes, [N·ceil(kBlocks·bits/8)], or T/float32
//               [N·kBlocks] (fractional zero points, e.g. HQQ); absent → 2^(bits−1)
//   W[k, n]     = (code[n, k] − zp[n, ⌊k/blockSize⌋]) · scale[n, ⌊k/blockSize⌋], k < K
//   Y           = A · W (+ bias[N]); A is [..., K], Y is [..., N]
//   codebook    T [2^bits] (optional; e.g. NF4's 16 normal-float values). When present the
//               codes index it: W[k, n] = codebook[code[n, k]] · scale[n, ⌊k/blockSize⌋], and
//               zero_points must be absent (a codebook is zero-centred by construction).
// Attributes: K, N, bits (4 or 8), block_size (16…256, core's blockSizeProblem), accuracy_level (a hint:
// 4 = int8 activations are acceptable, as QServe's W4A8), sparsity ('' or '2:4': the weight
// was 2:4-pruned before quantization; informational).
import { LeanformerError } from '../../errors.js';
import { DTypes } from '../../dtype.js';
import { blockSizeProblem } from '../../ep-facts.js';
import { GraphBuilder } from '../../builder/builder.js';
import type { Node, Value } from '../../ir/graph.js';
import { tensorType } from '../../ir/types.js';
import { getSchema, registerSchema, type InferenceContext, type OpSchema } from '../schema.js';
import { getDecomposition, registerDecomposition } from '../../passes/decompose.js';

/** The leanformer op domain. */
export const LEANFORMER_DOMAIN = 'leanformer';

function intAttr(ctx: InferenceContext, name: string, fallback?: number): number {
  const v = ctx.attr<number | bigint | undefined>(name, fallback);
  if (v === undefined) ctx.fail(`missing required attribute '${name}'`);
  return Number(v);
}

/** Schema of `leanformer::QMatMul` version 1. */
export const QMATMUL_SCHEMA: OpSchema = {
  domain: LEANFORMER_DOMAIN,
  name: 'QMatMul',
  since: 1,
  inputs: [
    { name: 'A', typeStr: 'T' },
    { name: 'B', typeStr: 'tensor(uint8)' },
    { name: 'scales', typeStr: 'T' },
    { name: 'zero_points', option: 'optional', typeStr: 'TZ' },
    { name: 'bias', option: 'optional', typeStr: 'T' },
    { name: 'codebook', option: 'optional', typeStr: 'T' },
  ],
  outputs: [{ name: 'Y', typeStr: 'T' }],
  attributes: {
    K: { type: 'int', required: true },
    N: { type: 'int', required: true },
    bits: { type: 'int', default: 4 },
    block_size: { type: 'int', required: true },
    accuracy_level: { type: 'int', default: 0 },
    sparsity: { type: 'string', default: '' },
  },
  typeConstraints: { T: ['float32', 'float16'], TZ: ['uint8', 'float32', 'float16'] },
  doc: 'Y = A · dequant(B) (+ bias); B block-quantized along K in the MatMulNBits layout; with a codebook, dequant is codebook[code]·scale.',
  infer(ctx) {
    const K = intAttr(ctx, 'K');
    const N = intAttr(ctx, 'N');
    const bits = intAttr(ctx, 'bits', 4);
    const bs = intAttr(ctx, 'block_size');
    if (bits !== 4 && bits !== 8) ctx.fail(`bits must be 4 or 8, got ${bits}`);
    const bsWhy = blockSizeProblem(bs);
    if (bsWhy) ctx.fail(`block_size ${bsWhy}`);
    const a = ctx.inputTypes[0];
    const b = ctx.inputTypes[1];
    const kb = Math.ceil(K / bs);
    const cb = ctx.inputTypes[5];
    if (cb) {
      if (ctx.inputTypes[3]) ctx.fail('a codebook weight takes no zero_points (codes index the codebook)');
      if (cb.kind === 'tensor' && cb.shape && (cb.shape.length !== 1 || (typeof cb.shape[0] === 'number' && cb.shape[0] !== 2 ** bits))) ctx.fail(`codebook must be [${2 ** bits}] (2^bits values), got [${cb.shape.join(', ')}]`);
    }
    if (b?.kind === 'tensor' && b.shape) {
      const want = [N, kb, (bs * bits) / 8];
      if (b.shape.length !== 3 || b.shape.some((d, i) => typeof d === 'number' && d !== want[i])) ctx.fail(`B must be uint8 [${want.join(', ')}], got [${b.shape.join(', ')}]`);
    }
    if (a?.kind !== 'tensor') return [null];
    if (a.shape && a.shape.length > 0) {
      const last = a.shape[a.shape.length - 1];
      if (typeof last === 'number' && last !== K) ctx.fail(`A's last dimension (${last}) must equal K (${K})`);
    }
    return [tensorType(a.dtype, a.shape ? [...a.shape.slice(0, -1), N] : null)];
  },
};

/**
 * Registers the QMatMul schema and its reference decomposition once (idempotent; core is
 * side-effect free, so callers ask).
 */
export function ensureQMatMulSchema(): void {
  if (!getSchema(LEANFORMER_DOMAIN, 'QMatMul')) registerSchema(QMATMUL_SCHEMA);
  if (!getDecomposition(LEANFORMER_DOMAIN, 'QMatMul')) registerDecomposition(LEANFORMER_DOMAIN, 'QMatMul', qmatmulReference);
}

/** The decomposition as a `DecompositionFn`: builds `A · dequant(B) (+ bias)` with `b` (inserting before the node). */
export function qmatmulReference(node: Node, b: GraphBuilder): Value {
  const w = buildDequantizedWeight(b, node);
  const y = b.matmul(node.input(0), w);
  const bias = node.inputs[4] ?? null;
  return bias ? b.add(y, bias) : y;
}

/**
 * Unpacks codes packed along the last axis (4-bit: low nibble first) into float values of
 * `dt`, with only float arithmetic (Cast, Floor, Mul, Sub), so every runtime can run it.
 * Returns [..., P·(8/bits)] as [..., P, 8/bits] flattened by the caller's Reshape.
 */
export function unpackCodes(b: GraphBuilder, packed: Value, bits: number, dt: typeof DTypes.float32 | typeof DTypes.float16): Value {
  const f = b.cast(packed, dt);
  if (bits === 8) return f;
  const hi = b.op('Floor', [b.mul(f, b.scalar(1 / 16, dt))]);
  const lo = b.sub(f, b.mul(hi, b.scalar(16, dt)));
  return b.concat([b.unsqueeze(lo, [-1]), b.unsqueeze(hi, [-1])], -1);
}

/** Reads the QMatMul attributes and checks them. */
export function qmatmulAttrs(node: Node): { K: number; N: number; bits: number; blockSize: number; kBlocks: number; accuracyLevel: number; sparsity: string } {
  const K = Number(node.attr('K'));
  const N = Number(node.attr('N'));
  const bits = Number(node.attr('bits', 4));
  const blockSize = Number(node.attr('block_size'));
  const bsWhy = blockSizeProblem(blockSize);
  if (!(K > 0 && N > 0) || (bits !== 4 && bits !== 8) || bsWhy) {
    throw new LeanformerError('INVALID_GRAPH', `${node.describe()}: invalid attributes K=${K}, N=${N}, bits=${bits}, block_size=${blockSize} (bits 4|8; block_size ${bsWhy ?? 'ok'})`);
  }
  return { K, N, bits, blockSize, kBlocks: Math.ceil(K / blockSize), accuracyLevel: Number(node.attr('accuracy_level', 0)), sparsity: String(node.attr('sparsity', '')) };
}

/**
 * Builds the dequantized weight W [K, N] of a QMatMul node from its inputs with standard ONNX
 * ops, inserting before `node`. Shared by the decomposition and by lowerings that dequantize
 * (tfjs, targets without MatMulNBits).
 */
export function buildDequantizedWeight(b: GraphBuilder, node: Node): Value {
  const { K, N, bits, blockSize, kBlocks } = qmatmulAttrs(node);
  const dt = node.input(2).dtype === DTypes.float16 ? DTypes.float16 : DTypes.float32;
  const codes = b.reshape(unpackCodes(b, node.input(1), bits, dt), [N, kBlocks, blockSize]);
  const scales = b.reshape(node.input(2), [N, kBlocks, 1]);
  const codebook = node.inputs[5] ?? null;
  if (codebook) {
    if (node.inputs[3]) throw new LeanformerError('INVALID_GRAPH', `${node.describe()}: a codebook weight takes no zero_points`);
    // Codes are exact small integers in float; Cast to int64 makes them Gather indices into the table.
    const idx = b.cast(codes, DTypes.int64);
    const table = codebook.dtype === dt ? codebook : b.cast(codebook, dt);
    const deqCb = b.reshape(b.mul(b.gather(table, idx, 0), scales), [N, kBlocks * blockSize]);
    return b.transpose(kBlocks * blockSize === K ? deqCb : b.slice(deqCb, [0], [K], [1]), [1, 0]);
  }
  const zpIn = node.inputs[3] ?? null;
  let zp: Value;
  if (!zpIn) zp = b.scalar(2 ** (bits - 1), dt);
  else if (zpIn.dtype === DTypes.uint8) {
    const perCol = Math.ceil((kBlocks * bits) / 8);
    const unpacked = b.reshape(unpackCodes(b, b.reshape(zpIn, [N, perCol]), bits, dt), [N, (perCol * 8) / bits]);
    zp = b.reshape(b.slice(unpacked, [0], [kBlocks], [1]), [N, kBlocks, 1]);
  } else zp = b.reshape(zpIn.dtype === dt ? zpIn : b.cast(zpIn, dt), [N, kBlocks, 1]);
  const deq = b.reshape(b.mul(b.sub(codes, zp), scales), [N, kBlocks * blockSize]);
  const trimmed = kBlocks * blockSize === K ? deq : b.slice(deq, [0], [K], [1]);
  return b.transpose(trimmed, [1, 0]);
}

/**
 * Reference decomposition: replaces a QMatMul node by standard ONNX ops (unpack, dequantize,
 * MatMul, Add) computing exactly the op's semantics. Returns the value that replaced Y.
 *
 * @example
 * ```ts
 * for (const n of [...graph.nodes]) if (n.domain === 'leanformer' && n.op === 'QMatMul') decomposeQMatMul(n);
 * ```
 */
export function decomposeQMatMul(node: Node): Value {
  if (node.domain !== LEANFORMER_DOMAIN || node.op !== 'QMatMul') throw new LeanformerError('INVALID_ARGUMENT', `decomposeQMatMul: expected a leanformer::QMatMul node, got ${node.describe()}`);
  const g = node.graph;
  const y = qmatmulReference(node, GraphBuilder.editing(g, node));
  g.replaceNode(node, [y]);
  return y;
}
