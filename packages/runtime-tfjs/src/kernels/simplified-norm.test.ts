// ONNX Runtime's SimplifiedLayerNormalization (default domain; what `convert` emits for RMSNorm) on tfjs
// against ONNX Runtime CPU on the same ONNX bytes: output and inverse RMS within 1e-5 relative.
import { describe, expect, it } from 'vitest';
import { DTypes, Graph, Tensor, attr, tensorType } from '@leanformer/core';
import { decodeModel, encodeModel } from '@leanformer/onnx';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { createTfjsBackend } from '../backend.js';

describe('SimplifiedLayerNormalization on tfjs', () => {
  it('matches ONNX Runtime CPU (activations up to ±900, epsilon 1e-6)', async () => {
    const g = new Graph('rms');
    const x = g.addInput('x', tensorType(DTypes.float32, [2, 3, 8]));
    const gamma = g.addInitializer('gamma', Tensor.from('float32', [8], [1, 0.5, -2, 1.5, 0.25, 3, -1, 0.75]));
    const n = g.addNode({ op: 'SimplifiedLayerNormalization', inputs: [x, gamma], outputs: ['y', 'inv'], attrs: { axis: attr.int(-1), epsilon: attr.float(1e-6) } });
    g.addOutput(n.output(0));
    g.addOutput(n.output(1));
    const bytes = encodeModel(g);
    const feeds = { x: Tensor.from('float32', [2, 3, 8], Array.from({ length: 48 }, (_, i) => Math.sin(i * 0.7) * (i % 5 === 0 ? 900 : 3))) };
    const ort = await createOrtBackend({ eps: ['cpu'] }).createExecutorFromBytes(bytes);
    const want = await ort.run(feeds);
    await ort.dispose();
    const tf = await createTfjsBackend('cpu').compile(decodeModel(bytes));
    const got = await tf.run(feeds);
    await tf.dispose();
    for (const o of ['y', 'inv']) {
      const [a, b] = [got[o]!.toFloat32(), want[o]!.toFloat32()];
      expect(got[o]!.shape).toEqual(want[o]!.shape);
      const scale = Math.max(...b.map(Math.abs));
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!))) / scale, o).toBeLessThan(1e-5);
    }
  });
});
