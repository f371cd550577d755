// The quant benchmark suite (`leanformer bench quant`): int4 MatMulNBits decode speed vs fp32
// on a stack of 4096×4096 layers at batch 1, RTN quantize throughput, and lossless packing
// ratio and decode speed. The runtime comes in as a Backend (ORT CPU for the published numbers).
import { DTypes, Graph, Tensor, tensorType, type Backend, type Executor } from '@leanformer/core';
import { decodeFloats, encodeFloats } from './dfloat11.js';
import { quantizeModel } from './quantize-model.js';
import { Rng, syntheticBf16Weights } from './synthetic.js';
import type { ModelCodec } from './lfpack.js';
import type { QuantWorkerPool } from './workers/types.js';

/** Options of {@link runQuantBench}. */
export interface QuantBenchOptions {
  /** Fewer/smaller layers and runs (CI). */
  readonly quick?: boolean;
  /** Runs the fp32 and int4 stacks (ORT CPU for the published numbers). */
  readonly backend: Backend;
  /** Unused by the metrics today; kept so callers can pass the CLI's codec uniformly. */
  readonly codec?: ModelCodec;
  /** Layer width (default 4096) and count (default 8; quick: 2). */
  readonly width?: number;
  readonly layers?: number;
  /** Quantizes on these worker threads (Node: createQuantWorkerPool from '@leanformer/quant/node'); default this thread. */
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

/** A stack of `layers` MatMuls [1, w] · [w, w] with seeded N(0, 0.02) weights. */
export function matmulStack(width: number, layers: number, seed = 1): Graph {
  const g = new Graph('matmul_stack');
  g.opsets.set('', 21);
  let x = g.addInput('x', tensorType(DTypes.float32, [1, width]));
  const rng = new Rng(seed);
  for (let i = 0; i < layers; i++) {
    const w = new Float32Array(width * width);
    for (let j = 0; j < w.length; j++) w[j] = rng.normal() * 0.02;
    const wv = g.addInitializer(`layers.${i}.weight`, new Tensor(DTypes.float32, [width, width], w));
    const n = g.addNode({ op: 'MatMul', name: `layers.${i}`, inputs: [x, wv], outputs: [i === layers - 1 ? 'y' : `h${i}`] });
    n.output(0).type = tensorType(DTypes.float32, [1, width]);
    x = n.output(0);
  }
  g.addOutput(x);
  return g;
}

async function msPerRun(exe: Executor, feeds: Record<string, Tensor>, runs: number): Promise<number> {
  await exe.run(feeds); // warm-up, reported apart from the timed runs
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await exe.run(feeds);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Runs the suite.
 *
 * @example
 * ```ts
 * const res = await runQuantBench({ quick: true, backend: new OrtBackend({ ort }) });
 * console.log(JSON.stringify(res)); // { suite: 'quant', metrics: { int4_decode_speedup, … } }
 * ```
 */
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
  dec.sort((a, b) => a - b);
  decCpu.sort((a, b) => a - b);
  const decMs = dec[Math.floor(dec.length / 2)]!;
  const decCpuMs = decCpu[Math.floor(decCpu.length / 2)]!;
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
