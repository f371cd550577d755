// Sliding window 512 vs dense attention at an 8K prefill on ORT CPU, per lowering form.
//   sh tools/bench/bundle.sh packages/attention/bench/swa.ts swa && node node_modules/.cache/lf-bench/swa.mjs [--seq 8192] [--reps 3] [--masked]
// Prints JSON: per form the median ms (after one warm-up run) and the speed-up over the dense GQA op,
// plus max |Δ| between the blocked output and GroupQueryAttention(local_window_size) as a check.
import { Tensor } from '@leanformer/core';
import { attentionLayerGraph, timeGraph } from '@leanformer/attention';
import type { AttentionForm } from '../../onnx/src/lowerings/attention.js';
import { ortCpuBackend } from './ort-lite.js';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: number): number => { const i = argv.indexOf(`--${name}`); return i >= 0 ? Number(argv[i + 1]) : dflt; };
const seq = arg('seq', 8192), reps = arg('reps', 3), heads = 8, headDim = 64, window = 512;
const hid = heads * headDim;
function gaussian(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const r = (): number => { a = (Math.imul(a, 1664525) + 1013904223) >>> 0; return (a + 0.5) / 4294967296; };
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r()));
}
const feeds = { q: new Tensor('float32', [1, seq, hid], gaussian(seq * hid, 1)), k: new Tensor('float32', [1, seq, hid], gaussian(seq * hid, 2)), v: new Tensor('float32', [1, seq, hid], gaussian(seq * hid, 3)) };
const results: Record<string, number> = {};
const run = async (label: string, pattern: 'dense' | 'window', form: AttentionForm, chunkSize?: number) => {
  const g = attentionLayerGraph({ seq, heads, headDim, pattern: pattern === 'dense' ? { kind: 'dense' } : { kind: 'window', window } });
  const r = await timeGraph(ortCpuBackend({ form, ...(chunkSize ? { chunkSize } : {}) }), g, feeds, reps);
  results[`${label}_ms`] = Math.round(r.medianMs * 10) / 10;
  results[`${label}_first_ms`] = Math.round(r.firstMs * 10) / 10;
  return r.output;
};
await run('gqa_dense', 'dense', 'gqa');
const gqaWin = await run('gqa_window', 'window', 'gqa');
let best = Infinity, bestChunk = 0, diff = 0, bestForm = '';
// --forms chunked_gqa:128,blocked:128 picks the (form, chunk) pairs to time (default: all below).
const allPairs: [AttentionForm, number][] = [['chunked_gqa', 64], ['chunked_gqa', 128], ['chunked_gqa', 256], ['chunked_gqa', 512], ['blocked', 64], ['blocked', 128], ['blocked', 256], ['blocked_mha', 64], ['blocked_mha', 128], ['blocked_mha', 256]];
const formsArg = argv.indexOf('--forms');
const pairs: [AttentionForm, number][] = formsArg >= 0 ? argv[formsArg + 1]!.split(',').map((p) => { const [f, c] = p.split(':'); return [f as AttentionForm, Number(c)]; }) : allPairs;
for (const [form, c] of pairs) {
  const out = await run(`${form}_window_c${c}`, 'window', form, c);
  const ms = results[`${form}_window_c${c}_ms`]!;
  if (ms < best) { best = ms; bestChunk = c; bestForm = form; }
  let m = 0;
  for (let i = 0; i < out.length; i++) m = Math.max(m, Math.abs(out[i]! - gqaWin[i]!));
  diff = Math.max(diff, m);
}
if (argv.includes('--masked')) await run('masked_window', 'window', 'masked');
results.gqa_window_vs_dense = Math.round((results.gqa_dense_ms! / results.gqa_window_ms!) * 100) / 100;
results.swa_speedup = Math.round((results.gqa_dense_ms! / best) * 100) / 100;
results.best_chunk = bestChunk;
results.max_abs_diff_blocked_vs_gqa_window = diff;
console.log(JSON.stringify({ seq, heads, head_dim: headDim, window, reps, best_form: bestForm, ...results, load_average: (await import('node:os')).loadavg()[0] }));
