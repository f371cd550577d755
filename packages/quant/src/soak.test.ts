// Soak: 2,000 ONNX Runtime sessions created, run and disposed, and 2,000 tfjs forwards, on a
// small CLI-quantized decoder (MatMulNBits + GatherBlockQuantized), with flat memory: tfjs holds
// the same number of tensors after every forward once warmed up, and RSS stops growing.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { attr, DTypes, Graph, Tensor, tensorType } from '@leanformer/core';
import { decodeModel, encodeModel, lowerToOnnx } from '@leanformer/onnx';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { quantizeModel } from './quantize-model.js';

const ROUNDS = 2000;
const WARM = 200;
const MB = 1024 * 1024;
// RSS bound after warm-up. Measured on a loaded 2-core machine (after a full GC at each reading):
// ORT grew 1.6 MB and tfjs 3.4 MB over the last 1,800 rounds, while one ORT session left
// undisposed holds 240 KB (430 MB for 1,800). 32 MB catches a leak of 18 KB or more per round,
// e.g. one session in 13 never released; leaked tfjs tensors are caught exactly by numTensors.
const MAX_GROWTH_MB = 32;

/** ids → embedding → MatMul → Relu → MatMul → logits: after quantization GatherBlockQuantized, MatMulNBits ×2. */
function smallModel(): Graph {
  const g = new Graph('soak');
  g.opsets.set('', 21);
  const w = (name: string, r: number, c: number) => g.addInitializer(name, Tensor.from('float32', [r, c], Array.from({ length: r * c }, (_, i) => Math.sin(i * 0.37 + r) * 0.1)));
  const ids = g.addInput('input_ids', tensorType(DTypes.int64, [1, 4]));
  const e = g.addNode({ op: 'Gather', inputs: [w('embed', 64, 32), ids], attrs: { axis: attr.int(0) } }).output();
  const h = g.addNode({ op: 'Relu', inputs: [g.addNode({ op: 'MatMul', inputs: [e, w('w1', 32, 64)] }).output()] }).output();
  const y = g.addNode({ op: 'MatMul', inputs: [h, w('w2', 64, 64)], outputs: ['logits'] }).output();
  y.type = tensorType(DTypes.float32, [1, 4, 64]);
  g.addOutput(y);
  return g;
}

async function smallQuantizedFile(): Promise<Uint8Array> {
  const model = smallModel();
  const q = await quantizeModel(model, { method: 'rtn', bits: 4, blockSize: 32, edgeBits: 4, accuracyLevel: 0 });
  const bytes = encodeModel(lowerToOnnx(q.graph, { runtime: 'ort', ep: 'cpu' }));
  const ops = decodeModel(bytes).nodes.map((n) => n.qualifiedOp).sort();
  expect(ops).toEqual(['Relu', 'com.microsoft::GatherBlockQuantized', 'com.microsoft::MatMulNBits', 'com.microsoft::MatMulNBits']);
  return bytes;
}

const feed = { input_ids: Tensor.from('int64', [1, 4], [1n, 2n, 3n, 4n]) };
// A full collection before each reading, so RSS shows what is still held, not garbage not yet collected.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const rss = () => { gc(); return process.memoryUsage().rss; };

describe('soak', () => {
  it(`${ROUNDS} ORT sessions created, run and disposed: RSS flat after warm-up`, async () => {
    const bytes = await smallQuantizedFile();
    // Graph optimizations off and one thread: the session life cycle is the same, and creating one
    // takes 5 ms instead of 80 ms (measured under load: 2,000 sessions would take ~160 s at the defaults).
    const ort = createOrtBackend({ graphOptimizationLevel: 'disabled', intraOpNumThreads: 1, interOpNumThreads: 1 });
    let first: Float32Array | undefined;
    let base = 0;
    const t0 = performance.now();
    const marks: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const exe = await ort.createExecutorFromBytes(bytes);
      const y = (await exe.run(feed)).logits!.toFloat32();
      await exe.dispose();
      if (!first) first = y; else if (i % 500 === 0) expect(y).toEqual(first);
      if (i === WARM) base = rss();
      if (i % 200 === 0) marks.push(Math.round(rss() / MB));
    }
    const growth = (rss() - base) / MB;
    expect(growth, `RSS MB every 200 sessions: ${marks.join(' ')} (${((performance.now() - t0) / 1000).toFixed(1)} s)`).toBeLessThan(MAX_GROWTH_MB);
  }, 120_000);

  it(`${ROUNDS} tfjs forwards: numTensors constant after the first, RSS flat, nothing left after dispose`, async () => {
    const bytes = await smallQuantizedFile();
    const backend = createTfjsBackend('cpu');
    await backend.ready();
    const before = tf.memory().numTensors;
    const exe = await backend.compile(decodeModel(bytes));
    let first: Float32Array | undefined;
    let tensors = -1, base = 0;
    const t0 = performance.now();
    const marks: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const y = (await exe.run(feed)).logits!.toFloat32();
      if (!first) { first = y; tensors = tf.memory().numTensors; } else expect(tf.memory().numTensors).toBe(tensors);
      if (i % 500 === 0) expect(y).toEqual(first);
      if (i === WARM) base = rss();
      if (i % 200 === 0) marks.push(Math.round(rss() / MB));
    }
    const growth = (rss() - base) / MB;
    expect(growth, `RSS MB every 200 forwards: ${marks.join(' ')} (${((performance.now() - t0) / 1000).toFixed(1)} s)`).toBeLessThan(MAX_GROWTH_MB);
    await exe.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);
});
