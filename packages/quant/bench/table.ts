// The README table: every method on the demo decoder, run on ORT CPU. node packages/quant/bench/run.mjs table
import { Tensor, transformerDecoder, type Graph } from '@leanformer/core';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { cosine, initializerBytes, quantizeModel, randomCalibrationFeeds, sparsifyModel, type QuantizeOptions } from '@leanformer/quant';

const graph = transformerDecoder({ vocabSize: 512, hidden: 128, layers: 4, heads: 4, kvHeads: 2, ffn: 344, seed: 7 });
const backend = createOrtBackend({ eps: ['cpu'] });
const evalFeeds = [0, 1, 2, 3].map((s) => ({ input_ids: Tensor.from('int64', [1, 16], Array.from({ length: 16 }, (_, i) => BigInt((i * 37 + s * 101 + 5) % 512))) }));
const run = async (g: Graph) => { const e = await backend.compile(g); const ys: number[] = []; for (const f of evalFeeds) ys.push(...(await e.run(f)).logits!.toFloat32()); await e.dispose(); return Float32Array.from(ys); };
const ref = await run(graph);
const before = initializerBytes(graph);
const calibration = { backend, feeds: randomCalibrationFeeds(graph, 8, 1) };
const rows: [string, QuantizeOptions | 'sparse' | 'sparse+int4'][] = [
  ['fp16 weights', { method: 'fp16' }], ['bf16 weights', { method: 'bf16' }],
  ['RTN int8 per-channel', { method: 'rtn', bits: 8, blockSize: 0 }],
  ['RTN int4 block 32', { method: 'rtn', bits: 4, blockSize: 32 }],
  ['RTN int4 block 32, all layers int4', { method: 'rtn', bits: 4, blockSize: 32, edgeBits: 4 }],
  ['RTN int4 block 128', { method: 'rtn', bits: 4, blockSize: 128 }],
  ['HQQ int4 block 32', { method: 'hqq', bits: 4, blockSize: 32 }],
  ['GPTQ int4 block 32', { method: 'gptq', bits: 4, blockSize: 32, calibration }],
  ['AWQ int4 block 32', { method: 'awq', bits: 4, blockSize: 32, calibration }],
  ['SmoothQuant+ int4 block 128', { method: 'smoothquant', bits: 4, blockSize: 128, calibration }],
  ['QServe W4A8 group 128', { method: 'qserve' }],
  ['2:4 sparse (fp32, dense storage)', 'sparse'],
  ['2:4 sparse + RTN int4 block 32', 'sparse+int4'],
];
console.log('| method | bytes ratio | logits cosine | seconds |');
console.log('| --- | --- | --- | --- |');
for (const [label, o] of rows) {
  const t = performance.now();
  const q = o === 'sparse' ? sparsifyModel(graph, { pattern: '2:4' }).graph : o === 'sparse+int4' ? sparsifyModel(graph, { pattern: '2:4', quantize: { bits: 4, blockSize: 32 } }).graph : (await quantizeModel(graph, o)).graph;
  const secs = (performance.now() - t) / 1000;
  console.log(`| ${label} | ${(initializerBytes(q) / before).toFixed(3)} | ${cosine(await run(q), ref).toFixed(5)} | ${secs.toFixed(1)} |`);
}
