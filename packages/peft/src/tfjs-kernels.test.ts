import { describe, expect, it } from 'vitest';
import { ensurePaCALinearSchema, GraphBuilder, rng, Tensor } from '@leanformer/core';
import { Trainer } from '@leanformer/runtime-tfjs';
import { registerPeftKernels } from './tfjs-kernels.js';

// x [2, 6, inF] → h = x·U (U trained, so the PaCA layer must return dX) → y = PaCALinear(h; W, idx, P)
// → loss = Σ y ⊙ G, so dY = G. The float64 reference: dP = h[:, idx]ᵀ·G and dU = xᵀ·(G·W'ᵀ).
// tfjs-cpu builds W' on the host; other backends (wasm here, webgpu on a GPU) use W + Sᵀ·(P − W[idx]) on the device.
describe.each(['cpu', 'wasm'] as const)('PaCALinear training kernel on tfjs-%s', (backend) => {
  it('the loss, dP and the input gradient equal a float64 reference within 1e-5 of the largest entry (measured ~5e-8), leaving no tensors behind', async () => {
    registerPeftKernels();
    ensurePaCALinearSchema();
    const B = 2, S = 6, T = B * S, inF = 10, outF = 7;
    const idx = [7, 0, 4]; // unsorted on purpose
    const r = rng(11);
    const rand = (n: number) => Float32Array.from({ length: n }, () => r.uniform() * 2 - 1);
    const x = rand(T * inF), U = rand(inF * inF), W = rand(inF * outF), P = rand(idx.length * outF), G = rand(T * outF);

    const b = new GraphBuilder('paca_grad');
    const xv = b.input('x', 'float32', [B, S, inF]);
    const h = b.matmul(xv, b.param('U', new Tensor('float32', [inF, inF], U)));
    const y = b.op('PaCALinear', [h, b.param('W', new Tensor('float32', [inF, outF], W)), b.param('idx', Tensor.from('int64', [idx.length], idx.map(BigInt))), b.param('P', new Tensor('float32', [idx.length, outF], P))], {}, { domain: 'leanformer' });
    b.output(y, 'y');
    const trainer = await Trainer.create(b.build(), {
      loss: (outs, batch, tf) => tf.sum(tf.mul(outs.get('y')!, batch.get('g')!)),
      optimizer: { type: 'sgd', lr: 0 }, trainable: ['U', 'P'], backend,
    });
    try {
      expect(trainer.tf.getBackend()).toBe(backend);
      const tensorsBefore = trainer.tf.memory().numTensors;
      const { loss, grads } = await trainer.lossAndGrads({ x: new Tensor('float32', [B, S, inF], x), g: new Tensor('float32', [B, S, outF], G) });
      const dP = grads.get('P')!.dataSync(), dU = grads.get('U')!.dataSync();
      for (const g of grads.values()) g.dispose();
      expect(trainer.tf.memory().numTensors).toBe(tensorsBefore); // nothing of the step (W', x_P, saved tensors) is left behind

      // float64 reference
      const h64 = new Float64Array(T * inF);
      for (let t = 0; t < T; t++) for (let j = 0; j < inF; j++) { let s = 0; for (let i = 0; i < inF; i++) s += x[t * inF + i]! * U[i * inF + j]!; h64[t * inF + j] = s; }
      const Wp = Float64Array.from(W);
      idx.forEach((row, j) => { for (let c = 0; c < outF; c++) Wp[row * outF + c] = P[j * outF + c]!; });
      const refP = new Float64Array(idx.length * outF);
      idx.forEach((row, j) => { for (let c = 0; c < outF; c++) { let s = 0; for (let t = 0; t < T; t++) s += h64[t * inF + row]! * G[t * outF + c]!; refP[j * outF + c] = s; } });
      const dH = new Float64Array(T * inF);
      for (let t = 0; t < T; t++) for (let i = 0; i < inF; i++) { let s = 0; for (let c = 0; c < outF; c++) s += G[t * outF + c]! * Wp[i * outF + c]!; dH[t * inF + i] = s; }
      const refU = new Float64Array(inF * inF);
      for (let i = 0; i < inF; i++) for (let j = 0; j < inF; j++) { let s = 0; for (let t = 0; t < T; t++) s += x[t * inF + i]! * dH[t * inF + j]!; refU[i * inF + j] = s; }

      const relErr = (got: ArrayLike<number>, ref: Float64Array) => {
        let err = 0, scale = 0;
        for (let i = 0; i < ref.length; i++) { err = Math.max(err, Math.abs(got[i]! - ref[i]!)); scale = Math.max(scale, Math.abs(ref[i]!)); }
        return err / scale;
      };
      let refLoss = 0, lossScale = 0;
      for (let t = 0; t < T; t++) for (let c = 0; c < outF; c++) {
        let yv = 0;
        for (let i = 0; i < inF; i++) yv += h64[t * inF + i]! * Wp[i * outF + c]!;
        refLoss += yv * G[t * outF + c]!;
        lossScale += Math.abs(yv * G[t * outF + c]!);
      }
      expect(Math.abs(loss - refLoss) / lossScale).toBeLessThan(1e-5);
      expect(relErr(dP, refP)).toBeLessThan(1e-5);
      expect(relErr(dU, refU)).toBeLessThan(1e-5);
    } finally {
      trainer.dispose();
    }
  });
});
