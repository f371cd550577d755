// ONNX lowering of leanformer.QMatMul: its forms (each one object of the capability table) and
// which targets list them (QMATMUL_LOWERING). EP facts come from core's ep-facts.
//   matmulnbits  com.microsoft.MatMulNBits (ORT cpu, cuda, wasm, webgpu; webgpu: uint8 zero points)
//   qdq          DequantizeLinear (int4/uint4/int8/uint8, blocked along K or per-channel) + MatMul;
//                tensorrt takes the symmetric form only (no zero point). Note: ORT's CPU graph
//                optimizer fuses blocked DQ + MatMul back into MatMulNBits with accuracy_level 4
//                (int8 activations) unless optimizations are off, so outputs then differ by the
//                activation-quantization error (measured 2e-3 of the output scale).
//   dynamic      int8 per-channel symmetric: DynamicQuantizeLinear(A) + MatMulInteger + rescale
//                (ORT's dynamic W8A8 form; listed for no target, chosen with lowerQMatMul's `form`)
//   codebook     a codebook weight (NF4, …): Gather(codebook, codes) · scale + MatMul, first on every ORT
//                target (./qmatmul-codebook.ts); the forms after it refuse codebook weights
//   reference    core's decomposition (unpack + dequantize + MatMul), last on every target (tfjs)
import {
  attr, buildDequantizedWeight, contribKernelProblem, DTypes, float16BitsToFloat32, GraphBuilder, LeanformerError,
  qmatmulAttrs, symmetricOnly, Tensor, targetName, zeroPointProblem, type Node, type Target, type Value,
} from '@leanformer/core';
import { loweringContext, lowerWithForm, type LoweringForm, type OnnxLowering } from '../lowering-registry.js';
import { lowerQMatMulCodebook, qmatmulCodebookApplies } from './qmatmul-codebook.js';

/** The ONNX forms QMatMul can take ('reference' is core's decomposition). */
export type QMatMulForm = 'codebook' | 'matmulnbits' | 'qdq' | 'dynamic' | 'reference';

/** Options of {@link lowerQMatMul}. */
export interface QMatMulLoweringOptions {
  /** Forces a form (e.g. 'qdq' or 'dynamic' for int8 on cpu); throws LOWERING_FAILED naming why when it does not apply. */
  readonly form?: QMatMulForm;
}

function fail(node: Node, t: Target, why: string): never {
  throw new LeanformerError('LOWERING_FAILED', `${node.describe()} cannot be lowered for ${targetName(t)}: ${why}`, { details: { op: 'leanformer::QMatMul', target: targetName(t) } });
}

/** Kind of a QMatMul's zero points: none (symmetric), integer (uint8, packed for 4 bits) or float (HQQ). */
function zeroPointKind(node: Node): 'none' | 'integer' | 'float' {
  const zp = node.inputs[3];
  return !zp ? 'none' : zp.dtype === DTypes.uint8 ? 'integer' : 'float';
}

/** Why the constant inputs a repacking form reads are not constants, or null. */
function constsProblem(node: Node): string | null {
  const names = ['B', 'scales', 'zero_points'];
  for (let i = 1; i <= 3; i++) if (node.inputs[i] && !node.inputs[i]!.const) return `${names[i - 1]} must be a constant initializer for this form`;
  return null;
}

const CODEBOOK: LoweringForm = {
  name: 'codebook',
  applies: (node) => qmatmulCodebookApplies(node),
  lower: (node) => lowerQMatMulCodebook(node),
};

/** Codebook weights take the codebook form only; the affine forms below refuse them. */
const noCodebook = (node: Node): string | null => (node.inputs[5] ? 'a codebook weight (NF4, …) has no affine zero point/scale form' : null);

const MATMULNBITS: LoweringForm = {
  name: 'matmulnbits',
  applies(node, { target }) {
    const k = zeroPointKind(node);
    return noCodebook(node) ?? contribKernelProblem(target, 'MatMulNBits') ?? (k === 'none' ? null : zeroPointProblem(target, qmatmulAttrs(node).bits, k));
  },
  lower: (node) => toMatMulNBits(node),
};

const QDQ: LoweringForm = {
  name: 'qdq',
  applies(node, { target }) {
    const c = noCodebook(node) ?? constsProblem(node);
    if (c) return c;
    const k = zeroPointKind(node);
    if (k !== 'none' && symmetricOnly(target)) return zeroPointProblem(target, qmatmulAttrs(node).bits, k);
    if (k === 'float') return 'fractional (float) zero points cannot be expressed by DequantizeLinear; use MatMulNBits or an integer-zero-point method';
    return null;
  },
  lower: (node, ctx) => toQdq(node, ctx.target),
};

const DYNAMIC: LoweringForm = {
  name: 'dynamic',
  applies(node) {
    const { bits, kBlocks } = qmatmulAttrs(node);
    if (bits !== 8 || kBlocks !== 1 || node.inputs[3] || node.inputs[5]) return 'the MatMulInteger form needs 8-bit, per-channel (block ≥ K), symmetric weights';
    if (node.input(0).dtype !== DTypes.float32) return 'the MatMulInteger form needs float32 activations';
    return constsProblem(node);
  },
  lower: (node, ctx) => toDynamic(node, ctx.target),
};

/** Every QMatMul form by name, for {@link lowerQMatMul}'s `form` option. */
const FORMS: Readonly<Record<Exclude<QMatMulForm, 'reference'>, LoweringForm>> = { codebook: CODEBOOK, matmulnbits: MATMULNBITS, qdq: QDQ, dynamic: DYNAMIC };

// Per-target order: the codebook form first (it accepts codebook weights only; the forms after it refuse them).
const nbitsTargets = ['ort-cpu', 'ort-cuda', 'ort-wasm', 'ort-webgpu'] as const;
/** QMatMul's entry in the capability table: MatMulNBits where ORT has it, TensorRT's symmetric Q/DQ (required: no float fallback), else the reference decomposition. */
export const QMATMUL_LOWERING: OnnxLowering = {
  domain: 'leanformer', op: 'QMatMul',
  forms: {
    ...Object.fromEntries(nbitsTargets.map((t) => [t, [CODEBOOK, MATMULNBITS]])),
    'ort-tensorrt': [CODEBOOK, { ...QDQ, required: true }],
  },
};

/**
 * Rewrites one leanformer.QMatMul node into the ONNX form for `target` (in place): the first form of
 * the capability table that applies, or `options.form` (LOWERING_FAILED naming why when it does not apply).
 *
 * @example
 * ```ts
 * for (const n of [...graph.nodes]) if (n.domain === 'leanformer' && n.op === 'QMatMul') lowerQMatMul(n, { runtime: 'ort', ep: 'cpu' });
 * ```
 */
export function lowerQMatMul(node: Node, target: Target, options: QMatMulLoweringOptions = {}): QMatMulForm {
  return lowerWithForm(node, loweringContext(target), options.form === undefined || options.form === 'reference' ? options.form : FORMS[options.form]) as QMatMulForm;
}

function replace(node: Node, y: Value): void {
  y.type = node.output(0).type;
  node.graph.replaceNode(node, [y]);
}

function toMatMulNBits(node: Node): void {
  const a = qmatmulAttrs(node);
  const zp = node.inputs[3] ?? null;
  const g = node.graph;
  g.opsets.set('com.microsoft', Math.max(1, g.opsets.get('com.microsoft') ?? 1));
  const inputs = [node.input(0), node.input(1), node.input(2), zp, null, node.inputs[4] ?? null];
  // Trailing omitted optional inputs are dropped (g_idx stays an empty slot only when bias follows).
  if (!node.inputs[4]) inputs.length = zp ? 4 : 3;
  // One node for one: MatMulNBits produces the old output value (name, type and uses kept).
  g.replaceNode(node, {
    op: 'MatMulNBits', domain: 'com.microsoft', name: node.name, inputs,
    attrs: { K: attr.int(a.K), N: attr.int(a.N), bits: attr.int(a.bits), block_size: attr.int(a.blockSize), accuracy_level: attr.int(a.accuracyLevel) },
  });
}

/** Constant content of a QMatMul input, or a lowering error naming it. */
function constOf(node: Node, i: number, what: string, target: Target): Tensor {
  const v = node.inputs[i];
  if (!v?.const) fail(node, target, `${what} must be a constant initializer for this form`);
  return v.const;
}

function floats(t: Tensor): Float32Array {
  return t.dtype === DTypes.float16 ? Float32Array.from(t.data as Uint16Array, (b) => float16BitsToFloat32(b)) : t.toFloat32();
}

/** Codes [N, kPad] and per-block zero points [N, kBlocks] (integers) from the constant inputs. */
function readQuantized(node: Node, target: Target): { codes: Uint8Array; zps: Uint8Array | null; scales: Float32Array } {
  const { N, bits, blockSize, kBlocks } = qmatmulAttrs(node);
  const B = constOf(node, 1, 'B', target).data as Uint8Array;
  const kPad = kBlocks * blockSize;
  const codes = new Uint8Array(N * kPad);
  if (bits === 8) codes.set(B);
  else for (let i = 0; i < B.length; i++) { codes[2 * i] = B[i]! & 15; codes[2 * i + 1] = B[i]! >> 4; }
  const scales = floats(constOf(node, 2, 'scales', target));
  const zv = node.inputs[3];
  let zps: Uint8Array | null = null;
  if (zv) {
    const zt = constOf(node, 3, 'zero_points', target); // uint8: the forms that read it refuse float zero points
    const per = Math.ceil((kBlocks * bits) / 8);
    zps = new Uint8Array(N * kBlocks);
    const zb = zt.data as Uint8Array;
    for (let n = 0; n < N; n++) for (let b = 0; b < kBlocks; b++) zps[n * kBlocks + b] = bits === 8 ? zb[n * per + b]! : (zb[n * per + (b >> 1)]! >> ((b & 1) * 4)) & 15;
  }
  return { codes, zps, scales };
}

function toQdq(node: Node, target: Target): void {
  const { K, N, bits, blockSize, kBlocks } = qmatmulAttrs(node);
  const { codes, zps, scales } = readQuantized(node, target);
  const g = node.graph;
  const kPad = kBlocks * blockSize;
  const mid = 1 << (bits - 1);
  // Weight [K, N] along K blocks; symmetric → signed (code − mid) with no zero point.
  const signed = !zps;
  const wq = new Array<number>(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) wq[k * N + n] = codes[n * kPad + k]! - (signed ? mid : 0);
  const qType = bits === 4 ? (signed ? DTypes.int4 : DTypes.uint4) : signed ? DTypes.int8 : DTypes.uint8;
  const dt = node.input(2).dtype === DTypes.float16 ? DTypes.float16 : DTypes.float32;
  const perChannel = kBlocks === 1;
  const scaleShape = perChannel ? [N] : [kBlocks, N];
  const sc = new Array<number>(kBlocks * N);
  for (let b = 0; b < kBlocks; b++) for (let n = 0; n < N; n++) sc[b * N + n] = scales[n * kBlocks + b]!;
  const base = node.input(1).name;
  const W = g.addInitializer(g.uniqueName(`${base}_qdq`), Tensor.from(qType, [K, N], wq));
  const S = g.addInitializer(g.uniqueName(`${base}_qdq_scale`), Tensor.from(dt, scaleShape, sc));
  let Z: Value | null = null;
  if (zps) {
    const z = new Array<number>(kBlocks * N);
    for (let b = 0; b < kBlocks; b++) for (let n = 0; n < N; n++) z[b * N + n] = zps[n * kBlocks + b]!;
    Z = g.addInitializer(g.uniqueName(`${base}_qdq_zp`), Tensor.from(qType, scaleShape, z));
  }
  // Blocked DequantizeLinear and 4-bit types need opset 21.
  if ((g.opsets.get('') ?? 0) < 21 && (bits === 4 || !perChannel)) g.opsets.set('', 21);
  const b = GraphBuilder.editing(g, node);
  const w = b.op('DequantizeLinear', [W, S, Z], perChannel ? { axis: 1 } : { axis: 0, block_size: blockSize });
  let y = b.matmul(node.input(0), w);
  if (node.inputs[4]) y = b.add(y, node.input(4));
  replace(node, y);
}

function toDynamic(node: Node, target: Target): void {
  const { K, N, blockSize } = qmatmulAttrs(node);
  const { codes, scales } = readQuantized(node, target);
  const g = node.graph;
  const w = new Array<number>(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) w[k * N + n] = codes[n * blockSize + k]! - 128;
  const base = node.input(1).name;
  const W = g.addInitializer(g.uniqueName(`${base}_s8`), Tensor.from('int8', [K, N], w));
  const S = g.addInitializer(g.uniqueName(`${base}_s8_scale`), Tensor.from('float32', [N], scales));
  const b = GraphBuilder.editing(g, node);
  const [aq, as, az] = b.op('DynamicQuantizeLinear', [node.input(0)], {}, { outputs: 3 });
  const acc = b.op('MatMulInteger', [aq!, W, az!, null]);
  let y = b.mul(b.mul(b.cast(acc, 'float32'), as!), S);
  if (node.inputs[4]) y = b.add(y, node.input(4));
  replace(node, y);
}

