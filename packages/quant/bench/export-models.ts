// Writes the builder decoder quantized by every method, lowered for each ORT target, as .onnx
// files into <dir> (for loading in the Python onnxruntime on the GPU machine:
// packages/quant/fixtures/check_in_python_ort.py <dir>).
// Run: node packages/quant/bench/run.mjs export <dir>
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { transformerDecoder, type TargetName, parseTarget } from '@leanformer/core';
import { encodeModel, lowerToOnnx } from '@leanformer/onnx';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { quantizeModel, randomCalibrationFeedsFor, sparsifyModel } from './export-helpers.js';

const dir = process.argv[process.argv.indexOf('export') + 1] ?? 'quant-models';
mkdirSync(dir, { recursive: true });
const model = transformerDecoder({ vocabSize: 512, hidden: 128, layers: 2, heads: 4, kvHeads: 2, ffn: 256, seed: 3 });
const calibration = { backend: createOrtBackend(), feeds: randomCalibrationFeedsFor(model, 4) };
const write = (name: string, bytes: Uint8Array): void => { const p = join(dir, name); writeFileSync(`${p}.tmp`, bytes); renameSync(`${p}.tmp`, p); };
write('fp32.onnx', encodeModel(lowerToOnnx(model, { runtime: 'ort', ep: 'cpu' })));
const jobs: [string, Parameters<typeof quantizeModel>[1]][] = [
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
process.stdout.write(`wrote models to ${dir}\n`);
