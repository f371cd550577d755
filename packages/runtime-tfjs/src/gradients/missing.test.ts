// Training through a tfjs kernel that has no gradient (here Einsum: neither runtime-tfjs nor tfjs-core
// defines one) fails with a LeanformerError naming the kernel, the node that emitted it and the kernels
// that are supported, instead of tfjs' bare "gradient function not found".
import { attr, DTypes, Graph, LeanformerError, Tensor, tensorType } from '@leanformer/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { useTfjsBackend } from '../setup.js';
import { train } from '../train/train.js';
import { tfjsGradientKernels } from './index.js';

const F = DTypes.float32;

/** loss = Σ einsum('ij,jk->ik', x, W)² with W trained. */
function graph(): Graph {
  const g = new Graph('einsum');
  g.opsets.set('', 17);
  const x = g.addInput('x', tensorType(F, [2, 3]));
  const w = g.addInitializer('W', Tensor.from('float32', [3, 2], [0.1, -0.2, 0.3, 0.4, -0.5, 0.6]));
  const y = g.addNode({ op: 'Einsum', name: 'mix', inputs: [x, w], attrs: { equation: attr.string('ij,jk->ik') } }).output();
  const loss = g.addNode({ op: 'ReduceSum', inputs: [g.addNode({ op: 'Mul', inputs: [y, y] }).output()], attrs: { keepdims: attr.int(0) }, outputs: ['loss'] }).output();
  g.addOutput(loss);
  return g;
}

describe('training through a kernel without a gradient', () => {
  it('fails with NOT_SUPPORTED naming the kernel, the node and the supported kernels', async () => {
    await useTfjsBackend('cpu');
    const x = Tensor.from('float32', [2, 3], [1, 2, 3, 4, 5, 6]);
    const err = await train(graph(), { loss: 'loss', steps: 1, optimizer: { type: 'sgd', lr: 0.1 }, data: () => ({ x }) }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(LeanformerError);
    const e = err as LeanformerError;
    expect(e.code).toBe('NOT_SUPPORTED');
    expect(e.message).toMatch(/tfjs kernel 'Einsum'/);
    expect(e.message).toMatch(/node 'mix' \(Einsum\)|'mix'/);
    expect(e.message).toContain('BatchMatMul');
    expect(e.details).toMatchObject({ kernel: 'Einsum', supported: tfjsGradientKernels() });
    expect((e.details!['nodes'] as string[]).join()).toMatch(/mix/);
    // The attribution pass puts the Einsum kernel back as it was: inference still runs it.
    expect(tf.tidy(() => Array.from(tf.einsum('ij,jk->ik', tf.ones([1, 2]), tf.ones([2, 1])).dataSync()))).toEqual([2]);
  });
});
