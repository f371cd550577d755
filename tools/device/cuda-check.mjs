#!/usr/bin/env node
// On the GPU machine (ORT's CUDA EP staged, see README.md beside this file): runs what leanformer emits for
// `ort-cuda` on the CUDA EP and on the CPU EP with the same bytes and feeds, and prints one JSON object:
// per case the EP that ran it, ORT's fallbacks, the nodes no CUDA kernel domain covers, the nodes ORT's
// profiler saw run outside the CUDA EP (placement), and the output
// difference from CPU. Cases: the builder decoder quantized by each method (MatMulNBits 4/8-bit,
// GatherBlockQuantized, the NF4 codebook form), a window-attention layer, and a tiny Hugging Face Llama
// converted to int4 GPTQ for ort-cuda and decoded greedily on both EPs.
//   node tools/device/cuda-check.mjs > $OUT/cuda-check.json
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cosine, maxAbsDiff, parseTarget, Tensor, transformerDecoder } from '@leanformer/core';
import { encodeModel, lowerToOnnx, nodesOutsideEp } from '@leanformer/onnx';
import { quantizeModel, randomCalibrationFeeds } from '@leanformer/quant';
import { attentionLayerGraph } from '@leanformer/attention';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { generate } from '@leanformer/models';
import { convertCheckpoint, loadPretrained } from '@leanformer/models/node';

const cuda = createOrtBackend({ eps: ['cuda'], placement: true });
const cpu = createOrtBackend({ eps: ['cpu'] });
const target = parseTarget('ort-cuda');
const out = { device: 'ort-cuda vs ort-cpu, same ONNX bytes and feeds', cases: {} };

async function compare(name, graph, feeds) {
  const lowered = lowerToOnnx(graph, target);
  const bytes = encodeModel(lowered);
  const row = { outsideCudaByDomain: nodesOutsideEp(lowered, 'cuda').map((n) => `${n.domain || 'ai.onnx'}::${n.op}`) };
  try {
    const [a, b] = [await cuda.createExecutorFromBytes(bytes), await cpu.createExecutorFromBytes(bytes)];
    row.ep = a.info.device;
    row.fallbacks = a.info.fallbacks.map((f) => `${f.ep}: ${f.reason}`.slice(0, 300));
    const ya = await a.run(feeds), yb = await b.run(feeds);
    // ORT's own per-node placement (its profiler): every node that ran outside the CUDA EP, by name and op.
    const p = a.placement();
    row.placement = { nodes: p.nodes, byProvider: p.byProvider, outside: p.outside.map((n) => `${n.name} (${n.op}) on ${n.provider}`) };
    const k = a.outputNames[0];
    const [x, y] = [ya[k].toFloat32(), yb[k].toFloat32()];
    row.maxAbsDiffVsCpu = maxAbsDiff(x, y);
    row.cosineVsCpu = cosine(x, y);
    await a.dispose(); await b.dispose();
  } catch (e) { row.error = String(e?.message ?? e).slice(0, 500); }
  out.cases[name] = row;
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

// A Hugging Face checkpoint converted for ort-cuda, decoded greedily on both EPs.
const dir = mkdtempSync(join(tmpdir(), 'lf-cuda-'));
try {
  const conv = join(dir, 'llama-int4');
  await convertCheckpoint('packages/models/fixtures/llama', conv, { precision: 'int4', method: 'gptq', target: 'ort-cuda' });
  const ids = {};
  for (const [ep, backend] of [['cuda', cuda], ['cpu', cpu]]) {
    const m = await loadPretrained(conv, { backend });
    const got = [];
    for await (const t of generate(m, m.tokenizer, { promptIds: [1, 20, 30, 40], maxNewTokens: 16, stopAtEos: false })) got.push(t.id);
    ids[ep] = got;
    if (ep === 'cuda') ids.cudaEp = m.executor.info.device;
    await m.dispose();
  }
  out.cases['tiny HF llama, convert int4 gptq --target ort-cuda, 16 greedy tokens'] = { ep: ids.cudaEp, cuda: ids.cuda, cpu: ids.cpu, identical: JSON.stringify(ids.cuda) === JSON.stringify(ids.cpu) };
} catch (e) {
  out.cases['tiny HF llama, convert int4 gptq --target ort-cuda, 16 greedy tokens'] = { error: String(e?.message ?? e).slice(0, 500) };
} finally { rmSync(dir, { recursive: true, force: true }); }
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
