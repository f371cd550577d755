// `leanformer bench quant-rtn`: RTN int4 block-32 quantize time alone (the `quantize_seconds_per_gb`
// figure of `bench quant`, without its other metrics): a stack of L 4096² fp32 MatMuls, quantized R
// times on this thread and on a worker pool. Per mode: the seconds per GB of each repetition (the
// first is the cold one) and their median.
import { availableParallelism } from 'node:os';
import { benchInt, median, type BenchSuite } from '@leanformer/core';
import { matmulStack, quantizeModel } from '@leanformer/quant';
import { createQuantWorkerPool } from '@leanformer/quant/node';

/** The peer of the quantize-time figures: ORT's own Python quantizer, which needs Python and pip's onnxruntime. */
export const PYTHON_QUANTIZER_PEER = (layers: number, reps: number): string =>
  `ORT's Python MatMulNBitsQuantizer on the same model: python3 packages/quant/fixtures/time_ort_quantizer.py --layers ${layers} --reps ${reps} (needs pip's onnxruntime; tools/device/run-gpu-checks.sh quant-time interleaves both)`;

export const rtnSpeedSuite: BenchSuite = {
  name: 'quant-rtn',
  summary: 'RTN int4 quantize seconds per GB of fp32 weights, on this thread and on a worker pool',
  params: { layers: { description: 'MatMul layers of 4096²', default: '8' }, reps: { description: 'repetitions per mode', default: '3' } },
  async run(o) {
    const layers = benchInt(o.params, 'layers', o.quick ? 1 : 8), reps = benchInt(o.params, 'reps', o.quick ? 1 : 3);
    const threads = o.threads ?? availableParallelism(), width = 4096;
    const g = matmulStack(width, layers);
    const gb = (layers * width * width * 4) / 1e9;
    const time = async (extra: object): Promise<number> => {
      const t = performance.now();
      await quantizeModel(g, { method: 'rtn', bits: 4, blockSize: 32, accuracyLevel: 4, edgeBits: 4, ...extra });
      return (performance.now() - t) / 1000 / gb;
    };
    const single: number[] = [];
    for (let i = 0; i < reps; i++) single.push(await time({}));
    const pool = createQuantWorkerPool({ threads });
    const pooled: number[] = [];
    try {
      // The first timed run then still pays for fresh staging memory, as the peer's does.
      await pool.warmUp();
      for (let i = 0; i < reps; i++) pooled.push(await time({ pool }));
    } finally { await pool.dispose(); }
    const r = (x: number): number => Math.round(x * 1000) / 1000;
    o.log(`peer: ${PYTHON_QUANTIZER_PEER(layers, reps)}\n`);
    return {
      suite: 'quant-rtn',
      metrics: { layers, width, weight_gb: r(gb), threads, single_s_per_gb: single.map(r), single_median: r(median(single)), pool_s_per_gb: pooled.map(r), pool_median: r(median(pooled)) },
      notes: [PYTHON_QUANTIZER_PEER(layers, reps)],
    };
  },
};
