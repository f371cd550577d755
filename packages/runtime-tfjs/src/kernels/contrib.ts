// com.microsoft contrib ops that our ONNX lowerings emit for ONNX Runtime targets, so a file
// quantized for ORT (e.g. `leanformer quantize --method rtn`, target ort-cpu) also runs on tfjs.
// Semantics follow ORT's CPU kernels (and core's leanformer.QMatMul / QGather, which mirror them):
//   MatMulNBits           Y = A · W (+ bias), W[k, n] = (code[n, k] − zp[n, ⌊k/bs⌋]) · scale[n, ⌊k/bs⌋];
//                         B uint8 [N, ⌈K/bs⌉, bs·bits/8] (low bits first), zero points packed uint8
//                         or float, absent → 2^(bits−1); accuracy_level is a hint and is ignored
//                         (tfjs computes in float32, i.e. accuracy_level 0).
//   GatherBlockQuantized  gather along gather_axis of a uint8 table packed along its last axis
//                         (quantize_axis), dequantized per block of block_size values.
//   GroupQueryAttention   causal attention, kv heads shared by num_heads/kv_num_heads query heads,
//                         optional local_window_size and past K/V (present = concat(past, new)); every
//                         batch row at full length (seqlens_k = total − 1), do_rotary with cos/sin caches
//                         (rotate-half, positions past + i), no softcap/extras.
//   MultiHeadAttention    attention with optional bias, attention_bias and unidirectional (causal); no
//                         key_padding_mask, past or packed inputs.
// The forms we emit are covered (packages/onnx/src/lowerings/attention.ts); other inputs and
// attributes fail naming themselves and the alternative (lower for tfjs: core's decompositions).
// MatMulNBits dequantizes its constant weight once per compiled graph (KernelContext.fromConstants);
// GatherBlockQuantized dequantizes only the gathered rows at each call, so the table stays packed.
import { DTypes } from '@leanformer/core';
import type * as tfc from '@tensorflow/tfjs-core';
import type { Kernel, KernelContext } from '../kernel.js';

type T = tfc.Tensor;

/** Codes packed low bits first along the last axis → float32 [..., P·8/bits]. Exact (integers < 2^24). */
function unpackCodes(tf: KernelContext['tf'], packed: T, bits: number): T {
  const f = tf.cast(packed, 'float32');
  if (bits === 8) return f;
  const hi = tf.floor(tf.mul(f, tf.scalar(1 / 16)));
  const lo = tf.sub(f, tf.mul(hi, tf.scalar(16)));
  return tf.reshape(tf.stack([lo, hi], -1), [...f.shape.slice(0, -1), f.shape[f.rank - 1]! * 2]);
}

function checkBits(c: KernelContext, bits: number, bs: number): void {
  if (bits !== 4 && bits !== 8) c.fail(`bits must be 4 or 8 on tfjs, got ${bits}`);
  if (!Number.isInteger(bs) || bs < 16 || (bs & (bs - 1)) !== 0) c.fail(`block_size must be a power of two ≥ 16, got ${bs}`);
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Fails naming what tfjs does not implement of this op, and the alternative. */
function unsupported(c: KernelContext, what: string): never {
  c.fail(`${what} is not supported on tfjs; lower the model for target tfjs (core's decompositions) instead of an ORT target`);
}

/** [B, L, heads·D] → [B, heads, L, D]. */
function toHeads(tf: KernelContext['tf'], x: T, heads: number): T {
  const [B, L, hid] = x.shape as [number, number, number];
  return tf.transpose(tf.reshape(x, [B, L, heads, hid / heads]), [0, 2, 1, 3]);
}

/**
 * softmax(q·kᵀ·scale + bias, masked) · v per head. q [B, H, S, D]; k, v [B, G, T, D] with query head h
 * reading kv head ⌊h·G/H⌋; `bias` broadcasts to [B, H, S, T]; `visible(i, j)` says whether query row i
 * sees key j (null: all). Returns [B, S, H·Dv].
 */
function attend(tf: KernelContext['tf'], q: T, k: T, v: T, scale: number, bias: T | null, visible: ((i: number, j: number) => boolean) | null): T {
  const [B, H, S] = q.shape as [number, number, number, number];
  const [, G, Tn] = k.shape as [number, number, number, number];
  const rep = (x: T) => (G === H ? x : tf.reshape(tf.tile(tf.expandDims(x, 2), [1, 1, H / G, 1, 1]), [B, H, Tn, x.shape[3]!]));
  let scores = tf.mul(tf.matMul(q, rep(k), false, true), tf.scalar(scale));
  if (bias) scores = tf.add(scores, bias);
  if (visible) {
    // −1e30, not −∞: exp underflows to exactly 0 and a row never turns into NaN.
    const m = new Float32Array(S * Tn);
    for (let i = 0; i < S; i++) for (let j = 0; j < Tn; j++) if (!visible(i, j)) m[i * Tn + j] = -1e30;
    scores = tf.add(scores, tf.tensor2d(m, [S, Tn]));
  }
  const y = tf.matMul(tf.softmax(scores), rep(v)); // [B, H, S, Dv]
  return tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B, S, H * y.shape[3]!]);
}

/** W as float32 [N, K] from MatMulNBits inputs 1–3. */
function dequantizeNBits(c: KernelContext, K: number, N: number, bits: number, bs: number): T {
  const { tf } = c;
  const kb = Math.ceil(K / bs);
  const codes = tf.reshape(unpackCodes(tf, c.t(1), bits), [N, kb, bs]);
  const scales = tf.reshape(tf.cast(c.t(2), 'float32'), [N, kb, 1]);
  let zp: T;
  if (!c.has(3)) zp = tf.scalar(2 ** (bits - 1));
  else if (c.dtype(3) === DTypes.uint8) {
    const per = Math.ceil((kb * bits) / 8);
    const un = unpackCodes(tf, tf.reshape(c.t(3), [N, per]), bits);
    zp = tf.reshape(tf.slice(un, [0, 0], [N, kb]), [N, kb, 1]);
  } else zp = tf.reshape(tf.cast(c.t(3), 'float32'), [N, kb, 1]);
  const w = tf.reshape(tf.mul(tf.sub(codes, zp), scales), [N, kb * bs]);
  return kb * bs === K ? w : tf.slice(w, [0, 0], [N, K]);
}

/** Kernels of the com.microsoft contrib ops, registered under that domain by registerBuiltinKernels. */
export const contribKernels: Record<string, Kernel> = {
  MatMulNBits: (c) => {
    const { tf } = c;
    const K = c.attr('K', 0), N = c.attr('N', 0), bits = c.attr('bits', 4), bs = c.attr('block_size', 0);
    if (!(Number.isInteger(K) && K > 0 && Number.isInteger(N) && N > 0)) c.fail(`K and N must be positive integers, got K=${K}, N=${N}`);
    checkBits(c, bits, bs);
    if (c.has(4)) c.fail('g_idx (act-order permutation) is not supported on tfjs; quantize without act-order');
    if (c.dtype(1) !== DTypes.uint8) c.fail(`B must be uint8, got ${c.dtype(1).name}`);
    const kb = Math.ceil(K / bs);
    const want = N * kb * ((bs * bits) / 8);
    if (size(c.shape(1)) !== want) c.fail(`B has ${size(c.shape(1))} bytes; K=${K}, N=${N}, bits=${bits}, block_size=${bs} need [${N}, ${kb}, ${(bs * bits) / 8}] = ${want}`);
    if (size(c.shape(2)) !== N * kb) c.fail(`scales has ${size(c.shape(2))} values; need N·⌈K/block_size⌉ = ${N * kb}`);
    if (c.has(3)) {
      const zn = size(c.shape(3));
      const zw = c.dtype(3) === DTypes.uint8 ? N * Math.ceil((kb * bits) / 8) : N * kb;
      if (zn !== zw) c.fail(`zero_points (${c.dtype(3).name}) has ${zn} values; need ${zw}`);
    }
    const a = c.t(0);
    if (a.rank < 1 || a.shape[a.rank - 1] !== K) c.fail(`A's last dimension must be K=${K}, got [${a.shape.join(', ')}]`);
    const w = c.fromConstants(`MatMulNBits ${K} ${N} ${bits} ${bs}`, [1, 2, 3], () => dequantizeNBits(c, K, N, bits, bs));
    const y = tf.reshape(tf.matMul(tf.reshape(tf.cast(a, 'float32'), [-1, K]), w, false, true), [...a.shape.slice(0, -1), N]);
    return c.has(5) ? tf.add(y, tf.cast(c.t(5), 'float32')) : y;
  },

  GatherBlockQuantized: (c) => {
    const { tf } = c;
    const bits = c.attr('bits', 4), bs = c.attr('block_size', 128);
    checkBits(c, bits, bs);
    if (c.dtype(0) !== DTypes.uint8) c.fail(`data must be uint8 (codes packed along the last axis) on tfjs, got ${c.dtype(0).name}`);
    const shape = c.shape(0), r = shape.length;
    if (r < 2) c.fail(`data must have rank ≥ 2, got [${shape.join(', ')}]`);
    const qAxis = c.axis(c.attr('quantize_axis', 1), r), gAxis = c.axis(c.attr('gather_axis', 0), r);
    // ORT's rule for uint8 data too: codes are packed along the last axis, which is the quantized one.
    if (qAxis !== r - 1) c.fail(`quantize_axis must be the last axis (${r - 1}) for uint8-packed data, got ${qAxis}`);
    if (gAxis === qAxis) c.fail('gather_axis must differ from quantize_axis');
    const D = (shape[r - 1]! * 8) / bits, blocks = Math.ceil(D / bs);
    const sShape = [...shape.slice(0, -1), blocks];
    if (c.shape(2).join() !== sShape.join()) c.fail(`scales must be [${sShape.join(', ')}], got [${c.shape(2).join(', ')}]`);
    if (c.has(3)) {
      if (c.dtype(3) !== DTypes.uint8) c.fail(`zero_points must be uint8 like data, got ${c.dtype(3).name}`);
      const zShape = [...shape.slice(0, -1), Math.ceil((blocks * bits) / 8)];
      if (c.shape(3).join() !== zShape.join()) c.fail(`zero_points must be [${zShape.join(', ')}] (packed like data), got [${c.shape(3).join(', ')}]`);
    }
    // Indices (token ids: few) are checked on the host, as ORT does; negative ones count from the end.
    const n = shape[gAxis]!;
    const ids = c.ints(1)!;
    const bad = ids.find((i) => !(i >= -n && i < n));
    if (bad !== undefined) c.fail(`index ${bad} is out of range [${-n}, ${n - 1}] along gather_axis ${gAxis}`);
    const idx = tf.tensor(ids.map((i) => (i < 0 ? i + n : i)), c.shape(1), 'int32');
    const rows = tf.gather(c.t(0), idx, gAxis);
    const lead = rows.shape.slice(0, -1);
    let codes = unpackCodes(tf, rows, bits);
    if (blocks * bs !== D) codes = tf.pad(codes, [...lead.map((): [number, number] => [0, 0]), [0, blocks * bs - D]]);
    codes = tf.reshape(codes, [...lead, blocks, bs]);
    const scales = tf.expandDims(tf.gather(tf.cast(c.t(2), 'float32'), idx, gAxis), -1);
    let zp: T;
    if (!c.has(3)) zp = tf.scalar(2 ** (bits - 1));
    else {
      const un = unpackCodes(tf, tf.gather(c.t(3), idx, gAxis), bits);
      zp = tf.expandDims(tf.slice(un, new Array<number>(un.rank).fill(0), [...lead, blocks]), -1);
    }
    const out = tf.reshape(tf.mul(tf.sub(codes, zp), scales), [...lead, blocks * bs]);
    return blocks * bs === D ? out : tf.slice(out, new Array<number>(out.rank).fill(0), [...lead, D]);
  },

  GroupQueryAttention: (c) => {
    const { tf } = c;
    const H = c.attr('num_heads', 0), G = c.attr('kv_num_heads', 0);
    if (!(H > 0 && G > 0 && H % G === 0)) c.fail(`num_heads (${H}) must be a positive multiple of kv_num_heads (${G})`);
    for (const [name, off] of [['rotary_interleaved', 0], ['softcap', 0], ['smooth_softmax', 0], ['qk_output', 0]] as const) {
      if (c.attr(name, off) !== off) unsupported(c, `attribute ${name}=${c.attr(name, off)}`);
    }
    for (const name of ['k_quant_type', 'v_quant_type']) if (c.attr(name, 'NONE') !== 'NONE') unsupported(c, `attribute ${name}=${c.attr(name, 'NONE')}`);
    ['position_ids', 'attention_bias', 'head_sink', 'k_scale', 'v_scale'].forEach((name, i) => { if (c.has(9 + i)) unsupported(c, `input ${name}`); });
    const rotary = c.attr('do_rotary', 0) === 1;
    if (rotary !== (c.has(7) && c.has(8))) c.fail('do_rotary=1 needs cos_cache and sin_cache (and they need do_rotary=1)');
    if (c.has(3) !== c.has(4)) c.fail('past_key and past_value must be given together');
    let q = c.t(0), kNew: T, vNew: T;
    if (q.rank !== 3) c.fail(`query must be [batch, sequence, hidden], got [${q.shape.join(', ')}]`);
    const [B, S] = q.shape as [number, number, number];
    if (c.has(1) !== c.has(2)) c.fail('key and value must be given together (or both omitted for packed QKV)');
    let D: number;
    if (c.has(1)) {
      D = q.shape[2]! / H;
      kNew = c.t(1); vNew = c.t(2);
    } else {
      // Packed: query holds [Q | K | V] = (H + 2G)·D per position.
      D = q.shape[2]! / (H + 2 * G);
      [q, kNew, vNew] = tf.split(q, [H * D, G * D, G * D], 2) as [T, T, T];
    }
    if (!Number.isInteger(D) || kNew.shape[2] !== G * D) c.fail(`hidden sizes do not split into ${H} query and ${G} kv heads: query [${c.shape(0).join(', ')}], key [${kNew.shape.join(', ')}]`);
    if (rotary) {
      // Rotate-half RoPE on q and the new k at positions past + i (rows of the [max_positions, D/2] caches).
      const P = c.has(3) ? c.shape(3)[2]! : 0;
      const cosT = c.t(7), sinT = c.t(8);
      if (cosT.rank !== 2 || cosT.shape[1]! * 2 !== D || cosT.shape[0]! < P + S) c.fail(`cos_cache must be [≥ ${P + S}, ${D / 2}], got [${cosT.shape.join(', ')}]`);
      const cos = tf.reshape(tf.slice(tf.cast(cosT, 'float32'), [P, 0], [S, D / 2]), [1, S, 1, D / 2]);
      const sin = tf.reshape(tf.slice(tf.cast(sinT, 'float32'), [P, 0], [S, D / 2]), [1, S, 1, D / 2]);
      const rot = (x: T, heads: number): T => {
        const [x1, x2] = tf.split(tf.reshape(x, [B, S, heads, D]), 2, 3) as [T, T];
        return tf.reshape(tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x1, sin), tf.mul(x2, cos))], 3), [B, S, heads * D]);
      };
      q = rot(q, H); kNew = rot(kNew, G);
    }
    let k = toHeads(tf, kNew, G), v = toHeads(tf, vNew, G);
    if (c.has(3)) {
      const pk = c.t(3), pv = c.t(4);
      if (pk.rank !== 4 || pk.shape[1] !== G || pk.shape[3] !== D || pv.shape.join() !== pk.shape.join()) c.fail(`past_key/past_value must be [batch, ${G}, past, ${D}], got [${pk.shape.join(', ')}] and [${pv.shape.join(', ')}]`);
      k = tf.concat([pk, k], 2);
      v = tf.concat([pv, v], 2);
    }
    const Tn = k.shape[2]!;
    const total = c.ints(6)?.[0], seqlens = c.ints(5) ?? [];
    if (total !== Tn) unsupported(c, `total_sequence_length ${total} other than past + new = ${Tn} (a shared past/present buffer)`);
    if (seqlens.length !== B || seqlens.some((n) => n !== Tn - 1)) unsupported(c, `seqlens_k [${seqlens.join(', ')}] other than total − 1 = ${Tn - 1} for every batch row (right-padded batches)`);
    const scale = c.attr('scale', 0) || 1 / Math.sqrt(D);
    const w = c.attr('local_window_size', -1);
    const off = Tn - S; // query row i is at position off + i
    const y = attend(tf, toHeads(tf, q, H), k, v, scale, null, (i, j) => j <= off + i && (w < 0 || j > off + i - w));
    return [y, k, v];
  },

  MultiHeadAttention: (c) => {
    const { tf } = c;
    const H = c.attr('num_heads', 0);
    if (!(H > 0)) c.fail(`num_heads must be positive, got ${H}`);
    ['key_padding_mask', null, 'past_key', 'past_value', 'past_sequence_length', 'cache_indirection'].forEach((name, i) => { if (name && c.has(4 + i)) unsupported(c, `input ${name}`); });
    if (c.node.outputs.slice(1).some((o) => o)) unsupported(c, 'outputs present_key / present_value / qk');
    if (!c.has(1) || !c.has(2)) unsupported(c, 'packed QKV (key and value omitted)');
    let q = c.t(0), k = c.t(1), v = c.t(2);
    if (q.rank !== 3) unsupported(c, `query of rank ${q.rank} (packed forms)`);
    const hid = q.shape[2]!, D = hid / H;
    if (!Number.isInteger(D)) c.fail(`hidden size ${hid} is not a multiple of num_heads ${H}`);
    if (c.has(3)) {
      // bias [hid_q + hid_k + hid_v] added to the projections before the heads split.
      const b = tf.cast(c.t(3), 'float32');
      const hk = k.rank === 3 ? k.shape[2]! : hid, hv = v.rank === 3 ? v.shape[2]! : b.size - hid - hk;
      if (b.size !== hid + hk + hv || k.rank !== 3 || v.rank !== 3) c.fail(`bias must be [${hid + hk + hv}] with 3-D key and value, got [${b.shape.join(', ')}]`);
      const [bq, bk, bv] = tf.split(b, [hid, hk, hv]) as [T, T, T];
      q = tf.add(q, bq); k = tf.add(k, bk); v = tf.add(v, bv);
    }
    // key/value [B, L, hid] or already split into heads [B, H, L, D].
    const kh = k.rank === 3 ? toHeads(tf, k, H) : k, vh = v.rank === 3 ? toHeads(tf, v, H) : v;
    if (kh.rank !== 4 || kh.shape[1] !== H || kh.shape[3] !== D || vh.rank !== 4 || vh.shape[2] !== kh.shape[2]) c.fail(`key/value must be [batch, length, ${hid}] or [batch, ${H}, length, ${D}], got [${k.shape.join(', ')}] and [${v.shape.join(', ')}]`);
    const S = q.shape[1]!, Tn = kh.shape[2]!;
    const scale = c.attr('scale', 0) || 1 / Math.sqrt(D);
    const bias = c.has(5) ? tf.cast(c.t(5), 'float32') : null;
    const causal = c.attr('unidirectional', 0) !== 0;
    return attend(tf, toHeads(tf, q, H), kh, vh, scale, bias, causal ? (i, j) => j <= Tn - S + i : null);
  },
};
