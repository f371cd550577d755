// `leanformer bench ort-decoder`: a seeded transformer decoder run through the IR (lowered per EP) vs
// the same model's plain export run as-is (the peer), on the same EP preference, feeds and session
// options. GPU machine: `leanformer bench ort-decoder --param eps=cuda,cpu --param seq=512`.
import { benchInt, maxAbsDiff, median, Tensor, transformerDecoder, type BenchSuite, type Executor } from '@leanformer/core';
import { encodeModel } from '@leanformer/onnx';
import type { OrtEpSpec, OrtExecutorInfo } from '@leanformer/runtime-ort';
import { createOrtBackend } from '@leanformer/runtime-ort/node';

export const decoderSuite: BenchSuite = {
  name: 'ort-decoder',
  summary: 'a decoder through the IR vs its plain export on onnxruntime-node: median ms and IR/direct ratio',
  params: {
    eps: { description: 'execution providers in order', default: 'cpu' }, seq: { description: 'prompt tokens', default: '64' },
    repeat: { description: 'timed runs', default: '20' }, hidden: { description: 'hidden size', default: '256' }, layers: { description: 'layers', default: '4' },
  },
  async run(o) {
    const hidden = benchInt(o.params, 'hidden', 256), seq = benchInt(o.params, 'seq', 64), repeat = benchInt(o.params, 'repeat', o.quick ? 5 : 20);
    const config = { vocabSize: 2048, hidden, layers: benchInt(o.params, 'layers', 4), heads: hidden / 64, kvHeads: Math.max(1, hidden / 128), ffn: Math.round((hidden * 8) / 3 / 8) * 8, seed: 1 };
    const eps = (o.params['eps'] ?? 'cpu').split(',') as OrtEpSpec[];
    const backend = createOrtBackend({ eps, ...(o.threads ? { intraOpNumThreads: o.threads } : {}) });
    const graph = transformerDecoder(config);
    const feeds = { input_ids: Tensor.from('int64', [1, seq], Array.from({ length: seq }, (_, i) => BigInt((i * 37) % config.vocabSize))) };
    const measure = async (label: string, open: () => Promise<Executor>) => {
      const t0 = performance.now();
      const exe = await open();
      const compileMs = performance.now() - t0;
      const f0 = performance.now();
      const first = (await exe.run(feeds))['logits']!;
      const firstMs = performance.now() - f0;
      const times: number[] = [];
      for (let i = 0; i < repeat; i++) { const s = performance.now(); await exe.run(feeds); times.push(performance.now() - s); }
      const info = exe.info as OrtExecutorInfo;
      const result = {
        label, device: info.device, fallbacks: info.fallbacks.map((f) => `${f.ep}: ${f.reason}`), compileMs, firstRunMs: firstMs,
        medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times), meanMs: times.reduce((a, b) => a + b, 0) / times.length,
      };
      await exe.dispose();
      return { result, logits: first.toFloat32() };
    };
    const ir = await measure('ir', () => backend.compile(graph));
    const direct = await measure('direct', () => backend.createExecutorFromBytes(encodeModel(graph)));
    const maxAbs = maxAbsDiff(ir.logits, direct.logits);
    return {
      suite: 'ort-decoder',
      metrics: { ir_median_ms: ir.result.medianMs, direct_median_ms: direct.result.medianMs, ir_over_direct: ir.result.medianMs / direct.result.medianMs, max_abs_diff: maxAbs },
      config, seq, repeat, eps, threads: o.threads ?? 'default', ir: ir.result, direct: direct.result, node: process.version,
    };
  },
};
