// Micro-benchmarks of single ORT CPU kernels at the shapes the window forms use (8K, window 512).
//   sh tools/bench/bundle.sh packages/attention/bench/micro.ts micro && node node_modules/.cache/lf-bench/micro.mjs
import * as ort from 'onnxruntime-node';
import { GraphBuilder, attr, DTypes, type Value } from '@leanformer/core';
import { encodeModel } from '@leanformer/onnx';

const argv = process.argv.slice(2);
const only = argv.indexOf('--only') >= 0 ? argv[argv.indexOf('--only') + 1]!.split(',') : null;
const threads = argv.indexOf('--threads') >= 0 ? Number(argv[argv.indexOf('--threads') + 1]) : 0;
const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
async function time(label: string, build: (b: GraphBuilder) => Value[], feeds: Record<string, number[]>, opset?: number): Promise<void> {
  if (only && !only.includes(label)) return;
  const b = new GraphBuilder(label, opset ? { opset } : {});
  const outs = build(b);
  outs.forEach((o, i) => b.output(o, `y${i}`));
  const s = await ort.InferenceSession.create(encodeModel(b.build()), { executionProviders: ['cpu'], ...(threads ? { intraOpNumThreads: threads } : {}) });
  const f: Record<string, ort.Tensor> = {};
  for (const [k, shape] of Object.entries(feeds)) f[k] = new ort.Tensor('float32', fill(shape.reduce((x, y) => x * y, 1)), shape);
  await s.run(f);
  const ts: number[] = [];
  for (let i = 0; i < 3; i++) { const t = performance.now(); await s.run(f); ts.push(performance.now() - t); }
  ts.sort((x, y) => x - y);
  console.log(`${label.padEnd(28)} ${ts[1]!.toFixed(1)} ms`);
  await s.release();
}
const gqa = (b: GraphBuilder, ins: (Value | null)[], N: number, lw: number) => {
  b.graph.opsets.set('com.microsoft', 1);
  return b.op('GroupQueryAttention', ins, { num_heads: attr.int(N), kv_num_heads: attr.int(N), scale: attr.float(0.125), ...(lw > 0 ? { local_window_size: attr.int(lw) } : {}) }, { domain: 'com.microsoft', outputs: 3 })[0]!;
};
const i32 = DTypes.int32;
for (const [C, P] of [[128, 512], [256, 512], [512, 512]] as const) {
  const N = (8192 - P) / C * 8;
  await time(`gqa_past_c${C}`, (b) => [gqa(b, [b.input('q', 'float32', [1, C, N * 64]), b.input('k', 'float32', [1, C, N * 64]), b.input('v', 'float32', [1, C, N * 64]), b.input('pk', 'float32', [1, N, P, 64]), b.input('pv', 'float32', [1, N, P, 64]), b.constant([P + C - 1], i32), b.constant(P + C, i32)], N, 512)],
    { q: [1, C, N * 64], k: [1, C, N * 64], v: [1, C, N * 64], pk: [1, N, P, 64], pv: [1, N, P, 64] });
  await time(`matmul_qk_sm_v_c${C}`, (b) => { const q = b.input('q', 'float32', [N, C, 64]), k = b.input('k', 'float32', [N, 64, P + C]), v = b.input('v', 'float32', [N, P + C, 64]); return [b.matmul(b.softmax(b.matmul(q, k)), v)]; },
    { q: [N, C, 64], k: [N, 64, P + C], v: [N, P + C, 64] });
  await time(`matmul_qk_c${C}`, (b) => { const q = b.input('q', 'float32', [N, C, 64]), k = b.input('k', 'float32', [N, 64, P + C]); return [b.matmul(q, k)]; },
    { q: [N, C, 64], k: [N, 64, P + C] });
}
await time('gqa_dense_8k', (b) => [gqa(b, [b.input('q', 'float32', [1, 8192, 512]), b.input('k', 'float32', [1, 8192, 512]), b.input('v', 'float32', [1, 8192, 512]), null, null, b.constant([8191], i32), b.constant(8192, i32)], 8, 0)], { q: [1, 8192, 512], k: [1, 8192, 512], v: [1, 8192, 512] });
await time('gqa_first_s640_n96', (b) => [gqa(b, [b.input('q', 'float32', [1, 640, 96 * 64]), b.input('k', 'float32', [1, 640, 96 * 64]), b.input('v', 'float32', [1, 640, 96 * 64]), null, null, b.constant([639], i32), b.constant(640, i32)], 96, 512)], { q: [1, 640, 96 * 64], k: [1, 640, 96 * 64], v: [1, 640, 96 * 64] });
for (const [S, N] of [[640, 96], [2048, 8], [4096, 8], [128, 480], [64, 960]] as const) {
  await time(`gqa_first_s${S}_n${N}`, (b) => [gqa(b, [b.input('q', 'float32', [1, S, N * 64]), b.input('k', 'float32', [1, S, N * 64]), b.input('v', 'float32', [1, S, N * 64]), null, null, b.constant([S - 1], i32), b.constant(S, i32)], N, 0)], { q: [1, S, N * 64], k: [1, S, N * 64], v: [1, S, N * 64] });
}
// Dense baseline check: ONNX Attention (opset 23), is_causal, 8 heads, 8K.
await time('onnx_attention23_causal_8k', (b) => [b.op('Attention', [b.input('q', 'float32', [1, 8192, 512]), b.input('k', 'float32', [1, 8192, 512]), b.input('v', 'float32', [1, 8192, 512])], { is_causal: attr.int(1), q_num_heads: attr.int(8), kv_num_heads: attr.int(8) })], { q: [1, 8192, 512], k: [1, 8192, 512], v: [1, 8192, 512] }, 23);
// MLAS GEMM rate on one large product (2·1024³ flops ≈ 1.07 GMAC) and on the window's small batched shapes.
await time('matmul_1024cubed', (b) => [b.matmul(b.input('a', 'float32', [1024, 1024]), b.input('w', 'float32', [1024, 1024]))], { a: [1024, 1024], w: [1024, 1024] });
await time('matmul_8x64x64x576_x64', (b) => { let x = b.input('q', 'float32', [64, 8, 64, 64]); const k = b.input('k', 'float32', [64, 8, 64, 576]); return [b.reduceSum(b.matmul(x, k), [0, 1, 2, 3], false)]; }, { q: [64, 8, 64, 64], k: [64, 8, 64, 576] });
console.log('load', (await import('node:os')).loadavg()[0]);
