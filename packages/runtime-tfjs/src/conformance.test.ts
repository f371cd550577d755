// runConformanceCases checks outputs with core's allclose (ONNX tolerances by default).
import { describe, expect, it } from 'vitest';
import { DTypes, Graph, Tensor, tensorType } from '@leanformer/core';
import { createTfjsBackend, runConformanceCases } from './index.js';

function reluCase(expected: number[]) {
  const g = new Graph('relu');
  const x = g.addInput('x', tensorType(DTypes.float32, [3]));
  const n = g.addNode({ op: 'Relu', inputs: [x], outputs: ['y'] });
  n.output().type = tensorType(DTypes.float32, [3]);
  g.addOutput(n.output());
  g.opsets.set('', 17);
  return { name: 'relu', graph: g, dataSets: [{ inputs: [Tensor.from('float32', [3], [-1, 0.5, 2])], outputs: [Tensor.from('float32', [3], expected)] }] };
}

describe('runConformanceCases', () => {
  it('passes within ONNX tolerance and fails beyond it, naming the element', async () => {
    const backend = createTfjsBackend('cpu');
    const ok = await runConformanceCases([reluCase([0, 0.5 * (1 + 5e-4), 2])], backend);
    expect(ok.passed).toBe(1);
    const bad = await runConformanceCases([reluCase([0, 0.5, 2.01])], backend);
    expect(bad.failed).toBe(1);
    expect(bad.results[0]!.reason).toMatch(/^output 'y' \(data set 0\): 1 of 3 elements beyond rtol 0.001, atol 1e-7 \(first at 2: got 2, expected 2.0099/);
    const loose = await runConformanceCases([reluCase([0, 0.5, 2.01])], backend, { rtol: 0.01, atol: 0 });
    expect(loose.passed).toBe(1);
  });
});
