// com.microsoft contrib ops that our ONNX lowerings emit for ONNX Runtime targets, so a file
// quantized for ORT (e.g. `leanformer quantize --method rtn`, target ort-cpu) also runs on tfjs.
// Semantics follow ORT's CPU kernels (and core's leanformer.QMatMul / QGather, which mirror them):
//   MatMulNBits           Y = A · W (+ bias), W[k, n] = (code[n, k] − zp[n, ⌊k/bs⌋]) · scale[n, ⌊k/bs⌋];
//                         B uint8 [N, ⌈K/bs⌉, bs·bits/8] (low bits first), zero points packed uint8
//                         or float, absent → 2^(bits−1); accuracy_level is a hint and is ignored
//                         (tfjs computes in float32, i.e. accuracy_level 0).
//   GatherBlockQuantized  gather along gather_axis of a uint8 table packed along its last axis
//                         (quantize_axis), dequantized per block of block_size values.
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
    // Negative indices count from the end (as ORT's); out-of-range ones fail in tf.gather.
    const n = shape[gAxis]!;
    const raw = tf.cast(c.t(1), 'int32');
    const idx = tf.where(tf.less(raw, tf.scalar(0, 'int32')), tf.add(raw, tf.scalar(n, 'int32')), raw);
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
};
