// RNN, GRU and LSTM (ONNX, opset 7–22): the time loop unrolls on the host (sequence lengths are
// static per run), each step a few tfjs ops, so the recurrences also train through autograd.
import type * as tfc from '@tensorflow/tfjs-core';
import type { Kernel, KernelContext, RValue } from '../kernel.js';

type T = tfc.Tensor;
type Act = (x: T) => T;

function activation(c: KernelContext, name: string, alpha: number | undefined, beta: number | undefined): Act {
  const { tf } = c;
  switch (name.toLowerCase()) {
    case 'tanh': return (x) => tf.tanh(x);
    case 'sigmoid': return (x) => tf.sigmoid(x);
    case 'relu': return (x) => tf.relu(x);
    case 'affine': return (x) => tf.add(tf.mul(x, alpha ?? 1), beta ?? 0);
    case 'leakyrelu': return (x) => tf.where(tf.greaterEqual(x, 0), x, tf.mul(x, alpha ?? 0.01));
    case 'thresholdedrelu': return (x) => tf.where(tf.greater(x, alpha ?? 1), x, tf.zerosLike(x));
    case 'scaledtanh': return (x) => tf.mul(tf.tanh(tf.mul(x, beta ?? 1)), alpha ?? 1);
    case 'hardsigmoid': return (x) => tf.clipByValue(tf.add(tf.mul(x, alpha ?? 0.2), beta ?? 0.5), 0, 1);
    case 'elu': return (x) => tf.where(tf.greater(x, 0), x, tf.mul(alpha ?? 1, tf.sub(tf.exp(x), 1)));
    case 'softsign': return (x) => tf.div(x, tf.add(tf.abs(x), 1));
    case 'softplus': return (x) => tf.softplus(x);
    default: return c.fail(`activation '${name}' is not supported`);
  }
}

interface Setup { dirs: number; hidden: number; seq: number; batch: number; x: T; lens: number[] | undefined; acts: Act[][]; clip: number | undefined }

function setup(c: KernelContext, kind: 'rnn' | 'gru' | 'lstm', defaults: string[]): Setup {
  const { tf } = c;
  const layout = c.attr('layout', 0);
  let x = c.t(0);
  if (layout === 1) x = tf.transpose(x, [1, 0, 2]); // → [seq, batch, input]
  const direction = c.attr('direction', 'forward');
  const dirs = direction === 'bidirectional' ? 2 : 1;
  if (!['forward', 'reverse', 'bidirectional'].includes(direction)) c.fail(`direction '${direction}' is not supported`);
  const names = c.attr<string[] | undefined>('activations', undefined) ?? [...defaults, ...(dirs === 2 ? defaults : [])];
  const alphas = c.attr<number[] | undefined>('activation_alpha', undefined) ?? [];
  const betas = c.attr<number[] | undefined>('activation_beta', undefined) ?? [];
  const per = defaults.length;
  const acts = Array.from({ length: dirs }, (_, d) => names.slice(d * per, d * per + per).map((n, i) => activation(c, n, alphas[d * per + i], betas[d * per + i])));
  const lens = c.has(kind === 'lstm' ? 4 : 4) ? c.ints(4) : undefined;
  return { dirs, hidden: c.attr<number>('hidden_size'), seq: x.shape[0]!, batch: x.shape[1]!, x, lens, acts, clip: c.attr<number | undefined>('clip', undefined) };
}

/** Reverses each batch entry's first len_b steps (time axis 0), leaving padding in place. */
function reverseSeq(tf: typeof tfc, x: T, lens: number[] | undefined, seq: number): T {
  if (!lens) return tf.reverse(x, 0);
  const parts = lens.map((len, b) => {
    const idx = Array.from({ length: seq }, (_, t) => (t < len ? len - 1 - t : t));
    return tf.gather(tf.slice(x, [0, b, 0], [seq, 1, x.shape[2]!]), tf.tensor1d(idx, 'int32'), 0);
  });
  return tf.concat(parts, 1);
}

/**
 * Runs `step` over time for each direction; returns Y [seq, dirs, batch, hidden] and the final
 * states (each [dirs, batch, hidden]). Steps past a batch entry's length keep its state and emit 0.
 */
function scan(c: KernelContext, s: Setup, init: T[][], step: (d: number, xt: T, state: T[]) => T[]): { y: T; finals: T[] } {
  const { tf } = c;
  const ys: T[] = [];
  const finals: T[][] = init[0]!.map(() => []);
  for (let d = 0; d < s.dirs; d++) {
    const reverse = c.attr('direction', 'forward') === 'reverse' || d === 1;
    const xs = reverse ? reverseSeq(tf, s.x, s.lens, s.seq) : s.x;
    let state = init[d]!;
    const out: T[] = [];
    for (let t = 0; t < s.seq; t++) {
      const xt = tf.reshape(tf.slice(xs, [t, 0, 0], [1, s.batch, xs.shape[2]!]), [s.batch, xs.shape[2]!]);
      let next = step(d, xt, state);
      let h = next[0]!;
      if (s.lens) {
        const alive = tf.reshape(tf.tensor1d(s.lens.map((l) => (t < l ? 1 : 0)), 'bool'), [s.batch, 1]);
        next = next.map((v, i) => tf.where(alive, v, state[i]!));
        h = tf.where(alive, next[0]!, tf.zerosLike(next[0]!));
      }
      out.push(h);
      state = next;
    }
    let y = tf.stack(out, 0); // [seq, batch, hidden]
    if (reverse) y = reverseSeq(tf, y, s.lens, s.seq);
    ys.push(y);
    state.forEach((v, i) => finals[i]!.push(v));
  }
  return { y: tf.stack(ys, 1), finals: finals.map((f) => tf.stack(f, 0)) };
}

function outputs(c: KernelContext, y: T, finals: T[]): (RValue | null)[] {
  const { tf } = c;
  const layout = c.attr('layout', 0);
  const Y = layout === 1 ? tf.transpose(y, [2, 0, 1, 3]) : y; // [batch, seq, dirs, hidden]
  const fin = finals.map((f) => (layout === 1 ? tf.transpose(f, [1, 0, 2]) : f));
  return c.node.outputs.map((o, i) => (o ? (i === 0 ? Y : fin[i - 1]!) : null));
}

/** Per-direction weight slices: W [dirs, G·H, in] → G matrices [in, H] (transposed for x·Wᵀ). */
function gates(tf: typeof tfc, w: T, d: number, g: number, h: number): T[] {
  const wd = tf.reshape(tf.slice(w, [d, 0, 0], [1, g * h, w.shape[2]!]), [g * h, w.shape[2]!]);
  return tf.split(wd, g, 0).map((m) => tf.transpose(m));
}

function biases(c: KernelContext, d: number, g: number, h: number): { wb: T[]; rb: T[] } {
  const { tf } = c;
  if (!c.has(3)) { const z = tf.zeros([h]); return { wb: new Array<T>(g).fill(z), rb: new Array<T>(g).fill(z) }; }
  const b = tf.reshape(tf.slice(c.t(3), [d, 0], [1, 2 * g * h]), [2 * g * h]);
  const parts = tf.split(b, 2 * g, 0);
  return { wb: parts.slice(0, g), rb: parts.slice(g) };
}

function initial(c: KernelContext, i: number, s: Setup): T[] {
  const { tf } = c;
  return Array.from({ length: s.dirs }, (_, d) => (c.has(i) ? tf.reshape(tf.slice(c.t(i), [d, 0, 0], [1, s.batch, s.hidden]), [s.batch, s.hidden]) : tf.zeros([s.batch, s.hidden])));
}

/** Broadcasting sum (tf.addN needs equal shapes; biases are [hidden]). */
const sum = (tf: typeof tfc, xs: T[]): T => xs.reduce((a, b) => tf.add(a, b));

const clipped = (tf: typeof tfc, x: T, clip: number | undefined) => (clip === undefined ? x : tf.clipByValue(x, -clip, clip));

export const rnnKernels: Record<string, Kernel> = {
  RNN: (c) => {
    const { tf } = c;
    const s = setup(c, 'rnn', ['Tanh']);
    const W = c.t(1), R = c.t(2);
    const { y, finals } = scan(c, s, initial(c, 5, s).map((h) => [h]), (d, xt, [h]) => {
      const [w] = gates(tf, W, d, 1, s.hidden), [r] = gates(tf, R, d, 1, s.hidden);
      const { wb, rb } = biases(c, d, 1, s.hidden);
      return [s.acts[d]![0]!(clipped(tf, tf.add(tf.add(tf.matMul(xt, w!), tf.matMul(h!, r!)), tf.add(wb[0]!, rb[0]!)), s.clip))];
    });
    return outputs(c, y, finals);
  },
  GRU: (c) => {
    const { tf } = c;
    const s = setup(c, 'gru', ['Sigmoid', 'Tanh']);
    const W = c.t(1), R = c.t(2);
    const lbr = c.attr('linear_before_reset', 0);
    const { y, finals } = scan(c, s, initial(c, 5, s).map((h) => [h]), (d, xt, [h]) => {
      const [wz, wr, wh] = gates(tf, W, d, 3, s.hidden) as [T, T, T];
      const [rz, rr, rh] = gates(tf, R, d, 3, s.hidden) as [T, T, T];
      const { wb, rb } = biases(c, d, 3, s.hidden);
      const [f, g] = s.acts[d] as [Act, Act];
      const z = f(clipped(tf, sum(tf, [tf.matMul(xt, wz), tf.matMul(h!, rz), wb[0]!, rb[0]!]), s.clip));
      const r = f(clipped(tf, sum(tf, [tf.matMul(xt, wr), tf.matMul(h!, rr), wb[1]!, rb[1]!]), s.clip));
      const hh = lbr
        ? g(clipped(tf, sum(tf, [tf.matMul(xt, wh), tf.mul(r, tf.add(tf.matMul(h!, rh), rb[2]!)), wb[2]!]), s.clip))
        : g(clipped(tf, sum(tf, [tf.matMul(xt, wh), tf.matMul(tf.mul(r, h!), rh), rb[2]!, wb[2]!]), s.clip));
      return [tf.add(tf.mul(tf.sub(1, z), hh), tf.mul(z, h!))];
    });
    return outputs(c, y, finals);
  },
  LSTM: (c) => {
    const { tf } = c;
    const s = setup(c, 'lstm', ['Sigmoid', 'Tanh', 'Tanh']);
    if (c.attr('input_forget', 0)) c.fail('input_forget=1 is not supported');
    const W = c.t(1), R = c.t(2);
    const h0 = initial(c, 5, s), c0 = initial(c, 6, s);
    const { y, finals } = scan(c, s, h0.map((h, d) => [h, c0[d]!]), (d, xt, [h, cPrev]) => {
      const [wi, wo, wf, wc] = gates(tf, W, d, 4, s.hidden) as [T, T, T, T];
      const [ri, ro, rf, rc] = gates(tf, R, d, 4, s.hidden) as [T, T, T, T];
      const { wb, rb } = biases(c, d, 4, s.hidden);
      const [f, g, hAct] = s.acts[d] as [Act, Act, Act];
      const peep = c.has(7) ? tf.split(tf.reshape(tf.slice(c.t(7), [d, 0], [1, 3 * s.hidden]), [3 * s.hidden]), 3, 0) : null;
      const pre = (w: T, r: T, k: number) => sum(tf, [tf.matMul(xt, w), tf.matMul(h!, r), wb[k]!, rb[k]!]);
      const i = f(clipped(tf, peep ? tf.add(pre(wi, ri, 0), tf.mul(peep[0]!, cPrev!)) : pre(wi, ri, 0), s.clip));
      const fg = f(clipped(tf, peep ? tf.add(pre(wf, rf, 2), tf.mul(peep[2]!, cPrev!)) : pre(wf, rf, 2), s.clip));
      const cc = g(clipped(tf, pre(wc, rc, 3), s.clip));
      const cNew = tf.add(tf.mul(fg, cPrev!), tf.mul(i, cc));
      const o = f(clipped(tf, peep ? tf.add(pre(wo, ro, 1), tf.mul(peep[1]!, cNew)) : pre(wo, ro, 1), s.clip));
      return [tf.mul(o, hAct(cNew)), cNew];
    });
    return outputs(c, y, finals);
  },
};
