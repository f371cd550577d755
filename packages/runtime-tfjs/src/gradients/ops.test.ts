// Training through the compile path: for each ONNX op a model can differentiate through (the float ops of
// the decoder and encoder families and the rest of the float kernels runtime-tfjs has), a one-node graph
// with trained inputs gets gradients from runtime-tfjs's own definitions only (no "gradient function not
// found", every kernel on the path covered), and the gradient agrees with the compiled forward: the
// directional derivative ∇L·v against the central difference (L(x + hv) − L(x − hv)) / 2h of the same
// float32 forward (h = 1e-2, v uniform in [−1, 1); tolerance 1e-2·(|difference| + ‖∇L‖): float32 differencing
// noise and the O(h²) truncation).
// The independent float64 references per kernel are in gradients.test.ts; this file checks coverage.
import { attr, Graph, rng, Tensor, type Attribute } from '@leanformer/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CompiledGraph } from '../compile.js';
import { useTfjsBackend } from '../setup.js';

type In =
  | { readonly w: number[]; readonly lo?: number; readonly hi?: number; readonly values?: number[] } // trained float input
  | { readonly i64: number[]; readonly shape?: number[] } // int64 constant
  | { readonly f: number[]; readonly shape: number[] } // float constant
  | { readonly bool: number[]; readonly shape: number[] }
  | null;

interface OpCase { readonly op: string; readonly inputs: readonly In[]; readonly attrs?: Record<string, Attribute>; readonly label?: string; readonly outputs?: number }

const w = (...shape: number[]): In => ({ w: shape });
const pos = (...shape: number[]): In => ({ w: shape, lo: 0.5, hi: 2 });
const i64 = (...values: number[]): In => ({ i64: values });
const { int, ints, float, string } = attr;

const UNARY = ['Abs', 'Neg', 'Exp', 'Sin', 'Cos', 'Tan', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Tanh', 'Sigmoid', 'Relu', 'Erf', 'Softplus', 'Softsign', 'Elu', 'Celu', 'Selu', 'LeakyRelu', 'HardSigmoid', 'HardSwish', 'Mish', 'Identity', 'Floor', 'Ceil', 'Round', 'Sign', 'ThresholdedRelu', 'Shrink'];
const POSITIVE = ['Log', 'Sqrt', 'Reciprocal'];

const cases: OpCase[] = [
  ...UNARY.map((op): OpCase => ({ op, inputs: [w(2, 3, 4)] })),
  ...POSITIVE.map((op): OpCase => ({ op, inputs: [pos(2, 3, 4)] })),
  { op: 'Asin', inputs: [{ w: [2, 3], lo: -0.8, hi: 0.8 }] },
  { op: 'Acos', inputs: [{ w: [2, 3], lo: -0.8, hi: 0.8 }] },
  { op: 'Atanh', inputs: [{ w: [2, 3], lo: -0.8, hi: 0.8 }] },
  { op: 'Acosh', inputs: [{ w: [2, 3], lo: 1.5, hi: 3 }] },
  { op: 'Gelu', inputs: [w(2, 3, 4)], label: 'Gelu (erf)' },
  { op: 'Gelu', inputs: [w(2, 3, 4)], attrs: { approximate: string('tanh') }, label: 'Gelu (tanh)' },
  { op: 'PRelu', inputs: [w(2, 3, 4), w(4)] },
  { op: 'Clip', inputs: [w(2, 3, 4), { f: [-0.5], shape: [] }, { f: [0.5], shape: [] }] },
  ...['Add', 'Sub', 'Mul', 'Div', 'Sum', 'Mean'].map((op): OpCase => ({ op, inputs: [w(2, 3, 4), op === 'Div' ? pos(3, 1) : w(3, 1)] })),
  // b at k + ½, which random inputs keep 0.05 away from: no tie within ± h.
  ...['Max', 'Min'].map((op): OpCase => ({ op, inputs: [w(2, 3, 4), { w: [3, 1], values: [-0.5, 0.5, 1.5] }] })),
  { op: 'Pow', inputs: [pos(2, 3), w(3)] },
  { op: 'Where', inputs: [{ bool: [1, 0, 1, 0, 0, 1], shape: [2, 1, 1, 3] }, w(2, 2, 2, 3), w(2, 3)], label: 'Where (rank 4)' },
  { op: 'Where', inputs: [{ bool: [1, 0, 1], shape: [1, 1, 1, 1, 3] }, w(2, 1, 2, 1, 3), w(2, 3)], label: 'Where (rank 5)' },
  { op: 'Reshape', inputs: [w(2, 3, 4), i64(4, -1)] },
  { op: 'Flatten', inputs: [w(2, 3, 4)], attrs: { axis: int(2) } },
  { op: 'Squeeze', inputs: [w(2, 1, 4), i64(1)] },
  { op: 'Unsqueeze', inputs: [w(2, 4), i64(0, 3)] },
  { op: 'Transpose', inputs: [w(2, 3, 4)], attrs: { perm: ints([2, 0, 1]) } },
  { op: 'Concat', inputs: [w(2, 3), w(2, 1), w(2, 2)], attrs: { axis: int(-1) } },
  { op: 'Split', inputs: [w(2, 6), i64(1, 2, 3)], attrs: { axis: int(1) }, outputs: 3 },
  { op: 'Slice', inputs: [w(4, 6), i64(1, 0), i64(4, 5), i64(0, 1), i64(1, 2)], label: 'Slice (step 2)' },
  { op: 'Slice', inputs: [w(4, 6), i64(3, 5), i64(-10, 0), i64(0, 1), i64(-1, -2)], label: 'Slice (negative steps)' },
  { op: 'Gather', inputs: [w(5, 3), { i64: [0, 4, 4, 1], shape: [2, 2] }], label: 'Gather (axis 0, repeats)' },
  { op: 'Gather', inputs: [w(2, 5, 3), { i64: [-1, 2], shape: [2] }], attrs: { axis: int(1) }, label: 'Gather (axis 1, negative)' },
  { op: 'GatherElements', inputs: [w(3, 4), { i64: [0, 3, 1, 1, 2, 0], shape: [3, 2] }], attrs: { axis: int(1) } },
  { op: 'Expand', inputs: [w(3, 1), i64(2, 1, 3, 4)] },
  { op: 'Tile', inputs: [w(2, 1, 3), i64(2, 3, 2)] },
  ...['constant', 'reflect', 'edge'].map((mode): OpCase => ({ op: 'Pad', inputs: [w(3, 4), i64(1, 2, 2, 1)], attrs: { mode: string(mode) }, label: `Pad (${mode})` })),
  { op: 'Pad', inputs: [w(3, 4), i64(-1, 1, 0, -2)], label: 'Pad (negative: crop)' },
  { op: 'DepthToSpace', inputs: [w(1, 8, 2, 3)], attrs: { blocksize: int(2) } },
  { op: 'SpaceToDepth', inputs: [w(1, 2, 4, 6)], attrs: { blocksize: int(2) } },
  { op: 'Trilu', inputs: [w(3, 4)] },
  { op: 'MatMul', inputs: [w(2, 3, 4), w(4, 5)], label: 'MatMul (3-D · 2-D)' },
  { op: 'MatMul', inputs: [w(2, 1, 3, 4), w(1, 2, 4, 5)], label: 'MatMul (batch broadcast)' },
  { op: 'MatMul', inputs: [w(4), w(4, 5)], label: 'MatMul (vector)' },
  { op: 'Gemm', inputs: [w(4, 3), w(5, 4), w(5)], attrs: { transA: int(1), transB: int(1), alpha: float(0.5), beta: float(2) } },
  { op: 'Conv', inputs: [w(2, 3, 7, 6), w(4, 3, 3, 3), w(4)], attrs: { strides: ints([2, 1]), pads: ints([1, 0, 1, 2]) } },
  { op: 'Conv', inputs: [w(1, 4, 6, 6), w(4, 2, 3, 3)], attrs: { group: int(2), dilations: ints([2, 1]) }, label: 'Conv (grouped, dilated)' },
  { op: 'Conv', inputs: [w(1, 3, 6, 6), w(6, 1, 3, 3)], attrs: { group: int(3), pads: ints([1, 1, 1, 1]), strides: ints([2, 2]) }, label: 'Conv (depthwise)' },
  { op: 'Conv', inputs: [w(2, 3, 9), w(4, 3, 3)], attrs: { strides: ints([2]) }, label: 'Conv (1-D)' },
  { op: 'ConvTranspose', inputs: [w(1, 3, 4, 4), w(3, 2, 3, 3)], attrs: { strides: ints([2, 2]) } },
  { op: 'MaxPool', inputs: [w(1, 2, 7, 6)], attrs: { kernel_shape: ints([3, 2]), strides: ints([2, 2]), pads: ints([1, 0, 1, 1]) } },
  { op: 'AveragePool', inputs: [w(1, 2, 7, 6)], attrs: { kernel_shape: ints([3, 3]), strides: ints([2, 2]), pads: ints([1, 1, 1, 1]), ceil_mode: int(1) } },
  { op: 'AveragePool', inputs: [w(1, 2, 8, 8)], attrs: { kernel_shape: ints([2, 2]), dilations: ints([2, 2]) }, label: 'AveragePool (dilated)' },
  { op: 'GlobalAveragePool', inputs: [w(2, 3, 4, 5)] },
  { op: 'GlobalMaxPool', inputs: [w(2, 3, 4, 5)] },
  { op: 'BatchNormalization', inputs: [w(2, 3, 4), w(3), w(3), { f: [0.1, -0.2, 0.3], shape: [3] }, { f: [1, 0.5, 2], shape: [3] }] },
  { op: 'InstanceNormalization', inputs: [w(2, 3, 5), w(3), w(3)] },
  { op: 'LayerNormalization', inputs: [w(2, 3, 6), w(6), w(6)], attrs: { axis: int(-1) } },
  { op: 'RMSNormalization', inputs: [w(2, 3, 6), w(6)], attrs: { axis: int(-1) } },
  { op: 'LpNormalization', inputs: [w(2, 5)], attrs: { axis: int(-1), p: int(2) } },
  { op: 'Softmax', inputs: [w(2, 3, 5)], label: 'Softmax (last axis)' },
  { op: 'Softmax', inputs: [w(2, 3, 5)], attrs: { axis: int(1) }, label: 'Softmax (axis 1)' },
  { op: 'LogSoftmax', inputs: [w(2, 3, 5)] },
  { op: 'LogSoftmax', inputs: [w(2, 3, 5)], attrs: { axis: int(0) }, label: 'LogSoftmax (axis 0)' },
  ...['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSumExp'].map((op): OpCase => ({ op, inputs: [w(2, 3, 4), i64(1)] })),
  { op: 'ReduceLogSum', inputs: [pos(2, 3, 4), i64(2)] },
  { op: 'CumSum', inputs: [w(3, 4), i64(1)], attrs: { reverse: int(1) } },
  { op: 'Cast', inputs: [w(2, 3)], attrs: { to: int(1) }, label: 'Cast (float → float)' },
  { op: 'LRN', inputs: [w(1, 5, 3, 3)], attrs: { size: int(3) } },
  { op: 'MeanVarianceNormalization', inputs: [w(2, 3, 4, 2)] },
  { op: 'Hardmax', inputs: [w(2, 5)] },
  { op: 'SoftmaxCrossEntropyLoss', inputs: [w(4, 5), { i64: [1, 0, 4, 2] }] },
  { op: 'NegativeLogLikelihoodLoss', inputs: [w(4, 5), { i64: [1, 0, 4, -1] }, pos(5)], attrs: { ignore_index: int(-1) } },
  { op: 'Resize', inputs: [w(1, 2, 3, 4), null, { f: [1, 1, 2, 1.5], shape: [4] }], attrs: { mode: string('linear') }, label: 'Resize (linear)' },
  { op: 'Resize', inputs: [w(1, 2, 3, 4), null, { f: [1, 1, 2, 2], shape: [4] }], attrs: { mode: string('nearest') }, label: 'Resize (nearest)' },
  { op: 'LSTM', inputs: [w(3, 2, 4), w(1, 12, 4), w(1, 12, 3), w(1, 24)], attrs: { hidden_size: int(3) }, outputs: 1 },
  { op: 'GRU', inputs: [w(3, 2, 4), w(1, 9, 4), w(1, 9, 3), w(1, 18)], attrs: { hidden_size: int(3) }, outputs: 1 },
];

/** The one-node graph: trained inputs are initializers; loss = Σ_outputs Σ r ⊙ y with fixed random r. */
function build(c: OpCase, seed: number): { graph: Graph; trained: string[] } {
  const g = new Graph(c.op);
  g.opsets.set('', 21);
  const r = rng(seed);
  const trained: string[] = [];
  const inputs = c.inputs.map((inp, k) => {
    if (inp === null) return null;
    const name = `in${k}`;
    if ('w' in inp) {
      const lo = inp.lo ?? -1.5, hi = inp.hi ?? 1.5;
      // Kept off kinks (|x| ≥ 0.15) and off integer ± 0.15 (Floor, Round…), so ± h stays on one piece.
      const n = inp.w.reduce((a, b) => a * b, 1);
      const vals = inp.values ?? Array.from({ length: n }, () => { let v; do v = lo + (hi - lo) * r.uniform(); while (Math.abs(v - Math.round(v)) < 0.15 || Math.abs(v - 0.5 - Math.floor(v)) < 0.05); return v; });
      trained.push(name);
      return g.addInitializer(name, Tensor.from('float32', inp.w, vals));
    }
    if ('i64' in inp) return g.addInitializer(name, Tensor.from('int64', inp.shape ?? [inp.i64.length], inp.i64.map(BigInt)));
    if ('bool' in inp) return g.addInitializer(name, Tensor.from('bool', inp.shape, inp.bool));
    return g.addInitializer(name, Tensor.from('float32', inp.shape, inp.f));
  });
  const node = g.addNode({ op: c.op, inputs, attrs: c.attrs ?? {}, outputs: Array.from({ length: c.outputs ?? 1 }, (_, i) => `y${i}`) });
  for (const o of node.outputs) g.addOutput(o!);
  return { graph: g, trained };
}

beforeAll(async () => { await useTfjsBackend('cpu'); });

describe('training through each ONNX op: every tfjs kernel on the path has our gradient', () => {
  cases.forEach((c, n) => {
    it(c.label ?? c.op, () => {
      const { graph, trained } = build(c, 500 + n);
      const compiled = new CompiledGraph(tf, graph, { trainable: trained });
      try {
        const vars = [...compiled.variables.values()];
        const r = rng(900 + n);
        const weights = new Map<string, tf.Tensor>();
        const loss = () => {
          const outs = compiled.execute(new Map(), { training: true });
          const terms = [...outs].map(([name, y]) => {
            const t = y as tf.Tensor;
            if (!weights.has(name)) weights.set(name, tf.keep(tf.tensor(Array.from({ length: t.size }, () => r.uniform() * 2 - 1), t.shape, 'float32')));
            return tf.sum(tf.mul(t, weights.get(name)!));
          });
          return tf.addN(terms) as tf.Scalar;
        };
        const { grads, value } = tf.variableGrads(loss, vars);
        value.dispose();
        // Directional derivative along a random unit-scale direction v, against the float32 central difference.
        const dirs = vars.map((v) => tf.tensor(Array.from({ length: v.size }, () => r.uniform() * 2 - 1), v.shape, 'float32'));
        const analytic = vars.reduce((a, v, k) => a + tf.tidy(() => tf.sum(tf.mul(grads[v.name]!, dirs[k]!)).dataSync()[0]!), 0);
        const gnorm = Math.sqrt(vars.reduce((a, v) => a + tf.tidy(() => tf.sum(tf.square(grads[v.name]!)).dataSync()[0]!), 0));
        const base = vars.map((v) => tf.clone(v));
        const at = (s: number) => {
          vars.forEach((v, k) => v.assign(tf.tidy(() => tf.add(base[k]!, tf.mul(dirs[k]!, s)))));
          return tf.tidy(() => loss().dataSync()[0]!);
        };
        const h = 1e-2;
        const numeric = (at(h) - at(-h)) / (2 * h);
        expect(Number.isFinite(analytic)).toBe(true);
        expect(Math.abs(analytic - numeric), `${c.label ?? c.op}: ∇L·v = ${analytic}, difference quotient ${numeric}`).toBeLessThanOrEqual(1e-2 * (Math.abs(numeric) + gnorm));
        for (const t of [...Object.values(grads), ...dirs, ...base, ...weights.values()]) t.dispose();
      } finally {
        compiled.dispose();
      }
    });
  });
});
