// The tfjs path: a quantized model runs on tfjs-cpu through the reference decompositions
// (QMatMul/QGather dequantize on the fly with standard ops), and calibration runs on tfjs too.
import { describe, expect, it } from 'vitest';
import { Tensor, transformerDecoder } from '@leanformer/core';
import { TfjsBackend } from '@leanformer/runtime-tfjs';
import { quantizeModel } from './quantize-model.js';
import { randomCalibrationFeeds } from './calibration.js';
import { cosine } from './linalg.js';

describe('quantized models on tfjs-cpu', () => {
  it('RTN int4 runs by decomposition, and GPTQ calibrates through the tfjs backend', async () => {
    const model = transformerDecoder({ vocabSize: 256, hidden: 64, layers: 1, heads: 4, ffn: 128, seed: 2 });
    const be = new TfjsBackend('cpu');
    const feed = { input_ids: Tensor.from('int64', [1, 4], [1n, 2n, 3n, 4n]) };
    const run = async (g: typeof model) => { const e = await be.compile(g); const y = (await e.run(feed)).logits!.toFloat32(); await e.dispose(); return y; };
    const ref = await run(model);
    const rtn = await quantizeModel(model, { method: 'rtn', bits: 4 });
    expect(cosine(await run(rtn.graph), ref)).toBeGreaterThan(0.98);
    const gptq = await quantizeModel(model, { method: 'gptq', bits: 4, calibration: { backend: be, feeds: randomCalibrationFeeds(model, 2, 3) } });
    expect(cosine(await run(gptq.graph), ref)).toBeGreaterThan(0.98);
  });
});
