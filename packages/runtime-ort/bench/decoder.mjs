#!/usr/bin/env node
// Benchmark: a seeded transformer decoder run through the IR (lowered per EP) vs the same model's plain
// export run as-is (the peer), on the same EP preference, same feeds, same session options.
// Prints one JSON object. Needs a build (`npx nx run-many -t build`).
//
//   node packages/runtime-ort/bench/decoder.mjs [--eps cpu] [--threads 2] [--seq 64] [--repeat 20] [--hidden 256] [--layers 4]
//   GPU machine: node packages/runtime-ort/bench/decoder.mjs --eps cuda,cpu --seq 512
import { parseArgs } from 'node:util';
import { Tensor, transformerDecoder } from '@leanformer/core';
import { encodeModel } from '@leanformer/onnx';
import { createOrtBackend } from '@leanformer/runtime-ort/node';

const { values } = parseArgs({ options: {
  eps: { type: 'string', default: 'cpu' }, threads: { type: 'string', default: '0' },
  seq: { type: 'string', default: '64' }, repeat: { type: 'string', default: '20' },
  hidden: { type: 'string', default: '256' }, layers: { type: 'string', default: '4' },
} });
const hidden = Number(values.hidden);
const config = { vocabSize: 2048, hidden, layers: Number(values.layers), heads: hidden / 64, kvHeads: Math.max(1, hidden / 128), ffn: Math.round((hidden * 8) / 3 / 8) * 8, seed: 1 };
const seq = Number(values.seq), repeat = Number(values.repeat);
const threads = Number(values.threads);
const backend = createOrtBackend({ eps: values.eps.split(','), ...(threads ? { intraOpNumThreads: threads } : {}) });

const graph = transformerDecoder(config);
const feeds = { input_ids: Tensor.from('int64', [1, seq], Array.from({ length: seq }, (_, i) => BigInt((i * 37) % config.vocabSize))) };

async function measure(label, open) {
  const t0 = performance.now();
  const exe = await open();
  const compileMs = performance.now() - t0;
  const f0 = performance.now();
  const first = (await exe.run(feeds)).logits;
  const firstMs = performance.now() - f0;
  const times = [];
  for (let i = 0; i < repeat; i++) { const s = performance.now(); await exe.run(feeds); times.push(performance.now() - s); }
  times.sort((a, b) => a - b);
  const result = { label, device: exe.info.device, fallbacks: exe.info.fallbacks.map((f) => `${f.ep}: ${f.reason}`), compileMs, firstRunMs: firstMs,
    medianMs: times[times.length >> 1], minMs: times[0], maxMs: times[times.length - 1], meanMs: times.reduce((a, b) => a + b, 0) / times.length };
  await exe.dispose();
  return { result, logits: first.toFloat32() };
}

const ir = await measure('ir', () => backend.compile(graph));
const direct = await measure('direct', () => backend.createExecutorFromBytes(encodeModel(graph)));
let maxAbs = 0;
for (let i = 0; i < ir.logits.length; i++) maxAbs = Math.max(maxAbs, Math.abs(ir.logits[i] - direct.logits[i]));
console.log(JSON.stringify({ bench: 'runtime-ort/decoder', config, seq, repeat, eps: values.eps, threads: threads || 'default',
  ir: ir.result, direct: direct.result, irOverDirect: ir.result.medianMs / direct.result.medianMs, maxAbsDiff: maxAbs, node: process.version }, null, 2));
