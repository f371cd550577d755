// `leanformer bench quant-int8`: 4- and 8-bit MatMulNBits speed vs fp32 at batch 1 on ORT CPU,
// accuracy_level 0 and 4, over 2 × 4096² layers.
import { median, Tensor, type BenchSuite, type Graph } from '@leanformer/core';
import { matmulStack, quantizeModel } from '@leanformer/quant';
import { createOrtBackend } from '@leanformer/runtime-ort/node';

export const int8SpeedSuite: BenchSuite = {
  name: 'quant-int8',
  summary: '4/8-bit MatMulNBits speed-up over fp32 at batch 1 on ORT CPU, accuracy_level 0 and 4',
  async run(o) {
    const backend = createOrtBackend({ eps: ['cpu'], ...(o.threads ? { intraOpNumThreads: o.threads } : {}) });
    const g = matmulStack(4096, 2);
    const feeds = { x: Tensor.from('float32', [1, 4096], Array.from({ length: 4096 }, (_, i) => Math.sin(i))) };
    const runs = o.quick ? 3 : 10;
    const time = async (graph: Graph): Promise<number> => {
      const e = await backend.compile(graph);
      await e.run(feeds);
      const ts: number[] = [];
      for (let i = 0; i < runs; i++) { const t = performance.now(); await e.run(feeds); ts.push(performance.now() - t); }
      await e.dispose();
      return median(ts);
    };
    const fp32 = await time(g);
    const metrics: Record<string, number> = { fp32_ms: Math.round(fp32 * 1000) / 1000 };
    for (const [bits, acc] of [[8, 0], [8, 4], [4, 0], [4, 4]] as const) {
      const { graph } = await quantizeModel(g, { method: 'rtn', bits, blockSize: 32, accuracyLevel: acc, edgeBits: bits });
      metrics[`int${bits}_acc${acc}_speedup`] = Math.round((fp32 / (await time(graph))) * 100) / 100;
    }
    return { suite: 'quant-int8', metrics };
  },
};
