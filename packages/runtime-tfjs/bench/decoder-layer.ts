// `leanformer bench tfjs-decoder-layer`: forward of one transformer decoder layer (LLaMA style: RMSNorm,
// causal MHA with RoPE, SwiGLU MLP; fp32) built with core's GraphBuilder, timed on a tfjs backend and,
// with --param ort=<ep>, on onnxruntime-node with the same graph in the same run. The PyTorch peer for
// the GPU machine is bench/decoder_layer_torch.py (same shapes).
//   leanformer bench tfjs-decoder-layer --param backend=webgpu --param ort=webgpu
//   leanformer bench tfjs-decoder-layer --param backend=wasm --param batch=1 --param seq=128 --param hidden=512 --param heads=8 --param ffn=1408
// Timing: "device" = iterations queued back to back with one readback at the end (what the backend
// computes); "run" = TfjsExecutor.run per iteration (feeds uploaded, outputs read back).
import { benchInt, decoderLayer, GraphBuilder, rng, Tensor, type BenchSuite } from '@leanformer/core';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';

/* eslint-disable @typescript-eslint/no-explicit-any -- tfjs handles are typed by the user's tfjs-core */
type Cfg = { only?: string; backend: string; batch: number; seq: number; hidden: number; heads: number; ffn: number; warmup: number; iters: number; ort?: string; profile: boolean };

function buildLayer(cfg: Cfg) {
  const b = new GraphBuilder('decoder_layer');
  const x = b.input('x', 'float32', [cfg.batch, cfg.seq, cfg.hidden]);
  const y = decoderLayer(b, x, { prefix: 'layer', rng: rng(0), hidden: cfg.hidden, heads: cfg.heads, ffn: cfg.ffn, norm: 'rms', mlp: 'swiglu', rope: true, causal: true, shared: {} });
  b.output(y, 'y');
  return b.build();
}

const stats = (ms: number[]) => { const s = [...ms].sort((a, b) => a - b); return { mean: ms.reduce((a, b) => a + b, 0) / ms.length, min: s[0]!, max: s[s.length - 1]!, median: s[Math.floor(s.length / 2)]! }; };

export const decoderLayerSuite: BenchSuite = {
  name: 'tfjs-decoder-layer',
  summary: 'one LLaMA-style decoder layer forward on a tfjs backend (and ORT with --param ort=<ep>): ms, tokens/s, TFLOP/s',
  params: {
    backend: { description: 'tfjs backend: cpu, wasm, webgpu, tensorflow (default: --ep)' }, ort: { description: 'also time ORT on this EP (cpu, webgpu)' },
    only: { description: "'ort' skips tfjs" }, batch: { description: 'batch', default: '8' }, seq: { description: 'tokens', default: '512' },
    hidden: { description: 'hidden size', default: '1024' }, heads: { description: 'heads', default: '16' }, ffn: { description: 'MLP size', default: '2816' },
    warmup: { description: 'warm-up forwards', default: '3' }, iters: { description: 'timed forwards', default: '10' }, profile: { description: '1: tf.profile per-kernel table', default: '0' },
  },
  async run(o) {
    const p = o.params;
    const cfg: Cfg = {
      ...(p['only'] ? { only: p['only'] } : {}), ...(p['ort'] ? { ort: p['ort'] } : {}), backend: p['backend'] ?? o.ep,
      batch: benchInt(p, 'batch', o.quick ? 1 : 8), seq: benchInt(p, 'seq', o.quick ? 64 : 512), hidden: benchInt(p, 'hidden', o.quick ? 256 : 1024),
      heads: benchInt(p, 'heads', o.quick ? 4 : 16), ffn: benchInt(p, 'ffn', o.quick ? 704 : 2816), warmup: benchInt(p, 'warmup', o.quick ? 1 : 3),
      iters: benchInt(p, 'iters', o.quick ? 3 : 10), profile: benchInt(p, 'profile', 0) === 1,
    };
    const graph = buildLayer(cfg);
    const n = cfg.batch * cfg.seq * cfg.hidden;
    const r = rng(1);
    const xData = new Float32Array(n);
    for (let i = 0; i < n; i++) xData[i] = r.normal();
    const x = new Tensor('float32', [cfg.batch, cfg.seq, cfg.hidden], xData);
    const tokens = cfg.batch * cfg.seq;
    // Matmul FLOPs: q,k,v,o (4·h²) + MLP (3·h·ffn) per token, plus QKᵀ and PV (2·seq·h per token).
    const flops = 2 * tokens * (4 * cfg.hidden * cfg.hidden + 3 * cfg.hidden * cfg.ffn) + 2 * 2 * cfg.batch * cfg.seq * cfg.seq * cfg.hidden;
    const result: Record<string, any> = { config: cfg, gflopPerForward: flops / 1e9 };

    let yTfjs: Tensor | undefined;
    let t: number;
    if (cfg.only !== 'ort') {
    const backend = createTfjsBackend(cfg.backend as Parameters<typeof createTfjsBackend>[0] & string);
    const tf: any = await backend.ready();
    const t0 = performance.now();
    const exe = await backend.compile(graph);
    result.compileMs = performance.now() - t0;
    const compiled: any = (exe as any).compiled;
    const feed = new Map([['x', tf.tensor(xData, [cfg.batch, cfg.seq, cfg.hidden], 'float32')]]);
    const forward = (): any => tf.tidy(() => compiled.execute(feed).get('y'));
    t = performance.now();
    let first = forward();
    await first.data();
    first.dispose();
    result.tfjs = { backend: tf.getBackend(), firstMs: performance.now() - t };
    for (let i = 0; i < cfg.warmup; i++) { const y = forward(); await y.data(); y.dispose(); }
    if (cfg.profile) {
      // Per-kernel time of one forward (tf.profile; kernel times need the backend's timer support).
      const prof = await tf.profile(async () => { const y = forward(); await y.data(); y.dispose(); });
      const byName = new Map<string, { ms: number; count: number }>();
      for (const k of prof.kernels) {
        const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
        const e = byName.get(key) ?? { ms: 0, count: 0 };
        e.ms += ms; e.count++; byName.set(key, e);
      }
      result.profile = [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25).map(([k, v]) => ({ kernel: k, ms: +v.ms.toFixed(2), count: v.count }));
    }
    const device: number[] = [];
    for (let i = 0; i < cfg.iters; i++) {
      t = performance.now();
      const y = forward();
      await y.data();
      device.push(performance.now() - t);
      y.dispose();
    }
    // Throughput as the GPU sees it: queue `iters` forwards and read back only the last one (the
    // same method as the shared matmul probe; PyTorch's number likewise excludes a host copy).
    {
      t = performance.now();
      let y: any;
      for (let i = 0; i < cfg.iters; i++) { if (y) y.dispose(); y = forward(); }
      await y.data();
      y.dispose();
      result.tfjs.pipelinedMs = (performance.now() - t) / cfg.iters;
      result.tfjs.pipelinedTflops = flops / (result.tfjs.pipelinedMs / 1000) / 1e12;
    }
    const run: number[] = [];
    for (let i = 0; i < Math.min(cfg.iters, 5); i++) { t = performance.now(); yTfjs = (await exe.run({ x }))['y']; run.push(performance.now() - t); }
    const d = stats(device);
    result.tfjs.deviceMs = d;
    result.tfjs.runMs = stats(run);
    result.tfjs.tokensPerSec = tokens / (d.median / 1000);
    result.tfjs.tflops = flops / (d.median / 1000) / 1e12;
    feed.get('x')!.dispose();
    await exe.dispose();
    }

    if (cfg.ort) {
      try {
        const ort = await import('onnxruntime-node');
        const onnx = await import('@leanformer/onnx');
        const lowered = onnx.lowerToOnnx(graph, { runtime: 'ort', ep: cfg.ort as 'cpu' | 'webgpu' });
        const bytes = onnx.encodeModel(lowered);
        const s = await ort.InferenceSession.create(bytes, { executionProviders: [cfg.ort!] });
        const ox = new ort.Tensor('float32', xData, [cfg.batch, cfg.seq, cfg.hidden]);
        t = performance.now();
        await s.run({ x: ox });
        const ortRes: Record<string, any> = { ep: cfg.ort, firstMs: performance.now() - t };
        for (let i = 0; i < cfg.warmup; i++) await s.run({ x: ox });
        const ms: number[] = [];
        for (let i = 0; i < cfg.iters; i++) { t = performance.now(); await s.run({ x: ox }); ms.push(performance.now() - t); }
        ortRes.runMs = stats(ms);
        // Same graph, same input: the two runtimes must agree (max |a − b| relative to the output's RMS).
        const yOrt = (await s.run({ x: ox }))['y']!.data as Float32Array;
        const yT = yTfjs ? yTfjs.toFloat32() : yOrt;
        let ss = 0, worst = 0;
        for (let i = 0; i < yOrt.length; i++) ss += yOrt[i]! * yOrt[i]!;
        const rms = Math.sqrt(ss / yOrt.length);
        for (let i = 0; i < yOrt.length; i++) worst = Math.max(worst, Math.abs(yT[i]! - yOrt[i]!) / rms);
        if (yTfjs) ortRes.maxDiffOverRms = worst;
        ortRes.tokensPerSec = tokens / (ortRes.runMs.median / 1000);
        ortRes.note = 'host copies included (onnxruntime-node CPU tensors in and out)';
        result.ort = ortRes;
        if (result.tfjs) result.ratioTfjsToOrt = result.tfjs.tokensPerSec / ortRes.tokensPerSec;
      } catch (e) {
        result.ort = { ep: cfg.ort, error: String(e instanceof Error ? e.message : e).slice(0, 500) };
      }
    }
    // The peers are opt-in (ORT: a second runtime in the same run; PyTorch: a GPU-machine script): say how to get them.
    const peerNote = 'ort_tokens_per_s and tfjs_to_ort are null without --param ort=<cpu|webgpu> (ORT on the same graph in the same run); the PyTorch peer is packages/runtime-tfjs/bench/decoder_layer_torch.py (same shapes)';
    if (!cfg.ort) o.log(`peer: ${peerNote}\n`);
    return { suite: 'tfjs-decoder-layer', metrics: { tfjs_tokens_per_s: result['tfjs']?.tokensPerSec ?? null, ort_tokens_per_s: result['ort']?.tokensPerSec ?? null, tfjs_to_ort: result['ratioTfjsToOrt'] ?? null }, ...result, ...(cfg.ort ? {} : { notes: [peerNote] }) };
  },
};
