import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { analyzeGraph, type Graph, type Target } from '@leanformer/core';
import { efficientvit } from './efficientvit.js';
import { fasternet } from './fasternet.js';
import { gpusqVit, tensorRtForeignOps } from './gpusq.js';
import { cosineSimilarity } from './model.js';
import { conv3dBaseline, squeezetime, type SqueezeTimeConfig } from './squeezetime.js';
import { vit } from './vit.js';

/**
 * `leanformer bench vision`: speed of our EfficientViT-M0 graph against timm's own ONNX export
 * on the same ONNX Runtime with the same thread count, plus the cost and accuracy-proxy numbers
 * the vision issue asks for. Node only (it loads onnxruntime-node).
 */

/**
 * The two functions of `@leanformer/onnx` the vision commands use, injected (as the CLI passes
 * the module) so this package does not depend on the ONNX codec.
 */
export interface OnnxApi {
  lowerToOnnx(graph: Graph, target: Target): Graph;
  encodeModel(graph: Graph): Uint8Array;
}

/** Options of {@link runVisionBench}. */
export interface VisionBenchOptions {
  /** `@leanformer/onnx` (lowering and encoding). */
  readonly onnx: OnnxApi;
  /** Fewer timed runs and smaller side models (CI). */
  readonly quick?: boolean;
  /** ORT execution provider for the speed comparison: 'cpu' (default) or 'webgpu' (GPU machine). */
  readonly ep?: 'cpu' | 'webgpu';
  /** Intra-op threads for both sessions (default: ORT's default). */
  readonly threads?: number;
  /** Folder holding `efficientvit_m0.timm.onnx` (default: the package's fixtures folder). */
  readonly fixturesDir?: string;
}

/** Result of {@link runVisionBench}: flat numeric metrics (null where a peer was unavailable) and notes. */
export interface VisionBenchResult {
  readonly suite: 'vision';
  readonly metrics: Record<string, number | null>;
  readonly notes: string[];
}

type Ort = typeof import('onnxruntime-node');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}


function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 * 2 - 1;
  }
  return out;
}

async function session(ort: Ort, bytes: Uint8Array | string, ep: string, threads?: number) {
  return ort.InferenceSession.create(bytes as Uint8Array, {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
    ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
  });
}

async function runOnce(ort: Ort, s: Awaited<ReturnType<typeof session>>, input: Float32Array, shape: number[]): Promise<Float32Array> {
  const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', input, shape) });
  return out[s.outputNames[0]!]!.data as Float32Array;
}

/** Times sessions alternately (after a warm-up) and returns the median ms of each. */
async function timeAlternating(ort: Ort, sessions: Awaited<ReturnType<typeof session>>[], input: Float32Array, shape: number[], runs: number): Promise<number[]> {
  for (const s of sessions) for (let i = 0; i < 3; i++) await runOnce(ort, s, input, shape);
  const times = sessions.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    for (const [i, s] of sessions.entries()) {
      const t0 = performance.now();
      await runOnce(ort, s, input, shape);
      times[i]!.push(performance.now() - t0);
    }
  }
  return times.map(median);
}

/**
 * Runs the vision benchmark suite.
 *
 * @example
 * ```ts
 * import * as onnx from '@leanformer/onnx';
 * const { metrics } = await runVisionBench({ quick: true, onnx });
 * metrics.efficientvit_m0_vs_timm_onnx; // ≥ 1 means our graph is at least as fast
 * ```
 */
export async function runVisionBench(options: VisionBenchOptions): Promise<VisionBenchResult> {
  const ort: Ort = await import('onnxruntime-node');
  const { lowerToOnnx, encodeModel } = options.onnx;
  const lowered = (graph: Graph, ep: 'cpu' | 'webgpu'): Uint8Array => encodeModel(lowerToOnnx(graph, { runtime: 'ort', ep }));
  const quick = options.quick ?? false;
  const ep = options.ep ?? 'cpu';
  const runs = quick ? 5 : 20;
  const notes: string[] = [];
  const metrics: Record<string, number | null> = {};

  // 1. EfficientViT-M0: ours vs timm's ONNX export (same ORT, same EP, same threads).
  const m0 = efficientvit('m0', { numClasses: 10, seed: 0 });
  const m0Cost = analyzeGraph(m0.graph, { dims: { batch: 1 } });
  metrics.efficientvit_m0_params = m0Cost.params;
  metrics.efficientvit_m0_mflops = m0Cost.flops / 1e6;
  const t0 = analyzeGraph(fasternet('t0', { numClasses: 1000 }).graph, { dims: { batch: 1 } });
  metrics.fasternet_t0_params = t0.params;
  metrics.fasternet_t0_mflops = t0.flops / 1e6;
  const img = seeded(3 * 224 * 224, 1);
  const ours = await session(ort, lowered(m0.graph, ep), ep, options.threads);
  const dir = options.fixturesDir ?? fileURLToPath(new URL('../fixtures/', import.meta.url));
  const timmPath = `${dir.replace(/\/?$/, '/')}efficientvit_m0.timm.onnx`;
  if (existsSync(timmPath)) {
    const timm = await session(ort, new Uint8Array(readFileSync(timmPath)), ep, options.threads);
    const [oursMs, timmMs] = await timeAlternating(ort, [ours, timm], img, [1, 3, 224, 224], runs);
    metrics.efficientvit_m0_ms = oursMs!;
    metrics.efficientvit_m0_timm_onnx_ms = timmMs!;
    metrics.efficientvit_m0_vs_timm_onnx = timmMs! / oursMs!;
  } else {
    const [oursMs] = await timeAlternating(ort, [ours], img, [1, 3, 224, 224], runs);
    metrics.efficientvit_m0_ms = oursMs!;
    metrics.efficientvit_m0_timm_onnx_ms = null;
    metrics.efficientvit_m0_vs_timm_onnx = null;
    notes.push(`timm peer missing: ${timmPath} (make it with packages/vision/fixtures/make_timm_fixtures.py)`);
  }

  /** Runs one section; a failure becomes a note (and its metrics stay absent) instead of aborting the suite. */
  const section = async (name: string, body: () => Promise<void>) => {
    try { await body(); } catch (e) { notes.push(`${name} failed: ${e instanceof Error ? e.message : String(e)}`); metrics[`${name}_failed`] = 1; }
  };

  // 2. SqueezeTime vs a 3-D conv baseline of the same widths; the clip runs end to end.
  await section('squeezetime', async () => {
  const stCfg: SqueezeTimeConfig = quick ? { frames: 8, imgSize: 64, widths: [32, 64, 128, 256], depths: [1, 1, 1, 1] } : { frames: 16, imgSize: 112, widths: [64, 128, 256, 512], depths: [1, 1, 2, 1] };
  const st = squeezetime(stCfg, { numClasses: 400 });
  const c3 = conv3dBaseline(stCfg, { numClasses: 400 });
  const stFlops = analyzeGraph(st.graph, { dims: { batch: 1 } }).flops;
  const c3Flops = analyzeGraph(c3.graph, { dims: { batch: 1 } }).flops;
  metrics.squeezetime_mflops = stFlops / 1e6;
  metrics.conv3d_baseline_mflops = c3Flops / 1e6;
  metrics.squeezetime_flop_saving = 1 - stFlops / c3Flops;
  const clipShape = [1, stCfg.frames, 3, stCfg.imgSize!, stCfg.imgSize!];
  const clip = seeded(clipShape.reduce((a, b) => a * b, 1), 2);
  const [stMs, c3Ms] = await timeAlternating(ort, [await session(ort, lowered(st.graph, 'cpu'), 'cpu', options.threads), await session(ort, lowered(c3.graph, 'cpu'), 'cpu', options.threads)], clip, clipShape, quick ? 3 : 10);
  metrics.squeezetime_cpu_ms = stMs!;
  metrics.conv3d_baseline_cpu_ms = c3Ms!;
  });

  // 3. HiRED-style early drop on ViT-Tiny: keep 20% of patch tokens after block 2.
  await section('hired', async () => {
  const keep = Math.round(0.2 * 196);
  const vFull = vit('tiny', { numClasses: 0, seed: 5 });
  const vDrop = vit('tiny', { numClasses: 0, seed: 5, tokenDrop: { afterLayer: 2, keep } });
  const fFull = analyzeGraph(vFull.graph, { dims: { batch: 1 } }).flops;
  const fDrop = analyzeGraph(vDrop.graph, { dims: { batch: 1 } }).flops;
  metrics.hired_keep20_flop_saving = 1 - fDrop / fFull;
  const sFull = await session(ort, lowered(vFull.graph, 'cpu'), 'cpu', options.threads);
  const sDrop = await session(ort, lowered(vDrop.graph, 'cpu'), 'cpu', options.threads);
  let minCos = Infinity;
  for (let i = 0; i < (quick ? 2 : 8); i++) {
    const x = seeded(3 * 224 * 224, 100 + i);
    minCos = Math.min(minCos, cosineSimilarity(await runOnce(ort, sFull, x, [1, 3, 224, 224]), await runOnce(ort, sDrop, x, [1, 3, 224, 224])));
  }
  metrics.hired_keep20_cls_cosine_min = minCos;
  });

  // 4. GPUSQ-ViT: 2:4 + int8 linears; lowers for TensorRT (ONNX ops only) and runs on ORT CPU.
  await section('gpusq', async () => {
  const dense = vit(quick ? 'micro' : 'tiny', { numClasses: 100, seed: 9 });
  const { model: sq, report } = gpusqVit(dense);
  metrics.gpusq_layers = report.layersSparsified;
  metrics.gpusq_bytes_ratio = report.bytesAfter / report.bytesBefore;
  metrics.gpusq_tensorrt_foreign_ops = tensorRtForeignOps(lowerToOnnx(sq.graph, { runtime: 'ort', ep: 'tensorrt' })).length;
  const size = Number(dense.inputShape[2]);
  const sd = await session(ort, lowered(dense.graph, 'cpu'), 'cpu', options.threads);
  const ss = await session(ort, lowered(sq.graph, 'cpu'), 'cpu', options.threads);
  let cos = Infinity;
  for (let i = 0; i < 4; i++) {
    const x = seeded(3 * size * size, 200 + i);
    cos = Math.min(cos, cosineSimilarity(await runOnce(ort, sd, x, [1, 3, size, size]), await runOnce(ort, ss, x, [1, 3, size, size])));
  }
  metrics.gpusq_logit_cosine_min = cos;
  });
  return { suite: 'vision', metrics, notes };
}
