// Quantization kernels: QuantizeLinear/DequantizeLinear (per tensor, per axis, blocked) and integer matmuls.
import { DTypes, dtypeFromOnnx, type DType } from '../../dtype.js';
import { Tensor } from '../../tensor.js';
import { rint, sizeOf, strides } from '../kernels-util.js';
import { refuse, fail, ai, normAxis, f64, result, type Ctx, type Kernel, type Def } from './common.js';
import { matmul } from './nn.js';

/** Broadcasts a per-tensor, per-axis (1-D) or blocked scale/zero point to x's elements. */
function quantParam(ctx: Ctx, x: Tensor, p: Tensor | undefined, fallback: number): (k: number) => number {
  if (!p) return () => fallback;
  const v = f64(p);
  if (p.size === 1 && p.shape.length <= 1) return () => v[0]!;
  const r = x.shape.length;
  const axis = normAxis(ctx, ai(ctx, 'axis', 1), r);
  const inner = sizeOf(x.shape.slice(axis + 1));
  const d = x.shape[axis]!;
  const block = ai(ctx, 'block_size', 0);
  if (p.shape.length === 1 && block === 0) {
    if (p.shape[0] !== d) fail(ctx, `per-axis parameter has ${p.shape[0]} entries but axis ${axis} has ${d}`);
    return (k) => v[Math.floor(k / inner) % d]!;
  }
  if (block > 0 && p.shape.length === r) {
    const pst = strides(p.shape);
    const xst = strides(x.shape);
    return (k) => {
      let off = 0;
      for (let i = 0; i < r; i++) {
        const c = Math.floor(k / xst[i]!) % x.shape[i]!;
        off += (i === axis ? Math.floor(c / block) : c) * pst[i]!;
      }
      return v[off]!;
    };
  }
  return fail(ctx, `unsupported scale/zero-point shape [${p.shape.join(', ')}] for input [${x.shape.join(', ')}]`);
}

const QRANGE: Partial<Record<string, [number, number]>> = {
  uint8: [0, 255], int8: [-128, 127], uint16: [0, 65535], int16: [-32768, 32767], int32: [-2147483648, 2147483647], uint4: [0, 15], int4: [-8, 7],
};

const quantizeK: Kernel = (ctx, [x, scale, zp]) => {
  let dt: DType = zp?.dtype ?? DTypes.uint8;
  const od = ai(ctx, 'output_dtype', 0);
  if (!zp && od) dt = dtypeFromOnnx(od);
  const range = QRANGE[dt.name];
  const isF8 = dt.isFloat && dt.isBitPattern;
  if (!range && !isF8) return refuse();
  if (isF8 && ai(ctx, 'saturate', 1) === 0) return refuse();
  const v = f64(x!);
  const s = quantParam(ctx, x!, scale, 1);
  const z = quantParam(ctx, x!, zp, 0);
  const o = new Float64Array(v.length);
  // x / scale is computed in the input's precision (float32 unless float64) before rounding: a
  // float64 quotient can fall on the other side of a .5 tie (e.g. 0.5 / fround(5/255)).
  const q = x!.dtype === DTypes.float64 ? (a: number, b: number) => a / b : (a: number, b: number) => Math.fround(a / b);
  for (let k = 0; k < v.length; k++) {
    if (isF8) { o[k] = q(v[k]!, s(k)) + z(k); continue; } // rounding and saturation happen in the fp8 encoder
    o[k] = Math.min(range![1], Math.max(range![0], rint(q(v[k]!, s(k))) + z(k)));
  }
  return [isF8 ? Tensor.from(dt, x!.shape, o) : result(dt, x!.shape, o)];
};

const dequantizeK: Kernel = (ctx, [x, scale, zp]) => {
  const od = ai(ctx, 'output_dtype', 0);
  const dt = od ? dtypeFromOnnx(od) : ctx.opset >= 19 ? scale!.dtype : DTypes.float32;
  const v = f64(x!);
  const s = quantParam(ctx, x!, scale, 1);
  const z = quantParam(ctx, x!, zp, 0);
  const o = new Float64Array(v.length);
  for (let k = 0; k < v.length; k++) o[k] = (v[k]! - z(k)) * s(k);
  return [result(dt, x!.shape, o)];
};

/** Integer matmul with zero points (MatMulInteger), accumulated exactly in float64 (int32 range). */
function zpShift(t: Tensor, zp: Tensor | undefined, axisFromEnd: number): Float64Array {
  const v = f64(t).slice();
  if (!zp) return v;
  const z = f64(zp);
  if (z.length === 1) { for (let i = 0; i < v.length; i++) v[i]! -= z[0]!; return v; }
  // Per-row (A: second-to-last axis) or per-column (B: last axis) zero points.
  const inner = axisFromEnd === 1 ? 1 : t.shape[t.shape.length - 1]!;
  const d = t.shape[t.shape.length - axisFromEnd]!;
  for (let i = 0; i < v.length; i++) v[i]! -= z[Math.floor(i / inner) % d]!;
  return v;
}

/** Registers the quant kernels. */
export function registerQuantKernels(def: Def): void {
  def('QuantizeLinear', quantizeK);
  def('DequantizeLinear', dequantizeK);

  def('MatMulInteger', (ctx, [a, b, az, bz]) => {
    const av = zpShift(a!, az, 2);
    const bv = zpShift(b!, bz, 1);
    const y = matmul(ctx, new Tensor(DTypes.float64, a!.shape, av), new Tensor(DTypes.float64, b!.shape, bv));
    return [result(DTypes.int32, y.shape, f64(y))];
  });

  def('QLinearMatMul', (ctx, [a, as, az, b, bs, bz, ys, yz]) => {
    const av = zpShift(a!, az, 2);
    const bv = zpShift(b!, bz, 1);
    const y = matmul(ctx, new Tensor(DTypes.float64, a!.shape, av), new Tensor(DTypes.float64, b!.shape, bv));
    const sa = f64(as!)[0]!;
    const sb = f64(bs!)[0]!;
    const sy = f64(ys!)[0]!;
    if (as!.size !== 1 || bs!.size !== 1 || ys!.size !== 1) return refuse(); // per-axis scales: not folded
    const range = QRANGE[yz!.dtype.name] ?? refuse();
    const z = f64(yz!)[0]!;
    const yv = f64(y).map((v) => Math.min(range[1], Math.max(range[0], rint(Math.fround((v * sa * sb) / sy)) + z)));
    return [result(yz!.dtype, y.shape, yv)];
  });

  def('DynamicQuantizeLinear', (_ctx, [x]) => {
    const v = f64(x!);
    let lo = 0;
    let hi = 0;
    for (const e of v) { if (e < lo) lo = e; if (e > hi) hi = e; }
    const scale = Math.fround((hi - lo) / 255);
    const zp = scale === 0 ? 0 : Math.min(255, Math.max(0, rint(Math.fround(0 - Math.fround(lo / scale)))));
    const q = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) q[i] = scale === 0 ? zp : Math.min(255, Math.max(0, rint(Math.fround(v[i]! / scale)) + zp));
    return [result(DTypes.uint8, x!.shape, q), Tensor.from(DTypes.float32, [], [scale]), Tensor.from(DTypes.uint8, [], [zp])];
  });
}
