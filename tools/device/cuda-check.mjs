#!/usr/bin/env node
// On the GPU machine (ORT's CUDA EP staged, see README.md beside this file): runs what leanformer emits for
// `ort-cuda` on the CUDA EP and on the CPU EP with the same bytes and feeds, and prints one JSON object:
// per case the EP that ran it, ORT's fallbacks, the nodes no CUDA kernel domain covers, the nodes ORT's
// profiler saw run outside the CUDA EP (placement), and the output
// difference from CPU. Cases: the builder decoder quantized by each method (MatMulNBits 4/8-bit,
// GatherBlockQuantized, the NF4 codebook form, QServe, fp16 weights), fp16 compute, every attention
// pattern in each form (op / masked / blocked, MHA and GQA head counts), the PEFT graphs (LoRA hot-swap,
// PaCA export, WeLore; @leanformer/peft loads runtime-tfjs, so the runtime bundle needs
// @tensorflow/tfjs-core), EfficientViT-M0 and FasterNet-T0 in fp32 and fp16 compute, and a tiny Hugging
// Face Llama converted to int4 GPTQ for ort-cuda and decoded greedily on both EPs.
//   node tools/device/cuda-check.mjs > $OUT/cuda-check.json
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cloneGraph, computePrecisionPass, cosine, float32Ops, maxAbsDiff, parseTarget, Tensor, transformerDecoder } from '@leanformer/core';
import { loadModel, saveModel } from '@leanformer/onnx/node';
import { encodeModel, lowerToOnnx, nodesOutsideEp } from '@leanformer/onnx';
import { quantizeModel, randomCalibrationFeeds } from '@leanformer/quant';
import { attentionLayerGraph } from '@leanformer/attention';
import { efficientvit, fasternet } from '@leanformer/vision';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { generate } from '@leanformer/models';
import { convertCheckpoint, loadPretrained } from '@leanformer/models/node';

// CUDA_CHECK_EP=cpu runs the script end to end on a machine without CUDA (a dry run of the cases).
const cuda = createOrtBackend({ eps: [process.env.CUDA_CHECK_EP ?? 'cuda'], placement: true });
const cpu = createOrtBackend({ eps: ['cpu'] });
const target = parseTarget('ort-cuda');
const out = { device: 'ort-cuda vs ort-cpu, same ONNX bytes and feeds', cases: {} };

// `cpuGraph`: what the CPU EP runs instead (bf16 compute: ORT CPU has no bfloat16 kernels for most ops,
// so those cases compare with the fp32 graph on the CPU).
async function compare(name, graph, feeds, cpuGraph) {
  const lowered = lowerToOnnx(graph, target);
  const bytes = encodeModel(lowered);
  const row = { outsideCudaByDomain: nodesOutsideEp(lowered, 'cuda').map((n) => `${n.domain || 'ai.onnx'}::${n.op}`) };
  if (cpuGraph) row.cpuRuns = 'the fp32 graph';
  try {
    const [a, b] = [await cuda.createExecutorFromBytes(bytes), await cpu.createExecutorFromBytes(cpuGraph ? encodeModel(lowerToOnnx(cpuGraph, target)) : bytes)];
    row.ep = a.info.device;
    row.fallbacks = a.info.fallbacks.map((f) => `${f.ep}: ${f.reason}`.slice(0, 300));
    const ya = await a.run(feeds), yb = await b.run(feeds);
    // ORT's own per-node placement (its profiler): every node that ran outside the CUDA EP, by name and op.
    const p = a.placement();
    row.placement = { nodes: p.nodes, byProvider: p.byProvider, outside: p.outside.map((n) => `${n.name} (${n.op}) on ${n.provider}`) };
    const k = a.outputNames.find((n) => ya[n]?.dtype.name.startsWith('float')) ?? a.outputNames[0];
    row.output = k;
    const [x, y] = [ya[k].toFloat32(), yb[k].toFloat32()];
    row.maxAbsDiffVsCpu = maxAbsDiff(x, y);
    row.cosineVsCpu = cosine(x, y);
    await a.dispose(); await b.dispose();
  } catch (e) { row.error = String(e?.message ?? e).slice(0, 500); }
  out.cases[name] = row;
}

/** The first 16 greedy tokens of a converted folder on `backend`, with the EP that ran them and, where the
 * backend reports placement, the nodes ORT ran outside it. */
async function greedy16(conv, backend, promptIds) {
  const m = await loadPretrained(conv, { backend });
  try {
    const ids = [];
    for await (const t of generate(m, m.tokenizer, { promptIds, maxNewTokens: 16, stopAtEos: false })) ids.push(t.id);
    const p = backend === cuda ? m.executor.placement?.() : undefined; // only the cuda backend has ORT's profiler on
    return { ep: m.executor.info.device, ids, ...(p ? { outside: p.outside.map((n) => `${n.name} (${n.op}) on ${n.provider}`) } : {}) };
  } finally { await m.dispose(); }
}

/** `got` beside transformers' fp32 greedy tokens: the index of the first difference (null: none). */
function againstReference(got, want) {
  const i = got.findIndex((t, j) => t !== want[j]);
  return { ids: got, transformersFp32: want, firstDifference: i < 0 ? null : i };
}

const model = transformerDecoder({ vocabSize: 512, hidden: 128, layers: 2, heads: 4, kvHeads: 2, ffn: 256, seed: 3 });
const feeds = { input_ids: Tensor.from('int64', [1, 16], Array.from({ length: 16 }, (_, i) => BigInt((i * 37 + 5) % 512))) };
await compare('fp32', model, feeds);
const calibration = { backend: cpu, feeds: randomCalibrationFeeds(model, 4) };
for (const [name, o] of [
  ['rtn4', { method: 'rtn', bits: 4 }], ['rtn8', { method: 'rtn', bits: 8, blockSize: 0 }], ['rtn4-sym', { method: 'rtn', bits: 4, symmetric: true }],
  ['hqq4', { method: 'hqq', bits: 4 }], ['gptq4', { method: 'gptq', bits: 4, calibration }], ['awq4', { method: 'awq', bits: 4, calibration }],
  ['nf4', { method: 'nf4' }], ['rtn4-edge4 (GatherBlockQuantized)', { method: 'rtn', bits: 4, edgeBits: 4 }], ['qserve', { method: 'qserve' }], ['fp16-weights', { method: 'fp16' }],
]) {
  const { graph } = await quantizeModel(model, { ...o, target: 'ort-cuda' });
  await compare(name, graph, feeds);
}
const S = 1024, H = 8, D = 64;
const qkv = (seed) => Tensor.from('float32', [1, S, H * D], Array.from({ length: S * H * D }, (_, i) => Math.sin(i * 0.37 + seed)));
await compare('attention window 256, fp32 (S=1024)', attentionLayerGraph({ seq: S, heads: H, headDim: D, pattern: { kind: 'window', window: 256 } }), { q: qkv(1), k: qkv(2), v: qkv(3) });

// 16-bit compute (what convert --target ort-cuda emits by default): the decoder in fp16, and int4 RTN with fp16 activations.
const fp16 = (g) => computePrecisionPass({ precision: 'fp16', keep: [...g.inputs, ...g.outputs].map((v) => v.name) }).run(cloneGraph(g), {}).graph; // the pass edits its graph
await compare('fp32 graph in fp16 compute', fp16(model), feeds);
await compare('rtn4 in fp16 compute', fp16((await quantizeModel(model, { method: 'rtn', bits: 4, target: 'ort-cuda' })).graph), feeds);
// bf16 compute (convert --precision bf16 --target ort-cuda). First the probe that fills core's ep-facts
// FLOAT32_OPS: convert a graph to bf16 keeping the ops found so far in float32, create a CUDA session, and
// add the op ORT names in "Could not find an implementation for <Op>(<ver>)" until the session loads.
const io = (g) => [...g.inputs, ...g.outputs].map((v) => v.name);
async function bf16Probe(name, graph, keep) {
  const missing = [...float32Ops(target, 'bf16')];
  for (let i = 0; i < 16; i++) {
    const g = computePrecisionPass({ precision: 'bf16', keep, float32Ops: missing }).run(cloneGraph(graph), {}).graph;
    try {
      const e = await cuda.createExecutorFromBytes(encodeModel(lowerToOnnx(g, target)));
      await e.dispose();
      return (out.bf16Probe[name] = { float32Ops: missing });
    } catch (err) {
      const msg = String(err?.message ?? err);
      const m = /implementation for (\w+)\(/.exec(msg);
      if (!m || missing.includes(m[1])) return (out.bf16Probe[name] = { float32Ops: missing, error: msg.slice(0, 400) });
      missing.push(m[1]);
    }
  }
  return (out.bf16Probe[name] = { float32Ops: missing, error: 'gave up after 16 ops' });
}
out.bf16Probe = {};
const probed = await bf16Probe('builder decoder', model, io(model));
const bf16 = (g) => computePrecisionPass({ precision: 'bf16', keep: io(g), float32Ops: probed.float32Ops }).run(cloneGraph(g), {}).graph;
await compare('fp32 graph in bf16 compute (CPU: fp32)', bf16(model), feeds, model);
{
  const q = (await quantizeModel(model, { method: 'rtn', bits: 4, target: 'ort-cuda' })).graph;
  await compare('rtn4 in bf16 compute (CPU: rtn4 fp32)', bf16(q), feeds, q);
}

// Every attention pattern in each form the attention package emits ('op' = leanformer.Attention lowered by
// the capability table; 'masked' / 'blocked' = its standard-op decompositions), S = 256, 8 heads × 64, GQA 8/2.
const S2 = 256;
const qkv2 = (seed, heads) => Tensor.from('float32', [1, S2, heads * D], Array.from({ length: S2 * heads * D }, (_, i) => Math.sin(i * 0.37 + seed)));
for (const [pn, pattern] of [
  ['dense', { kind: 'dense' }], ['window 64', { kind: 'window', window: 64 }], ['sinks-window 4+60', { kind: 'sinks-window', sinks: 4, window: 60 }],
  ['block-sparse 16/2/4', { kind: 'block-sparse', blockSize: 16, localBlocks: 2, verticalStride: 4 }],
  ['moa', { kind: 'moa', spans: Array.from({ length: H }, (_, h) => ({ alpha: 16 * (h + 1), beta: 0.125 })) }],
]) {
  for (const form of ['op', 'masked', 'blocked']) {
    for (const kvHeads of [H, 2]) {
      const name = `attention ${pn}, ${form}, ${H}/${kvHeads} heads`;
      let g;
      try { g = attentionLayerGraph({ seq: S2, heads: H, kvHeads, headDim: D, pattern, form }); } catch (e) { out.cases[name] = { notEmitted: String(e?.message ?? e).slice(0, 200) }; continue; }
      await compare(name, g, { q: qkv2(1, H), k: qkv2(2, kvHeads), v: qkv2(3, kvHeads) });
    }
  }
}

// PEFT graphs: the LoRA hot-swap graph (A/B as inputs), a PaCA export, a WeLore-compressed model.
const peft = await import('@leanformer/peft').catch((e) => { out.cases['PEFT graphs'] = { error: `@leanformer/peft not loadable here: ${String(e?.message ?? e).slice(0, 200)}` }; return undefined; });
if (peft) {
  const { exportPaca, injectPaca, loraHotSwapGraph, selectPartialConnections, weloreCompress } = peft;
  const { graph: swap, slots } = loraHotSwapGraph(model, 'all-linear');
  const ab = {};
  slots.forEach((s, i) => {
    ab[s.inputA] = Tensor.from('float32', [s.inFeatures, 4], Array.from({ length: s.inFeatures * 4 }, (_, j) => Math.sin(j * 0.11 + i) * 0.05));
    ab[s.inputB] = Tensor.from('float32', [4, s.outFeatures], Array.from({ length: 4 * s.outFeatures }, (_, j) => Math.cos(j * 0.07 + i) * 0.05));
  });
  await compare(`LoRA hot-swap graph (${slots.length} slots, rank 4)`, swap, { ...feeds, ...ab });
  const sel = selectPartialConnections(model, { targetModules: 'all-linear', ratio: 0.1, seed: 0 });
  await compare('PaCA export', exportPaca(injectPaca(model, sel).graph), feeds);
  await compare('WeLore compressed (50%)', weloreCompress(model, { targetModules: 'all-linear', compression: 0.5 }).graph, feeds);
}

// Vision models, fp32 and fp16 compute.
{
  const img = Tensor.from('float32', [1, 3, 224, 224], Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.013)));
  for (const [name, m] of [['EfficientViT-M0', efficientvit('m0', { numClasses: 10, seed: 0 })], ['FasterNet-T0', fasternet('t0', { numClasses: 10, seed: 0 })]]) {
    const input = m.graph.inputs[0].name;
    await compare(`${name} fp32`, m.graph, { [input]: img });
    await compare(`${name} fp16 compute`, fp16(m.graph), { [input]: img });
  }
}

// A Hugging Face checkpoint converted for ort-cuda, decoded greedily on both EPs.
const dir = mkdtempSync(join(tmpdir(), 'lf-cuda-'));
try {
  const conv = join(dir, 'llama-int4');
  await convertCheckpoint('packages/models/fixtures/llama', conv, { precision: 'int4', method: 'gptq', target: 'ort-cuda' });
  const [a, b] = [await greedy16(conv, cuda, [1, 20, 30, 40]), await greedy16(conv, cpu, [1, 20, 30, 40])];
  out.cases['tiny HF llama, convert int4 gptq --target ort-cuda, 16 greedy tokens'] = { ep: a.ep, cuda: a.ids, cpu: b.ids, identical: JSON.stringify(a.ids) === JSON.stringify(b.ids) };
} catch (e) {
  out.cases['tiny HF llama, convert int4 gptq --target ort-cuda, 16 greedy tokens'] = { error: String(e?.message ?? e).slice(0, 500) };
}
// The trained tiny Llama (fixtures/llama-trained) converted for ort-cuda in each precision, decoded greedily
// on CUDA; the reference is transformers' fp32 greedy continuation of the fixture's prompt (reference.json).
try {
  const ref = JSON.parse(readFileSync('packages/models/fixtures/llama-trained/reference.json', 'utf8'));
  // bf16 through the probe: the fp32 conversion (fp32 compute) narrowed with the ops the probe found,
  // written back into a converted folder that says compute bf16.
  {
    const name = 'trained tiny HF llama, bf16 compute (probed float32 ops), 16 greedy tokens';
    try {
      const conv = join(dir, 'trained-bf16-probed');
      await convertCheckpoint('packages/models/fixtures/llama-trained', conv, { precision: 'bf16', compute: 'fp32', target: 'ort-cuda' });
      const g = await loadModel(join(conv, 'model.onnx'));
      const keep = [...g.inputs, ...g.outputs].map((v) => v.name).filter((n) => n === 'logits' || /^(past|present)_(key|value)_\d+$/.test(n));
      const probe = await bf16Probe('trained tiny HF llama', g, keep);
      await saveModel(computePrecisionPass({ precision: 'bf16', keep, float32Ops: probe.float32Ops }).run(g, {}).graph, join(conv, 'model.onnx'));
      const info = JSON.parse(readFileSync(join(conv, 'leanformer.json'), 'utf8'));
      writeFileSync(join(conv, 'leanformer.json'), JSON.stringify({ ...info, compute: 'bf16' }));
      const r = await greedy16(conv, cuda, ref.promptIds);
      out.cases[name] = { ep: r.ep, float32Ops: probe.float32Ops, ...againstReference(r.ids, ref.greedyIds.slice(0, 16)), ...(r.outside ? { outside: r.outside } : {}) };
    } catch (e) { out.cases[name] = { error: String(e?.message ?? e).slice(0, 500) }; }
  }
  for (const precision of ['fp32', 'fp16', 'bf16', 'int8', 'int4']) {
    const name = `trained tiny HF llama, convert --precision ${precision} --target ort-cuda, 16 greedy tokens`;
    try {
      const conv = join(dir, `trained-${precision}`);
      const r = await convertCheckpoint('packages/models/fixtures/llama-trained', conv, { precision, target: 'ort-cuda', ...(precision === 'int4' ? { method: 'gptq' } : {}) });
      const d = await greedy16(conv, cuda, ref.promptIds);
      out.cases[name] = { ep: d.ep, compute: r.compute, ...againstReference(d.ids, ref.greedyIds.slice(0, 16)) };
    } catch (e) { out.cases[name] = { error: String(e?.message ?? e).slice(0, 500) }; }
  }
} finally { rmSync(dir, { recursive: true, force: true }); }
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
