// Reference kernels for constant folding. Exact for data movement (any dtype, storage copied as is);
// arithmetic runs in float64 and is then cast to the output dtype. Integer results that float64
// cannot hold exactly (|x| > 2^53) are refused (undefined) rather than computed wrongly.
import { DTypes, dtypeFromOnnx, type DType } from '../dtype.js';
import { LeanformerError } from '../errors.js';
import type { Node } from '../ir/graph.js';
import { Tensor } from '../tensor.js';
import { sliceDim } from './onnx/shape.js';
import { broadcastIndex, fromF64, iota, ints, isNumeric, rint, sizeOf, strides, take, toF64 } from './kernels-util.js';

/** Options for {@link evaluateNode}. */
export interface EvaluateOptions {
  /** Largest output (elements) the evaluator will produce; larger results are refused. Default 1,048,576. */
  readonly maxElements?: number;
}

interface Ctx { readonly node: Node; readonly opset: number; readonly maxElements: number }
type Kernel = (ctx: Ctx, x: readonly (Tensor | undefined)[]) => Tensor[] | undefined;

/** Thrown inside kernels to refuse folding (too large, unsupported case); evaluateNode returns undefined. */
class Refuse extends Error {}
const refuse = (): never => { throw new Refuse(); };

function guard(ctx: Ctx, shape: readonly number[]): void {
  if (sizeOf(shape) > ctx.maxElements) refuse();
}

/**
 * Computes a node's outputs from constant inputs with reference (float64) kernels, for constant
 * folding. Returns undefined when the op (or this use of it) is not supported, a required input is
 * missing, or a result would exceed `maxElements`. Throws LeanformerError('EXECUTION_FAILED') when
 * the inputs are invalid for the op (e.g. a Reshape to an incompatible size).
 *
 * Outputs may share storage with inputs (Identity, Reshape, Squeeze, …): treat tensors as immutable.
 * Only the default domain is evaluated; `opset` selects version-dependent behaviour (e.g. Softmax's
 * 2-D coercion before 13, attribute vs input axes, legacy broadcasting before 7).
 *
 * @example
 * ```ts
 * const g = new Graph();
 * const n = g.addNode({ op: 'Add', inputs: [g.addInput('a', null), g.addInput('b', null)] });
 * evaluateNode(n, [Tensor.from('float32', [2], [1, 2]), Tensor.from('float32', [], [10])], 17);
 * // [Tensor<float32>[2]] with values [11, 12]
 * ```
 */
export function evaluateNode(node: Node, inputs: readonly (Tensor | undefined)[], opset: number, options: EvaluateOptions = {}): Tensor[] | undefined {
  if (node.domain !== '') return undefined;
  const k = KERNELS.get(node.op);
  if (!k) return undefined;
  for (let i = 0; i < node.inputs.length; i++) if (node.inputs[i] && !inputs[i]) return undefined;
  const ctx: Ctx = { node, opset, maxElements: options.maxElements ?? 1 << 20 };
  try {
    const res = k(ctx, inputs);
    if (res && res.some((t) => t.size > ctx.maxElements)) return undefined;
    return res;
  } catch (e) {
    if (e instanceof Refuse) return undefined;
    if (e instanceof LeanformerError && e.code === 'EXECUTION_FAILED') throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new LeanformerError('EXECUTION_FAILED', `evaluating ${node.describe()}: ${msg}`, { cause: e });
  }
}

/** The ops evaluateNode implements (default domain). */
export function evaluableOps(): string[] {
  return [...KERNELS.keys()];
}

function fail(ctx: Ctx, msg: string): never {
  throw new LeanformerError('EXECUTION_FAILED', `evaluating ${ctx.node.describe()}: ${msg}`);
}

const ai = (ctx: Ctx, name: string, d: number): number => Number(ctx.node.attr<number | bigint>(name, d));
const ais = (ctx: Ctx, name: string): number[] | undefined => ctx.node.attr<readonly (number | bigint)[] | undefined>(name, undefined)?.map(Number);
const af = (ctx: Ctx, name: string, d: number): number => ctx.node.attr<number>(name, d);
const normAxis = (ctx: Ctx, a: number, r: number): number => {
  if (a < -r || a >= r) fail(ctx, `axis ${a} is out of range for rank ${r}`);
  return a < 0 ? a + r : a;
};
const i64 = (shape: readonly number[], values: readonly number[]): Tensor => Tensor.from(DTypes.int64, shape, values.map((v) => BigInt(v)));

/** float64 values of an input, refusing dtypes that are not plain numbers or int64 beyond 2^53. */
function f64(t: Tensor): Float64Array {
  return toF64(t) ?? refuse();
}

/** Casts float64 results to `dtype`, refusing integer results that float64 did not hold exactly. */
function result(dtype: DType, shape: readonly number[], v: Float64Array): Tensor {
  if (dtype.isInteger) for (let i = 0; i < v.length; i++) if (Math.abs(v[i]!) > 9007199254740991) refuse();
  return fromF64(dtype, shape, v);
}

// ---------------------------------------------------------------- element-wise

function unaryK(f: (x: number, ctx: Ctx) => number, boolOut = false): Kernel {
  return (ctx, [x]) => {
    if (!isNumeric(x!.dtype)) return refuse();
    const v = f64(x!);
    const o = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) o[i] = f(v[i]!, ctx);
    return [result(boolOut ? DTypes.bool : x!.dtype, x!.shape, o)];
  };
}

/** Element-wise n-ary op with broadcasting; `outType` picks the result dtype. */
/**
 * Pre-opset-7 binary ops broadcast B onto A from `axis` (legacy attributes); PRelu before 7 applies
 * a 1-D slope per channel (axis 1). Both become numpy broadcasting after reshaping B.
 */
function legacyBroadcast(ctx: Ctx, ins: Tensor[]): Tensor[] {
  if (ctx.opset >= 7 || ins.length !== 2) return ins;
  const [a, b] = ins as [Tensor, Tensor];
  let axis: number | undefined;
  if (ctx.node.op === 'PRelu') axis = b.shape.length === 1 && a.shape.length >= 2 && b.shape[0] === a.shape[1] ? 1 : undefined;
  else if (ai(ctx, 'broadcast', 0) !== 0 && ctx.node.attrs.has('axis')) axis = normAxis(ctx, ai(ctx, 'axis', 0), a.shape.length);
  if (axis === undefined) return ins;
  const trailing = a.shape.length - axis - b.shape.length;
  if (trailing < 0) fail(ctx, `B of shape [${b.shape.join(', ')}] does not fit A of shape [${a.shape.join(', ')}] at axis ${axis}`);
  return [a, b.reshape([...b.shape, ...new Array<number>(trailing).fill(1)])];
}

function naryK(f: (args: number[], ctx: Ctx, dtype: DType) => number, outType: 'first' | 'bool' = 'first'): Kernel {
  return (ctx, xs) => {
    const ins = legacyBroadcast(ctx, xs.filter((t): t is Tensor => t !== undefined));
    if (!ins.every((t) => isNumeric(t.dtype))) return refuse();
    const vals = ins.map(f64);
    let shape: number[] = [];
    try { shape = broadcastIndexShape(ins.map((t) => t.shape)); } catch (e) { fail(ctx, (e as Error).message); }
    guard(ctx, shape);
    const { maps } = broadcastIndex(ins.map((t) => t.shape));
    const n = sizeOf(shape);
    const o = new Float64Array(n);
    const args = new Array<number>(ins.length);
    const dt = ins[0]!.dtype;
    for (let k = 0; k < n; k++) {
      for (let j = 0; j < ins.length; j++) args[j] = vals[j]![maps[j]![k]!]!;
      o[k] = f(args, ctx, dt);
    }
    return [result(outType === 'bool' ? DTypes.bool : dt, shape, o)];
  };
}

function broadcastIndexShape(shapes: readonly (readonly number[])[]): number[] {
  let r = 0;
  for (const s of shapes) r = Math.max(r, s.length);
  const out = new Array<number>(r).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = i + r - s.length;
      const d = s[i]!;
      if (d === out[j] || d === 1) continue;
      if (out[j] === 1) out[j] = d;
      else throw new Error(`cannot broadcast shapes ${shapes.map((x) => `[${x.join(', ')}]`).join(' and ')}`);
    }
  }
  return out;
}

function intDiv(a: number, b: number, dtype: DType): number {
  if (!dtype.isInteger) return a / b;
  if (b === 0) refuse(); // integer division by zero is undefined behaviour in ONNX
  return Math.trunc(a / b);
}

function mod(a: number, b: number, fmod: boolean, dtype: DType): number {
  if (fmod || dtype.isFloat) return a % b; // C fmod: sign of the dividend
  if (b === 0) refuse();
  const r = a % b;
  return r !== 0 && (r < 0) !== (b < 0) ? r + b : r; // Python-style: sign of the divisor
}

/** erf with ~1e-12 absolute error: Taylor series below |x| = 4, asymptotic erfc above. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (Number.isNaN(x)) return NaN;
  if (ax < 4) {
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * Math.min(1, (2 / Math.sqrt(Math.PI)) * sum);
  }
  if (ax > 6) return Math.sign(x);
  const x2 = ax * ax;
  const erfc = (Math.exp(-x2) / (ax * Math.sqrt(Math.PI))) * (1 - 1 / (2 * x2) + 3 / (4 * x2 * x2) - 15 / (8 * x2 * x2 * x2));
  return Math.sign(x) * (1 - erfc);
}

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

// ---------------------------------------------------------------- shape / data movement

function reshapeTo(ctx: Ctx, x: Tensor, target: number[], allowzero: boolean): Tensor {
  let infer = -1;
  const shape = target.map((t, i) => {
    if (t === -1) { if (infer >= 0) fail(ctx, 'more than one -1 in shape'); infer = i; return 1; }
    if (t === 0 && !allowzero) { if (i >= x.shape.length) fail(ctx, `shape entry ${i} copies a dim the input (rank ${x.shape.length}) does not have`); return x.shape[i]!; }
    if (t < -1) fail(ctx, `invalid shape entry ${t}`);
    return t;
  });
  if (infer >= 0) {
    const rest = sizeOf(shape);
    if (rest === 0 || x.size % rest !== 0) fail(ctx, `cannot reshape [${x.shape.join(', ')}] to [${target.join(', ')}]`);
    shape[infer] = x.size / rest;
  }
  if (sizeOf(shape) !== x.size) fail(ctx, `cannot reshape [${x.shape.join(', ')}] (${x.size} elements) to [${shape.join(', ')}]`);
  return x.reshape(shape);
}

function transpose(x: Tensor, perm: readonly number[]): Tensor {
  const shape = perm.map((p) => x.shape[p]!);
  const st = strides(x.shape);
  const pst = perm.map((p) => st[p]!);
  const n = x.size;
  const idx = new Int32Array(n);
  const c = new Array<number>(shape.length).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    idx[k] = off;
    for (let d = shape.length - 1; d >= 0; d--) {
      c[d]!++; off += pst[d]!;
      if (c[d]! < shape[d]!) break;
      off -= pst[d]! * c[d]!; c[d] = 0;
    }
  }
  return take(x, shape, idx);
}

/** Index map of a strided box: per axis a start and step, with output shape `shape`. */
function boxIndex(inShape: readonly number[], shape: readonly number[], starts: readonly number[], steps: readonly number[]): Int32Array {
  const st = strides(inShape);
  const n = sizeOf(shape);
  const idx = new Int32Array(n);
  const c = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let off = 0;
    for (let d = 0; d < shape.length; d++) off += (starts[d]! + c[d]! * steps[d]!) * st[d]!;
    idx[k] = off;
    for (let d = shape.length - 1; d >= 0; d--) { if (++c[d]! < shape[d]!) break; c[d] = 0; }
  }
  return idx;
}

function concat(ctx: Ctx, xs: Tensor[], axis: number): Tensor {
  const r = xs[0]!.shape.length;
  const ax = normAxis(ctx, axis, r);
  const shape = [...xs[0]!.shape];
  shape[ax] = 0;
  for (const t of xs) {
    if (t.shape.length !== r || t.dtype !== xs[0]!.dtype) fail(ctx, 'inputs must have the same rank and dtype');
    t.shape.forEach((d, i) => { if (i !== ax && d !== shape[i]) fail(ctx, `dim ${i} differs: ${d} vs ${shape[i]}`); });
    shape[ax] += t.shape[ax]!;
  }
  guard(ctx, shape);
  // Concatenate storage via a joined index over a virtual stacked tensor.
  const outer = sizeOf(shape.slice(0, ax));
  const parts: { t: Tensor; inner: number }[] = xs.map((t) => ({ t, inner: sizeOf(t.shape.slice(ax)) }));
  const offsets: number[] = [];
  let total = 0;
  for (const p of parts) { offsets.push(total); total += p.t.size; }
  const joined = joinStorage(xs);
  const idx: number[] = [];
  for (let o = 0; o < outer; o++) parts.forEach((p, j) => { for (let i = 0; i < p.inner; i++) idx.push(offsets[j]! + o * p.inner + i); });
  return take(joined, shape, idx);
}

/** A flat tensor holding all elements of `xs` one after the other (same dtype). */
function joinStorage(xs: Tensor[]): Tensor {
  const dt = xs[0]!.dtype;
  const n = xs.reduce((s, t) => s + t.size, 0);
  if (dt.isPacked) return Tensor.from(dt, [n], xs.flatMap((t) => Array.from(t.toFloat64())));
  const first = xs[0]!.data;
  if (Array.isArray(first)) return new Tensor(dt, [n], xs.flatMap((t) => t.data as string[]));
  const C = first.constructor as new (len: number) => Float64Array;
  const o = new C(n);
  let off = 0;
  for (const t of xs) { o.set(t.data as Float64Array, off); off += t.size; }
  return new Tensor(dt, [n], o as unknown as Float64Array);
}

// ---------------------------------------------------------------- reductions

function reduceAxes(ctx: Ctx, x: Tensor, axesIn: Tensor | undefined): number[] | null {
  const r = x.shape.length;
  let axes = ais(ctx, 'axes');
  if (!axes && axesIn) axes = ints(axesIn);
  if (!axes || axes.length === 0) {
    if (ai(ctx, 'noop_with_empty_axes', 0) && (ctx.node.op !== 'ReduceSum' ? ctx.opset >= 18 : ctx.opset >= 13)) return null;
    return x.shape.map((_, i) => i);
  }
  return axes.map((a) => normAxis(ctx, a, r));
}

/** Groups input elements by reduced position; calls `fold` on each output cell's values. */
function reduceK(init: number, step: (acc: number, v: number) => number, finish: (acc: number, count: number) => number = (a) => a): Kernel {
  return (ctx, [x, axesT]) => {
    if (!isNumeric(x!.dtype)) return refuse();
    const axes = reduceAxes(ctx, x!, axesT);
    const keep = ai(ctx, 'keepdims', 1) !== 0;
    const v = f64(x!);
    if (axes === null) {
      const o = new Float64Array(v.length);
      for (let i = 0; i < v.length; i++) o[i] = finish(step(init, v[i]!), 1);
      return [result(x!.dtype, x!.shape, o)];
    }
    const set = new Set(axes);
    const outShapeKeep = x!.shape.map((d, i) => (set.has(i) ? 1 : d));
    const ost = strides(outShapeKeep);
    const acc = new Float64Array(sizeOf(outShapeKeep)).fill(init);
    const count = x!.shape.reduce((p, d, i) => (set.has(i) ? p * d : p), 1);
    const c = new Array<number>(x!.shape.length).fill(0);
    for (let k = 0; k < v.length; k++) {
      let o = 0;
      for (let d = 0; d < c.length; d++) if (!set.has(d)) o += c[d]! * ost[d]!;
      acc[o] = step(acc[o]!, v[k]!);
      for (let d = c.length - 1; d >= 0; d--) { if (++c[d]! < x!.shape[d]!) break; c[d] = 0; }
    }
    for (let i = 0; i < acc.length; i++) acc[i] = finish(acc[i]!, count);
    const shape = keep ? outShapeKeep : x!.shape.filter((_, i) => !set.has(i));
    return [result(x!.dtype, shape, acc)];
  };
}

function argK(max: boolean): Kernel {
  return (ctx, [x]) => {
    if (!isNumeric(x!.dtype)) return refuse();
    const r = x!.shape.length;
    const axis = normAxis(ctx, ai(ctx, 'axis', 0), r);
    const keep = ai(ctx, 'keepdims', 1) !== 0;
    const last = ai(ctx, 'select_last_index', 0) !== 0;
    const v = f64(x!);
    const outer = sizeOf(x!.shape.slice(0, axis));
    const d = x!.shape[axis]!;
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const res: number[] = [];
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
      let best = 0;
      let bv = v[o * d * inner + i]!;
      for (let j = 1; j < d; j++) {
        const y = v[o * d * inner + j * inner + i]!;
        if (max ? y > bv || (last && y === bv) : y < bv || (last && y === bv)) { bv = y; best = j; }
      }
      res.push(best);
    }
    const shape = keep ? x!.shape.map((s, i) => (i === axis ? 1 : s)) : x!.shape.filter((_, i) => i !== axis);
    return [i64(shape, res)];
  };
}

// ---------------------------------------------------------------- softmax family

function softmaxK(kind: 'softmax' | 'log' | 'hard'): Kernel {
  return (ctx, [x]) => {
    if (!x!.dtype.isFloat) return refuse();
    const r = x!.shape.length;
    const axis = normAxis(ctx, ai(ctx, 'axis', ctx.opset >= 13 ? -1 : 1), r);
    const v = f64(x!);
    // Before opset 13 the input is coerced to 2-D at `axis`; from 13 the op works along `axis`.
    const outer = sizeOf(x!.shape.slice(0, axis));
    const d = ctx.opset >= 13 ? x!.shape[axis]! : sizeOf(x!.shape.slice(axis));
    const inner = ctx.opset >= 13 ? sizeOf(x!.shape.slice(axis + 1)) : 1;
    const o = new Float64Array(v.length);
    for (let b = 0; b < outer; b++) for (let i = 0; i < inner; i++) {
      const at = (j: number) => b * d * inner + j * inner + i;
      let m = -Infinity;
      let arg = 0;
      for (let j = 0; j < d; j++) if (v[at(j)]! > m) { m = v[at(j)]!; arg = j; }
      if (kind === 'hard') { for (let j = 0; j < d; j++) o[at(j)] = j === arg ? 1 : 0; continue; }
      let s = 0;
      for (let j = 0; j < d; j++) s += Math.exp(v[at(j)]! - m);
      for (let j = 0; j < d; j++) o[at(j)] = kind === 'log' ? v[at(j)]! - m - Math.log(s) : Math.exp(v[at(j)]! - m) / s;
    }
    return [result(x!.dtype, x!.shape, o)];
  };
}

// ---------------------------------------------------------------- matmul

function matmul(ctx: Ctx, a: Tensor, b: Tensor): Tensor {
  if (!isNumeric(a.dtype) || !isNumeric(b.dtype)) refuse();
  const A = a.shape.length === 1 ? [1, a.shape[0]!] : [...a.shape];
  const B = b.shape.length === 1 ? [b.shape[0]!, 1] : [...b.shape];
  const [m, k] = A.slice(-2) as [number, number];
  const [k2, n] = B.slice(-2) as [number, number];
  if (k !== k2) fail(ctx, `inner dims differ: [${a.shape.join(', ')}] × [${b.shape.join(', ')}]`);
  let batch: number[] = [];
  try { batch = broadcastIndexShape([A.slice(0, -2), B.slice(0, -2)]); } catch (e) { fail(ctx, (e as Error).message); }
  const outShape = [...batch, ...(a.shape.length === 1 ? [] : [m]), ...(b.shape.length === 1 ? [] : [n])];
  guard(ctx, outShape);
  const { maps } = broadcastIndex([A.slice(0, -2), B.slice(0, -2)]);
  const av = f64(a);
  const bv = f64(b);
  const nb = sizeOf(batch);
  const o = new Float64Array(nb * m * n);
  for (let p = 0; p < nb; p++) {
    const ao = maps[0]![p]! * m * k;
    const bo = maps[1]![p]! * k * n;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += av[ao + i * k + q]! * bv[bo + q * n + j]!;
      o[p * m * n + i * n + j] = s;
    }
  }
  return result(a.dtype, outShape, o);
}

// ---------------------------------------------------------------- quantization

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

// ---------------------------------------------------------------- cast

function parseOnnxFloat(s: string): number {
  const t = s.trim().toLowerCase();
  if (t === 'inf' || t === '+inf' || t === 'infinity' || t === '+infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  if (t === 'nan') return NaN;
  return Number(t);
}

function cast(ctx: Ctx, x: Tensor, to: DType): Tensor {
  if (to === x.dtype) return x;
  if (to.storage === 'string' || to.storagePerElement !== 1) return refuse();
  if (to.isBitPattern && to.bits === 8 && ai(ctx, 'saturate', 1) === 0) return refuse();
  const d = x.data;
  if (Array.isArray(d)) return fromF64(to, x.shape, d.map(parseOnnxFloat));
  if (x.dtype.storagePerElement !== 1) return refuse();
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    if (to.storage === 'BigInt64Array' || to.storage === 'BigUint64Array') {
      const vals = Array.from(d, (b) => (to.isSigned ? BigInt.asIntN(64, b) : BigInt.asUintN(64, b)));
      return Tensor.from(to, x.shape, vals);
    }
    if (to.isInteger || to === DTypes.bool) {
      const vals = Array.from(d, (b) => Number(to === DTypes.bool ? (b !== 0n ? 1n : 0n) : BigInt.asIntN(32, b)));
      return fromF64(to, x.shape, vals);
    }
    return fromF64(to, x.shape, Array.from(d, Number)); // Number(bigint) rounds to nearest
  }
  return fromF64(to, x.shape, x.toFloat64());
}

// ---------------------------------------------------------------- kernel table

const KERNELS = new Map<string, Kernel>();
const def = (names: string | string[], k: Kernel) => { for (const n of [names].flat()) KERNELS.set(n, k); };

def('Constant', (ctx) => {
  const n = ctx.node;
  const a = n.attrs.get('value') ?? n.attrs.get('value_float') ?? n.attrs.get('value_floats') ?? n.attrs.get('value_int') ?? n.attrs.get('value_ints') ?? n.attrs.get('value_string') ?? n.attrs.get('value_strings');
  if (!a) return undefined;
  switch (a.type) {
    case 'tensor': return [a.value];
    case 'float': return [Tensor.from(DTypes.float32, [], [a.value])];
    case 'floats': return [Tensor.from(DTypes.float32, [a.value.length], a.value)];
    case 'int': return [Tensor.from(DTypes.int64, [], [BigInt(a.value)])];
    case 'ints': return [Tensor.from(DTypes.int64, [a.value.length], a.value.map((v) => BigInt(v)))];
    case 'string': return [Tensor.from(DTypes.string, [], [a.value])];
    case 'strings': return [Tensor.from(DTypes.string, [a.value.length], a.value)];
    default: return undefined;
  }
});
def('Identity', (_c, [x]) => [x!]);
def('Cast', (ctx, [x]) => [cast(ctx, x!, dtypeFromOnnx(ai(ctx, 'to', 1)))]);
def('CastLike', (ctx, [x, like]) => [cast(ctx, x!, like!.dtype)]);
def('Shape', (ctx, [x]) => {
  const r = x!.shape.length;
  const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
  const s = clamp(ai(ctx, 'start', 0));
  const e = clamp(ai(ctx, 'end', r));
  return [i64([Math.max(0, e - s)], x!.shape.slice(s, Math.max(s, e)))];
});
def('Size', (_c, [x]) => [i64([], [x!.size])]);
def('Reshape', (ctx, [x, shape]) => [reshapeTo(ctx, x!, shape ? ints(shape) : ais(ctx, 'shape') ?? fail(ctx, 'no shape'), ai(ctx, 'allowzero', 0) !== 0)]);
def('Flatten', (ctx, [x]) => {
  const r = x!.shape.length;
  let axis = ai(ctx, 'axis', 1);
  if (axis < -r || axis > r) fail(ctx, `axis ${axis} out of range for rank ${r}`);
  if (axis < 0) axis += r;
  return [x!.reshape([sizeOf(x!.shape.slice(0, axis)), sizeOf(x!.shape.slice(axis))])];
});
def('Squeeze', (ctx, [x, axesT]) => {
  const axes = ais(ctx, 'axes') ?? (axesT ? ints(axesT) : undefined);
  const r = x!.shape.length;
  const set = new Set((axes ?? x!.shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => normAxis(ctx, a, r)));
  for (const i of set) if (x!.shape[i] !== 1) fail(ctx, `cannot squeeze axis ${i} of size ${x!.shape[i]}`);
  return [x!.reshape(x!.shape.filter((_, i) => !set.has(i)))];
});
def('Unsqueeze', (ctx, [x, axesT]) => {
  const axes = ais(ctx, 'axes') ?? (axesT ? ints(axesT) : fail(ctx, 'no axes'));
  const r = x!.shape.length + axes.length;
  const set = new Set(axes.map((a) => normAxis(ctx, a, r)));
  if (set.size !== axes.length) fail(ctx, 'duplicate axes');
  const shape: number[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) shape.push(set.has(i) ? 1 : x!.shape[j++]!);
  return [x!.reshape(shape)];
});
def('Transpose', (ctx, [x]) => {
  const r = x!.shape.length;
  const perm = (ais(ctx, 'perm') ?? x!.shape.map((_, i) => r - 1 - i)).map((p) => normAxis(ctx, p, r));
  if (perm.length !== r || new Set(perm).size !== r) fail(ctx, `perm [${perm.join(', ')}] is not a permutation of ${r} axes`);
  return [transpose(x!, perm)];
});
def('Concat', (ctx, xs) => [concat(ctx, xs.filter((t): t is Tensor => !!t), ai(ctx, 'axis', 0))]);
def('Gather', (ctx, [x, ind]) => {
  const r = x!.shape.length;
  const axis = normAxis(ctx, ai(ctx, 'axis', 0), r);
  const idx = ints(ind!);
  const d = x!.shape[axis]!;
  const shape = [...x!.shape.slice(0, axis), ...ind!.shape, ...x!.shape.slice(axis + 1)];
  guard(ctx, shape);
  const outer = sizeOf(x!.shape.slice(0, axis));
  const inner = sizeOf(x!.shape.slice(axis + 1));
  const map: number[] = [];
  for (let o = 0; o < outer; o++) for (const raw of idx) {
    const j = raw < 0 ? raw + d : raw;
    if (j < 0 || j >= d) fail(ctx, `index ${raw} is out of range for axis ${axis} of size ${d}`);
    for (let i = 0; i < inner; i++) map.push((o * d + j) * inner + i);
  }
  return [take(x!, shape, map)];
});
def('Slice', (ctx, [x, st, en, ax, sp]) => {
  const r = x!.shape.length;
  const starts = ctx.opset < 10 ? ais(ctx, 'starts')! : ints(st!);
  const ends = ctx.opset < 10 ? ais(ctx, 'ends')! : ints(en!);
  const axes = (ctx.opset < 10 ? ais(ctx, 'axes') : ax ? ints(ax) : undefined) ?? starts.map((_, i) => i);
  const steps = sp ? ints(sp) : starts.map(() => 1);
  const s0 = new Array<number>(r).fill(0);
  const step = new Array<number>(r).fill(1);
  const shape = [...x!.shape];
  axes.forEach((a, k) => {
    const i = normAxis(ctx, a, r);
    const d = x!.shape[i]!;
    const stp = steps[k]!;
    if (stp === 0) fail(ctx, 'steps must not be 0');
    let s = starts[k]!;
    s = s < 0 ? Math.max(s + d, stp < 0 ? -1 : 0) : Math.min(s, stp < 0 ? d - 1 : d);
    s0[i] = s;
    step[i] = stp;
    shape[i] = sliceDim(d, starts[k]!, ends[k]!, stp);
  });
  return [take(x!, shape, boxIndex(x!.shape, shape, s0, step))];
});
def('Range', (ctx, [s, l, d]) => {
  const [a, b, c] = [s!, l!, d!].map((t) => f64(t)[0]!) as [number, number, number];
  if (c === 0) fail(ctx, 'delta must not be 0');
  const n = Math.max(Math.ceil((b - a) / c), 0);
  guard(ctx, [n]);
  const o = new Float64Array(n);
  for (let i = 0; i < n; i++) o[i] = a + i * c;
  return [result(s!.dtype, [n], o)];
});
def('ConstantOfShape', (ctx, [shapeT]) => {
  const shape = ints(shapeT!);
  guard(ctx, shape);
  const v = ctx.node.attr<Tensor | undefined>('value', undefined) ?? Tensor.from(DTypes.float32, [1], [0]);
  return [take(v, shape, new Int32Array(sizeOf(shape)))];
});
def('Expand', (ctx, [x, shapeT]) => {
  let shape: number[] = [];
  try { shape = broadcastIndexShape([x!.shape, ints(shapeT!)]); } catch (e) { fail(ctx, (e as Error).message); }
  guard(ctx, shape);
  const { maps } = broadcastIndex([x!.shape, shape]);
  return [take(x!, shape, maps[0]!)];
});
def('Tile', (ctx, [x, rep]) => {
  const reps = ints(rep!);
  if (reps.length !== x!.shape.length) fail(ctx, `repeats has ${reps.length} entries for rank ${x!.shape.length}`);
  const shape = x!.shape.map((d, i) => d * reps[i]!);
  guard(ctx, shape);
  const st = strides(x!.shape);
  const n = sizeOf(shape);
  const idx = new Int32Array(n);
  const c = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let off = 0;
    for (let d = 0; d < shape.length; d++) off += (c[d]! % x!.shape[d]!) * st[d]!;
    idx[k] = off;
    for (let d = shape.length - 1; d >= 0; d--) { if (++c[d]! < shape[d]!) break; c[d] = 0; }
  }
  return [take(x!, shape, idx)];
});
def('Where', (ctx, [c, x, y]) => {
  let shape: number[] = [];
  try { shape = broadcastIndexShape([c!.shape, x!.shape, y!.shape]); } catch (e) { fail(ctx, (e as Error).message); }
  guard(ctx, shape);
  const { maps } = broadcastIndex([c!.shape, x!.shape, y!.shape]);
  const cond = c!.data as Uint8Array;
  const joined = joinStorage([x!, y!]);
  const idx = new Int32Array(sizeOf(shape));
  for (let k = 0; k < idx.length; k++) idx[k] = cond[maps[0]![k]!] ? maps[1]![k]! : x!.size + maps[2]![k]!;
  return [take(joined, shape, idx)];
});
def('Split', (ctx, [x, splitT]) => {
  const r = x!.shape.length;
  const axis = normAxis(ctx, ai(ctx, 'axis', 0), r);
  const n = ctx.node.outputs.length;
  const d = x!.shape[axis]!;
  let sizes = ais(ctx, 'split') ?? (splitT ? ints(splitT) : undefined);
  if (!sizes) {
    if (ctx.node.attrs.has('num_outputs')) { const c = Math.ceil(d / n); sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(c, d - c * i))); }
    else { if (d % n) fail(ctx, `dim ${d} does not split evenly into ${n}`); sizes = new Array<number>(n).fill(d / n); }
  }
  if (sizes.reduce((p, q) => p + q, 0) !== d) fail(ctx, `split [${sizes.join(', ')}] does not add up to ${d}`);
  let start = 0;
  return sizes.map((sz) => {
    const shape = x!.shape.map((v, i) => (i === axis ? sz : v));
    const s0 = x!.shape.map((_, i) => (i === axis ? start : 0));
    start += sz;
    return take(x!, shape, boxIndex(x!.shape, shape, s0, shape.map(() => 1)));
  });
});

// comparisons and logic
def('Equal', (ctx, xs) => {
  if (xs[0]!.dtype === DTypes.string) {
    const a = xs[0]!.data as string[];
    const b = xs[1]!.data as string[];
    const shape = broadcastIndexShape([xs[0]!.shape, xs[1]!.shape]);
    const { maps } = broadcastIndex([xs[0]!.shape, xs[1]!.shape]);
    return [Tensor.from(DTypes.bool, shape, Array.from(maps[0]!, (m, k) => (a[m] === b[maps[1]![k]!] ? 1 : 0)))];
  }
  return naryK(([a, b]) => (a === b ? 1 : 0), 'bool')(ctx, xs);
});
def('Less', naryK(([a, b]) => (a! < b! ? 1 : 0), 'bool'));
def('Greater', naryK(([a, b]) => (a! > b! ? 1 : 0), 'bool'));
def('LessOrEqual', naryK(([a, b]) => (a! <= b! ? 1 : 0), 'bool'));
def('GreaterOrEqual', naryK(([a, b]) => (a! >= b! ? 1 : 0), 'bool'));
def('And', naryK(([a, b]) => (a && b ? 1 : 0), 'bool'));
def('Or', naryK(([a, b]) => (a || b ? 1 : 0), 'bool'));
def('Xor', naryK(([a, b]) => (!a !== !b ? 1 : 0), 'bool'));
def('Not', unaryK((x) => (x ? 0 : 1), true));

// arithmetic
def('Add', naryK(([a, b]) => a! + b!));
def('Sub', naryK(([a, b]) => a! - b!));
def('Mul', naryK(([a, b]) => a! * b!));
def('Div', naryK(([a, b], _c, dt) => intDiv(a!, b!, dt)));
def('Pow', naryK(([a, b]) => a! ** b!));
def('Mod', naryK(([a, b], ctx, dt) => mod(a!, b!, ai(ctx, 'fmod', 0) !== 0, dt)));
def('Max', naryK((v) => (v.some(Number.isNaN) ? NaN : Math.max(...v))));
def('Min', naryK((v) => (v.some(Number.isNaN) ? NaN : Math.min(...v))));
def('Sum', naryK((v) => v.reduce((p, q) => p + q, 0)));
def('Mean', naryK((v) => v.reduce((p, q) => p + q, 0) / v.length));
def('PRelu', naryK(([x, s]) => (x! < 0 ? x! * s! : x!)));

// unary math and activations
const U: Record<string, (x: number, ctx: Ctx) => number> = {
  Neg: (x) => -x, Abs: Math.abs, Sqrt: Math.sqrt, Reciprocal: (x) => 1 / x, Exp: Math.exp, Log: Math.log,
  Floor: Math.floor, Ceil: Math.ceil, Round: rint, Sign: (x) => (Number.isNaN(x) ? NaN : Math.sign(x)),
  Sin: Math.sin, Cos: Math.cos, Tan: Math.tan, Asin: Math.asin, Acos: Math.acos, Atan: Math.atan,
  Sinh: Math.sinh, Cosh: Math.cosh, Asinh: Math.asinh, Acosh: Math.acosh, Atanh: Math.atanh,
  Relu: (x) => Math.max(0, x), Sigmoid: sigmoid, Tanh: Math.tanh, Erf: erf,
  Softplus: (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))), Softsign: (x) => x / (1 + Math.abs(x)),
  LeakyRelu: (x, c) => (x >= 0 ? x : af(c, 'alpha', 0.01) * x),
  Elu: (x, c) => (x >= 0 ? x : af(c, 'alpha', 1) * (Math.exp(x) - 1)),
  Selu: (x, c) => af(c, 'gamma', 1.05070102214813232421875) * (x > 0 ? x : af(c, 'alpha', 1.67326319217681884765625) * (Math.exp(x) - 1)),
  Celu: (x, c) => { const a = af(c, 'alpha', 1); return Math.max(0, x) + Math.min(0, a * (Math.exp(x / a) - 1)); },
  ThresholdedRelu: (x, c) => (x > af(c, 'alpha', 1) ? x : 0),
  HardSigmoid: (x, c) => Math.max(0, Math.min(1, af(c, 'alpha', 0.2) * x + af(c, 'beta', 0.5))),
  HardSwish: (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)),
};
for (const [name, f] of Object.entries(U)) def(name, unaryK(f));
def('IsNaN', unaryK((x) => (Number.isNaN(x) ? 1 : 0), true));
def('IsInf', unaryK((x, c) => ((x === Infinity && ai(c, 'detect_positive', 1) !== 0) || (x === -Infinity && ai(c, 'detect_negative', 1) !== 0) ? 1 : 0), true));

// reductions
def('ReduceSum', reduceK(0, (a, v) => a + v));
def('ReduceMean', reduceK(0, (a, v) => a + v, (a, n) => a / n));
def('ReduceMax', reduceK(-Infinity, (a, v) => (Number.isNaN(a) || v > a || Number.isNaN(v) ? v : a)));
def('ReduceMin', reduceK(Infinity, (a, v) => (Number.isNaN(a) || v < a || Number.isNaN(v) ? v : a)));
def('ReduceProd', reduceK(1, (a, v) => a * v));
def('ReduceL1', reduceK(0, (a, v) => a + Math.abs(v)));
def('ReduceL2', reduceK(0, (a, v) => a + v * v, (a) => Math.sqrt(a)));
def('ReduceSumSquare', reduceK(0, (a, v) => a + v * v));
def('ReduceLogSum', reduceK(0, (a, v) => a + v, (a) => Math.log(a)));
def('ReduceLogSumExp', reduceK(0, (a, v) => a + Math.exp(v), (a) => Math.log(a)));
def(['ArgMax'], argK(true));
def(['ArgMin'], argK(false));

def('MatMul', (ctx, [a, b]) => [matmul(ctx, a!, b!)]);
def('Softmax', softmaxK('softmax'));
def('LogSoftmax', softmaxK('log'));
def('Hardmax', softmaxK('hard'));
def('QuantizeLinear', quantizeK);
def('DequantizeLinear', dequantizeK);

// ---------------------------------------------------------------- more kernels used by reference backends

def('Gemm', (ctx, [a, b, c]) => {
  const ta = ai(ctx, 'transA', 0) !== 0;
  const tb = ai(ctx, 'transB', 0) !== 0;
  if (a!.shape.length !== 2 || b!.shape.length !== 2) fail(ctx, 'A and B must be 2-D');
  const A = ta ? transpose(a!, [1, 0]) : a!;
  const B = tb ? transpose(b!, [1, 0]) : b!;
  const y = matmul(ctx, A, B);
  const alpha = af(ctx, 'alpha', 1);
  const beta = af(ctx, 'beta', 1);
  const yv = f64(y);
  const cv = c ? f64(c) : undefined;
  let cmap: Int32Array | undefined;
  if (c) {
    try { broadcastIndexShape([y.shape, c.shape]); } catch (e) { fail(ctx, (e as Error).message); }
    cmap = broadcastIndex([c.shape, y.shape]).maps[0];
  }
  const o = new Float64Array(yv.length);
  for (let i = 0; i < o.length; i++) o[i] = alpha * yv[i]! + (cv ? beta * cv[cmap![i]!]! : 0);
  return [result(a!.dtype, y.shape, o)];
});
def('Clip', (ctx, [x, lo, hi]) => {
  if (!isNumeric(x!.dtype)) return refuse();
  const min = ctx.opset < 11 ? af(ctx, 'min', -Infinity) : lo ? f64(lo)[0]! : -Infinity;
  const max = ctx.opset < 11 ? af(ctx, 'max', Infinity) : hi ? f64(hi)[0]! : Infinity;
  const v = f64(x!);
  const o = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) o[i] = Number.isNaN(v[i]!) ? NaN : Math.min(max, Math.max(min, v[i]!));
  return [result(x!.dtype, x!.shape, o)];
});
def('Gelu', unaryK((x, c) => (c.node.attr<string>('approximate', 'none') === 'tanh'
  ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))
  : 0.5 * x * (1 + erf(x / Math.SQRT2)))));
def('Mish', unaryK((x) => x * Math.tanh(x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)))));
def('Shrink', unaryK((x, c) => { const l = af(c, 'lambd', 0.5); const b = af(c, 'bias', 0); return x < -l ? x + b : x > l ? x - b : 0; }));
def('Dropout', (ctx, [x, ratio, training]) => {
  // Inference semantics only: training mode with a non-zero ratio is random and is not folded.
  if (training && (training.data as Uint8Array)[0] && (!ratio || f64(ratio)[0] !== 0)) return refuse();
  if (ctx.opset < 12 && ai(ctx, 'is_test', 0) === 0 && ctx.opset < 7) return refuse();
  const outs = [x!];
  if (ctx.node.outputs.length > 1) outs.push(take(Tensor.from(DTypes.bool, [1], [1]), x!.shape, new Int32Array(x!.size)));
  return outs;
});
def('GatherElements', (ctx, [x, ind]) => {
  const r = x!.shape.length;
  const axis = normAxis(ctx, ai(ctx, 'axis', 0), r);
  if (ind!.shape.length !== r) fail(ctx, 'indices must have the rank of data');
  const idx = ints(ind!);
  const xst = strides(x!.shape);
  const ist = strides(ind!.shape);
  const map = new Int32Array(idx.length);
  for (let k = 0; k < idx.length; k++) {
    let off = 0;
    for (let d = 0; d < r; d++) {
      let c = Math.floor(k / ist[d]!) % ind!.shape[d]!;
      if (d === axis) {
        c = idx[k]! < 0 ? idx[k]! + x!.shape[d]! : idx[k]!;
        if (c < 0 || c >= x!.shape[d]!) fail(ctx, `index ${idx[k]} is out of range for axis ${axis} of size ${x!.shape[d]}`);
      }
      off += c * xst[d]!;
    }
    map[k] = off;
  }
  return [take(x!, ind!.shape, map)];
});
def('CumSum', (ctx, [x, axisT]) => {
  if (!isNumeric(x!.dtype)) return refuse();
  const r = x!.shape.length;
  const axis = normAxis(ctx, ints(axisT!)[0]!, r);
  const excl = ai(ctx, 'exclusive', 0) !== 0;
  const rev = ai(ctx, 'reverse', 0) !== 0;
  const v = f64(x!);
  const outer = sizeOf(x!.shape.slice(0, axis));
  const d = x!.shape[axis]!;
  const inner = sizeOf(x!.shape.slice(axis + 1));
  const o = new Float64Array(v.length);
  for (let a = 0; a < outer; a++) for (let i = 0; i < inner; i++) {
    let s = 0;
    for (let jj = 0; jj < d; jj++) {
      const j = rev ? d - 1 - jj : jj;
      const at = (a * d + j) * inner + i;
      if (excl) { o[at] = s; s += v[at]!; } else { s += v[at]!; o[at] = s; }
    }
  }
  return [result(x!.dtype, x!.shape, o)];
});
def('Trilu', (ctx, [x, kT]) => {
  const r = x!.shape.length;
  if (r < 2) fail(ctx, 'input must have rank ≥ 2');
  const k = kT ? ints(kT)[0]! : 0;
  const upper = ai(ctx, 'upper', 1) !== 0;
  const [n, m] = x!.shape.slice(-2) as [number, number];
  const zeroAt = x!.size; // index of an appended zero element
  const joined = joinStorage([x!, Tensor.zeros(x!.dtype, [1])]);
  const map = new Int32Array(x!.size);
  for (let p = 0; p < x!.size; p++) {
    const j = p % m;
    const i = Math.floor(p / m) % n;
    const keep = upper ? j - i >= k : j - i <= k;
    map[p] = keep ? p : zeroAt;
  }
  return [take(joined, x!.shape, map)];
});
def('LayerNormalization', (ctx, [x, scale, bias]) => {
  if (!x!.dtype.isFloat) return refuse();
  const r = x!.shape.length;
  const axis = normAxis(ctx, ai(ctx, 'axis', -1), r);
  const eps = af(ctx, 'epsilon', 1e-5);
  const outer = sizeOf(x!.shape.slice(0, axis));
  const inner = sizeOf(x!.shape.slice(axis));
  const v = f64(x!);
  const { maps: [sm] } = broadcastIndex([scale!.shape, x!.shape.slice(axis)]);
  const bm = bias ? broadcastIndex([bias.shape, x!.shape.slice(axis)]).maps[0] : undefined;
  const sv = f64(scale!);
  const bv = bias ? f64(bias) : undefined;
  const o = new Float64Array(v.length);
  const mean = new Float64Array(outer);
  const inv = new Float64Array(outer);
  for (let a = 0; a < outer; a++) {
    let s = 0;
    for (let i = 0; i < inner; i++) s += v[a * inner + i]!;
    const mu = s / inner;
    let q = 0;
    for (let i = 0; i < inner; i++) q += (v[a * inner + i]! - mu) ** 2;
    const rs = 1 / Math.sqrt(q / inner + eps);
    mean[a] = mu;
    inv[a] = rs;
    for (let i = 0; i < inner; i++) o[a * inner + i] = (v[a * inner + i]! - mu) * rs * sv[sm![i]!]! + (bv ? bv[bm![i]!]! : 0);
  }
  const statShape = x!.shape.map((d, i) => (i < axis ? d : 1));
  const stash = dtypeFromOnnx(ai(ctx, 'stash_type', 1));
  return [result(x!.dtype, x!.shape, o), result(stash, statShape, mean), result(stash, statShape, inv)];
});
def('BatchNormalization', (ctx, [x, scale, b, mean, vr]) => {
  // Inference mode only (training mode updates running statistics).
  if (ai(ctx, 'training_mode', 0) !== 0 || ctx.node.outputs.filter(Boolean).length > 1 || !x!.dtype.isFloat) return refuse();
  const eps = af(ctx, 'epsilon', 1e-5);
  const c = x!.shape[1] ?? 1;
  const inner = sizeOf(x!.shape.slice(2));
  const [v, sv, bv, mv, vv] = [x!, scale!, b!, mean!, vr!].map(f64) as Float64Array[];
  const o = new Float64Array(v!.length);
  for (let k = 0; k < o.length; k++) {
    const ch = Math.floor(k / inner) % c;
    o[k] = ((v![k]! - mv![ch]!) / Math.sqrt(vv![ch]! + eps)) * sv![ch]! + bv![ch]!;
  }
  return [result(x!.dtype, x!.shape, o)];
});
def('EyeLike', (ctx, [x]) => {
  const [n, m] = x!.shape as [number, number];
  if (x!.shape.length !== 2) fail(ctx, 'input must be 2-D');
  const k = ai(ctx, 'k', 0);
  const dt = ctx.node.attrs.has('dtype') ? dtypeFromOnnx(ai(ctx, 'dtype', 1)) : x!.dtype;
  const o = new Float64Array(n * m);
  for (let i = 0; i < n; i++) { const j = i + k; if (j >= 0 && j < m) o[i * m + j] = 1; }
  return [result(dt, [n, m], o)];
});
def('OneHot', (ctx, [ind, depthT, values]) => {
  const depth = Math.trunc(f64(depthT!)[0]!);
  const r = ind!.shape.length;
  const axis = normAxis(ctx, ai(ctx, 'axis', -1), r + 1);
  const shape = [...ind!.shape];
  shape.splice(axis, 0, depth);
  guard(ctx, shape);
  const idx = f64(ind!);
  const outer = sizeOf(ind!.shape.slice(0, axis));
  const inner = sizeOf(ind!.shape.slice(axis));
  const map = new Int32Array(sizeOf(shape));
  for (let a = 0; a < outer; a++) for (let d = 0; d < depth; d++) for (let i = 0; i < inner; i++) {
    let j = Math.trunc(idx[a * inner + i]!);
    if (j < 0) j += depth;
    map[(a * depth + d) * inner + i] = j === d ? 1 : 0;
  }
  return [take(values!, shape, map)];
});

// ---------------------------------------------------------------- convolution, pooling, padding

/** Per spatial axis: begin/end pads, following auto_pad (SAME_* split the total pad, extra at the end for UPPER). */
function spatialPads(ctx: Ctx, inDims: readonly number[], kernel: readonly number[], stride: readonly number[], dil: readonly number[]): { begin: number[]; end: number[] } {
  const n = inDims.length;
  const autoPad = ctx.node.attr<string>('auto_pad', 'NOTSET');
  const pads = ais(ctx, 'pads') ?? new Array<number>(2 * n).fill(0);
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(inDims[i]! / stride[i]!);
      const total = Math.max(0, (out - 1) * stride[i]! + (kernel[i]! - 1) * dil[i]! + 1 - inDims[i]!);
      const small = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      end.push(autoPad === 'SAME_UPPER' ? total - small : small);
    }
    return { begin, end };
  }
  if (autoPad === 'VALID') return { begin: new Array<number>(n).fill(0), end: new Array<number>(n).fill(0) };
  return { begin: pads.slice(0, n), end: pads.slice(n, 2 * n) };
}

/** Visits every multi-index of `shape` in row-major order. */
function forEachIndex(shape: readonly number[], f: (idx: number[], flat: number) => void): void {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    f(idx, k);
    for (let d = shape.length - 1; d >= 0; d--) { if (++idx[d]! < shape[d]!) break; idx[d] = 0; }
  }
}

def('Conv', (ctx, [x, w, b]) => {
  if (!x!.dtype.isFloat) return refuse();
  if (x!.shape.length < 3 || w!.shape.length !== x!.shape.length) fail(ctx, `X must have rank ≥ 3 and W the same rank; got [${x!.shape.join(', ')}] and [${w!.shape.join(', ')}]`);
  const [N, C] = x!.shape as [number, number];
  const inDims = x!.shape.slice(2);
  const nsp = inDims.length;
  const [M, Cg] = w!.shape as [number, number];
  const kernel = ais(ctx, 'kernel_shape') ?? w!.shape.slice(2);
  const stride = ais(ctx, 'strides') ?? new Array<number>(nsp).fill(1);
  const dil = ais(ctx, 'dilations') ?? new Array<number>(nsp).fill(1);
  const group = ai(ctx, 'group', 1);
  if (Cg * group !== C || M % group !== 0) fail(ctx, `channels do not match: X has ${C}, W expects ${Cg}×group ${group}`);
  const { begin, end } = spatialPads(ctx, inDims, kernel, stride, dil);
  const outDims = inDims.map((d, i) => Math.floor((d + begin[i]! + end[i]! - ((kernel[i]! - 1) * dil[i]! + 1)) / stride[i]!) + 1);
  const shape = [N, M, ...outDims];
  guard(ctx, shape);
  const xv = f64(x!);
  const wv = f64(w!);
  const bv = b ? f64(b) : undefined;
  const xst = strides(x!.shape);
  const kSize = sizeOf(kernel);
  const kIdx: number[][] = [];
  forEachIndex(kernel, (k) => kIdx.push([...k]));
  const o = new Float64Array(sizeOf(shape));
  const mPerG = M / group;
  const pos = new Array<number>(nsp);
  forEachIndex(shape, (idx, flat) => {
    const [n, m] = idx as [number, number];
    const g = Math.floor(m / mPerG);
    let s = bv ? bv[m]! : 0;
    for (let c = 0; c < Cg; c++) {
      const xBase = n * xst[0]! + (g * Cg + c) * xst[1]!;
      const wBase = (m * Cg + c) * kSize;
      for (let kk = 0; kk < kSize; kk++) {
        let off = xBase;
        let inside = true;
        for (let i = 0; i < nsp; i++) {
          pos[i] = idx[i + 2]! * stride[i]! + kIdx[kk]![i]! * dil[i]! - begin[i]!;
          if (pos[i]! < 0 || pos[i]! >= inDims[i]!) { inside = false; break; }
          off += pos[i]! * xst[i + 2]!;
        }
        if (inside) s += xv[off]! * wv[wBase + kk]!;
      }
    }
    o[flat] = s;
  });
  return [result(x!.dtype, shape, o)];
});


function poolK(kind: 'max' | 'avg' | 'lp'): Kernel {
  return (ctx, [x]) => {
    if (!x!.dtype.isFloat && kind !== 'max') return refuse();
    if (!isNumeric(x!.dtype)) return refuse();
    const [N, C] = x!.shape as [number, number];
    const inDims = x!.shape.slice(2);
    const nsp = inDims.length;
    const kernel = ais(ctx, 'kernel_shape') ?? fail(ctx, 'kernel_shape is required');
    if (x!.shape.length < 3 || kernel.length !== nsp) fail(ctx, `X must have rank ≥ 3 with one kernel dim per spatial dim; got [${x!.shape.join(', ')}] and kernel [${kernel.join(', ')}]`);
    const stride = ais(ctx, 'strides') ?? new Array<number>(nsp).fill(1);
    const dil = ais(ctx, 'dilations') ?? new Array<number>(nsp).fill(1);
    const ceil = ai(ctx, 'ceil_mode', 0) !== 0;
    const includePad = ai(ctx, 'count_include_pad', 0) !== 0;
    const p = ai(ctx, 'p', 2);
    const colMajor = ai(ctx, 'storage_order', 0) !== 0;
    const { begin, end } = spatialPads(ctx, inDims, kernel, stride, dil);
    const outDims = inDims.map((d, i) => {
      const total = d + begin[i]! + end[i]! - ((kernel[i]! - 1) * dil[i]! + 1);
      let o = (ceil ? Math.ceil(total / stride[i]!) : Math.floor(total / stride[i]!)) + 1;
      if (ceil && (o - 1) * stride[i]! >= d + begin[i]!) o--; // no window may start in the end padding
      return o;
    });
    const shape = [N, C, ...outDims];
    guard(ctx, shape);
    const xv = f64(x!);
    const xst = strides(x!.shape);
    const kIdx: number[][] = [];
    forEachIndex(kernel, (k) => kIdx.push([...k]));
    const o = new Float64Array(sizeOf(shape));
    const ind = new Float64Array(kind === 'max' ? o.length : 0);
    forEachIndex(shape, (idx, flat) => {
      const base = idx[0]! * xst[0]! + idx[1]! * xst[1]!;
      let acc = kind === 'max' ? -Infinity : 0;
      let arg = -1;
      let count = 0;
      let padded = 0;
      for (const k of kIdx) {
        let off = base;
        let inside = true;
        let inPadded = true;
        for (let i = 0; i < nsp; i++) {
          const q = idx[i + 2]! * stride[i]! + k[i]! * dil[i]! - begin[i]!;
          if (q < -begin[i]! || q >= inDims[i]! + end[i]!) inPadded = false;
          if (q < 0 || q >= inDims[i]!) inside = false;
          off += q * xst[i + 2]!;
        }
        if (inPadded) padded++;
        if (!inside) continue;
        const v = xv[off]!;
        count++;
        if (kind === 'max') { if (v > acc || arg < 0) { acc = v; arg = colMajor ? columnMajorIndex(off, x!.shape) : off; } } else if (kind === 'avg') acc += v; else acc += Math.abs(v) ** p;
      }
      o[flat] = kind === 'max' ? acc : kind === 'avg' ? acc / (includePad ? padded : count) : acc ** (1 / p);
      if (kind === 'max') ind[flat] = arg;
    });
    const outs = [result(x!.dtype, shape, o)];
    if (kind === 'max' && ctx.node.outputs.length > 1) outs.push(result(DTypes.int64, shape, ind));
    return outs;
  };
}
/** MaxPool Indices with storage_order 1: the spatial part of the flat index is column-major. */
function columnMajorIndex(rowMajor: number, shape: readonly number[]): number {
  const sp = shape.slice(2);
  const plane = sizeOf(sp);
  const nc = Math.floor(rowMajor / plane);
  let rest = rowMajor % plane;
  const coords = new Array<number>(sp.length);
  for (let i = sp.length - 1; i >= 0; i--) { coords[i] = rest % sp[i]!; rest = Math.floor(rest / sp[i]!); }
  let idx = 0;
  let mul = 1;
  for (let i = 0; i < sp.length; i++) { idx += coords[i]! * mul; mul *= sp[i]!; }
  return nc * plane + idx;
}
def('MaxPool', poolK('max'));
def('AveragePool', poolK('avg'));
def('LpPool', poolK('lp'));
def(['GlobalAveragePool', 'GlobalMaxPool'], (ctx, [x]) => {
  if (!x!.dtype.isFloat) return refuse();
  const [N, C] = x!.shape as [number, number];
  const inner = sizeOf(x!.shape.slice(2));
  const v = f64(x!);
  const o = new Float64Array(N * C);
  const max = ctx.node.op === 'GlobalMaxPool';
  for (let k = 0; k < N * C; k++) {
    let acc = max ? -Infinity : 0;
    for (let i = 0; i < inner; i++) acc = max ? Math.max(acc, v[k * inner + i]!) : acc + v[k * inner + i]!;
    o[k] = max ? acc : acc / inner;
  }
  return [result(x!.dtype, [N, C, ...x!.shape.slice(2).map(() => 1)], o)];
});
def('Pad', (ctx, [x, padsT, cval, axesT]) => {
  const r = x!.shape.length;
  const mode = ctx.node.attr<string>('mode', 'constant');
  const raw = ais(ctx, 'pads') ?? ais(ctx, 'paddings') ?? (padsT ? ints(padsT) : fail(ctx, 'no pads'));
  const axes = (axesT ? ints(axesT) : x!.shape.map((_, i) => i)).map((a) => normAxis(ctx, a, r));
  if (raw.length !== 2 * axes.length) fail(ctx, `pads has ${raw.length} entries; expected ${2 * axes.length}`);
  const begin = new Array<number>(r).fill(0);
  const end = new Array<number>(r).fill(0);
  axes.forEach((a, k) => { begin[a] = raw[k]!; end[a] = raw[k + axes.length]!; });
  const shape = x!.shape.map((d, i) => d + begin[i]! + end[i]!);
  if (shape.some((d) => d < 0)) fail(ctx, 'negative output dim');
  guard(ctx, shape);
  const xst = strides(x!.shape);
  const padAt = x!.size; // index of the appended constant value
  const value = cval ?? (ctx.opset < 11 ? Tensor.from(x!.dtype, [1], [af(ctx, 'value', 0)]) : Tensor.zeros(x!.dtype, [1]));
  if (value.dtype !== x!.dtype) fail(ctx, 'constant_value must have the input dtype');
  const joined = joinStorage([x!, value.reshape([value.size])]);
  const map = new Int32Array(sizeOf(shape));
  forEachIndex(shape, (idx, flat) => {
    let off = 0;
    for (let i = 0; i < r; i++) {
      const d = x!.shape[i]!;
      let q = idx[i]! - begin[i]!;
      if (q < 0 || q >= d) {
        if (mode === 'constant' || d === 0) { off = -1; break; }
        if (mode === 'edge') q = q < 0 ? 0 : d - 1;
        else if (mode === 'wrap') q = ((q % d) + d) % d;
        else if (mode === 'reflect') {
          if (d === 1) q = 0;
          else { const period = 2 * (d - 1); q = ((q % period) + period) % period; if (q >= d) q = period - q; }
        } else fail(ctx, `unsupported mode '${mode}'`);
      }
      off += q * xst[i]!;
    }
    map[flat] = off < 0 ? padAt : off;
  });
  return [take(joined, shape, map)];
});
def('InstanceNormalization', (ctx, [x, scale, b]) => {
  if (!x!.dtype.isFloat) return refuse();
  const [N, C] = x!.shape as [number, number];
  const inner = sizeOf(x!.shape.slice(2));
  const eps = af(ctx, 'epsilon', 1e-5);
  const v = f64(x!);
  const sv = f64(scale!);
  const bv = f64(b!);
  const o = new Float64Array(v.length);
  for (let k = 0; k < N * C; k++) {
    const c = k % C;
    let s = 0;
    for (let i = 0; i < inner; i++) s += v[k * inner + i]!;
    const mu = s / inner;
    let q = 0;
    for (let i = 0; i < inner; i++) q += (v[k * inner + i]! - mu) ** 2;
    const rs = 1 / Math.sqrt(q / inner + eps);
    for (let i = 0; i < inner; i++) o[k * inner + i] = (v[k * inner + i]! - mu) * rs * sv[c]! + bv[c]!;
  }
  return [result(x!.dtype, x!.shape, o)];
});

// ---------------------------------------------------------------- indexing, scatter, top-k, integer matmul

def('GatherND', (ctx, [x, ind]) => {
  const b = ai(ctx, 'batch_dims', 0);
  const q = ind!.shape.length;
  const last = ind!.shape[q - 1]!;
  if (b + last > x!.shape.length) fail(ctx, `indices last dim ${last} plus batch_dims ${b} exceeds data rank ${x!.shape.length}`);
  const shape = [...ind!.shape.slice(0, -1), ...x!.shape.slice(b + last)];
  guard(ctx, shape);
  const idx = ints(ind!);
  const xst = strides(x!.shape);
  const slice = sizeOf(x!.shape.slice(b + last));
  const batchInner = sizeOf(ind!.shape.slice(b, -1)); // index tuples per batch entry
  const map: number[] = [];
  const tuples = idx.length / last;
  for (let t = 0; t < tuples; t++) {
    const batch = Math.floor(t / batchInner);
    let off = 0;
    let rest = batch;
    for (let d = b - 1; d >= 0; d--) { off += (rest % x!.shape[d]!) * xst[d]!; rest = Math.floor(rest / x!.shape[d]!); }
    for (let k = 0; k < last; k++) {
      const dim = x!.shape[b + k]!;
      let j = idx[t * last + k]!;
      if (j < 0) j += dim;
      if (j < 0 || j >= dim) fail(ctx, `index ${idx[t * last + k]} is out of range for dim ${b + k} of size ${dim}`);
      off += j * xst[b + k]!;
    }
    for (let i = 0; i < slice; i++) map.push(off + i);
  }
  return [take(x!, shape, map)];
});

const REDUCE: Record<string, (a: number, b: number) => number> = {
  none: (_a, b) => b, add: (a, b) => a + b, mul: (a, b) => a * b, max: Math.max, min: Math.min,
};

/** Writes `updates` into a float64 copy of `data` at flat offsets, with the ONNX reduction. */
function scatterInto(ctx: Ctx, data: Tensor, offsets: ArrayLike<number>, updates: Tensor): Tensor {
  const f = REDUCE[ctx.node.attr<string>('reduction', 'none')];
  if (!f) fail(ctx, `unsupported reduction '${ctx.node.attr<string>('reduction', '')}'; allowed: none, add, mul, max, min`);
  if (!isNumeric(data.dtype)) {
    // Exact path for any dtype without reduction: index into data ++ updates.
    if (ctx.node.attr<string>('reduction', 'none') !== 'none') return refuse();
    const joined = joinStorage([data, updates.reshape([updates.size])]);
    const map = iota(data.size);
    for (let k = 0; k < offsets.length; k++) map[offsets[k]!] = data.size + k;
    return take(joined, data.shape, map);
  }
  const o = f64(data).slice();
  const u = f64(updates);
  for (let k = 0; k < offsets.length; k++) o[offsets[k]!] = f(o[offsets[k]!]!, u[k]!);
  return result(data.dtype, data.shape, o);
}

def(['ScatterElements', 'Scatter'], (ctx, [x, ind, upd]) => {
  const r = x!.shape.length;
  const axis = normAxis(ctx, ai(ctx, 'axis', 0), r);
  if (ind!.shape.join() !== upd!.shape.join()) fail(ctx, 'indices and updates must have the same shape');
  const idx = ints(ind!);
  const xst = strides(x!.shape);
  const ist = strides(ind!.shape);
  const offs = new Int32Array(idx.length);
  for (let k = 0; k < idx.length; k++) {
    let off = 0;
    for (let d = 0; d < r; d++) {
      let c = Math.floor(k / ist[d]!) % ind!.shape[d]!;
      if (d === axis) {
        c = idx[k]! < 0 ? idx[k]! + x!.shape[d]! : idx[k]!;
        if (c < 0 || c >= x!.shape[d]!) fail(ctx, `index ${idx[k]} is out of range for axis ${axis} of size ${x!.shape[d]}`);
      }
      off += c * xst[d]!;
    }
    offs[k] = off;
  }
  return [scatterInto(ctx, x!, offs, upd!)];
});

def('ScatterND', (ctx, [x, ind, upd]) => {
  const q = ind!.shape.length;
  const last = ind!.shape[q - 1]!;
  const idx = ints(ind!);
  const xst = strides(x!.shape);
  const slice = sizeOf(x!.shape.slice(last));
  const tuples = idx.length / last;
  if (upd!.size !== tuples * slice) fail(ctx, `updates has ${upd!.size} elements; expected ${tuples * slice}`);
  const offs = new Int32Array(tuples * slice);
  for (let t = 0; t < tuples; t++) {
    let off = 0;
    for (let k = 0; k < last; k++) {
      const dim = x!.shape[k]!;
      let j = idx[t * last + k]!;
      if (j < 0) j += dim;
      if (j < 0 || j >= dim) fail(ctx, `index ${idx[t * last + k]} is out of range for dim ${k} of size ${dim}`);
      off += j * xst[k]!;
    }
    for (let i = 0; i < slice; i++) offs[t * slice + i] = off + i;
  }
  return [scatterInto(ctx, x!, offs, upd!)];
});

def('TopK', (ctx, [x, kT]) => {
  if (!isNumeric(x!.dtype)) return refuse();
  const r = x!.shape.length;
  const axis = normAxis(ctx, ai(ctx, 'axis', -1), r);
  const k = ctx.opset < 10 ? ai(ctx, 'k', 1) : ints(kT!)[0]!;
  const largest = ai(ctx, 'largest', 1) !== 0;
  const d = x!.shape[axis]!;
  if (k < 0 || k > d) fail(ctx, `k = ${k} is out of range for axis ${axis} of size ${d}`);
  const outer = sizeOf(x!.shape.slice(0, axis));
  const inner = sizeOf(x!.shape.slice(axis + 1));
  const v = f64(x!);
  const shape = x!.shape.map((s, i) => (i === axis ? k : s));
  const vals = new Int32Array(sizeOf(shape));
  const idxs = new Float64Array(sizeOf(shape));
  const order = Array.from({ length: d }, (_, i) => i);
  for (let a = 0; a < outer; a++) for (let i = 0; i < inner; i++) {
    const at = (j: number) => (a * d + j) * inner + i;
    // Ties keep the lower index first (ONNX: "the element with the lower index appears first").
    order.sort((p, q) => { const diff = largest ? v[at(q)]! - v[at(p)]! : v[at(p)]! - v[at(q)]!; return diff !== 0 && !Number.isNaN(diff) ? diff : p - q; });
    for (let j = 0; j < k; j++) { vals[(a * k + j) * inner + i] = at(order[j]!); idxs[(a * k + j) * inner + i] = order[j]!; }
  }
  return [take(x!, shape, vals), result(DTypes.int64, shape, idxs)];
});

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
def(['SimplifiedLayerNormalization', 'RMSNormalization'], (ctx, [x, scale]) => {
  if (!x!.dtype.isFloat) return refuse();
  const r = x!.shape.length;
  const axis = normAxis(ctx, ai(ctx, 'axis', -1), r);
  const eps = af(ctx, 'epsilon', 1e-5);
  const outer = sizeOf(x!.shape.slice(0, axis));
  const inner = sizeOf(x!.shape.slice(axis));
  const v = f64(x!);
  const { maps: [sm] } = broadcastIndex([scale!.shape, x!.shape.slice(axis)]);
  const sv = f64(scale!);
  const o = new Float64Array(v.length);
  const inv = new Float64Array(outer);
  for (let a = 0; a < outer; a++) {
    let q = 0;
    for (let i = 0; i < inner; i++) q += v[a * inner + i]! ** 2;
    const rs = 1 / Math.sqrt(q / inner + eps);
    inv[a] = rs;
    for (let i = 0; i < inner; i++) o[a * inner + i] = v[a * inner + i]! * rs * sv[sm![i]!]!;
  }
  const outs = [result(scale!.dtype, x!.shape, o)];
  if (ctx.node.op === 'SimplifiedLayerNormalization') outs.push(result(dtypeFromOnnx(ai(ctx, 'stash_type', 1)), x!.shape.map((d, i) => (i < axis ? d : 1)), inv));
  return outs;
});

def('ConvTranspose', (ctx, [x, w, b]) => {
  if (!x!.dtype.isFloat) return refuse();
  if (x!.shape.length < 3 || w!.shape.length !== x!.shape.length) fail(ctx, `X must have rank ≥ 3 and W the same rank; got [${x!.shape.join(', ')}] and [${w!.shape.join(', ')}]`);
  const [N, C] = x!.shape as [number, number];
  const inDims = x!.shape.slice(2);
  const nsp = inDims.length;
  const group = ai(ctx, 'group', 1);
  const Mg = w!.shape[1]!;
  const M = Mg * group;
  const Cg = C / group;
  if (w!.shape[0] !== C || !Number.isInteger(Cg)) fail(ctx, `W has ${w!.shape[0]} input channels; X has ${C} (group ${group})`);
  const kernel = ais(ctx, 'kernel_shape') ?? w!.shape.slice(2);
  const stride = ais(ctx, 'strides') ?? new Array<number>(nsp).fill(1);
  const dil = ais(ctx, 'dilations') ?? new Array<number>(nsp).fill(1);
  const opad = ais(ctx, 'output_padding') ?? new Array<number>(nsp).fill(0);
  const autoPad = ctx.node.attr<string>('auto_pad', 'NOTSET');
  let outShape = ais(ctx, 'output_shape')?.slice(-nsp);
  let begin = ais(ctx, 'pads')?.slice(0, nsp) ?? new Array<number>(nsp).fill(0);
  let end = ais(ctx, 'pads')?.slice(nsp) ?? new Array<number>(nsp).fill(0);
  if (!outShape && (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER')) outShape = inDims.map((d, i) => d * stride[i]!);
  if (outShape) {
    // Pads follow from the requested output size (ONNX: explicit pads are ignored then).
    const total = inDims.map((d, i) => stride[i]! * (d - 1) + opad[i]! + (kernel[i]! - 1) * dil[i]! + 1 - outShape![i]!);
    begin = total.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : t - Math.floor(t / 2)));
    end = total.map((t, i) => t - begin[i]!);
  } else {
    outShape = inDims.map((d, i) => stride[i]! * (d - 1) + opad[i]! + (kernel[i]! - 1) * dil[i]! + 1 - begin[i]! - end[i]!);
  }
  const shape = [N, M, ...outShape];
  guard(ctx, shape);
  const xv = f64(x!);
  const wv = f64(w!);
  const o = new Float64Array(sizeOf(shape));
  const ost = strides(shape);
  const kSize = sizeOf(kernel);
  const kIdx: number[][] = [];
  forEachIndex(kernel, (k) => kIdx.push([...k]));
  const inSize = sizeOf(inDims);
  const inIdx: number[][] = [];
  forEachIndex(inDims, (p) => inIdx.push([...p]));
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
    const g = Math.floor(c / Cg);
    for (let p = 0; p < inSize; p++) {
      const xval = xv[(n * C + c) * inSize + p]!;
      if (xval === 0) continue;
      for (let m = 0; m < Mg; m++) {
        const wBase = (c * Mg + m) * kSize;
        const oBase = n * ost[0]! + (g * Mg + m) * ost[1]!;
        for (let kk = 0; kk < kSize; kk++) {
          let off = oBase;
          let inside = true;
          for (let i = 0; i < nsp; i++) {
            const q = inIdx[p]![i]! * stride[i]! + kIdx[kk]![i]! * dil[i]! - begin[i]!;
            if (q < 0 || q >= outShape[i]!) { inside = false; break; }
            off += q * ost[i + 2]!;
          }
          if (inside) o[off]! += xval * wv[wBase + kk]!;
        }
      }
    }
  }
  if (b) { const bv = f64(b); const plane = sizeOf(outShape); for (let k = 0; k < o.length; k++) o[k]! += bv[Math.floor(k / plane) % M]!; }
  return [result(x!.dtype, shape, o)];
});

// ---------------------------------------------------------------- Resize / Upsample

/** ONNX Resize coefficient functions: weights over the n nearest source indices for a fractional offset. */
function resizeCoeffs(mode: string, nearestMode: string, cubicA: number): (ratio: number) => number[] {
  if (mode === 'nearest') {
    return (r) => {
      if (Number.isInteger(r)) return [0, 1];
      switch (nearestMode) {
        case 'round_prefer_ceil': return [r < 0.5 ? 1 : 0, r >= 0.5 ? 1 : 0];
        case 'floor': return [1, 0];
        case 'ceil': return [0, 1];
        default: return [r <= 0.5 ? 1 : 0, r > 0.5 ? 1 : 0]; // round_prefer_floor
      }
    };
  }
  if (mode === 'linear') return (r) => [1 - r, r];
  const A = cubicA;
  return (r) => [
    ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
    ((A + 2) * r - (A + 3)) * r * r + 1,
    ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1,
    ((A * (2 - r) - 5 * A) * (2 - r) + 8 * A) * (2 - r) - 4 * A,
  ];
}

/** Per output index of one axis: source indices and weights (empty: extrapolation value). */
function resizeAxis(ctx: Ctx, inLen: number, outLen: number, scale: number, roi: [number, number] | undefined, coeffs: (r: number) => number[], excludeOutside: boolean): { idx: number[]; w: number[] }[] {
  const mode = ctx.opset < 11 ? 'asymmetric' : ctx.node.attr<string>('coordinate_transformation_mode', 'half_pixel');
  const res: { idx: number[]; w: number[] }[] = [];
  // ONNX maps coordinates with the real-valued output length scale·in (not the floored size).
  const outF = scale * inLen;
  for (let x = 0; x < outLen; x++) {
    let xo: number;
    switch (mode) {
      case 'half_pixel': xo = (x + 0.5) / scale - 0.5; break;
      case 'half_pixel_symmetric': {
        const adj = outLen / outF;
        xo = (inLen / 2) * (1 - adj) + (x + 0.5) / scale - 0.5;
        break;
      }
      case 'pytorch_half_pixel': xo = outF !== 1 ? (x + 0.5) / scale - 0.5 : -0.5; break;
      case 'align_corners': xo = outF === 1 ? 0 : (x * (inLen - 1)) / (outF - 1); break;
      case 'asymmetric': xo = x / scale; break;
      case 'tf_half_pixel_for_nn': xo = (x + 0.5) / scale; break; // Resize-11/12 only
      case 'tf_crop_and_resize': {
        const [s, e] = roi ?? [0, 1];
        xo = outF !== 1 ? s * (inLen - 1) + (x * (e - s) * (inLen - 1)) / (outF - 1) : 0.5 * (s + e) * (inLen - 1);
        if (xo < 0 || xo > inLen - 1) { res.push({ idx: [], w: [] }); continue; }
        break;
      }
      default: return fail(ctx, `unsupported coordinate_transformation_mode '${mode}'`);
    }
    const base = Math.floor(xo);
    const ratio = xo - base === 0 ? 1 : xo - base;
    const c = coeffs(ratio);
    const n = c.length;
    // The n nearest indices to xo (ties: lower index), over the edge-padded axis.
    const first = n === 2 ? (xo - base === 0 ? base - 1 : base) : xo - base === 0 ? base - 2 : base - 1;
    const idx: number[] = [];
    const w: number[] = [];
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const raw = first + j;
      let wt = c[j]!;
      if (excludeOutside && (raw < 0 || raw >= inLen)) wt = 0;
      idx.push(Math.min(inLen - 1, Math.max(0, raw)));
      w.push(wt);
      sum += wt;
    }
    if (excludeOutside && sum !== 0) for (let j = 0; j < n; j++) w[j]! /= sum;
    res.push({ idx, w });
  }
  return res;
}

def(['Resize', 'Upsample'], (ctx, xs) => {
  const x = xs[0]!;
  if (!x.dtype.isFloat && !(isNumeric(x.dtype))) return refuse();
  if (ai(ctx, 'antialias', 0) !== 0) return refuse(); // antialiased filters are not implemented
  const r = x.shape.length;
  const isOld = ctx.node.op === 'Upsample' || ctx.opset < 11;
  const roiT = isOld ? undefined : xs[1];
  const scalesT = isOld ? xs[1] : xs[2];
  const sizesT = isOld ? undefined : xs[3];
  const axes = (ais(ctx, 'axes') ?? x.shape.map((_, i) => i)).map((a) => normAxis(ctx, a, r));
  const scale = new Array<number>(r).fill(1);
  const outShape = [...x.shape];
  const attrScales = ctx.node.attr<readonly number[] | undefined>('scales', undefined);
  if (sizesT && sizesT.size) {
    const sizes = ints(sizesT);
    const policy = ctx.node.attr<string>('keep_aspect_ratio_policy', 'stretch');
    if (policy === 'stretch') axes.forEach((a, k) => { outShape[a] = sizes[k]!; scale[a] = sizes[k]! / x.shape[a]!; });
    else {
      const ratios = axes.map((a, k) => sizes[k]! / x.shape[a]!);
      const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      axes.forEach((a) => { scale[a] = s; outShape[a] = Math.round(s * x.shape[a]!); });
    }
  } else {
    const sc = attrScales ?? (scalesT ? Array.from(scalesT.toFloat32()) : fail(ctx, 'needs scales or sizes'));
    axes.forEach((a, k) => { scale[a] = sc[k]!; outShape[a] = Math.floor(x.shape[a]! * sc[k]! + 1e-9); });
  }
  guard(ctx, outShape);
  const mode = ctx.node.attr<string>('mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic') fail(ctx, `unsupported mode '${mode}'`);
  const nearestMode = isOld ? 'floor' : ctx.node.attr<string>('nearest_mode', 'round_prefer_floor');
  const coeffs = resizeCoeffs(mode, nearestMode, af(ctx, 'cubic_coeff_a', -0.75));
  const roi = roiT && roiT.size ? Array.from(roiT.toFloat64()) : undefined;
  const exclude = ai(ctx, 'exclude_outside', 0) !== 0;
  const roiFor = (a: number): [number, number] | undefined => {
    if (!roi) return undefined;
    const k = roi.length === 2 * r ? a : axes.indexOf(a);
    const n = roi.length / 2;
    return [roi[k]!, roi[k + n]!];
  };
  const plans = x.shape.map((d, a) => resizeAxis(ctx, d, outShape[a]!, scale[a]!, roiFor(a), coeffs, exclude));
  const extrapolation = af(ctx, 'extrapolation_value', 0);
  const v = f64(x);
  const xst = strides(x.shape);
  const o = new Float64Array(sizeOf(outShape));
  forEachIndex(outShape, (idx, flat) => {
    const ps = idx.map((i, a) => plans[a]![i]!);
    if (ps.some((p) => p.idx.length === 0)) { o[flat] = extrapolation; return; }
    // Tensor product of the per-axis weights.
    let acc = 0;
    const pos = new Array<number>(r).fill(0);
    for (;;) {
      let wt = 1;
      let off = 0;
      for (let a = 0; a < r; a++) { wt *= ps[a]!.w[pos[a]!]!; off += ps[a]!.idx[pos[a]!]! * xst[a]!; }
      if (wt !== 0) acc += wt * v[off]!;
      let a = r - 1;
      for (; a >= 0; a--) { if (++pos[a]! < ps[a]!.idx.length) break; pos[a] = 0; }
      if (a < 0) break;
    }
    o[flat] = acc;
  });
  return [result(x.dtype, outShape, x.dtype.isInteger ? o.map((q) => rint(q)) : o)];
});
