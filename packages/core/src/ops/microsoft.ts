// com.microsoft contrib ops that ONNX Runtime uses for transformers (and SimplifiedLayerNormalization,
// which ORT registers in the default domain).
import { DTypes } from '../dtype.js';
import type { Dim, ValueType } from '../ir/types.js';
import { attrInt, constInts, hasInput, inDtype, inShape, normAxis, out, sameAs } from './infer-util.js';
import { matmulShape } from './onnx/nn.js';
import { a, FLOAT, schemas, type OpDef } from './onnx/define.js';
import type { InferenceContext, InferFn, OpSchema } from './schema.js';

const MS = 'com.microsoft';
const F16_32 = ['float16', 'float32', 'bfloat16'];

const mul = (x: Dim, y: Dim): Dim => (typeof x === 'number' && typeof y === 'number' ? x * y : null);
const div = (x: Dim, y: number): Dim => (typeof x === 'number' ? x / y : null);

const matMulNBitsInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const n = attrInt(ctx, 'N')!;
  return [out(inDtype(ctx, 0), s ? [...s.slice(0, -1), n] : null)];
};

/** Head size of GQA/SparseAttention: hidden/num_heads, or packed QKV width/(num_heads + 2·kv_heads). */
function headSize(ctx: InferenceContext, q: readonly Dim[] | null, numHeads: number, kvHeads: number): Dim {
  if (!q) return null;
  const d = q[q.length - 1]!;
  return hasInput(ctx, 1) ? div(d, numHeads) : div(d, numHeads + 2 * kvHeads);
}

const gqaInfer: InferFn = (ctx) => {
  const q = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  const nh = attrInt(ctx, 'num_heads')!;
  const kvh = attrInt(ctx, 'kv_num_heads')!;
  const h = headSize(ctx, q, nh, kvh);
  const past = inShape(ctx, 3);
  const total = constInts(ctx, 6)?.[0];
  const pastSeq = past ? past[2]! : null;
  const presentSeq: Dim = typeof pastSeq === 'number' && total !== undefined ? Math.max(pastSeq, total) : !hasInput(ctx, 3) && total !== undefined ? total : null;
  const batch = q ? q[0]! : null;
  const present = out(inDtype(ctx, 3) ?? dt, [batch, kvh, presentSeq, h]);
  return [out(dt, q ? [q[0]!, q[1]!, mul(nh, h)] : null), present, present, out(dt, [batch, nh, q ? q[1]! : null, presentSeq])];
};

const mhaInfer: InferFn = (ctx) => {
  const q = inShape(ctx, 0);
  const k = inShape(ctx, 1);
  const v = inShape(ctx, 2);
  const dt = inDtype(ctx, 0);
  const nh = attrInt(ctx, 'num_heads')!;
  let vHidden: Dim = null;
  let kvLen: Dim = null;
  let h: Dim = null;
  if (q && q.length === 5) { h = q[4]!; vHidden = mul(nh, h); } // packed QKV [B, S, N, 3, H]
  else if (q) h = div(q[2]!, nh);
  if (v && v.length === 3) { vHidden = v[2]!; kvLen = v[1]!; } else if (v && v.length === 4) { vHidden = mul(v[1]!, v[3]!); kvLen = v[2]!; }
  else if (k && k.length === 5) { vHidden = mul(k[2]!, k[4]!); kvLen = k[1]!; } // packed KV [B, L, N, 2, H]
  else if (!k && q && q.length !== 5) { vHidden = q[2]!; kvLen = q[1]!; }
  const past = inShape(ctx, 6);
  const pastLen: Dim = past ? past[2]! : hasInput(ctx, 6) ? null : 0;
  const totalLen: Dim = typeof pastLen === 'number' && typeof kvLen === 'number' ? pastLen + kvLen : null;
  const batch = q ? q[0]! : null;
  const present = out(dt, [batch, nh, totalLen, h]);
  const vHead = typeof vHidden === 'number' ? vHidden / nh : null;
  return [out(dt, q ? [q[0]!, q[1]!, vHidden] : null), present, out(dt, [batch, nh, totalLen, vHead]), out(dt, [batch, nh, q ? q[1]! : null, totalLen])];
};

const sparseAttentionInfer: InferFn = (ctx) => {
  const q = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  const nh = attrInt(ctx, 'num_heads')!;
  const kvh = attrInt(ctx, 'kv_num_heads')!;
  const h = headSize(ctx, q, nh, kvh);
  return [out(dt, q ? [q[0]!, q[1]!, mul(nh, h)] : null), ctx.inputTypes[3] ?? null, ctx.inputTypes[4] ?? null];
};

/** Mean / inverse-std outputs: X's shape with the normalized axes reduced to 1, in float32. */
function statsType(ctx: InferenceContext, axis = -1): ValueType {
  const s = inShape(ctx, 0);
  if (!s) return out(DTypes.float32, null);
  const ax = normAxis(ctx, axis, s.length);
  return out(DTypes.float32, s.map((d, i) => (i < ax ? d : 1)));
}

const skipLnInfer: InferFn = (ctx) => [ctx.inputTypes[0] ?? null, statsType(ctx), statsType(ctx), ctx.inputTypes[0] ?? null];
const simplifiedLnInfer: InferFn = (ctx) => [ctx.inputTypes[0] ?? null, statsType(ctx, attrInt(ctx, 'axis', -1))];

const gatherBlockQuantizedInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const idx = inShape(ctx, 1);
  const dt = inDtype(ctx, 2);
  if (!s || !idx) return [out(dt, null)];
  const bits = attrInt(ctx, 'bits', 4)!;
  const data = [...s];
  // uint8 data packs 8/bits values per byte along the last axis.
  if (inDtype(ctx, 0) === DTypes.uint8 && bits < 8) data[data.length - 1] = mul(data[data.length - 1]!, 8 / bits);
  const axis = normAxis(ctx, attrInt(ctx, 'gather_axis', 0)!, data.length);
  return [out(dt, [...data.slice(0, axis), ...idx, ...data.slice(axis + 1)])];
};

const fusedMatMulInfer: InferFn = (ctx) => {
  const tr = (s: readonly Dim[] | null, t: boolean) => (s && t && s.length >= 2 ? [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!] : s);
  return [out(inDtype(ctx, 0), matmulShape(ctx, tr(inShape(ctx, 0), attrInt(ctx, 'transA', 0) !== 0), tr(inShape(ctx, 1), attrInt(ctx, 'transB', 0) !== 0)))];
};

const msAttentionInfer: InferFn = (ctx) => {
  const x = inShape(ctx, 0);
  const w = inShape(ctx, 1);
  const sizes = ctx.attr<readonly (number | bigint)[] | undefined>('qkv_hidden_sizes', undefined)?.map(Number);
  const vHidden: Dim = sizes ? sizes[2]! : w ? div(w[1]!, 3) : null;
  return [out(inDtype(ctx, 0), x ? [x[0]!, x[1]!, vHidden] : null), null];
};

/** ONNX Attention-23: 4-D Q [B, Nq, S, H] or 3-D Q [B, S, Nq·H]. */
const onnxAttentionInfer: InferFn = (ctx) => {
  const q = inShape(ctx, 0);
  const v = inShape(ctx, 2);
  const dt = inDtype(ctx, 0);
  if (!q) return [out(dt, null), null, null, null];
  if (q.length === 4) return [out(dt, [q[0]!, q[1]!, q[2]!, v && v.length === 4 ? v[3]! : null]), null, null, null];
  const qh = attrInt(ctx, 'q_num_heads');
  const kvh = attrInt(ctx, 'kv_num_heads');
  const vHidden: Dim = v && v.length === 3 && qh && kvh ? mul(div(v[2]!, kvh), qh) : v && v.length === 4 && qh ? mul(v[3]!, qh) : null;
  return [out(dt, [q[0]!, q[1]!, vHidden]), null, null, null];
};

const qdqMs = (dequant: boolean): InferFn => (ctx) => [out(dequant ? inDtype(ctx, 1) : (hasInput(ctx, 2) ? inDtype(ctx, 2) : null) ?? DTypes.uint8, inShape(ctx, 0))];

const DEFS: OpDef[] = [
  {
    name: 'MatMulNBits', domain: MS, since: [1], inputs: ['A:T1', 'B:T2', 'scales:T1', 'zero_points?:T3', 'g_idx?:T4', 'bias?:T1'], outputs: ['Y:T1'],
    attrs: { K: a.reqInt(), N: a.reqInt(), bits: a.int(4), block_size: a.reqInt(), accuracy_level: a.int(0) },
    types: { T1: F16_32, T2: ['uint8', 'int32'], T3: ['uint8', 'int32', 'float16', 'float32', 'bfloat16'], T4: ['int32'] }, infer: matMulNBitsInfer,
  },
  {
    name: 'GroupQueryAttention', domain: MS, since: [1],
    inputs: ['query:T', 'key?:T', 'value?:T', 'past_key?:T_CACHE', 'past_value?:T_CACHE', 'seqlens_k:M', 'total_sequence_length:M', 'cos_cache?:T', 'sin_cache?:T', 'position_ids?:tensor(int64)', 'attention_bias?:T', 'head_sink?:T', 'k_scale?:T_KV_SCALE', 'v_scale?:T_KV_SCALE'],
    outputs: ['output:T', 'present_key:T_CACHE', 'present_value:T_CACHE', 'output_qk?:T'],
    attrs: { num_heads: a.reqInt(), kv_num_heads: a.reqInt(), scale: a.float(0), softcap: a.float(0), local_window_size: a.int(-1), do_rotary: a.int(0), rotary_interleaved: a.int(0), smooth_softmax: a.int(0), qk_output: a.int(0), k_quant_type: a.str('NONE'), v_quant_type: a.str('NONE'), kv_cache_bit_width: a.int(0) },
    types: { T: F16_32, T_CACHE: [...F16_32, 'int8', 'uint8', 'float8e4m3'], T_KV_SCALE: ['float32'], M: ['int32'] }, infer: gqaInfer,
  },
  {
    name: 'MultiHeadAttention', domain: MS, since: [1],
    inputs: ['query:T', 'key?:T', 'value?:T', 'bias?:T', 'key_padding_mask?:M', 'attention_bias?:T', 'past_key?:T', 'past_value?:T', 'past_sequence_length?:M', 'cache_indirection?:M'],
    outputs: ['output:T', 'present_key?:T', 'present_value?:T', 'qk?:QK'],
    attrs: { num_heads: a.reqInt(), mask_filter_value: a.float(-10000), scale: a.float(0), unidirectional: a.int(0) },
    types: { T: F16_32, M: ['int32'], QK: F16_32 }, infer: mhaInfer,
  },
  {
    name: 'SparseAttention', domain: MS, since: [1],
    inputs: ['query:T', 'key?:T', 'value?:T', 'past_key:T', 'past_value:T', 'block_row_indices:M', 'block_col_indices:M', 'total_sequence_length:M', 'key_total_sequence_lengths:M', 'cos_cache?:T', 'sin_cache?:T'],
    outputs: ['output:T', 'present_key:T', 'present_value:T'],
    attrs: { num_heads: a.reqInt(), kv_num_heads: a.reqInt(), scale: a.float(0), sparse_block_size: a.reqInt(), do_rotary: a.int(0), rotary_interleaved: a.int(0) },
    types: { T: F16_32, M: ['int32'] }, infer: sparseAttentionInfer,
  },
  { name: 'Attention', domain: MS, since: [1], inputs: ['input:T', 'weights:T', 'bias?:T', 'mask_index?:M', 'past?:T', 'attention_bias?:T', 'past_sequence_length?:M'], outputs: ['output:T', 'present?:T'], attrs: { num_heads: a.reqInt(), qkv_hidden_sizes: a.ints(), scale: a.float(0), unidirectional: a.int(0), do_rotary: a.int(0), mask_filter_value: a.float(-10000), past_present_share_buffer: a.int(0) }, types: { T: F16_32, M: ['int32'] }, infer: msAttentionInfer },
  { name: 'SkipLayerNormalization', domain: MS, since: [1], inputs: ['input:T', 'skip:T', 'gamma:T', 'beta?:T', 'bias?:T'], outputs: ['output:T', 'mean?:U', 'inv_std_var?:U', 'input_skip_bias_sum?:T'], attrs: { epsilon: a.float(1e-12) }, types: { T: F16_32, U: ['float32'] }, infer: skipLnInfer },
  { name: 'SkipSimplifiedLayerNormalization', domain: MS, since: [1], inputs: ['input:T', 'skip:T', 'gamma:T', 'bias?:T'], outputs: ['output:T', 'mean?:U', 'inv_std_var?:U', 'input_skip_bias_sum?:T'], attrs: { epsilon: a.float(1e-12) }, types: { T: F16_32, U: ['float32'] }, infer: skipLnInfer },
  { name: 'SimplifiedLayerNormalization', domain: '', since: [1], inputs: ['X:T', 'scale:V'], outputs: ['Y:V', 'inv_std_var?:U'], attrs: { axis: a.int(-1), epsilon: a.float(1e-5), stash_type: a.int(1) }, types: { T: FLOAT, U: ['float32', 'float64'], V: FLOAT }, infer: simplifiedLnInfer },
  { name: 'SimplifiedLayerNormalization', domain: MS, since: [1], inputs: ['X:T', 'scale:V'], outputs: ['Y:V', 'inv_std_var?:U'], attrs: { axis: a.int(-1), epsilon: a.float(1e-5), stash_type: a.int(1) }, types: { T: FLOAT, U: ['float32', 'float64'], V: FLOAT }, infer: simplifiedLnInfer },
  { name: 'Gelu', domain: MS, since: [1], inputs: ['X:T'], outputs: ['Y:T'], types: { T: F16_32 }, infer: sameAs(0) },
  { name: 'FastGelu', domain: MS, since: [1], inputs: ['X:T', 'bias?:T'], outputs: ['Y:T'], types: { T: F16_32 }, infer: sameAs(0) },
  { name: 'BiasGelu', domain: MS, since: [1], inputs: ['A:T', 'B:T'], outputs: ['C:T'], types: { T: F16_32 }, infer: sameAs(0) },
  { name: 'QuickGelu', domain: MS, since: [1], inputs: ['X:T'], outputs: ['Y:T'], attrs: { alpha: a.float(1.702) }, types: { T: F16_32 }, infer: sameAs(0) },
  { name: 'BiasAdd', domain: MS, since: [1], inputs: ['X:T', 'bias:T', 'skip:T'], outputs: ['Y:T'], types: { T: F16_32 }, infer: sameAs(0) },
  { name: 'RotaryEmbedding', domain: MS, since: [1], inputs: ['input:T', 'position_ids:M', 'cos_cache:T', 'sin_cache:T'], outputs: ['output:T'], attrs: { scale: a.float(1), interleaved: a.int(0), is_packed_batching: a.int(0), num_heads: a.int(0), rotary_embedding_dim: a.int(0) }, types: { T: F16_32, M: ['int64'] }, infer: sameAs(0) },
  { name: 'RotaryEmbedding', domain: '', since: [23], inputs: ['X:T', 'cos_cache:T', 'sin_cache:T', 'position_ids?:M'], outputs: ['Y:T'], attrs: { interleaved: a.int(0), num_heads: a.int(0), rotary_embedding_dim: a.int(0) }, types: { T: F16_32, M: ['int64'] }, infer: sameAs(0) },
  { name: 'Attention', domain: '', since: [23], inputs: ['Q:T1', 'K:T1', 'V:T2', 'attn_mask?:U', 'past_key?:T1', 'past_value?:T2', 'nonpad_kv_seqlen?:tensor(int64)'], outputs: ['Y:T1', 'present_key?:T1', 'present_value?:T2', 'qk_matmul_output?:T1'], attrs: { is_causal: a.int(0), kv_num_heads: a.int(), q_num_heads: a.int(), qk_matmul_output_mode: a.int(0), scale: a.float(), softcap: a.float(0), softmax_precision: a.int() }, types: { T1: FLOAT, T2: FLOAT, U: [...FLOAT, 'bool'] }, infer: onnxAttentionInfer },
  { name: 'GatherBlockQuantized', domain: MS, since: [1], inputs: ['data:T1', 'indices:Tind', 'scales:T2', 'zero_points?:T1'], outputs: ['output:T2'], attrs: { gather_axis: a.int(0), quantize_axis: a.int(1), block_size: a.int(128), bits: a.int(4) }, types: { T1: ['int4', 'uint4', 'uint8'], T2: F16_32, Tind: ['int32', 'int64'] }, infer: gatherBlockQuantizedInfer },
  { name: 'DequantizeLinear', domain: MS, since: [1], inputs: ['x:T1', 'x_scale:T2', 'x_zero_point?:T1'], outputs: ['y:T2'], attrs: { axis: a.int(1), block_size: a.int(0) }, types: { T1: ['int8', 'uint8', 'int16', 'uint16', 'int32', 'int4', 'uint4'], T2: F16_32 }, infer: qdqMs(true) },
  { name: 'QuantizeLinear', domain: MS, since: [1], inputs: ['x:T1', 'y_scale:T1', 'y_zero_point?:T2'], outputs: ['y:T2'], attrs: { axis: a.int(1), block_size: a.int(0) }, types: { T1: F16_32, T2: ['int8', 'uint8', 'int16', 'uint16', 'int4', 'uint4'] }, infer: qdqMs(false) },
  { name: 'FusedMatMul', domain: MS, since: [1], inputs: ['A:T', 'B:T'], outputs: ['Y:T'], attrs: { alpha: a.float(1), transA: a.int(0), transB: a.int(0), transBatchA: a.int(0), transBatchB: a.int(0) }, types: { T: F16_32 }, infer: fusedMatMulInfer },
  { name: 'DynamicQuantizeMatMul', domain: MS, since: [1], inputs: ['A:T1', 'B:T2', 'b_scale:T1', 'b_zero_point?:T2', 'bias?:T1'], outputs: ['Y:T1'], types: { T1: ['float32'], T2: ['int8', 'uint8'] }, infer: (ctx) => [out(inDtype(ctx, 0), matmulShape(ctx, inShape(ctx, 0), inShape(ctx, 1)))] },
  { name: 'MatMulIntegerToFloat', domain: MS, since: [1], inputs: ['A:T1', 'B:T2', 'a_scale:T3', 'b_scale:T3', 'a_zero_point?:T1', 'b_zero_point?:T2', 'bias?:T3'], outputs: ['Y:T3'], types: { T1: ['int8', 'uint8'], T2: ['int8', 'uint8'], T3: F16_32 }, infer: (ctx) => [out(inDtype(ctx, 2), matmulShape(ctx, inShape(ctx, 0), inShape(ctx, 1)))] },
];

/** com.microsoft contrib op schemas (ORT transformer kernels). */
export const microsoftSchemas: OpSchema[] = schemas(DEFS);
