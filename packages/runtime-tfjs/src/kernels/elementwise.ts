// Elementwise ops: unary math, activations, broadcasting binary ops, comparisons, logic.
import { DTypes, dtypeFromOnnx } from '@leanformer/core';
import type * as tfc from '@tensorflow/tfjs-core';
import { tfDTypeOf } from '../dtypes.js';
import { broadcastShape, HostValue, hostMap, normalize } from '../host.js';
import { broadcastTo } from './nn.js';
import type { HostKernel, Kernel, KernelContext } from '../kernel.js';

type T = tfc.Tensor;
const unary = (f: (tf: typeof tfc, x: T, c: KernelContext) => T): Kernel => (c) => f(c.tf, c.t(0), c);

const isInt = (x: T) => x.dtype === 'int32';

export const elementwiseKernels: Record<string, Kernel> = {
  Identity: (c) => c.inputs[0]!,
  Abs: unary((tf, x) => tf.abs(x)),
  Neg: unary((tf, x) => tf.neg(x)),
  Exp: unary((tf, x) => tf.exp(x)),
  Log: unary((tf, x) => tf.log(x)),
  Sqrt: unary((tf, x) => tf.sqrt(x)),
  Reciprocal: unary((tf, x) => tf.reciprocal(x)),
  Floor: unary((tf, x) => tf.floor(x)),
  Ceil: unary((tf, x) => tf.ceil(x)),
  // tf.round rounds half to even, as ONNX Round does.
  Round: unary((tf, x) => tf.round(x)),
  Sign: unary((tf, x) => tf.sign(x)),
  Sin: unary((tf, x) => tf.sin(x)),
  Cos: unary((tf, x) => tf.cos(x)),
  Tan: unary((tf, x) => tf.tan(x)),
  Asin: unary((tf, x) => tf.asin(x)),
  Acos: unary((tf, x) => tf.acos(x)),
  Atan: unary((tf, x) => tf.atan(x)),
  Sinh: unary((tf, x) => tf.sinh(x)),
  Cosh: unary((tf, x) => tf.cosh(x)),
  Asinh: unary((tf, x) => tf.asinh(x)),
  Acosh: unary((tf, x) => tf.acosh(x)),
  Atanh: unary((tf, x) => tf.atanh(x)),
  Tanh: unary((tf, x) => tf.tanh(x)),
  Sigmoid: unary((tf, x) => tf.sigmoid(x)),
  Relu: unary((tf, x) => tf.relu(x)),
  Erf: unary((tf, x) => tf.erf(x)),
  Softplus: unary((tf, x) => tf.softplus(x)),
  Softsign: unary((tf, x) => tf.div(x, tf.add(tf.abs(x), 1))),
  Not: unary((tf, x) => tf.logicalNot(x)),
  IsNaN: unary((tf, x) => tf.isNaN(x)),
  IsInf: unary((tf, x, c) => {
    const pos = c.attr('detect_positive', 1), neg = c.attr('detect_negative', 1);
    if (pos && neg) return tf.isInf(x);
    if (pos) return tf.equal(x, Infinity);
    if (neg) return tf.equal(x, -Infinity);
    return tf.cast(tf.zerosLike(x), 'bool');
  }),
  Elu: unary((tf, x, c) => {
    const a = c.attr('alpha', 1.0);
    return tf.where(tf.greater(x, 0), x, tf.mul(a, tf.sub(tf.exp(x), 1)));
  }),
  Celu: unary((tf, x, c) => {
    const a = c.attr('alpha', 1.0);
    return tf.add(tf.relu(x), tf.minimum(0, tf.mul(a, tf.sub(tf.exp(tf.div(x, a)), 1))));
  }),
  Selu: unary((tf, x, c) => {
    const a = c.attr('alpha', 1.67326319217681884765625), g = c.attr('gamma', 1.05070102214813232421875);
    return tf.mul(g, tf.where(tf.greater(x, 0), x, tf.mul(a, tf.sub(tf.exp(x), 1))));
  }),
  LeakyRelu: unary((tf, x, c) => {
    const a = c.attr('alpha', 0.01);
    return tf.where(tf.greaterEqual(x, 0), x, tf.mul(x, a));
  }),
  ThresholdedRelu: unary((tf, x, c) => tf.where(tf.greater(x, c.attr('alpha', 1.0)), x, tf.zerosLike(x))),
  HardSigmoid: unary((tf, x, c) => tf.clipByValue(tf.add(tf.mul(x, c.attr('alpha', 0.2)), c.attr('beta', 0.5)), 0, 1)),
  HardSwish: unary((tf, x) => tf.mul(x, tf.clipByValue(tf.add(tf.div(x, 6), 0.5), 0, 1))),
  Mish: unary((tf, x) => tf.mul(x, tf.tanh(tf.softplus(x)))),
  Shrink: unary((tf, x, c) => {
    const l = c.attr('lambd', 0.5), b = c.attr('bias', 0.0);
    return tf.where(tf.less(x, -l), tf.add(x, b), tf.where(tf.greater(x, l), tf.sub(x, b), tf.zerosLike(x)));
  }),
  Gelu: unary((tf, x, c) => {
    if (c.attr('approximate', 'none') === 'tanh') {
      const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
      return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
    }
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  }),
  PRelu: (c) => {
    const { tf } = c;
    const x = c.t(0);
    return tf.where(tf.less(x, 0), tf.mul(x, c.t(1)), x);
  },
  Add: (c) => c.tf.add(c.t(0), c.t(1)),
  Sub: (c) => c.tf.sub(c.t(0), c.t(1)),
  Mul: (c) => c.tf.mul(c.t(0), c.t(1)),
  Div: (c) => {
    const { tf } = c;
    const a = c.t(0), b = c.t(1);
    if (!isInt(a)) return tf.div(a, b);
    // ONNX integer division truncates toward zero; tfjs floors.
    const q = tf.div(c.tf.cast(a, 'float32'), c.tf.cast(b, 'float32'));
    return c.tf.cast(tf.mul(tf.sign(q), tf.floor(tf.abs(q))), 'int32');
  },
  Pow: (c) => {
    const { tf } = c;
    const a = c.t(0);
    let b = c.t(1);
    if (b.dtype !== a.dtype) b = c.tf.cast(b, a.dtype);
    return tf.pow(a, b);
  },
  Mod: (c) => {
    const { tf } = c;
    const a = c.t(0), b = c.t(1);
    if (c.attr('fmod', 0)) {
      // C fmod: the result takes the dividend's sign.
      const af = c.tf.cast(a, 'float32'), bf = c.tf.cast(b, 'float32');
      const q = tf.div(af, bf);
      const r = tf.sub(af, tf.mul(tf.mul(tf.sign(q), tf.floor(tf.abs(q))), bf));
      return isInt(a) ? c.tf.cast(r, 'int32') : r;
    }
    return tf.mod(a, b);
  },
  Max: (c) => variadic(c, (a, b) => c.tf.maximum(a, b)),
  Min: (c) => variadic(c, (a, b) => c.tf.minimum(a, b)),
  Sum: (c) => variadic(c, (a, b) => c.tf.add(a, b)),
  Mean: (c) => c.tf.div(variadic(c, (a, b) => c.tf.add(a, b)), c.count),
  Equal: (c) => c.tf.equal(c.t(0), c.t(1)),
  Less: (c) => c.tf.less(c.t(0), c.t(1)),
  LessOrEqual: (c) => c.tf.lessEqual(c.t(0), c.t(1)),
  Greater: (c) => c.tf.greater(c.t(0), c.t(1)),
  GreaterOrEqual: (c) => c.tf.greaterEqual(c.t(0), c.t(1)),
  And: (c) => c.tf.logicalAnd(c.t(0), c.t(1)),
  Or: (c) => c.tf.logicalOr(c.t(0), c.t(1)),
  Xor: (c) => c.tf.logicalXor(c.t(0), c.t(1)),
  Where: (c) => {
    const { tf } = c;
    const cond = c.t(0), a = c.t(1), b = c.t(2);
    const shape = [cond.shape, a.shape, b.shape].reduce((x, y) => broadcastShape(x, y, 'Where'));
    if (shape.length > 4) {
      // The webgpu backend's select kernel stops at rank 4: broadcast all three, select on flat
      // views (rank 1), and restore the shape. Exact on every backend, differentiable.
      // Broadcast by adding zeros of the same dtype (bool via int32): binary ops take any rank on every backend.
      const flat = (t: typeof a) => {
        const x = t.dtype === 'bool' ? tf.cast(t, 'int32') : t;
        const full = tf.reshape(tf.add(x, tf.fill([...shape], 0, x.dtype as 'float32' | 'int32')), [-1]); // fill: made on the device, no upload
        return t.dtype === 'bool' ? tf.cast(full, 'bool') : full;
      };
      return tf.reshape(tf.where(flat(cond), flat(a), flat(b)), shape);
    }
    if (!c.training) return tf.where(cond, a, b);
    // tf.where broadcasts through BroadcastTo, whose gradient stops at rank 4; broadcast the
    // branches here (differentiably) so any rank trains.
    return tf.where(broadcastTo(tf, cond, shape), broadcastTo(tf, a, shape), broadcastTo(tf, b, shape));
  },
  Clip: (c) => {
    const { tf } = c;
    let x = c.t(0);
    if (c.opset < 11) {
      return tf.clipByValue(x, c.attr('min', -3.4028234663852886e38), c.attr('max', 3.4028234663852886e38));
    }
    if (c.has(1)) x = tf.maximum(x, c.t(1));
    if (c.has(2)) x = tf.minimum(x, c.t(2));
    return x;
  },
  // Unsigned shifts as exact integer arithmetic: x·2^y and floor(x / 2^y).
  BitShift: (c) => {
    const { tf } = c;
    const x = c.t(0), y = c.t(1);
    const p = tf.pow(tf.scalar(2, 'int32'), y);
    return c.attr('direction', 'LEFT') === 'LEFT' ? tf.mul(x, p) : tf.floorDiv(x, p);
  },
  DynamicQuantizeLinear: (c) => {
    const { tf } = c;
    const x = c.t(0);
    // uint8 range [0, 255]; the range always includes 0 so zero is exact.
    const lo = tf.minimum(tf.min(x), 0), hi = tf.maximum(tf.max(x), 0);
    const scale = tf.div(tf.sub(hi, lo), 255);
    const zp = tf.clipByValue(tf.round(tf.div(tf.neg(lo), scale)), 0, 255);
    const y = tf.clipByValue(tf.add(tf.round(tf.div(x, scale)), zp), 0, 255);
    return [tf.cast(y, 'int32'), scale, tf.cast(zp, 'int32')];
  },
  DequantizeLinear: (c) => {
    const { tf } = c;
    const x = tf.cast(c.t(0), 'float32');
    const scale = quantParam(c, 1, x);
    const zp = c.has(2) ? quantParam(c, 2, x) : null;
    return tf.mul(zp ? tf.sub(x, tf.cast(zp, 'float32')) : x, scale);
  },
  QuantizeLinear: (c) => {
    const { tf } = c;
    const x = c.t(0);
    const scale = quantParam(c, 1, x);
    const out = c.has(2) ? c.dtype(2) : c.node.attrs.has('output_dtype') ? dtypeFromOnnx(c.attr('output_dtype')) : DTypes.uint8;
    if (!out.isInteger || out.bits > 16) c.fail(`output type ${out.name} is not supported; allowed: int8, uint8, int16, uint16`);
    const lo = out.isSigned ? -(2 ** (out.bits - 1)) : 0, hi = out.isSigned ? 2 ** (out.bits - 1) - 1 : 2 ** out.bits - 1;
    // Round half to even (tf.round), add the zero point, saturate to the output type.
    let q = tf.round(tf.div(x, scale));
    if (c.has(2)) q = tf.add(q, tf.cast(quantParam(c, 2, x), 'float32'));
    return tf.cast(tf.clipByValue(q, lo, hi), 'int32');
  },
  Cast: (c) => castTo(c, dtypeFromOnnx(c.attr('to'))),
  CastLike: (c) => castTo(c, c.dtype(1)),
};

/** A Q/DQ scale or zero point shaped to broadcast against `x`: scalar, per-axis (1-D), or blocked (same rank). */
function quantParam(c: KernelContext, i: number, x: T): T {
  const { tf } = c;
  const p = c.t(i);
  if (p.rank === 0 || p.size === 1) return tf.reshape(p, []);
  const axis = c.axis(c.attr('axis', 1), x.rank);
  if (p.rank === 1) return tf.reshape(p, x.shape.map((d, k) => (k === axis ? d : 1)));
  // Blocked (opset 21): p has x's rank with dim[axis] = ceil(x.dim / block_size).
  const block = c.attr('block_size', 0);
  if (!block) c.fail('a scale of the input\'s rank needs block_size');
  const rep = tf.reshape(tf.tile(tf.expandDims(p, axis + 1), p.shape.map((_, k) => 1).concat([1]).map((v, k) => (k === axis + 1 ? block : 1))), p.shape.map((d, k) => (k === axis ? d * block : d)));
  return tf.slice(rep, x.shape.map(() => 0), x.shape.map((d) => d));
}

function castTo(c: KernelContext, to: ReturnType<typeof dtypeFromOnnx>): T {
  const { tf } = c;
  const x = c.t(0);
  const target = tfDTypeOf(to);
  if (target === x.dtype) return x;
  if (target === 'bool') return tf.notEqual(x, tf.zerosLike(x));
  if (target === 'int32' && x.dtype === 'float32') {
    // Truncation toward zero, as ONNX Cast does (tfjs backends differ on this).
    return c.tf.cast(tf.mul(tf.sign(x), tf.floor(tf.abs(x))), 'int32');
  }
  return tf.cast(x, target);
}

function variadic(c: KernelContext, f: (a: T, b: T) => T): T {
  let acc = c.t(0);
  for (let i = 1; i < c.count; i++) acc = f(acc, c.t(i));
  return acc;
}

// ---- host forms, used for shape arithmetic on small int tensors ----

const hostBinary = (f: (a: number, b: number) => number, bool = false): HostKernel => (c) => {
  if (!c.allHost()) return undefined;
  const a = c.host(0)!, b = c.host(1)!;
  if (!bool && !a.dtype.isInteger) return undefined; // float math stays on tfjs for bit-exact float32 results
  return hostMap([a, b], bool ? DTypes.bool : a.dtype, c.op, f);
};

export const elementwiseHostKernels: Record<string, HostKernel> = {
  Identity: (c) => (c.allHost() ? c.host(0) : undefined),
  Add: hostBinary((a, b) => a + b),
  Sub: hostBinary((a, b) => a - b),
  Mul: hostBinary((a, b) => a * b),
  Div: hostBinary((a, b) => {
    if (b === 0) throw new Error('integer division by zero');
    return Math.trunc(a / b);
  }),
  Mod: (c) => (c.attr('fmod', 0) ? undefined : hostBinary((a, b) => a - Math.floor(a / b) * b)(c)),
  Equal: hostBinary((a, b) => +(a === b), true),
  Less: hostBinary((a, b) => +(a < b), true),
  LessOrEqual: hostBinary((a, b) => +(a <= b), true),
  Greater: hostBinary((a, b) => +(a > b), true),
  GreaterOrEqual: hostBinary((a, b) => +(a >= b), true),
  And: hostBinary((a, b) => +(a && b), true),
  Or: hostBinary((a, b) => +(a || b), true),
  Not: (c) => (c.allHost() ? hostMap([c.host(0)!], DTypes.bool, 'Not', (a) => +!a) : undefined),
  Neg: (c) => (c.allHost() && c.dtype(0).isInteger ? hostMap([c.host(0)!], c.dtype(0), 'Neg', (a) => -a) : undefined),
  Abs: (c) => (c.allHost() && c.dtype(0).isInteger ? hostMap([c.host(0)!], c.dtype(0), 'Abs', Math.abs) : undefined),
  Max: (c) => (c.allHost() && c.dtype(0).isInteger ? hostMap(c.inputs.map((_, i) => c.host(i)!), c.dtype(0), 'Max', Math.max) : undefined),
  Min: (c) => (c.allHost() && c.dtype(0).isInteger ? hostMap(c.inputs.map((_, i) => c.host(i)!), c.dtype(0), 'Min', Math.min) : undefined),
  Where: (c) => {
    if (!c.allHost() || !c.dtype(1).isInteger) return undefined;
    return hostMap([c.host(0)!, c.host(1)!, c.host(2)!], c.dtype(1), 'Where', (k, a, b) => (k ? a : b));
  },
  Cast: (c) => {
    if (!c.allHost()) return undefined;
    const to = dtypeFromOnnx(c.attr('to'));
    const x = c.host(0)!;
    // Only exact casts run on the host: int ⇄ int, int → float, bool ⇄ int.
    if (!(x.dtype.isInteger || x.dtype.name === 'bool')) return undefined;
    if (to.isFloat && to.name !== 'float32' && to.name !== 'float64') return undefined;
    return new HostValue(to, x.shape, x.data.map((v) => normalize(to, v)));
  },
};
