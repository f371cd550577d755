// `leanformer bench quant-table`: the README's method table — every method on the demo decoder
// (4 layers, hidden 128), run on ORT CPU: bytes ratio, logits cosine vs fp32, seconds.
import { cosine, Tensor, transformerDecoder, type BenchSuite, type Graph } from '@leanformer/core';
import { initializerBytes, quantizeModel, randomCalibrationFeeds, sparsifyModel, type QuantizeOptions } from '@leanformer/quant';
import { createOrtBackend } from '@leanformer/runtime-ort/node';

export const methodTableSuite: BenchSuite = {
  name: 'quant-table',
  summary: 'every quantization method on the demo decoder: bytes ratio, logits cosine vs fp32, seconds (ORT CPU)',
  async run(o) {
    const graph = transformerDecoder({ vocabSize: 512, hidden: 128, layers: 4, heads: 4, kvHeads: 2, ffn: 344, seed: 7 });
    const backend = createOrtBackend({ eps: ['cpu'] });
    const evalFeeds = [0, 1, 2, 3].map((s) => ({ input_ids: Tensor.from('int64', [1, 16], Array.from({ length: 16 }, (_, i) => BigInt((i * 37 + s * 101 + 5) % 512))) }));
    const run = async (g: Graph): Promise<Float32Array> => {
      const e = await backend.compile(g);
      const ys: number[] = [];
      for (const f of evalFeeds) ys.push(...(await e.run(f)).logits!.toFloat32());
      await e.dispose();
      return Float32Array.from(ys);
    };
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
    const table: { method: string; bytes_ratio: number; cosine: number; seconds: number }[] = [];
    o.log('| method | bytes ratio | logits cosine | seconds |\n| --- | --- | --- | --- |\n');
    o.onProgress?.({ phase: 'quant-table', done: 0, total: rows.length, unit: 'cases' });
    for (const [label, q] of rows) {
      const t = performance.now();
      const g = q === 'sparse' ? sparsifyModel(graph, { pattern: '2:4' }).graph
        : q === 'sparse+int4' ? sparsifyModel(graph, { pattern: '2:4', quantize: { bits: 4, blockSize: 32 } }).graph
          : (await quantizeModel(graph, q)).graph;
      const row = { method: label, bytes_ratio: +(initializerBytes(g) / before).toFixed(3), cosine: +cosine(await run(g), ref).toFixed(5), seconds: +((performance.now() - t) / 1000).toFixed(1) };
      table.push(row);
      o.log(`| ${label} | ${row.bytes_ratio.toFixed(3)} | ${row.cosine.toFixed(5)} | ${row.seconds.toFixed(1)} |\n`);
      o.onProgress?.({ phase: 'quant-table', done: table.length, total: rows.length, unit: 'cases', item: label });
    }
    return { suite: 'quant-table', metrics: Object.fromEntries(table.map((r) => [r.method, r.cosine])), table };
  },
};
