import { existsSync, readFileSync } from 'node:fs';
import { analyzeGraph, cosine, type Graph } from '@leanformer/core';
import { encodeModel, lowerToOnnx } from '@leanformer/onnx';
import { conv3dBaseline, efficientvit, fasternet, gpusqVit, loadTimmSafetensors, squeezetime, tensorRtForeignOps, timmVit, type SqueezeTimeConfig } from '@leanformer/vision';
import { visionFixturesDir } from '@leanformer/vision/cli';

/**
 * `leanformer bench vision`: speed of our EfficientViT-M0 graph against timm's own ONNX export
 * on the same ONNX Runtime with the same thread count, plus the cost and accuracy-proxy numbers
 * the vision issue asks for. Node only (it loads onnxruntime-node).
 */

/** Options of {@link runVisionBench}. */
export interface VisionBenchOptions {
  /** Fewer timed runs and smaller side models (CI). */
  readonly quick?: boolean;
  /** ORT execution provider for the speed comparison: 'cpu' (default) or 'webgpu' (GPU machine). */
  readonly ep?: 'cpu' | 'webgpu';
  /** Intra-op threads for both sessions (default: ORT's default). */
  readonly threads?: number;
  /** Folder holding `efficientvit_m0.timm.onnx` (default: the package's fixtures folder). */
  readonly fixturesDir?: string;
  /**
   * timm's state dict of the same model as the timm export (`efficientvit_m0.safetensors` from
   * make_timm_fixtures.py), loaded into our graph so both sides run the same weights. Default:
   * that file in `fixturesDir`. `false` keeps our seeded random weights (not the same model; for
   * showing what that does to the timing).
   */
  readonly timmWeights?: string | false;
  /** Timed rounds of the EfficientViT-M0 comparison (default 200; 20 with `quick`). */
  readonly runs?: number;
}

/** Result of {@link runVisionBench}: flat numeric metrics (null where a peer was unavailable) and notes. */
export interface VisionBenchResult {
  readonly suite: 'vision';
  readonly metrics: Record<string, number | null>;
  readonly notes: string[];
}

type Ort = typeof import('onnxruntime-node');

/** Quantile by linear interpolation between order statistics (q = 0.5: the median). */
function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

const median = (xs: readonly number[]) => quantile(xs, 0.5);


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

/**
 * Times sessions in interleaved rounds (after a warm-up), so load from elsewhere on the machine
 * hits each alike; the order within a round rotates, so neither always runs on the other's warm
 * caches. Returns every run's ms per session.
 */
async function timeInterleaved(ort: Ort, sessions: Awaited<ReturnType<typeof session>>[], input: Float32Array, shape: number[], runs: number): Promise<number[][]> {
  for (const s of sessions) for (let i = 0; i < 3; i++) await runOnce(ort, s, input, shape);
  const times = sessions.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    for (let j = 0; j < sessions.length; j++) {
      const i = (j + r) % sessions.length;
      const t0 = performance.now();
      await runOnce(ort, sessions[i]!, input, shape);
      times[i]!.push(performance.now() - t0);
    }
  }
  return times;
}

/** {@link timeInterleaved}, medians only. */
async function timeAlternating(ort: Ort, sessions: Awaited<ReturnType<typeof session>>[], input: Float32Array, shape: number[], runs: number): Promise<number[]> {
  return (await timeInterleaved(ort, sessions, input, shape, runs)).map(median);
}


/**
 * Runs the vision benchmark suite.
 *
 * @example
 * ```ts
 * const { metrics } = await runVisionBench({ quick: true });
 * metrics.efficientvit_m0_vs_timm_onnx; // ≥ 1 means our graph is at least as fast
 * ```
 */
export async function runVisionBench(options: VisionBenchOptions): Promise<VisionBenchResult> {
  const ort: Ort = await import('onnxruntime-node');
  const lowered = (graph: Graph, ep: 'cpu' | 'webgpu'): Uint8Array => encodeModel(lowerToOnnx(graph, { runtime: 'ort', ep }));
  const quick = options.quick ?? false;
  const ep = options.ep ?? 'cpu';
  const runs = quick ? 5 : 20;
  const notes: string[] = [];
  const metrics: Record<string, number | null> = {};

  // 1. EfficientViT-M0: ours vs timm's ONNX export (same ORT, same EP, same threads), with the
  // same weights on both sides: timm's state dict from the same fixture run. (With seeded
  // random-init weights the comparison is of different models, and not only in name: random
  // attention logits are large, softmax puts denormal probabilities into the attn·V MatMuls,
  // and on x86 those run several times slower — that alone made ours ~15% slower.)
  const m0 = efficientvit('m0', { numClasses: 10, seed: 0 });
  const m0Cost = analyzeGraph(m0.graph, { dims: { batch: 1 } });
  metrics.efficientvit_m0_params = m0Cost.params;
  metrics.efficientvit_m0_mflops = m0Cost.flops / 1e6;
  const t0 = analyzeGraph(fasternet('t0', { numClasses: 1000 }).graph, { dims: { batch: 1 } });
  metrics.fasternet_t0_params = t0.params;
  metrics.fasternet_t0_mflops = t0.flops / 1e6;
  const dir = (options.fixturesDir ?? visionFixturesDir()).replace(/\/?$/, '/');
  const weightsPath = options.timmWeights ?? `${dir}efficientvit_m0.safetensors`;
  const sameWeights = weightsPath !== false && existsSync(weightsPath);
  if (sameWeights) loadTimmSafetensors(m0, new Uint8Array(readFileSync(weightsPath)));
  else notes.push(`${weightsPath === false ? 'seeded weights asked for' : `timm state dict missing: ${weightsPath}`}; our M0 runs seeded random weights, so it is not the same model as timm's export and its attention is slowed by denormals (see bench.ts)`);
  metrics.efficientvit_m0_same_weights = sameWeights ? 1 : 0;
  const img = seeded(3 * 224 * 224, 1);
  const ours = await session(ort, lowered(m0.graph, ep), ep, options.threads);
  const m0Runs = options.runs ?? (quick ? 20 : 200);
  const timmPath = `${dir}efficientvit_m0.timm.onnx`;
  const spread = (key: string, xs: readonly number[]) => {
    metrics[`${key}_ms`] = median(xs);
    metrics[`${key}_ms_p25`] = quantile(xs, 0.25);
    metrics[`${key}_ms_p75`] = quantile(xs, 0.75);
  };
  if (existsSync(timmPath)) {
    const timm = await session(ort, new Uint8Array(readFileSync(timmPath)), ep, options.threads);
    if (sameWeights) {
      const a = await runOnce(ort, ours, img, [1, 3, 224, 224]);
      const b = await runOnce(ort, timm, img, [1, 3, 224, 224]);
      metrics.efficientvit_m0_timm_max_abs_diff = a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
    }
    const [oursT, timmT] = await timeInterleaved(ort, [ours, timm], img, [1, 3, 224, 224], m0Runs);
    spread('efficientvit_m0', oursT!);
    spread('efficientvit_m0_timm_onnx', timmT!);
    metrics.efficientvit_m0_vs_timm_onnx = median(timmT!) / median(oursT!);
    // Per-round ratios (each round runs both back to back): their spread says how settled the ratio is.
    const ratios = oursT!.map((o, i) => timmT![i]! / o);
    metrics.efficientvit_m0_vs_timm_onnx_p25 = quantile(ratios, 0.25);
    metrics.efficientvit_m0_vs_timm_onnx_p75 = quantile(ratios, 0.75);
    metrics.efficientvit_m0_runs = m0Runs;
  } else {
    const [oursT] = await timeInterleaved(ort, [ours], img, [1, 3, 224, 224], m0Runs);
    spread('efficientvit_m0', oursT!);
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
  const vFull = timmVit('tiny', { numClasses: 0, seed: 5 });
  const vDrop = timmVit('tiny', { numClasses: 0, seed: 5, tokenDrop: { afterLayer: 2, keep } });
  const fFull = analyzeGraph(vFull.graph, { dims: { batch: 1 } }).flops;
  const fDrop = analyzeGraph(vDrop.graph, { dims: { batch: 1 } }).flops;
  metrics.hired_keep20_flop_saving = 1 - fDrop / fFull;
  const sFull = await session(ort, lowered(vFull.graph, 'cpu'), 'cpu', options.threads);
  const sDrop = await session(ort, lowered(vDrop.graph, 'cpu'), 'cpu', options.threads);
  let minCos = Infinity;
  for (let i = 0; i < (quick ? 2 : 8); i++) {
    const x = seeded(3 * 224 * 224, 100 + i);
    minCos = Math.min(minCos, cosine(await runOnce(ort, sFull, x, [1, 3, 224, 224]), await runOnce(ort, sDrop, x, [1, 3, 224, 224])));
  }
  metrics.hired_keep20_cls_cosine_min = minCos;
  });

  // 4. GPUSQ-ViT: 2:4 + int8 linears; lowers for TensorRT (ONNX ops only) and runs on ORT CPU.
  await section('gpusq', async () => {
  const dense = timmVit(quick ? 'micro' : 'tiny', { numClasses: 100, seed: 9 });
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
    cos = Math.min(cos, cosine(await runOnce(ort, sd, x, [1, 3, size, size]), await runOnce(ort, ss, x, [1, 3, size, size])));
  }
  metrics.gpusq_logit_cosine_min = cos;
  });
  return { suite: 'vision', metrics, notes };
}
