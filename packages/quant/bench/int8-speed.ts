// 8-bit MatMulNBits speed vs fp32 at batch 1 on ORT CPU, accuracy_level 0 and 4.
// Run: node packages/quant/bench/run.mjs int8
import { Tensor } from '@leanformer/core';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { matmulStack, quantizeModel } from '@leanformer/quant';

const backend = createOrtBackend();
const g = matmulStack(4096, 2);
const feeds = { x: Tensor.from('float32', [1, 4096], Array.from({ length: 4096 }, (_, i) => Math.sin(i))) };
async function time(graph: typeof g): Promise<number> {
  const e = await backend.compile(graph);
  await e.run(feeds);
  const ts: number[] = [];
  for (let i = 0; i < 10; i++) { const t = performance.now(); await e.run(feeds); ts.push(performance.now() - t); }
  await e.dispose();
  return ts.sort((a, b) => a - b)[5]!;
}
const fp32 = await time(g);
const out: Record<string, number> = { fp32_ms: fp32 };
for (const [bits, acc] of [[8, 0], [8, 4], [4, 0], [4, 4]] as const) {
  const { graph } = await quantizeModel(g, { method: 'rtn', bits, blockSize: 32, accuracyLevel: acc, edgeBits: bits });
  out[`int${bits}_acc${acc}_speedup`] = Math.round((fp32 / (await time(graph))) * 100) / 100;
}
console.log(JSON.stringify(out));
