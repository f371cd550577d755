// Dense GQA vs window forms on ORT CPU, runs interleaved round-robin (robust to other load on a
// shared box): prints per form min / median ms and the speed-up of mins and of medians over dense.
//   sh tools/bench/bundle.sh packages/attention/bench/interleave.ts il && node node_modules/.cache/lf-bench/il.mjs --forms chunked_gqa:128,blocked:128 [--rounds 7] [--seq 8192] [--threads N]
import { Tensor, type Executor } from '@leanformer/core';
import { attentionLayerGraph } from '@leanformer/attention';
import type { AttentionForm } from '../../onnx/src/lowerings/attention.js';
import { ortCpuBackend } from './ort-lite.js';

const argv = process.argv.slice(2);
const arg = (n: string, d: string) => { const i = argv.indexOf(`--${n}`); return i >= 0 ? argv[i + 1]! : d; };
const seq = Number(arg('seq', '8192')), rounds = Number(arg('rounds', '7')), threads = Number(arg('threads', '0'));
// --ftz: ORT session config session.set_denormal_as_zero = 1, for every session alike (dense included).
const ftz = argv.includes('--ftz');
const heads = 8, headDim = 64, window = 512, hid = heads * headDim;
const rnd = (n: number, seed: number) => { let a = seed >>> 0; return Float32Array.from({ length: n }, () => { a = (Math.imul(a, 1664525) + 1013904223) >>> 0; return a / 4294967296 * 4 - 2; }); };
const feeds = { q: new Tensor('float32', [1, seq, hid], rnd(seq * hid, 1)), k: new Tensor('float32', [1, seq, hid], rnd(seq * hid, 2)), v: new Tensor('float32', [1, seq, hid], rnd(seq * hid, 3)) };
// A form prefixed with `dense/` (e.g. dense/mha, dense/masked) runs the dense pattern: other dense forms vs the GQA baseline.
const pairs = arg('forms', 'chunked_gqa:128').split(',').map((p) => { const [f, c] = p.split(':'); return [f as AttentionForm, Number(c ?? 0)] as const; });
const exes: [string, Executor][] = [];
exes.push(['gqa_dense', await ortCpuBackend({ form: 'gqa', ...(threads ? { threads } : {}), ftz }).compile(attentionLayerGraph({ seq, heads, headDim, pattern: { kind: 'dense' } }))]);
let ref: Float32Array | null = null;
for (const [label, c] of pairs) {
  const dense = label.startsWith('dense/');
  const form = (dense ? label.slice(6) : label) as AttentionForm;
  const exe = await ortCpuBackend({ form, ...(c ? { chunkSize: c } : {}), ...(threads ? { threads } : {}), ftz }).compile(attentionLayerGraph({ seq, heads, headDim, pattern: dense ? { kind: 'dense' } : { kind: 'window', window } }));
  if (dense) { exes.push([label, exe]); continue; }
  const y = (await exe.run(feeds)).y!.toFloat32();
  let diff = 0;
  if (ref) for (let i = 0; i < y.length; i++) diff = Math.max(diff, Math.abs(y[i]! - ref[i]!)); else ref = y;
  console.log(`${label}:${c} max|Δ| vs first window form ${diff}`);
  exes.push([`${label}:${c}`, exe]);
}
await exes[0]![1].run(feeds);
const t: Record<string, number[]> = Object.fromEntries(exes.map(([k]) => [k, []]));
const loads: number[] = [];
const os = await import('node:os');
for (let r = 0; r < rounds; r++) {
  for (const [k, exe] of exes) { const s = performance.now(); await exe.run(feeds); t[k]!.push(performance.now() - s); }
  loads.push(os.loadavg()[0]!);
}
const stat = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return { min: s[0]!, med: s[Math.floor(s.length / 2)]! }; };
const d = stat(t.gqa_dense!);
for (const [k] of exes) { const s = stat(t[k]!); console.log(`${k.padEnd(20)} min ${s.min.toFixed(1)} med ${s.med.toFixed(1)} ms   speedup(min) ${(d.min / s.min).toFixed(2)} (med) ${(d.med / s.med).toFixed(2)}`); }
console.log(`load ${loads.map((l) => l.toFixed(1)).join(' ')}`);
for (const [, e] of exes) await e.dispose();
