// Gradients of elementwise kernels, from each op's derivative. Binary ops broadcast, so each
// input's gradient is summed back to that input's shape (reduceTo).
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig } from '@tensorflow/tfjs-core';
import { mask, reduceTo, zerosOf } from './util.js';

type T = tf.Tensor;

/** A unary kernel whose derivative is a function of the input `x` (and attributes). */
const fromInput = (kernelName: string, d: (x: T, attrs: Record<string, unknown>) => T): GradConfig => ({
  kernelName,
  inputsToSave: ['x'],
  gradFunc: (dy, [x], attrs) => ({ x: () => tf.mul(dy as T, d(x!, attrs as Record<string, unknown>)) }),
});

/** A unary kernel whose derivative is a function of its output `y`. */
const fromOutput = (kernelName: string, d: (y: T) => T): GradConfig => ({
  kernelName,
  outputsToSave: [true],
  gradFunc: (dy, [y]) => ({ x: () => tf.mul(dy as T, d(y!)) }),
});

const sqrtOneMinusSquare = (x: T) => tf.sqrt(tf.sub(1, tf.square(x)));

/** d/dx of each unary op, x ↦ f'(x). */
export const unaryGradients: GradConfig[] = [
  { kernelName: 'Identity', gradFunc: (dy) => ({ x: () => tf.clone(dy as T) }) },
  { kernelName: 'Neg', gradFunc: (dy) => ({ x: () => tf.neg(dy as T) }) },
  fromInput('Abs', (x) => tf.sign(x)),
  fromOutput('Exp', (y) => y),
  fromInput('Expm1', (x) => tf.exp(x)),
  fromInput('Log', (x) => tf.reciprocal(x)),
  fromInput('Log1p', (x) => tf.reciprocal(tf.add(x, 1))),
  fromOutput('Sqrt', (y) => tf.div(0.5, y)),
  // d x^(-1/2) = -1/2 · x^(-3/2) = -1/2 · rsqrt(x) / x
  fromInput('Rsqrt', (x) => tf.div(tf.mul(-0.5, tf.rsqrt(x)), x)),
  fromInput('Square', (x) => tf.mul(2, x)),
  fromInput('Reciprocal', (x) => tf.neg(tf.reciprocal(tf.square(x)))),
  fromOutput('Sigmoid', (y) => tf.mul(y, tf.sub(1, y))),
  fromOutput('Tanh', (y) => tf.sub(1, tf.square(y))),
  // erf'(x) = 2/√π · e^(−x²)
  fromInput('Erf', (x) => tf.mul(2 / Math.sqrt(Math.PI), tf.exp(tf.neg(tf.square(x))))),
  fromInput('Softplus', (x) => tf.sigmoid(x)),
  fromInput('Relu', (x) => mask(tf.greater(x, 0))),
  fromInput('Relu6', (x) => mask(tf.logicalAnd(tf.greater(x, 0), tf.less(x, 6)))),
  // tfjs' Elu has α = 1: y' = 1 for y > 0, else y + 1 (= eˣ).
  fromOutput('Elu', (y) => tf.where(tf.greater(y, 0), tf.onesLike(y), tf.add(y, 1))),
  fromInput('LeakyRelu', (x, a) => tf.where(tf.greater(x, 0), tf.onesLike(x), tf.fill(x.shape, Number(a['alpha'])))),
  // SELU's constants (tfjs' selu: scale·x for x > 0, scale·α·(eˣ − 1) otherwise).
  fromInput('Selu', (x) => tf.where(tf.greater(x, 0), tf.fill(x.shape, 1.0507009873554805), tf.mul(1.0507009873554805 * 1.6732632423543772, tf.exp(x)))),
  fromInput('ClipByValue', (x, a) => mask(tf.logicalAnd(tf.greaterEqual(x, Number(a['clipValueMin'])), tf.lessEqual(x, Number(a['clipValueMax']))))),
  fromInput('Sin', (x) => tf.cos(x)),
  fromInput('Cos', (x) => tf.neg(tf.sin(x))),
  fromInput('Tan', (x) => tf.reciprocal(tf.square(tf.cos(x)))),
  fromInput('Asin', (x) => tf.reciprocal(sqrtOneMinusSquare(x))),
  fromInput('Acos', (x) => tf.neg(tf.reciprocal(sqrtOneMinusSquare(x)))),
  fromInput('Atan', (x) => tf.reciprocal(tf.add(1, tf.square(x)))),
  fromInput('Sinh', (x) => tf.cosh(x)),
  fromInput('Cosh', (x) => tf.sinh(x)),
  fromInput('Asinh', (x) => tf.rsqrt(tf.add(tf.square(x), 1))),
  fromInput('Acosh', (x) => tf.rsqrt(tf.sub(tf.square(x), 1))),
  fromInput('Atanh', (x) => tf.reciprocal(tf.sub(1, tf.square(x)))),
  {
    // Only float → float casts carry a gradient: a cast to int or bool is piecewise constant, and from
    // int or bool there is nothing to differentiate.
    kernelName: 'Cast',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({ x: x!.dtype === 'float32' && (attrs as { dtype?: string }).dtype === 'float32' ? () => tf.clone(dy as T) : zerosOf(x!) }),
  },
];

/** Piecewise-constant unary kernels, predicates and arg-reductions: zero gradient. */
const ZERO_UNARY = ['Floor', 'Ceil', 'Round', 'Sign', 'Step', 'IsNan', 'IsInf', 'IsFinite', 'LogicalNot', 'OnesLike', 'ZerosLike', 'ArgMax', 'ArgMin'];
/** Comparisons, logic and integer division of two inputs: zero gradient. */
const ZERO_BINARY = ['Equal', 'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'LogicalAnd', 'LogicalOr', 'FloorDiv'];

export const zeroGradients: GradConfig[] = [
  ...ZERO_UNARY.map((kernelName): GradConfig => ({ kernelName, inputsToSave: ['x'], gradFunc: (_dy, [x]) => ({ x: zerosOf(x!) }) })),
  ...ZERO_BINARY.map((kernelName): GradConfig => ({ kernelName, inputsToSave: ['a', 'b'], gradFunc: (_dy, [a, b]) => ({ a: zerosOf(a!), b: zerosOf(b!) }) })),
];

/** A broadcasting binary kernel given ∂y/∂a·dy and ∂y/∂b·dy before the reduction to each input's shape. */
const binary = (kernelName: string, da: (dy: T, a: T, b: T) => T, db: (dy: T, a: T, b: T) => T): GradConfig => ({
  kernelName,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, [a, b]) => ({
    a: () => reduceTo(da(dy as T, a!, b!), a!.shape),
    b: () => reduceTo(db(dy as T, a!, b!), b!.shape),
  }),
});

export const binaryGradients: GradConfig[] = [
  binary('Add', (dy) => dy, (dy) => dy),
  binary('Sub', (dy) => dy, (dy) => tf.neg(dy)),
  binary('Multiply', (dy, _a, b) => tf.mul(dy, b), (dy, a) => tf.mul(dy, a)),
  binary('RealDiv', (dy, _a, b) => tf.div(dy, b), (dy, a, b) => tf.neg(tf.div(tf.mul(dy, a), tf.square(b)))),
  // Ties send the whole gradient to `a`, as tfjs' own definitions do.
  binary('Maximum', (dy, a, b) => tf.mul(dy, mask(tf.greaterEqual(a, b))), (dy, a, b) => tf.mul(dy, mask(tf.less(a, b)))),
  binary('Minimum', (dy, a, b) => tf.mul(dy, mask(tf.lessEqual(a, b))), (dy, a, b) => tf.mul(dy, mask(tf.greater(a, b)))),
  binary('SquaredDifference', (dy, a, b) => tf.mul(dy, tf.mul(2, tf.sub(a, b))), (dy, a, b) => tf.mul(dy, tf.mul(-2, tf.sub(a, b)))),
  // ∂aᵇ/∂a = b·aᵇ⁻¹; ∂aᵇ/∂b = aᵇ·ln a, taken as 0 where a ≤ 0 (ln undefined; real powers of negatives need integer b).
  binary('Pow', (dy, a, b) => tf.mul(dy, tf.mul(b, tf.pow(a, tf.sub(b, 1)))),
    (dy, a, b) => tf.mul(dy, tf.where(tf.greater(a, 0), tf.mul(tf.pow(a, b), tf.log(tf.where(tf.greater(a, 0), a, tf.onesLike(a)))), tf.zerosLike(a)))),
  binary('Atan2', (dy, a, b) => tf.div(tf.mul(dy, b), tf.add(tf.square(a), tf.square(b))), (dy, a, b) => tf.div(tf.mul(dy, tf.neg(a)), tf.add(tf.square(a), tf.square(b)))),
  // a mod b = a − ⌊a/b⌋·b
  binary('Mod', (dy) => dy, (dy, a, b) => tf.mul(dy, tf.neg(tf.floor(tf.div(a, b))))),
  {
    kernelName: 'Prelu',
    inputsToSave: ['x', 'alpha'],
    gradFunc: (dy, [x, alpha]) => {
      const pos = tf.greater(x!, 0);
      return {
        x: () => tf.where(pos, dy as T, tf.mul(dy as T, alpha!)),
        alpha: () => reduceTo(tf.where(pos, tf.zerosLike(x!), tf.mul(dy as T, x!)), alpha!.shape),
      };
    },
  },
  {
    kernelName: 'AddN',
    saveAllInputs: true,
    gradFunc: (dy, saved) => saved.map(() => () => tf.clone(dy as T)) as unknown as ReturnType<GradConfig['gradFunc']>,
  },
];
