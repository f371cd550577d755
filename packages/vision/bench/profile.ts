// `leanformer bench vision-profile`: profiles our EfficientViT-M0 graph and timm's ONNX export on ORT CPU: writes both models and
// ORT's optimized graphs, prints per-op-type node counts of the optimized graphs and the ORT
// profiler's per-op-type kernel time (median over runs; the two sessions run interleaved). The
// per-node files (<out>/{ours,timm}.nodes.json) hold each node's median. Kernel times under the
// profiler carry a few µs of overhead per node, so they flatter the graph with fewer nodes; wall
// time is what `leanformer bench vision` measures.
/* eslint-disable @typescript-eslint/no-explicit-any -- ORT's profile JSON is untyped */
import { mkdirSync, readFileSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { benchInt, type BenchSuite } from '@leanformer/core';
import * as onnx from '@leanformer/onnx';
import { efficientvit, loadTimmSafetensors } from '@leanformer/vision';
import { visionFixturesDir } from '@leanformer/vision/cli';

export const profileSuite: BenchSuite = {
  name: 'vision-profile',
  summary: "ORT CPU profiler on our EfficientViT-M0 and timm's export: per-op-type kernel µs and optimized node counts",
  params: { runs: { description: 'profiled runs', default: '200' }, out: { description: 'folder for the models, optimized graphs and per-node files', default: '<tmp>/evit-prof' } },
  async run(o) {
const out = o.params['out'] ?? join(tmpdir(), 'evit-prof');
mkdirSync(out, { recursive: true });
const threads = o.threads ?? 1;
const runs = benchInt(o.params, 'runs', o.quick ? 30 : 200);
const fixture = (name: string) => join(visionFixturesDir(), name);
const m0 = efficientvit('m0', { numClasses: 10, seed: 0 });
// The same weights as timm's export (random-init attention is far from trained and, on x86, runs
// into denormal softmax outputs that slow the MatMuls for reasons unrelated to the graph).
loadTimmSafetensors(m0, new Uint8Array(readFileSync(fixture('efficientvit_m0.safetensors'))));
writeFileSync(`${out}/ours.onnx`, onnx.encodeModel(onnx.lowerToOnnx(m0.graph, { runtime: 'ort', ep: 'cpu' })));
writeFileSync(`${out}/timm.onnx`, readFileSync(fixture('efficientvit_m0.timm.onnx')));

function counts(path: string) {
  const g = onnx.decodeModel(new Uint8Array(readFileSync(path)));
  const c: Record<string, number> = {};
  for (const n of g.nodes) { const k = `${n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::` : ''}${n.op}`; c[k] = (c[k] ?? 0) + 1; }
  return { total: g.nodes.length, c };
}

const img = new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i));
const res: Record<string, any> = {};
const names = ['ours', 'timm'];
const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' as const, intraOpNumThreads: threads, interOpNumThreads: 1 };
const sessions: ort.InferenceSession[] = [];
for (const name of names) {
  await ort.InferenceSession.create(`${out}/${name}.onnx`, { ...opts, optimizedModelFilePath: `${out}/${name}.opt.onnx` });
  for (const f of readdirSync(out).filter((f) => f.startsWith(`prof_${name}`))) rmSync(`${out}/${f}`);
  sessions.push(await ort.InferenceSession.create(`${out}/${name}.onnx`, { ...opts, enableProfiling: true, profileFilePrefix: `${out}/prof_${name}` }));
}
// Interleaved, so that load from elsewhere on the machine hits both alike.
for (let i = 0; i < runs; i++) {
  for (const s of sessions) await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', img, [1, 3, 224, 224]) });
}
for (const [k, name] of names.entries()) {
  sessions[k]!.endProfiling();
  const file = `${out}/${readdirSync(out).find((f) => f.startsWith(`prof_${name}`))}`;
  const ev = JSON.parse(readFileSync(file, 'utf8')) as any[];
  rmSync(file);
  // Per-op-type time per run (µs), median over runs; per-node too.
  const byRun = new Map<string, Record<string, number>>();
  const byNode = new Map<string, { op: string; shape: unknown; durs: number[] }>();
  let run = -1;
  for (const e of ev) {
    if (e.cat === 'Session' && e.name === 'model_run') run++;
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args.op_name;
    const key = `${run}`;
    if (!byRun.has(key)) byRun.set(key, {});
    const r = byRun.get(key)!;
    r[op] = (r[op] ?? 0) + e.dur;
    const nn = e.name.replace(/_kernel_time$/, '');
    if (!byNode.has(nn)) byNode.set(nn, { op, shape: e.args.input_type_shape, durs: [] });
    byNode.get(nn)!.durs.push(e.dur);
  }
  const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1] ?? 0; };
  const runsArr = [...byRun.values()].slice(10);
  const ops = new Set(runsArr.flatMap((r) => Object.keys(r)));
  const perOp: Record<string, number> = {};
  for (const op of ops) perOp[op] = med(runsArr.map((r) => r[op] ?? 0));
  const total = med(runsArr.map((r) => Object.values(r).reduce((a, b) => a + b, 0)));
  const nodes = [...byNode.entries()].map(([n, v]) => ({ n, op: v.op, shape: v.shape, us: med(v.durs.slice(10)) }));
  writeFileSync(`${out}/${name}.nodes.json`, JSON.stringify(nodes, null, 1));
  res[name] = { graph: counts(`${out}/${name}.onnx`), optimized: counts(`${out}/${name}.opt.onnx`), kernelUs: total, perOp };
}
const allOps = [...new Set([...Object.keys(res['ours'].perOp), ...Object.keys(res['timm'].perOp)])].sort((a, b) => (res['ours'].perOp[b] ?? 0) - (res['ours'].perOp[a] ?? 0));
o.log(`kernel µs/run (median): ours ${res['ours'].kernelUs.toFixed(0)}  timm ${res['timm'].kernelUs.toFixed(0)}\n`);
o.log(`nodes: ours ${res['ours'].graph.total} → optimized ${res['ours'].optimized.total}; timm ${res['timm'].graph.total} → optimized ${res['timm'].optimized.total}\n`);
o.log(`${'op'.padEnd(28)} ${'ours µs'.padStart(8)} ${'timm µs'.padStart(8)} ${'ours n'.padStart(7)} ${'timm n'.padStart(7)}\n`);
for (const op of allOps) {
  const on = Object.entries(res['ours'].optimized.c as Record<string, number>).filter(([k]) => k.endsWith(`::${op}`) || k === op).reduce((a, [, v]) => a + v, 0);
  const tn = Object.entries(res['timm'].optimized.c as Record<string, number>).filter(([k]) => k.endsWith(`::${op}`) || k === op).reduce((a, [, v]) => a + v, 0);
  o.log(`${op.padEnd(28)} ${(res['ours'].perOp[op] ?? 0).toFixed(0).padStart(8)} ${(res['timm'].perOp[op] ?? 0).toFixed(0).padStart(8)} ${String(on).padStart(7)} ${String(tn).padStart(7)}\n`);
}
writeFileSync(`${out}/summary.json`, JSON.stringify(res, null, 1));
return {
  suite: 'vision-profile',
  metrics: { ours_kernel_us: res['ours'].kernelUs, timm_kernel_us: res['timm'].kernelUs, ours_optimized_nodes: res['ours'].optimized.total, timm_optimized_nodes: res['timm'].optimized.total },
  out,
};
  },
};
