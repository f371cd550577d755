// `leanformer bench quant`: int4 MatMulNBits decode speed vs fp32 on a stack of 4096×4096 layers at
// batch 1 on ORT CPU, RTN quantize throughput (on the worker pool), and lossless packing ratio and
// decode speed.
import { benchInt, median, Tensor, type Backend, type BenchSuite, type Executor } from '@leanformer/core';
import { decodeFloats, encodeFloats, matmulStack, quantizeModel, syntheticBf16Weights, type QuantWorkerPool } from '@leanformer/quant';
import { createQuantWorkerPool } from '@leanformer/quant/node';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { PYTHON_QUANTIZER_PEER } from './rtn-speed.js';

/** Options of {@link runQuantBench}. */
export interface QuantBenchOptions {
  /** Fewer/smaller layers and runs (CI). */
  readonly quick?: boolean;
  /** Runs the fp32 and int4 stacks (ORT CPU for the published numbers). */
  readonly backend: Backend;
  /** Layer width (default 4096) and count (default 8; quick: 2). */
  readonly width?: number;
  readonly layers?: number;
  /** Quantizes on these worker threads; default this thread. */
  readonly pool?: QuantWorkerPool;
}

/** What `leanformer bench quant --json` prints. */
export interface QuantBenchResult {
  readonly suite: 'quant';
  readonly metrics: {
    /** fp32 MatMul ms / MatMulNBits int4 (block 32, accuracy_level 4) ms per token, batch 1. */
    readonly int4_decode_speedup: number;
    /** Same with accuracy_level 0 (float compute). */
    readonly int4_decode_speedup_acc0: number;
    readonly fp32_ms_per_token: number;
    readonly int4_ms_per_token: number;
    /** Seconds RTN int4 (block 32) takes per GB of fp32 weights. */
    readonly quantize_seconds_per_gb: number;
    /** Packed bytes / bf16 bytes on LLM-like bf16 weights. */
    readonly pack_ratio: number;
    /** Decode throughput of packed bf16 weights, MB of bf16 output per second (wall clock, median). */
    readonly pack_decode_mb_per_s: number;
    /** The same per second of this process's CPU time (robust to a busy machine); null outside Node. */
    readonly pack_decode_mb_per_cpu_s: number | null;
    readonly layers: number;
    readonly width: number;
    /** Threads that quantized (the pool's workers; 1 without a pool). */
    readonly threads: number;
  };
}


async function msPerRun(exe: Executor, feeds: Record<string, Tensor>, runs: number): Promise<number> {
  await exe.run(feeds); // warm-up, reported apart from the timed runs
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await exe.run(feeds);
    times.push(performance.now() - t);
  }
  return median(times);
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

/** Runs the suite on the given backend (and pool). */
export async function runQuantBench(options: QuantBenchOptions): Promise<QuantBenchResult> {
  const quick = options.quick ?? false;
  const width = options.width ?? 4096;
  const layers = options.layers ?? (quick ? 2 : 8);
  const runs = quick ? 5 : 20;
  const g = matmulStack(width, layers);
  const feeds = { x: Tensor.from('float32', [1, width], Array.from({ length: width }, (_, i) => Math.sin(i))) };

  const fp32 = await options.backend.compile(g);
  const fp32Ms = await msPerRun(fp32, feeds, runs);
  await fp32.dispose();

  // The pool's start-up stays outside the timing, as importing onnxruntime does for the Python peer
  // (time_ort_quantizer.py starts its clock after the import).
  await options.pool?.warmUp();
  const t0 = performance.now();
  const pool = options.pool ? { pool: options.pool } : {};
  const q = await quantizeModel(g, { method: 'rtn', bits: 4, blockSize: 32, accuracyLevel: 4, edgeBits: 4, ...pool });
  const quantSeconds = (performance.now() - t0) / 1000;
  const int4 = await options.backend.compile(q.graph);
  const int4Ms = await msPerRun(int4, feeds, runs);
  await int4.dispose();
  const q0 = await quantizeModel(g, { method: 'rtn', bits: 4, blockSize: 32, accuracyLevel: 0, edgeBits: 4, ...pool });
  const int4acc0 = await options.backend.compile(q0.graph);
  const int4Acc0Ms = await msPerRun(int4acc0, feeds, runs);
  await int4acc0.dispose();

  const count = quick ? 8_000_000 : 32_000_000;
  const bits = syntheticBf16Weights(count, 7);
  const enc = encodeFloats('bfloat16', bits);
  const out = new Uint16Array(count);
  decodeFloats(enc, out); // warm-up
  const dec: number[] = [];
  const decCpu: number[] = [];
  const cpuMs = (): number => { const u = globalThis.process?.cpuUsage?.(); return u ? (u.user + u.system) / 1000 : NaN; };
  for (let i = 0; i < (quick ? 3 : 5); i++) {
    const c = cpuMs();
    const t = performance.now();
    decodeFloats(enc, out);
    dec.push(performance.now() - t);
    decCpu.push(cpuMs() - c);
  }
  const decMs = median(dec);
  const decCpuMs = median(decCpu);
  return {
    suite: 'quant',
    metrics: {
      int4_decode_speedup: round(fp32Ms / int4Ms, 2),
      int4_decode_speedup_acc0: round(fp32Ms / int4Acc0Ms, 2),
      fp32_ms_per_token: round(fp32Ms),
      int4_ms_per_token: round(int4Ms),
      quantize_seconds_per_gb: round(quantSeconds / ((layers * width * width * 4) / 1e9), 2),
      pack_ratio: round(enc.length / bits.byteLength, 4),
      pack_decode_mb_per_s: round(bits.byteLength / 1e6 / (decMs / 1000), 1),
      pack_decode_mb_per_cpu_s: Number.isFinite(decCpuMs) ? round(bits.byteLength / 1e6 / (decCpuMs / 1000), 1) : null,
      layers,
      width,
      threads: options.pool?.threads ?? 1,
    },
  };
}

/** The suite as the CLI runs it: ORT CPU, RTN on a worker pool of `--threads` (default all cores). */
export const quantSuite: BenchSuite = {
  name: 'quant',
  summary: 'int4 MatMulNBits vs fp32 decode on ORT CPU, RTN quantize s/GB, lossless pack ratio and decode MB/s',
  params: { layers: { description: 'MatMul layers of 4096² (quick: 2)', default: '8' }, width: { description: 'layer width', default: '4096' } },
  async run(o) {
    const pool = createQuantWorkerPool(o.threads ? { threads: o.threads } : {});
    const layers = benchInt(o.params, 'layers', o.quick ? 2 : 8);
    try {
      const res = await runQuantBench({ quick: o.quick, backend: createOrtBackend({ eps: ['cpu'] }), pool, width: benchInt(o.params, 'width', 4096), layers });
      // int4 vs fp32 is timed here; quantize_seconds_per_gb's peer runs outside Node.
      const peer = `quantize_seconds_per_gb: ${PYTHON_QUANTIZER_PEER(layers, 5)}`;
      o.log(`peer: ${peer}\n`);
      return { ...res, notes: [peer] };
    } finally { await pool.dispose(); }
  },
};
