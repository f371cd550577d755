// Each gradient runtime-tfjs defines, against an independent float64 reference: for L = Σ w ⊙ op(inputs)
// (w seeded random), tfjs' gradient (tfjs-cpu, float32, through our definitions) is compared with central
// finite differences of a float64 JS forward of the op written here. Tolerance |g − ref| ≤ 1e-4 + 1e-3·|ref|
// (float32 arithmetic against float64; finite-difference error is ~1e-9). Inputs stay away from kinks
// (|x| ≥ 0.1 where the op has one, distinct values for max/min). Data-movement ops (reshape, slice, pad,
// gather…) take their float64 forward from where the op sends each element: the op applied to an int32
// iota of the input's positions (exact), then y = x[positions] in float64.
import { rng } from '@leanformer/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTfjsBackend } from '../setup.js';
import { GRADIENTS } from './index.js';

type T = tf.Tensor;
type F = Float64Array;

interface Input {
  readonly shape: readonly number[];
  /** Differentiated (float32, default) or held constant (int32/bool indices, masks). */
  readonly dtype?: 'float32' | 'int32' | 'bool';
  /** Fixed values (else seeded uniform in [lo, hi), kept off (−gap, gap)). */
  readonly values?: readonly number[];
  readonly lo?: number;
  readonly hi?: number;
  readonly gap?: number;
}

interface Case {
  readonly name: string;
  /** Kernels whose gradient this case must run (checked). */
  readonly kernels: readonly string[];
  readonly inputs: readonly Input[];
  readonly op: (...xs: T[]) => T;
  /** The forward in float64: flat row-major output for flat row-major inputs. */
  readonly ref: (xs: F[], shapes: number[][]) => F;
}

// ---- float64 reference helpers ----
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const stridesOf = (s: readonly number[]) => s.map((_, i) => size(s.slice(i + 1)));
function broadcast(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => Math.max(a[i - r + a.length] ?? 1, b[i - r + b.length] ?? 1));
}
/** Index into an input of shape `s` broadcast to `out`, for output multi-index `idx`. */
function bIndex(s: readonly number[], out: readonly number[], idx: readonly number[]): number {
  const st = stridesOf(s);
  let k = 0;
  for (let i = 0; i < s.length; i++) k += (s[i] === 1 ? 0 : idx[i + out.length - s.length]!) * st[i]!;
  return k;
}
function unravel(i: number, s: readonly number[]): number[] {
  return stridesOf(s).map((st, d) => Math.floor(i / st) % s[d]!);
}
const unary = (f: (x: number) => number) => ([x]: F[]) => x!.map(f);
const binary = (f: (a: number, b: number) => number) => ([a, b]: F[], [sa, sb]: number[][]) => {
  const out = broadcast(sa!, sb!);
  return Float64Array.from({ length: size(out) }, (_, i) => { const idx = unravel(i, out); return f(a![bIndex(sa!, out, idx)]!, b![bIndex(sb!, out, idx)]!); });
};
const select = ([c, a, b]: F[], [sc, sa, sb]: number[][]) => {
  const out = broadcast(broadcast(sc!, sa!), sb!);
  return Float64Array.from({ length: size(out) }, (_, i) => { const idx = unravel(i, out); return c![bIndex(sc!, out, idx)] ? a![bIndex(sa!, out, idx)]! : b![bIndex(sb!, out, idx)]!; });
};
/** Reduction over `axes` of `x` (shape `s`), keeping dims of size 1 (flat order is the same either way). */
function reduce(x: F, s: readonly number[], axes: readonly number[], f: (vals: number[]) => number): F {
  const out = s.map((d, i) => (axes.includes(i) ? 1 : d));
  const groups: number[][] = Array.from({ length: size(out) }, () => []);
  for (let i = 0; i < x.length; i++) {
    const idx = unravel(i, s).map((v, d) => (axes.includes(d) ? 0 : v));
    groups[idx.reduce((k, v, d) => k + v * stridesOf(out)[d]!, 0)]!.push(x[i]!);
  }
  return Float64Array.from(groups, f);
}
const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
function softmax(x: F, s: readonly number[], axis: number): F {
  const m = reduce(x, s, [axis], (v) => Math.max(...v));
  const keep = s.map((d, i) => (i === axis ? 1 : d));
  const e = x.map((v, i) => Math.exp(v - m[bIndex(keep, s, unravel(i, s))]!));
  const z = reduce(e, s, [axis], sum);
  return e.map((v, i) => v / z[bIndex(keep, s, unravel(i, s))]!);
}
/** Batched matmul with optional transposes of the last two axes; batch axes broadcast. */
function matmul([a, b]: F[], [sa, sb]: number[][], ta: boolean, tb: boolean): F {
  const ra = sa!.length, rb = sb!.length;
  const [M, K] = ta ? [sa![ra - 1]!, sa![ra - 2]!] : [sa![ra - 2]!, sa![ra - 1]!];
  const N = tb ? sb![rb - 2]! : sb![rb - 1]!;
  const batch = broadcast(sa!.slice(0, -2), sb!.slice(0, -2));
  const out = new Float64Array(size(batch) * M * N);
  for (let bi = 0; bi < size(batch); bi++) {
    const idx = unravel(bi, batch);
    const oa = bIndex(sa!.slice(0, -2), batch, idx) * M * K, ob = bIndex(sb!.slice(0, -2), batch, idx) * K * N;
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += a![oa + (ta ? k * M + i : i * K + k)]! * b![ob + (tb ? j * K + k : k * N + j)]!;
      out[bi * M * N + i * N + j] = acc;
    }
  }
  return out;
}
/** NHWC conv2d, filter [kh, kw, cin, cout], explicit pads [top, bottom, left, right]. */
function conv2d([x, w]: F[], [sx, sw]: number[][], s: [number, number], d: [number, number], p: [number, number, number, number]): F {
  const [n, h, wd, c] = sx as [number, number, number, number];
  const [kh, kw, , co] = sw as [number, number, number, number];
  const oh = Math.floor((h + p[0] + p[1] - (kh - 1) * d[0] - 1) / s[0]) + 1, ow = Math.floor((wd + p[2] + p[3] - (kw - 1) * d[1] - 1) / s[1]) + 1;
  const out = new Float64Array(n * oh * ow * co);
  for (let b = 0; b < n; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) for (let o = 0; o < co; o++) {
    let acc = 0;
    for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++) {
      const y = i * s[0] + u * d[0] - p[0], z = j * s[1] + v * d[1] - p[2];
      if (y < 0 || y >= h || z < 0 || z >= wd) continue;
      for (let ci = 0; ci < c; ci++) acc += x![((b * h + y) * wd + z) * c + ci]! * w![((u * kw + v) * c + ci) * co + o]!;
    }
    out[((b * oh + i) * ow + j) * co + o] = acc;
  }
  return out;
}
/**
 * Data movement: where each output element comes from, by running `op` on the 1-based int32 positions
 * of the (float) inputs laid end to end; 0 or −1 (padding) reads `fill`.
 */
function moved(op: (...xs: T[]) => T, consts: (T | null)[], fill = 0) {
  let pos: Int32Array | undefined;
  return (xs: F[], shapes: number[][]) => {
    pos ??= tf.tidy(() => {
      let offset = 1;
      const args = shapes.map((s, k) => {
        if (consts[k]) return consts[k]!;
        const t = tf.reshape(tf.range(offset, offset + size(s), 1, 'int32'), s);
        offset += size(s);
        return t;
      });
      return op(...args).dataSync() as Int32Array;
    });
    const flat = Float64Array.from(xs.flatMap((x, k) => (consts[k] ? [] : [...x])));
    return Float64Array.from(pos, (p) => (p <= 0 ? fill : flat[p - 1]!));
  };
}
/** NHWC depthwise conv, filter [kh, kw, c, m], explicit pads [top, bottom, left, right]. */
function depthwise([x, w]: F[], [sx, sw]: number[][], s: [number, number], d: [number, number], p: [number, number, number, number]): F {
  const [n, h, wd, c] = sx as [number, number, number, number];
  const [kh, kw, , m] = sw as [number, number, number, number];
  const oh = Math.floor((h + p[0] + p[1] - (kh - 1) * d[0] - 1) / s[0]) + 1, ow = Math.floor((wd + p[2] + p[3] - (kw - 1) * d[1] - 1) / s[1]) + 1;
  const out = new Float64Array(n * oh * ow * c * m);
  for (let b = 0; b < n; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) for (let ci = 0; ci < c; ci++) for (let k = 0; k < m; k++) {
    let acc = 0;
    for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++) {
      const y = i * s[0] + u * d[0] - p[0], z = j * s[1] + v * d[1] - p[2];
      if (y >= 0 && y < h && z >= 0 && z < wd) acc += x![((b * h + y) * wd + z) * c + ci]! * w![((u * kw + v) * c + ci) * m + k]!;
    }
    out[(((b * oh + i) * ow + j) * c + ci) * m + k] = acc;
  }
  return out;
}
/** Valid NHWC pooling of windows k with strides s. */
function pool([x]: F[], [sx]: number[][], k: [number, number], s: [number, number], f: (v: number[]) => number): F {
  const [n, h, w, c] = sx as [number, number, number, number];
  const oh = Math.floor((h - k[0]) / s[0]) + 1, ow = Math.floor((w - k[1]) / s[1]) + 1;
  const out = new Float64Array(n * oh * ow * c);
  for (let b = 0; b < n; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) for (let ci = 0; ci < c; ci++) {
    const v: number[] = [];
    for (let u = 0; u < k[0]; u++) for (let q = 0; q < k[1]; q++) v.push(x![((b * h + i * s[0] + u) * w + j * s[1] + q) * c + ci]!);
    out[((b * oh + i) * ow + j) * c + ci] = f(v);
  }
  return out;
}

const erf = (x: number): number => {
  // Maclaurin series, converged to float64 precision for |x| ≤ 3 (the inputs here).
  let term = x, acc = x;
  for (let n = 1; n < 80; n++) { term *= (-x * x) / n; acc += term / (2 * n + 1); }
  return (2 / Math.sqrt(Math.PI)) * acc;
};
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const f32 = (shape: number[], o: Partial<Input> = {}): Input => ({ shape, ...o });
const idx = (shape: number[], values: number[]): Input => ({ shape, dtype: 'int32', values });

const X = [2, 3];
const cases: Case[] = [
  // ---- unary ----
  ...([
    ['Abs', (x: T) => tf.abs(x), Math.abs, {}],
    ['Neg', (x: T) => tf.neg(x), (v: number) => -v, {}],
    ['Exp', (x: T) => tf.exp(x), Math.exp, {}],
    ['Expm1', (x: T) => tf.expm1(x), Math.expm1, {}],
    ['Log', (x: T) => tf.log(x), Math.log, { lo: 0.3, hi: 3 }],
    ['Log1p', (x: T) => tf.log1p(x), Math.log1p, { lo: -0.5, hi: 2 }],
    ['Sqrt', (x: T) => tf.sqrt(x), Math.sqrt, { lo: 0.3, hi: 3 }],
    ['Rsqrt', (x: T) => tf.rsqrt(x), (v: number) => 1 / Math.sqrt(v), { lo: 0.3, hi: 3 }],
    ['Square', (x: T) => tf.square(x), (v: number) => v * v, {}],
    ['Reciprocal', (x: T) => tf.reciprocal(x), (v: number) => 1 / v, { lo: 0.3, hi: 2 }],
    ['Sigmoid', (x: T) => tf.sigmoid(x), sig, {}],
    ['Tanh', (x: T) => tf.tanh(x), Math.tanh, {}],
    ['Erf', (x: T) => tf.erf(x), erf, {}],
    ['Softplus', (x: T) => tf.softplus(x), (v: number) => Math.log1p(Math.exp(v)), {}],
    ['Relu', (x: T) => tf.relu(x), (v: number) => Math.max(v, 0), {}],
    ['Relu6', (x: T) => tf.relu6(x), (v: number) => Math.min(Math.max(v, 0), 6), { lo: -3, hi: 9 }],
    ['Elu', (x: T) => tf.elu(x), (v: number) => (v > 0 ? v : Math.expm1(v)), {}],
    ['LeakyRelu', (x: T) => tf.leakyRelu(x, 0.2), (v: number) => (v > 0 ? v : 0.2 * v), {}],
    ['Selu', (x: T) => tf.selu(x), (v: number) => 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * Math.expm1(v)), {}],
    ['ClipByValue', (x: T) => tf.clipByValue(x, -0.5, 0.7), (v: number) => Math.min(Math.max(v, -0.5), 0.7), {}],
    ['Sin', (x: T) => tf.sin(x), Math.sin, {}],
    ['Cos', (x: T) => tf.cos(x), Math.cos, {}],
    ['Tan', (x: T) => tf.tan(x), Math.tan, { lo: -1.2, hi: 1.2 }],
    ['Asin', (x: T) => tf.asin(x), Math.asin, { lo: -0.8, hi: 0.8 }],
    ['Acos', (x: T) => tf.acos(x), Math.acos, { lo: -0.8, hi: 0.8 }],
    ['Atan', (x: T) => tf.atan(x), Math.atan, {}],
    ['Sinh', (x: T) => tf.sinh(x), Math.sinh, {}],
    ['Cosh', (x: T) => tf.cosh(x), Math.cosh, {}],
    ['Asinh', (x: T) => tf.asinh(x), Math.asinh, {}],
    ['Acosh', (x: T) => tf.acosh(x), Math.acosh, { lo: 1.3, hi: 3 }],
    ['Atanh', (x: T) => tf.atanh(x), Math.atanh, { lo: -0.8, hi: 0.8 }],
    ['Identity', (x: T) => tf.clone(x), (v: number) => v, {}],
    ['Cast', (x: T) => tf.cast(x, 'float32'), (v: number) => v, {}],
  ] as [string, (x: T) => T, (v: number) => number, Partial<Input>][]).map(([k, op, f, o]): Case => ({
    name: k, kernels: [k], inputs: [f32([2, 3, 2], { lo: -2, hi: 2, gap: 0.1, ...o })], op, ref: unary(f),
  })),
  // Piecewise constant and predicates: zero gradient (through a float cast where the output is bool or int).
  ...([
    ['Floor', (x: T) => tf.floor(x), Math.floor],
    ['Ceil', (x: T) => tf.ceil(x), Math.ceil],
    ['Round', (x: T) => tf.round(x), Math.round],
    ['Sign', (x: T) => tf.sign(x), Math.sign],
    ['Step', (x: T) => tf.step(x), (v: number) => (v > 0 ? 1 : 0)],
    ['IsNan', (x: T) => tf.cast(tf.isNaN(x), 'float32'), () => 0],
    ['IsInf', (x: T) => tf.cast(tf.isInf(x), 'float32'), () => 0],
    ['IsFinite', (x: T) => tf.cast(tf.isFinite(x), 'float32'), () => 1],
    ['OnesLike', (x: T) => tf.onesLike(x), () => 1],
    ['ZerosLike', (x: T) => tf.zerosLike(x), () => 0],
  ] as [string, (x: T) => T, (v: number) => number][]).map(([k, op, f]): Case => ({
    name: k, kernels: [k], inputs: [f32([2, 3], { lo: -2, hi: 2, gap: 0.1, values: [-1.7, -0.6, -0.2, 0.3, 0.8, 1.6] })], op, ref: unary(f),
  })),
  { name: 'ArgMax', kernels: ['ArgMax'], inputs: [f32([2, 3])], op: (x) => tf.cast(tf.argMax(x!, 1), 'float32'), ref: ([x], [s]) => reduce(x!, s!, [1], (v) => v.indexOf(Math.max(...v))) },
  { name: 'ArgMin', kernels: ['ArgMin'], inputs: [f32([2, 3])], op: (x) => tf.cast(tf.argMin(x!, 0), 'float32'), ref: ([x], [s]) => reduce(x!, s!, [0], (v) => v.indexOf(Math.min(...v))) },
  {
    name: 'comparisons and logic', kernels: ['Equal', 'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'LogicalAnd', 'LogicalOr', 'LogicalNot'],
    inputs: [f32(X, { values: [-1, 0.55, 2, 0.25, -0.75, 1] }), f32([3], { values: [0.3, 0.5, 1.5] })],
    op: (a, b) => {
      const c = (t: T) => tf.cast(t, 'float32');
      const gt = tf.greater(a!, b!), le = tf.lessEqual(a!, b!);
      return tf.addN([c(tf.equal(a!, b!)), c(tf.notEqual(a!, b!)), c(tf.less(a!, b!)), c(le), c(gt), c(tf.greaterEqual(a!, b!)), c(tf.logicalAnd(gt, tf.logicalNot(le))), c(tf.logicalOr(gt, le))]);
    },
    ref: binary((a, b) => +(a === b) + +(a !== b) + +(a < b) + +(a <= b) + 2 * +(a > b) + +(a >= b) + 1),
  },
  {
    name: 'FloorDiv', kernels: ['FloorDiv'], inputs: [f32(X, { lo: 0.5, hi: 3 }), f32([3], { values: [0.7, 1.1, 1.3] })],
    op: (a, b) => tf.floorDiv(a!, b!), ref: binary((a, b) => Math.floor(a / b)),
  },
  // ---- broadcasting binary ops: [2, 3, 4] with [3, 1] and [1, 4] ----
  ...([
    ['Add', (a: T, b: T) => tf.add(a, b), (a: number, b: number) => a + b, {}, {}],
    ['Sub', (a: T, b: T) => tf.sub(a, b), (a: number, b: number) => a - b, {}, {}],
    ['Multiply', (a: T, b: T) => tf.mul(a, b), (a: number, b: number) => a * b, {}, {}],
    ['RealDiv', (a: T, b: T) => tf.div(a, b), (a: number, b: number) => a / b, {}, { lo: 0.5, hi: 2 }],
    ['Maximum', (a: T, b: T) => tf.maximum(a, b), Math.max, {}, {}],
    ['Minimum', (a: T, b: T) => tf.minimum(a, b), Math.min, {}, {}],
    ['SquaredDifference', (a: T, b: T) => tf.squaredDifference(a, b), (a: number, b: number) => (a - b) ** 2, {}, {}],
    ['Pow', (a: T, b: T) => tf.pow(a, b), (a: number, b: number) => a ** b, { lo: 0.3, hi: 2 }, {}],
    ['Atan2', (a: T, b: T) => tf.atan2(a, b), Math.atan2, {}, { lo: 0.3, hi: 2 }],
    ['Mod', (a: T, b: T) => tf.mod(a, b), (a: number, b: number) => a - Math.floor(a / b) * b, { lo: 0.1, hi: 3 }, { lo: 0.7, hi: 1.3 }],
  ] as [string, (a: T, b: T) => T, (a: number, b: number) => number, Partial<Input>, Partial<Input>][]).flatMap(([k, op, f, oa, ob]): Case[] => [
    { name: `${k} [2,3,4]·[3,1]`, kernels: [k], inputs: [f32([2, 3, 4], { lo: -2, hi: 2, gap: 0.1, ...oa }), f32([3, 1], { lo: -2, hi: 2, gap: 0.1, ...ob })], op: (a, b) => op(a!, b!), ref: binary(f) },
    { name: `${k} [1,4]·[2,3,4]`, kernels: [k], inputs: [f32([1, 4], { lo: -2, hi: 2, gap: 0.1, ...oa }), f32([2, 3, 4], { lo: -2, hi: 2, gap: 0.1, ...ob })], op: (a, b) => op(a!, b!), ref: binary(f) },
  ]),
  {
    name: 'Prelu (alpha per channel)', kernels: ['Prelu'], inputs: [f32([2, 3, 4], { lo: -2, hi: 2, gap: 0.1 }), f32([4], { lo: 0.1, hi: 0.5 })],
    op: (x, a) => tf.prelu(x!, a!), ref: binary((x, a) => (x > 0 ? x : a * x)),
  },
  {
    name: 'AddN', kernels: ['AddN'], inputs: [f32(X), f32(X), f32(X)],
    op: (a, b, c) => tf.addN([a!, b!, c!]), ref: ([a, b, c]) => a!.map((v, i) => v + b![i]! + c![i]!),
  },
  {
    name: 'Select (rank-5 broadcast)', kernels: ['Select'], inputs: [{ shape: [1, 2, 1, 1, 3], dtype: 'bool', values: [1, 0, 1, 0, 0, 1] }, f32([2, 2, 1, 2, 3]), f32([1, 1, 2, 3])],
    op: (c, a, b) => {
      const shape = [2, 2, 1, 2, 3];
      return tf.where(tf.broadcastTo(c!, shape), tf.broadcastTo(a!, shape), tf.broadcastTo(b!, shape));
    },
    ref: select,
  },
  // ---- reductions and softmax ----
  { name: 'Sum over [1, 2]', kernels: ['Sum'], inputs: [f32([2, 3, 4])], op: (x) => tf.sum(x!, [1, 2]), ref: ([x], [s]) => reduce(x!, s!, [1, 2], sum) },
  { name: 'Sum all, keepDims', kernels: ['Sum'], inputs: [f32([2, 3])], op: (x) => tf.sum(x!, undefined, true), ref: ([x], [s]) => reduce(x!, s!, [0, 1], sum) },
  { name: 'Mean over -1', kernels: ['Mean'], inputs: [f32([2, 3, 4])], op: (x) => tf.mean(x!, -1, true), ref: ([x], [s]) => reduce(x!, s!, [2], (v) => sum(v) / v.length) },
  { name: 'Max over 1', kernels: ['Max'], inputs: [f32([2, 5, 3], { values: Array.from({ length: 30 }, (_, i) => Math.sin(i * 1.7) * 3) })], op: (x) => tf.max(x!, 1), ref: ([x], [s]) => reduce(x!, s!, [1], (v) => Math.max(...v)) },
  { name: 'Min over [0, 2]', kernels: ['Min'], inputs: [f32([2, 5, 3], { values: Array.from({ length: 30 }, (_, i) => Math.cos(i * 2.3) * 3) })], op: (x) => tf.min(x!, [0, 2], true), ref: ([x], [s]) => reduce(x!, s!, [0, 2], (v) => Math.min(...v)) },
  { name: 'Softmax', kernels: ['Softmax'], inputs: [f32([2, 3, 5], { lo: -3, hi: 3 })], op: (x) => tf.softmax(x!), ref: ([x], [s]) => softmax(x!, s!, 2) },
  {
    name: 'Cumsum (exclusive, reverse)', kernels: ['Cumsum'], inputs: [f32([3, 4])],
    op: (x) => tf.add(tf.cumsum(x!, 1), tf.mul(2, tf.cumsum(x!, 0, true, true))),
    ref: ([x]) => Float64Array.from({ length: 12 }, (_, i) => {
      const r = Math.floor(i / 4), c = i % 4;
      let a = 0, b = 0;
      for (let k = 0; k <= c; k++) a += x![r * 4 + k]!;
      for (let k = r + 1; k < 3; k++) b += x![k * 4 + c]!;
      return a + 2 * b;
    }),
  },
  // ---- matrix products and convolution ----
  ...([[false, false], [false, true], [true, false], [true, true]] as const).map(([ta, tb]): Case => ({
    name: `BatchMatMul transposeA=${ta} transposeB=${tb} (batch broadcast)`, kernels: ['BatchMatMul'],
    inputs: [f32(ta ? [2, 4, 3] : [2, 3, 4]), f32(tb ? [1, 5, 4] : [1, 4, 5])],
    op: (a, b) => tf.matMul(a!, b!, ta, tb), ref: (xs, ss) => matmul(xs, ss, ta, tb),
  })),
  { name: 'BatchMatMul 2-D', kernels: ['BatchMatMul'], inputs: [f32([3, 4]), f32([4, 2])], op: (a, b) => tf.matMul(a!, b!), ref: (xs, ss) => matmul(xs, ss, false, false) },
  ...([
    ['stride 2, explicit pads', [2, 2], [1, 1], [[0, 0], [1, 0], [2, 1], [0, 0]], [1, 0, 2, 1]],
    ['stride 1, dilation 2, same', [1, 1], [2, 2], 'same', [2, 2, 2, 2]],
    ['stride [2, 1], valid', [2, 1], [1, 1], 'valid', [0, 0, 0, 0]],
    ['patch embedding: stride = kernel', [3, 3], [1, 1], 'valid', [0, 0, 0, 0]],
  ] as [string, [number, number], [number, number], unknown, [number, number, number, number]][]).map(([name, s, d, pad, p]): Case => ({
    name: `Conv2D ${name}`, kernels: ['Conv2D'], inputs: [f32([2, 7, 6, 3]), f32([3, 3, 3, 4])],
    op: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad as 'valid', 'NHWC', d), ref: (xs, ss) => conv2d(xs, ss, s, d, p),
  })),
  ...([
    ['stride 2, explicit pads, multiplier 2', [2, 2], [1, 1], [[0, 0], [1, 0], [2, 1], [0, 0]], [1, 0, 2, 1], 2],
    ['stride 1, dilation 2, same', [1, 1], [2, 2], 'same', [2, 2, 2, 2], 1],
    ['stride [1, 2], valid', [1, 2], [1, 1], 'valid', [0, 0, 0, 0], 1],
  ] as [string, [number, number], [number, number], unknown, [number, number, number, number], number][]).map(([name, s, d, pad, p, m]): Case => ({
    name: `DepthwiseConv2dNative ${name}`, kernels: ['DepthwiseConv2dNative'], inputs: [f32([2, 7, 6, 3]), f32([3, 3, 3, m])],
    op: (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad as 'valid', 'NHWC', d), ref: (xs, ss) => depthwise(xs, ss, s, d, p),
  })),
  ...([[[2, 2], [2, 2]], [[3, 2], [2, 1]], [[3, 3], [1, 1]]] as [number, number][][]).flatMap(([k, s]): Case[] => [
    { name: `AvgPool ${k} stride ${s}`, kernels: ['AvgPool'], inputs: [f32([2, 7, 6, 3])], op: (x) => tf.avgPool(x as tf.Tensor4D, k as [number, number], s as [number, number], 'valid'), ref: (xs, ss) => pool(xs, ss, k as [number, number], s as [number, number], (v) => sum(v) / v.length) },
    { name: `MaxPool ${k} stride ${s}`, kernels: ['MaxPool'], inputs: [f32([2, 7, 6, 3], { values: Array.from({ length: 252 }, (_, i) => Math.sin(i * 12.9898) * 4) })], op: (x) => tf.maxPool(x as tf.Tensor4D, k as [number, number], s as [number, number], 'valid'), ref: (xs, ss) => pool(xs, ss, k as [number, number], s as [number, number], (v) => Math.max(...v)) },
  ]),
  {
    // tf.pool with dilation runs SpaceToBatchND, a valid pool, then BatchToSpaceND.
    name: 'dilated average pool (SpaceToBatchND, BatchToSpaceND)', kernels: ['SpaceToBatchND', 'BatchToSpaceND', 'AvgPool'], inputs: [f32([1, 8, 7, 2])],
    op: (x) => tf.pool(x as tf.Tensor4D, [2, 2], 'avg', 'valid', [2, 2], [1, 1]),
    ref: ([x], [sx]) => {
      const [, h, w, c] = sx as [number, number, number, number];
      const oh = h - 2, ow = w - 2;
      return Float64Array.from({ length: oh * ow * c }, (_, i) => {
        const ci = i % c, j = Math.floor(i / c) % ow, r = Math.floor(i / (c * ow));
        return ([[0, 0], [0, 2], [2, 0], [2, 2]] as const).reduce((a, [u, v]) => a + x![((r + u) * w + j + v) * c + ci]!, 0) / 4;
      });
    },
  },
  // ---- data movement ----
  ...([
    ['Reshape', [f32([2, 6])], (x: T) => tf.reshape(x, [3, 4])],
    ['ExpandDims', [f32([2, 3])], (x: T) => tf.expandDims(x, 1)],
    ['Transpose', [f32([2, 3, 4])], (x: T) => tf.transpose(x, [2, 0, 1])],
    ['Tile', [f32([2, 1, 3])], (x: T) => tf.tile(x, [2, 3, 2])],
    ['Tile', [f32([1, 2, 1, 1, 3])], (x: T) => tf.broadcastTo(x, [2, 2, 2, 2, 3])],
    ['Concat', [f32([2, 3]), f32([2, 1]), f32([2, 2])], (a: T, b: T, c: T) => tf.concat([a, b, c], -1)],
    ['SplitV', [f32([2, 6])], (x: T) => { const [a, , c] = tf.split(x, [1, 2, 3], 1); return tf.concat([tf.mul(a!, 1), c!], 1); }],
    ['Pack', [f32([2, 3]), f32([2, 3])], (a: T, b: T) => tf.stack([a, b], 1)],
    ['Unpack', [f32([3, 2])], (x: T) => { const [a, , c] = tf.unstack(x, 0); return tf.concat([a!, c!], 0); }],
    ['Slice', [f32([3, 4, 5])], (x: T) => tf.slice(x, [1, 0, 2], [2, -1, 2])],
    ['StridedSlice', [f32([5, 6])], (x: T) => tf.stridedSlice(x, [4, 1], [0, 6], [-2, 2])],
    ['StridedSlice', [f32([3, 4, 2])], (x: T) => tf.stridedSlice(x, [1, 0], [0, 3], [1, 1], 0, 0, 0, 0, 1)],
    ['Reverse', [f32([2, 3, 2])], (x: T) => tf.reverse(x, [0, 2])],
    ['MirrorPad', [f32([3, 4])], (x: T) => tf.mirrorPad(x, [[1, 2], [2, 1]], 'reflect')],
    ['MirrorPad', [f32([3, 4])], (x: T) => tf.mirrorPad(x, [[2, 0], [1, 3]], 'symmetric')],
  ] as [string, Input[], (...xs: T[]) => T][]).map(([k, inputs, op], i): Case => ({ name: `${k} #${i} of [${inputs.map((x) => x.shape.join(',')).join('] [')}]`, kernels: [k], inputs, op, ref: moved(op, inputs.map(() => null)) })),
  { name: 'PadV2', kernels: ['PadV2'], inputs: [f32([2, 3])], op: (x) => tf.pad(x!, [[1, 0], [2, 3]], 0.5), ref: moved((x) => tf.pad(x, [[1, 0], [2, 3]], 0), [null], 0.5) },
  ...([
    ['axis 0, repeated ids', [4, 3], [2, 5], [0, 3, 3, 1, 0, 2, 3, 3, 0, 1], 0],
    ['axis 1, 2-D ids', [2, 5, 3], [2, 2], [4, 0, 4, 2], 1],
    ['axis 2', [2, 3, 4], [3], [3, 3, 1], 2],
  ] as [string, number[], number[], number[], number][]).map(([name, xs, is, ids, axis]): Case => {
    const indices = () => tf.tensor(ids, is, 'int32');
    return { name: `GatherV2 ${name}`, kernels: ['GatherV2'], inputs: [f32(xs)], op: (x) => tf.gather(x!, indices(), axis), ref: moved((x) => tf.gather(x, indices(), axis), [null]) };
  }),
  {
    name: 'OneHot of indices computed from a trained value (no gradient to the indices)', kernels: ['OneHot', 'Cast'], inputs: [f32([4], { values: [0.2, 2.7, 1.4, 3.1] })],
    op: (x) => tf.mul(tf.oneHot(tf.cast(x!, 'int32'), 4), tf.reshape(x!, [4, 1])),
    ref: ([x]) => Float64Array.from({ length: 16 }, (_, i) => (Math.trunc(x![Math.floor(i / 4)]!) === i % 4 ? x![Math.floor(i / 4)]! : 0)),
  },
];

const calls = new Map<string, number>();
const originals = new Map<object, unknown>();

beforeAll(async () => {
  await useTfjsBackend('cpu');
  // Count each of our gradients' runs (the registry holds these very objects).
  for (const g of GRADIENTS) {
    const f = g.gradFunc;
    originals.set(g, f);
    (g as { gradFunc: typeof f }).gradFunc = (...args) => { calls.set(g.kernelName, (calls.get(g.kernelName) ?? 0) + 1); return f(...args); };
  }
});
afterAll(() => { for (const g of GRADIENTS) (g as { gradFunc: unknown }).gradFunc = originals.get(g); });

function inputValues(inp: Input, r: ReturnType<typeof rng>): number[] {
  if (inp.values) return [...inp.values];
  const lo = inp.lo ?? -1.5, hi = inp.hi ?? 1.5, gap = inp.gap ?? 0;
  return Array.from({ length: size(inp.shape) }, () => {
    let v = 0;
    do v = Math.fround(lo + (hi - lo) * r.uniform()); while (Math.abs(v) < gap);
    return v;
  });
}

describe('runtime-tfjs gradients vs float64 finite differences', () => {
  it('registers ours for every kernel it defines (nothing else registered them in this process)', () => {
    for (const g of GRADIENTS) expect(tf.getGradient(g.kernelName), g.kernelName).toBe(g);
  });

  it('every gradient we define has a case here', () => {
    const covered = new Set(cases.flatMap((c) => c.kernels));
    expect(GRADIENTS.map((g) => g.kernelName).filter((k) => !covered.has(k))).toEqual([]);
  });

  cases.forEach((c, n) => {
    it(c.name, () => {
      const r = rng(1000 + n);
      const vals = c.inputs.map((inp) => inputValues(inp, r));
      const shapes = c.inputs.map((inp) => [...inp.shape]);
      const isVar = c.inputs.map((inp) => (inp.dtype ?? 'float32') === 'float32');
      const outSize = tf.tidy(() => c.op(...c.inputs.map((inp, k) => tf.tensor(vals[k]!, [...inp.shape], inp.dtype ?? 'float32'))).size);
      const w = Float64Array.from({ length: outSize }, () => Math.fround(r.uniform() * 2 - 1));
      for (const k of c.kernels) calls.delete(k);

      const got = tf.tidy(() => {
        const ts = c.inputs.map((inp, k) => tf.tensor(vals[k]!, [...inp.shape], inp.dtype ?? 'float32'));
        const vars = ts.filter((_, k) => isVar[k]);
        const f = (...vs: T[]) => {
          let j = 0;
          const all = ts.map((t, k) => (isVar[k] ? vs[j++]! : t));
          return tf.sum(tf.mul(tf.reshape(c.op(...all), [-1]), tf.tensor1d(Float32Array.from(w))));
        };
        return tf.grads(f)(vars).map((g) => Array.from(g.dataSync()));
      });
      for (const k of c.kernels) expect(calls.get(k) ?? 0, `our ${k} gradient ran`).toBeGreaterThan(0);

      // The float64 forward is the op tfjs runs (else its differences would check another function).
      const x64 = vals.map((v) => Float64Array.from(v));
      const y32 = tf.tidy(() => Array.from(c.op(...c.inputs.map((inp, k) => tf.tensor(vals[k]!, [...inp.shape], inp.dtype ?? 'float32'))).dataSync()));
      const y64 = c.ref(x64, shapes);
      y32.forEach((v, i) => expect(Math.abs(v - y64[i]!), `${c.name}: forward element ${i}`).toBeLessThanOrEqual(1e-4 + 1e-4 * Math.abs(y64[i]!)));

      // Central differences of L = Σ w·ref(x) in float64.
      const loss = () => { const y = c.ref(x64, shapes); expect(y.length).toBe(outSize); return y.reduce((a, v, i) => a + v * w[i]!, 0); };
      let j = 0;
      c.inputs.forEach((_, k) => {
        if (!isVar[k]) return;
        const g = got[j++]!;
        const x = x64[k]!;
        for (let i = 0; i < x.length; i++) {
          const h = 1e-6 * Math.max(1, Math.abs(x[i]!));
          const keep = x[i]!;
          x[i] = keep + h; const up = loss();
          x[i] = keep - h; const down = loss();
          x[i] = keep;
          const ref = (up - down) / (2 * h);
          expect(Math.abs(g[i]! - ref), `${c.name}: input ${k} element ${i}: got ${g[i]}, float64 reference ${ref}`).toBeLessThanOrEqual(1e-4 + 1e-3 * Math.abs(ref));
        }
      });
    });
  });
});
