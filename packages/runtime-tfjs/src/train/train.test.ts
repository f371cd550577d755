import { attr, DTypes, Graph, rng, Tensor, tensorType, transformerDecoder } from '@leanformer/core';
import { describe, expect, it } from 'vitest';
import { tf } from '../setup.js';
import { learningRate } from './schedule.js';
import { syntheticSequenceTask } from './synthetic.js';
import { crossEntropyLoss, train, Trainer, type TrainProgress } from './train.js';

const F = DTypes.float32;

/**
 * loss = mean((softmax(LayerNorm(tanh(x·W1 + b1))·W2) − t)²) as an IR graph, and the same
 * function in float64 JS for finite differences.
 */
function smallGraph(w: Record<string, number[]>): Graph {
  const g = new Graph('small');
  g.opsets.set('', 17);
  const x = g.addInput('x', tensorType(F, [4, 3]));
  const p = (n: string, shape: number[]) => g.addInitializer(n, Tensor.from('float32', shape, w[n]!));
  const W1 = p('W1', [3, 5]), b1 = p('b1', [5]), gamma = p('gamma', [5]), beta = p('beta', [5]), W2 = p('W2', [5, 3]);
  const t = g.addInitializer('t', Tensor.from('float32', [4, 3], w.t!));
  const n = (op: string, inputs: Parameters<Graph['addNode']>[0]['inputs'], attrs = {}) => g.addNode({ op, inputs, attrs }).output();
  const h = n('Tanh', [n('Add', [n('MatMul', [x, W1]), b1])]);
  const ln = n('LayerNormalization', [h, gamma, beta], { axis: attr.int(-1), epsilon: attr.float(1e-5) });
  const sm = n('Softmax', [n('MatMul', [ln, W2])], { axis: attr.int(-1) });
  const d = n('Sub', [sm, t]);
  const loss = g.addNode({ op: 'ReduceMean', inputs: [n('Mul', [d, d])], attrs: { keepdims: attr.int(0) }, outputs: ['loss'] }).output();
  g.addOutput(loss);
  return g;
}

function reference(w: Record<string, number[]>, x: number[]): number {
  let total = 0;
  for (let r = 0; r < 4; r++) {
    const h = [0, 1, 2, 3, 4].map((j) => Math.tanh([0, 1, 2].reduce((s, i) => s + x[r * 3 + i]! * w.W1![i * 5 + j]!, 0) + w.b1![j]!));
    const mean = h.reduce((a, b) => a + b, 0) / 5;
    const v = h.reduce((a, b) => a + (b - mean) ** 2, 0) / 5;
    const ln = h.map((e, j) => ((e - mean) / Math.sqrt(v + 1e-5)) * w.gamma![j]! + w.beta![j]!);
    const z = [0, 1, 2].map((k) => ln.reduce((s, e, j) => s + e * w.W2![j * 3 + k]!, 0));
    const m = Math.max(...z);
    const e = z.map((q) => Math.exp(q - m));
    const se = e.reduce((a, b) => a + b, 0);
    e.forEach((q, k) => { total += (q / se - w.t![r * 3 + k]!) ** 2; });
  }
  return total / 12;
}

describe('gradients', () => {
  it('match central finite differences computed in float64', async () => {
    const r = rng(3);
    const sample = (n: number, s = 1) => Array.from({ length: n }, () => Math.fround(r.normal() * s));
    const w: Record<string, number[]> = { W1: sample(15), b1: sample(5, 0.1), gamma: sample(5, 0.3).map((v) => v + 1), beta: sample(5, 0.1), W2: sample(15), t: sample(12, 0.3) };
    const x = sample(12);
    const trainer = await Trainer.create(smallGraph(w), { loss: 'loss', optimizer: { type: 'sgd', lr: 0 }, trainable: ['W1', 'b1', 'gamma', 'beta', 'W2'] });
    const { loss, grads } = await trainer.lossAndGrads({ x: Tensor.from('float32', [4, 3], x) });
    expect(Math.abs(loss - reference(w, x))).toBeLessThan(1e-6);
    let checked = 0;
    for (const name of ['W1', 'b1', 'gamma', 'beta', 'W2']) {
      const g = await grads.get(name)!.data();
      for (let i = 0; i < w[name]!.length; i++) {
        const h = 1e-6;
        const plus = { ...w, [name]: w[name]!.map((v, j) => (j === i ? v + h : v)) };
        const minus = { ...w, [name]: w[name]!.map((v, j) => (j === i ? v - h : v)) };
        const fd = (reference(plus, x) - reference(minus, x)) / (2 * h);
        expect(Math.abs(g[i]! - fd), `${name}[${i}]: tfjs ${g[i]} vs fd ${fd}`).toBeLessThan(2e-6 + 2e-3 * Math.abs(fd));
        checked++;
      }
    }
    expect(checked).toBe(45);
    for (const g of grads.values()) g.dispose();
    trainer.dispose();
  });
});

describe('optimizers', () => {
  /** loss = 0.5·Σ w² (gradient = w): a closed-form check of each update rule. */
  function quadratic(): Graph {
    const g = new Graph('quad');
    const w = g.addInitializer('w', Tensor.from('float32', [3], [1, -2, 0.5]));
    const sq = g.addNode({ op: 'Mul', inputs: [w, w] }).output();
    const half = g.addInitializer('half', Tensor.from('float32', [], [0.5]));
    const s = g.addNode({ op: 'ReduceSum', inputs: [sq], attrs: { keepdims: attr.int(0) } }).output();
    g.addOutput(g.addNode({ op: 'Mul', inputs: [s, half], outputs: ['loss'] }).output());
    g.opsets.set('', 17);
    return g;
  }

  it('AdamW follows the decoupled update rule', async () => {
    const { weights } = await train(quadratic(), { loss: 'loss', data: () => ({}), steps: 3, optimizer: { type: 'adamw', lr: 0.1, weightDecay: 0.1 }, trainable: ['w'] });
    let w = [1, -2, 0.5], m = [0, 0, 0], v = [0, 0, 0];
    for (let t = 1; t <= 3; t++) {
      const g = [...w];
      m = m.map((q, i) => 0.9 * q + 0.1 * g[i]!);
      v = v.map((q, i) => 0.999 * q + 0.001 * g[i]! ** 2);
      w = w.map((p, i) => p * (1 - 0.1 * 0.1) - (0.1 * (m[i]! / (1 - 0.9 ** t))) / (Math.sqrt(v[i]! / (1 - 0.999 ** t)) + 1e-8));
    }
    Array.from(weights.get('w')!.toFloat32()).forEach((x, i) => expect(x).toBeCloseTo(w[i]!, 5));
  });

  it('SGD with momentum follows torch.optim.SGD', async () => {
    const { weights } = await train(quadratic(), { loss: 'loss', data: () => ({}), steps: 3, optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9 }, trainable: ['w'] });
    let w = [1, -2, 0.5];
    let buf: number[] | undefined;
    for (let t = 0; t < 3; t++) {
      const g = [...w];
      buf = buf ? buf.map((b, i) => 0.9 * b + g[i]!) : g;
      w = w.map((p, i) => p - 0.1 * buf![i]!);
    }
    Array.from(weights.get('w')!.toFloat32()).forEach((x, i) => expect(x).toBeCloseTo(w[i]!, 5));
  });

  it('reports core progress events after every step, with loss and gradient norm', async () => {
    const events: TrainProgress[] = [];
    const { losses } = await train(quadratic(), { loss: 'loss', data: () => ({}), steps: 3, optimizer: { type: 'sgd', lr: 0.1 }, trainable: ['w'], onProgress: (p) => { events.push(p); } });
    expect(events.map((e) => [e.phase, e.done, e.total, e.unit])).toEqual([1, 2, 3].map((d) => ['train', d, 3, 'steps']));
    expect(events.map((e) => e.loss)).toEqual(losses);
    expect(events.every((e) => e.gradNorm > 0 && e.lr === 0.1)).toBe(true);
  });

  it('clips the global gradient norm', async () => {
    const seen: number[] = [];
    const { weights } = await train(quadratic(), { loss: 'loss', data: () => ({}), steps: 1, optimizer: { type: 'sgd', lr: 1 }, clipGradNorm: 0.5, trainable: ['w'], onProgress: (p) => { seen.push(p.gradNorm); } });
    const norm = Math.hypot(1, -2, 0.5);
    expect(seen[0]).toBeCloseTo(norm, 5);
    Array.from(weights.get('w')!.toFloat32()).forEach((x, i) => expect(x).toBeCloseTo([1, -2, 0.5][i]! * (1 - 0.5 / norm), 5));
  });

  it('schedules: constant, linear warmup, cosine', () => {
    expect(learningRate({ type: 'constant' }, 1, 7, 10)).toBe(1);
    expect([0, 1, 3, 4, 9].map((s) => learningRate({ type: 'linear-warmup', warmupSteps: 4 }, 1, s, 10))).toEqual([0.25, 0.5, 1, 1, 1]);
    expect(learningRate({ type: 'cosine' }, 1, 0, 11)).toBeCloseTo(1, 12);
    expect(learningRate({ type: 'cosine' }, 1, 5, 11)).toBeCloseTo(0.5, 12);
    expect(learningRate({ type: 'cosine', minLr: 0.1 }, 1, 10, 11)).toBeCloseTo(0.1, 12);
    expect(learningRate({ type: 'cosine', warmupSteps: 2 }, 1, 0, 11)).toBe(0.5);
  });
});

describe('training a tiny decoder', () => {
  const graph = () => transformerDecoder({ vocabSize: 16, hidden: 32, layers: 1, heads: 4, ffn: 64, seed: 0, initStd: 0.1 });
  const task = syntheticSequenceTask({ vocab: 16, seqLen: 8, batch: 8, seed: 1 });

  it('halves the loss on the synthetic sequence task', async () => {
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const { losses } = await train(graph(), {
      loss: crossEntropyLoss('logits', 'labels'), data: task, steps: 80,
      optimizer: { type: 'adamw', lr: 1e-2, weightDecay: 0 }, schedule: { type: 'cosine', warmupSteps: 10 }, clipGradNorm: 1,
    });
    const secs = (performance.now() - t0) / 1000;
    const first = losses[0]!;
    const last = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
    console.log(JSON.stringify({ firstLoss: first, last10Mean: last, steps: losses.length, seconds: secs }));
    expect(first).toBeGreaterThan(Math.log(16) * 0.8);
    expect(last).toBeLessThan(first / 2);
    expect(secs).toBeLessThan(60);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('trains on wasm too (embedding gradient through ScatterNd), matching cpu', async () => {
    const opts = { loss: crossEntropyLoss('logits', 'labels'), data: task, steps: 3, optimizer: { type: 'adamw' as const, lr: 1e-2 } };
    const cpu = await train(graph(), { ...opts, backend: 'cpu' });
    const wasm = await train(graph(), { ...opts, backend: 'wasm' });
    wasm.losses.forEach((l, i) => expect(Math.abs(l - cpu.losses[i]!)).toBeLessThan(1e-4));
    const e1 = cpu.weights.get('model.embed_tokens.weight')!.toFloat32(), e2 = wasm.weights.get('model.embed_tokens.weight')!.toFloat32();
    e1.forEach((v, i) => expect(Math.abs(v - e2[i]!)).toBeLessThan(1e-4));
    await tf.setBackend('cpu');
  });

  it('is deterministic, resumes from a checkpoint, and accumulates gradients', async () => {
    const opts = { loss: crossEntropyLoss('logits', 'labels'), optimizer: { type: 'adamw' as const, lr: 5e-3 }, schedule: { type: 'linear-warmup' as const, warmupSteps: 2 } };
    const a = await train(graph(), { ...opts, data: task, steps: 4 });
    const b = await train(graph(), { ...opts, data: task, steps: 4 });
    expect(b.losses).toEqual(a.losses);
    // 2 steps, checkpoint, then 2 more from the checkpoint = 4 straight steps.
    const half = await train(graph(), { ...opts, data: task, steps: 2, totalSteps: 4 });
    const resumed = await train(graph(), { ...opts, data: task, steps: 4, resumeFrom: half.checkpoint });
    expect(resumed.losses).toEqual(a.losses.slice(2));
    for (const [k, w] of a.weights) expect(Array.from(resumed.weights.get(k)!.toFloat32())).toEqual(Array.from(w.toFloat32()));
    // Accumulating two half batches equals one step on the whole batch (mean loss, equal halves).
    const whole = syntheticSequenceTask({ vocab: 16, seqLen: 10, batch: 8, seed: 9 })(0, 0);
    const halfOf = (t: Tensor, i: number) => Tensor.from('int64', [4, 10], t.toArray().slice(i * 40, (i + 1) * 40) as bigint[]);
    // (whole: batch 8 × seqLen 10, split into two batches of 4)
    const parts = [0, 1].map((i) => ({ input_ids: halfOf(whole.input_ids!, i), labels: halfOf(whole.labels!, i) }));
    const t1 = await Trainer.create(graph(), { loss: crossEntropyLoss('logits', 'labels'), optimizer: { type: 'sgd', lr: 0.5 } });
    const t2 = await Trainer.create(graph(), { loss: crossEntropyLoss('logits', 'labels'), optimizer: { type: 'sgd', lr: 0.5 } });
    await t1.step([whole]);
    await t2.step(parts);
    const [w1, w2] = [await t1.weights(), await t2.weights()];
    for (const [k, w] of w1) {
      const x = w.toFloat32(), y = w2.get(k)!.toFloat32();
      x.forEach((v, i) => expect(Math.abs(v - y[i]!)).toBeLessThan(1e-5));
    }
    t1.dispose();
    t2.dispose();
  });
});
