// Per-node ORT CPU profile of one attention form (writes ORT's JSON profile and prints the top nodes).
//   node node_modules/.cache/lf-bench/prof.mjs [--seq 8192] [--chunk 128] [--form blocked]
import * as ort from 'onnxruntime-node';
import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { Tensor, type Graph } from '@leanformer/core';
import { attentionLayerGraph } from '@leanformer/attention';
import { lowerAttention } from '../../onnx/src/lowerings/attention.js';

const argv = process.argv.slice(2);
const arg = (n: string, d: string) => { const i = argv.indexOf(`--${n}`); return i >= 0 ? argv[i + 1]! : d; };
const seq = Number(arg('seq', '8192')), chunk = Number(arg('chunk', '128')), form = arg('form', 'blocked') as 'blocked' | 'gqa' | 'chunked_gqa' | 'blocked_mha' | 'scan_window';
const g: Graph = attentionLayerGraph({ seq, heads: 8, headDim: 64, pattern: form === 'gqa' && arg('dense', '0') === '1' ? { kind: 'dense' } : { kind: 'window', window: 512 } });
for (const n of [...g.nodes]) if (n.op === 'Attention') lowerAttention(n, { runtime: 'ort', ep: 'cpu' }, { form, chunkSize: chunk });
import { encodeModel } from '@leanformer/onnx';
const s = await ort.InferenceSession.create(encodeModel(g), { executionProviders: ['cpu'], enableProfiling: true, profileFilePrefix: '/tmp/lfprof', ...(arg('threads', '') ? { intraOpNumThreads: Number(arg('threads', '')) } : {}) });
const x = () => new ort.Tensor('float32', Float32Array.from({ length: seq * 512 }, (_, i) => Math.sin(i)), [1, seq, 512]);
const feeds = { q: x(), k: x(), v: x() };
await s.run(feeds);
for (let i = 0; i < 3; i++) await s.run(feeds);
s.endProfiling();
const file = '/tmp/' + readdirSync('/tmp').filter((f) => f.startsWith('lfprof')).sort().pop();
const ev = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
const agg = new Map<string, number>();
for (const e of ev) if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) agg.set(`${e.args?.op_name}:${e.name.replace('_kernel_time', '')}`, (agg.get(`${e.args?.op_name}:${e.name.replace('_kernel_time', '')}`) ?? 0) + e.dur / 4000);
unlinkSync(file);
console.log([...agg].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, v]) => `${v.toFixed(1)} ms  ${k}`).join('\n'));
void Tensor;
