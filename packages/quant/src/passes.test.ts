// The quant transforms as Pass factories: composed in a PassManager with a core pass, they give exactly
// the graph the plain functions give.
import { describe, expect, it } from 'vitest';
import { deadCodeElimination, graphDiff, PassManager, transformerDecoder } from '@leanformer/core';
import { quantizeModel, sparsifyModel } from './quantize-model.js';
import { quantizePass, sparsifyPass } from './passes.js';

const cfg = { vocabSize: 64, hidden: 32, layers: 2, heads: 2, ffn: 64, seed: 5 };

describe('quant Pass factories', () => {
  it('sparsifyPass then quantizePass then DCE (runAsync) equals quantizeModel(sparsifyModel(·)) then DCE', async () => {
    const logs: string[] = [];
    const { graph, applied } = await new PassManager([sparsifyPass({ pattern: '2:4' }), quantizePass({ method: 'rtn', bits: 4 }), deadCodeElimination()])
      .runAsync(transformerDecoder(cfg), { log: (m) => logs.push(m) });
    expect(applied).toEqual(['sparsify-2:4', 'quantize-rtn']);
    const direct = (await quantizeModel(sparsifyModel(transformerDecoder(cfg), { pattern: '2:4' }).graph, { method: 'rtn', bits: 4 })).graph;
    deadCodeElimination().run(direct, {});
    expect(graphDiff(graph, direct)).toBeNull();
    // Not vacuous: every linear layer is a QMatMul now, and the report reached the log.
    expect(graph.nodes.filter((n) => n.op === 'QMatMul').length).toBe(cfg.layers * 7 + 1);
    expect(logs[0]).toMatch(/^quantize: 16 layers, \d+ → \d+ bytes/); // 15 linear layers and the embedding gather
  });

  it('an asynchronous pass in run() is refused by name; a failing pass is named with those before it', async () => {
    const pm = new PassManager([deadCodeElimination(), quantizePass({ method: 'rtn' })]);
    expect(() => pm.run(transformerDecoder(cfg))).toThrowError(/Pass 'quantize-rtn' failed after \[dead-code-elimination\]: it is asynchronous; run this PassManager with runAsync\(\)/);
    await expect(new PassManager([deadCodeElimination(), quantizePass({ method: 'gptq' })]).runAsync(transformerDecoder(cfg)))
      .rejects.toThrowError(/Pass 'quantize-gptq' failed after \[dead-code-elimination\]: .*needs calibration data/);
  });
});
