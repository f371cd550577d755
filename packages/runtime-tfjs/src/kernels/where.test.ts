import { DTypes, Graph, Tensor, tensorType } from '@leanformer/core';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend } from '../backend.js';

describe('Where above rank 4', () => {
  // GQA masks broadcast to rank 5; the webgpu select kernel stops at rank 4, so the kernel flattens.
  it('broadcasts a rank-5 select exactly (checked against a direct loop)', async () => {
    const g = new Graph('where5');
    g.opsets.set('', 17);
    const cond = g.addInput('cond', tensorType(DTypes.bool, [1, 1, 1, 3, 4]));
    const a = g.addInput('a', tensorType(DTypes.float32, [2, 2, 1, 3, 4]));
    const b = g.addInput('b', tensorType(DTypes.float32, [1]));
    g.addOutput(g.addNode({ op: 'Where', inputs: [cond, a, b], outputs: ['y'] }).output());
    const c = Array.from({ length: 12 }, (_, i) => (i * 7) % 3 === 0);
    const av = Array.from({ length: 48 }, (_, i) => i * 0.5 - 3);
    const exe = await (await createTfjsBackend('cpu')).compile(g);
    const out = await exe.run({ cond: Tensor.from('bool', [1, 1, 1, 3, 4], c), a: Tensor.from('float32', [2, 2, 1, 3, 4], av), b: Tensor.from('float32', [1], [-9]) });
    expect(out.y!.shape).toEqual([2, 2, 1, 3, 4]);
    const want = av.map((v, i) => (c[i % 12] ? v : -9));
    expect(Array.from(out.y!.toFloat32())).toEqual(want);
    await exe.dispose();
  });
});
