// Forward of one transformer decoder layer (LLaMA style: RMSNorm, causal MHA with RoPE,
// SwiGLU MLP; fp32) built with @leanformer/core's GraphBuilder, timed on a tfjs backend and,
// when --ort is given, on onnxruntime-node with the same graph in the same run. Prints JSON.
//
//   node packages/runtime-tfjs/bench/decoder-layer.mjs --backend webgpu --ort webgpu
//   node packages/runtime-tfjs/bench/decoder-layer.mjs --backend wasm --batch 1 --seq 128 --hidden 512 --heads 8 --ffn 1408
//
// Flags: --backend cpu|wasm|webgpu|tensorflow (default webgpu), --batch 8 --seq 512 --hidden 1024
// --heads 16 --ffn 2816 --warmup 3 --iters 10, --ort <ep> (cpu|webgpu) to time ORT as well,
// --only ort to skip tfjs (e.g. to run ORT's Dawn and tfjs' dawn.node in separate processes).
// Timing: "device" = iterations queued back to back with one readback at the end (what the
// backend computes); "run" = TfjsExecutor.run per iteration (feeds uploaded, outputs read back).
import { decoderLayer, GraphBuilder, rng, Tensor } from '@leanformer/core';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]?.startsWith('--') || all[i + 1] === undefined ? 'true' : all[i + 1]]] : acc), []));
const num = (k, d) => (args[k] === undefined ? d : Number(args[k]));
const cfg = { only: args.only, backend: args.backend ?? 'webgpu', batch: num('batch', 8), seq: num('seq', 512), hidden: num('hidden', 1024), heads: num('heads', 16), ffn: num('ffn', 2816), warmup: num('warmup', 3), iters: num('iters', 10), ort: args.ort };

function buildLayer() {
  const b = new GraphBuilder('decoder_layer');
  const x = b.input('x', 'float32', [cfg.batch, cfg.seq, cfg.hidden]);
  const y = decoderLayer(b, x, { prefix: 'layer', rng: rng(0), hidden: cfg.hidden, heads: cfg.heads, ffn: cfg.ffn, norm: 'rms', mlp: 'swiglu', rope: true, causal: true, shared: {} });
  b.output(y, 'y');
  return b.build();
}

const stats = (ms) => { const s = [...ms].sort((a, b) => a - b); return { mean: ms.reduce((a, b) => a + b, 0) / ms.length, min: s[0], max: s[s.length - 1], median: s[Math.floor(s.length / 2)] }; };

const graph = buildLayer();
const n = cfg.batch * cfg.seq * cfg.hidden;
const r = rng(1);
const xData = new Float32Array(n);
for (let i = 0; i < n; i++) xData[i] = r.normal();
const x = new Tensor('float32', [cfg.batch, cfg.seq, cfg.hidden], xData);
const tokens = cfg.batch * cfg.seq;
// Matmul FLOPs: q,k,v,o (4·h²) + MLP (3·h·ffn) per token, plus QKᵀ and PV (2·seq·h per token).
const flops = 2 * tokens * (4 * cfg.hidden * cfg.hidden + 3 * cfg.hidden * cfg.ffn) + 2 * 2 * cfg.batch * cfg.seq * cfg.seq * cfg.hidden;
const result = { config: cfg, gflopPerForward: flops / 1e9 };

let yTfjs;
let t;
if (cfg.only !== 'ort') {
const backend = createTfjsBackend(cfg.backend);
const tf = await backend.ready();
const t0 = performance.now();
const exe = await backend.compile(graph);
result.compileMs = performance.now() - t0;
const compiled = exe.compiled;
const feed = new Map([['x', tf.tensor(xData, [cfg.batch, cfg.seq, cfg.hidden], 'float32')]]);
const forward = () => tf.tidy(() => compiled.execute(feed).get('y'));
t = performance.now();
let first = forward();
await first.data();
first.dispose();
result.tfjs = { backend: tf.getBackend(), firstMs: performance.now() - t };
for (let i = 0; i < cfg.warmup; i++) { const y = forward(); await y.data(); y.dispose(); }
if (args.profile) {
  // Per-kernel time of one forward (tf.profile; kernel times need the backend's timer support).
  const prof = await tf.profile(async () => { const y = forward(); await y.data(); y.dispose(); });
  const byName = new Map();
  for (const k of prof.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const e = byName.get(key) ?? { ms: 0, count: 0 };
    e.ms += ms; e.count++; byName.set(key, e);
  }
  result.profile = [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25).map(([k, v]) => ({ kernel: k, ms: +v.ms.toFixed(2), count: v.count }));
}
const device = [];
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
  let y;
  for (let i = 0; i < cfg.iters; i++) { if (y) y.dispose(); y = forward(); }
  await y.data();
  y.dispose();
  result.tfjs.pipelinedMs = (performance.now() - t) / cfg.iters;
  result.tfjs.pipelinedTflops = flops / (result.tfjs.pipelinedMs / 1000) / 1e12;
}
const run = [];
for (let i = 0; i < Math.min(cfg.iters, 5); i++) { t = performance.now(); yTfjs = (await exe.run({ x })).y; run.push(performance.now() - t); }
const d = stats(device);
result.tfjs.deviceMs = d;
result.tfjs.runMs = stats(run);
result.tfjs.tokensPerSec = tokens / (d.median / 1000);
result.tfjs.tflops = flops / (d.median / 1000) / 1e12;
feed.get('x').dispose();
await exe.dispose();
}

if (cfg.ort) {
  try {
    const ort = await import('onnxruntime-node');
    const onnx = await import('@leanformer/onnx');
    const lowered = onnx.lowerToOnnx ? onnx.lowerToOnnx(graph, { runtime: 'ort', ep: cfg.ort }) : graph;
    const bytes = onnx.encodeModel(lowered);
    const s = await ort.InferenceSession.create(bytes, { executionProviders: [cfg.ort] });
    const ox = new ort.Tensor('float32', xData, [cfg.batch, cfg.seq, cfg.hidden]);
    t = performance.now();
    await s.run({ x: ox });
    const ortRes = { ep: cfg.ort, firstMs: performance.now() - t };
    for (let i = 0; i < cfg.warmup; i++) await s.run({ x: ox });
    const ms = [];
    for (let i = 0; i < cfg.iters; i++) { t = performance.now(); await s.run({ x: ox }); ms.push(performance.now() - t); }
    ortRes.runMs = stats(ms);
    // Same graph, same input: the two runtimes must agree (max |a − b| relative to the output's RMS).
    const yOrt = (await s.run({ x: ox })).y.data;
    const yT = yTfjs ? yTfjs.toFloat32() : yOrt;
    let ss = 0, worst = 0;
    for (let i = 0; i < yOrt.length; i++) ss += yOrt[i] * yOrt[i];
    const rms = Math.sqrt(ss / yOrt.length);
    for (let i = 0; i < yOrt.length; i++) worst = Math.max(worst, Math.abs(yT[i] - yOrt[i]) / rms);
    if (yTfjs) ortRes.maxDiffOverRms = worst;
    ortRes.tokensPerSec = tokens / (ortRes.runMs.median / 1000);
    ortRes.note = 'host copies included (onnxruntime-node CPU tensors in and out)';
    result.ort = ortRes;
    if (result.tfjs) result.ratioTfjsToOrt = result.tfjs.tokensPerSec / ortRes.tokensPerSec;
  } catch (e) {
    result.ort = { ep: cfg.ort, error: String(e?.message ?? e).slice(0, 500) };
  }
}
console.log(JSON.stringify(result, null, 2));
process.exit(0);
