// Runs in its own process (vitest forks per file), so tfjs-backend-cpu's first write happens here.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GraphBuilder, Tensor } from '@leanformer/core';
import { createTfjsBackend } from './index.js';

describe('tfjs-cpu in Node', () => {
  afterEach(() => vi.restoreAllMocks());
  it('does not print tfjs\' "install tfjs-node" banner on stderr', async () => {
    const warn = vi.spyOn(console, 'warn');
    const b = new GraphBuilder('tiny');
    const x = b.input('x', 'float32', [2]);
    b.output(b.op('Mul', [x, x]), 'y');
    const exe = await createTfjsBackend('cpu').compile(b.build());
    const y = (await exe.run({ x: Tensor.from('float32', [2], [1.5, -2]) }))['y']!;
    expect(Array.from(y.toFloat32())).toEqual([2.25, 4]);
    await exe.dispose();
    expect(warn.mock.calls.map((c) => c.join(' ')).filter((m) => /running TensorFlow\.js in Node\.js/.test(m))).toEqual([]);
  });
});
