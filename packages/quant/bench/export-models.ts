// `leanformer bench quant-export --param out=<dir>`: writes the builder decoder quantized by every
// method, lowered for each ORT target, as .onnx files into <dir>, for loading in the Python
// onnxruntime on the GPU machine (packages/quant/fixtures/check_in_python_ort.py <dir>).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LeanformerError, parseTarget, transformerDecoder, type BenchSuite, type TargetName } from '@leanformer/core';
import { writeFileAtomic } from '@leanformer/core/node';
import { encodeModel, lowerToOnnx } from '@leanformer/onnx';
import { quantizeModel, randomCalibrationFeeds, sparsifyModel, type QuantizeOptions } from '@leanformer/quant';
import { createOrtBackend } from '@leanformer/runtime-ort/node';

export const exportModelsSuite: BenchSuite = {
  name: 'quant-export',
  summary: 'write the test decoder quantized by every method for every ORT target (for Python onnxruntime checks)',
  params: { out: { description: 'folder to write the .onnx files into (required)' } },
  async run(o) {
    const dir = o.params['out'];
    if (!dir) throw new LeanformerError('INVALID_ARGUMENT', 'bench quant-export needs --param out=<dir>', { details: { argument: 'out' } });
    mkdirSync(dir, { recursive: true });
    const model = transformerDecoder({ vocabSize: 512, hidden: 128, layers: 2, heads: 4, kvHeads: 2, ffn: 256, seed: 3 });
    const calibration = { backend: createOrtBackend(), feeds: randomCalibrationFeeds(model, 4) };
    const files: string[] = [];
    const write = (name: string, bytes: Uint8Array): void => { writeFileAtomic(join(dir, name), bytes); files.push(name); };
    write('fp32.onnx', encodeModel(lowerToOnnx(model, { runtime: 'ort', ep: 'cpu' })));
    const jobs: [string, QuantizeOptions][] = [
      ['rtn4', { method: 'rtn', bits: 4 }], ['rtn8', { method: 'rtn', bits: 8, blockSize: 0 }], ['rtn4_sym', { method: 'rtn', bits: 4, symmetric: true }],
      ['hqq4', { method: 'hqq', bits: 4 }], ['gptq4', { method: 'gptq', bits: 4, calibration }], ['awq4', { method: 'awq', bits: 4, calibration }],
      ['smoothquant4', { method: 'smoothquant', bits: 4, calibration }], ['qserve4', { method: 'qserve' }], ['fp16', { method: 'fp16' }],
    ];
    for (const [name, opts] of jobs) {
      for (const target of ['ort-cpu', 'ort-cuda', 'ort-webgpu', 'ort-tensorrt'] as TargetName[]) {
        if (target === 'ort-tensorrt' && !(opts.symmetric || opts.method === 'fp16')) continue;
        const { graph } = await quantizeModel(model, { ...opts, target });
        write(`${name}_${target}.onnx`, encodeModel(lowerToOnnx(graph, parseTarget(target))));
      }
    }
    write('sparse24.onnx', encodeModel(lowerToOnnx(sparsifyModel(model, { pattern: '2:4' }).graph, { runtime: 'ort', ep: 'cpu' })));
    o.log(`wrote ${files.length} models to ${dir}\n`);
    return { suite: 'quant-export', metrics: { files: files.length }, dir, files };
  },
};
