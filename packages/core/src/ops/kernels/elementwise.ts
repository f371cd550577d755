// Element-wise kernels: arithmetic and comparisons with broadcasting, unary math and activations, Cast.
import { DTypes, dtypeFromOnnx, type DType } from '../../dtype.js';
import { Tensor } from '../../tensor.js';
import { broadcastIndex, fromF64, isNumeric, rint, sizeOf, take } from '../kernels-util.js';
import { refuse, guard, fail, ai, af, normAxis, f64, result, broadcastIndexShape, type Ctx, type Kernel, type Def } from './common.js';

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

/** Registers the elementwise kernels. */
export function registerElementwiseKernels(def: Def): void {
  def('Identity', (_c, [x]) => [x!]);
  def('Cast', (ctx, [x]) => [cast(ctx, x!, dtypeFromOnnx(ai(ctx, 'to', 1)))]);
  def('CastLike', (ctx, [x, like]) => [cast(ctx, x!, like!.dtype)]);

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

  // Bitwise ops on integer values below 2^53 (float64 holds them exactly); results wrap to the dtype.
  const bitwise = (f: (a: bigint, b: bigint) => bigint): Kernel => naryK(([a, b], _c, dt) => {
    if (!dt.isInteger) return refuse();
    return Number(f(BigInt(a!), BigInt(b!)));
  });
  def('BitShift', (ctx, xs) => {
    const left = ctx.node.attr<string>('direction', '') === 'LEFT';
    if (!left && ctx.node.attr<string>('direction', '') !== 'RIGHT') fail(ctx, "direction must be 'LEFT' or 'RIGHT'");
    return naryK(([a, b], _c, dt) => {
      const bits = BigInt(dt.bits);
      const r = left ? BigInt(a!) << BigInt(b!) : BigInt(a!) >> BigInt(b!);
      return Number(BigInt.asUintN(Number(bits), r));
    })(ctx, xs);
  });
  def('BitwiseAnd', bitwise((a, b) => a & b));
  def('BitwiseOr', bitwise((a, b) => a | b));
  def('BitwiseXor', bitwise((a, b) => a ^ b));
  def('BitwiseNot', unaryK((x) => Number(~BigInt(x))));
}
