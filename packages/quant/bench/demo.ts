// The quant part of `npm run demo`, runnable on its own: node packages/quant/bench/run.mjs demo
import { Tensor, transformerDecoder } from '@leanformer/core';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { quantDemo } from '@leanformer/quant';

const graph = transformerDecoder({ vocabSize: 512, hidden: 128, layers: 4, heads: 4, kvHeads: 2, ffn: 344, seed: 7 });
const feeds = { input_ids: Tensor.from('int64', [1, 6], [1n, 17n, 42n, 99n, 256n, 3n]) };
const mib = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;
console.log('Quantization (weights; lowered for ORT CPU), logits vs fp32 on the prompt:');
for (const r of await quantDemo({ graph, backend: createOrtBackend({ eps: ['cpu'] }), feeds })) {
  console.log(`  ${r.label.padEnd(22)} ${mib(r.bytes).padStart(10)} (${r.ratio.toFixed(3)}×)  cosine ${r.cosine.toFixed(5)}  max|Δ| ${r.maxAbsErr.toExponential(2)}  next-token agreement ${(r.top1Agreement * 100).toFixed(0)}%`);
}
