// Build a model with the builder: compose a small LLaMA-style decoder from leanformer's blocks
// (embedding → 2 × decoderLayer with GQA + RoPE + SwiGLU → RMSNorm → LM head), save it as ONNX
// with external data, load it back, and greedily decode a few tokens on ONNX Runtime CPU.
// Seeded weights, no downloads.
//
//   npm run example:build-model        # or, after a build: node examples/build-model/main.mjs
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, Tensor, analyzeGraph, decoderLayer, rng } from '@leanformer/core';
import { loadModel, saveModel } from '@leanformer/onnx/node';
import { createOrtBackend } from '@leanformer/runtime-ort/node';

const cfg = { vocab: 256, hidden: 96, layers: 2, heads: 6, kvHeads: 2, ffn: 256, seed: 11 };

/** The decoder, block by block: each block is a function (builder, input, config) → output. */
function buildDecoder() {
  const b = new GraphBuilder('tiny_llama');
  const r = rng(cfg.seed);
  const ids = b.input('input_ids', 'int64', ['batch', 'seq']);
  let h = b.gather(b.param('embed_tokens.weight', r.normalTensor([cfg.vocab, cfg.hidden], 0.02)), ids, 0);
  const shared = {}; // one causal mask and one RoPE table for all layers
  for (let i = 0; i < cfg.layers; i++) {
    h = decoderLayer(b, h, {
      prefix: `layers.${i}`, rng: r, hidden: cfg.hidden, heads: cfg.heads, kvHeads: cfg.kvHeads, ffn: cfg.ffn,
      norm: 'rms', mlp: 'swiglu', rope: true, causal: true, shared,
    });
  }
  h = b.rmsNorm(h, b.param('norm.weight', Tensor.from('float32', [cfg.hidden], new Array(cfg.hidden).fill(1))), { epsilon: 1e-6 });
  b.output(b.matmul(h, b.param('lm_head.weight', r.normalTensor([cfg.hidden, cfg.vocab], 0.02))), 'logits');
  return b.build();
}

const t0 = performance.now();
const graph = buildDecoder();
const cost = analyzeGraph(graph, { dims: { batch: 1, seq: 8 } });
console.log(`built '${graph.name}' in ${(performance.now() - t0).toFixed(0)} ms: ${graph.nodes.length} nodes, ${(cost.params / 1e6).toFixed(3)} M parameters`);
const out0 = graph.outputs[0];
console.log(`  output ${out0.name}: ${out0.dtype.name}[${out0.shape.join(', ')}] (shapes inferred while building)`);

// Save with external data (weights beside the model, as large models are stored) and load it back.
const dir = mkdtempSync(join(tmpdir(), 'lf-build-model-'));
try {
  const file = join(dir, 'tiny_llama.onnx');
  await saveModel(graph, file, { externalData: { sizeThreshold: 1024 } });
  console.log(`saved ${file}: model ${statSync(file).size} B + data ${statSync(`${file}.data`).size} B`);
  const loaded = await loadModel(file);

  // Greedy decoding on ORT CPU (full recompute per step: the simplest correct loop).
  const backend = createOrtBackend({ eps: ['cpu'], intraOpNumThreads: 2 });
  const exe = await backend.compile(loaded);
  const tokens = [1, 42, 7];
  const t1 = performance.now();
  for (let step = 0; step < 6; step++) {
    const out = await exe.run({ input_ids: Tensor.from('int64', [1, tokens.length], tokens.map(BigInt)) });
    const logits = out.logits.toFloat32();
    if (!logits.every(Number.isFinite)) throw new Error('non-finite logits');
    const last = logits.subarray((tokens.length - 1) * cfg.vocab, tokens.length * cfg.vocab);
    let best = 0;
    for (let v = 1; v < cfg.vocab; v++) if (last[v] > last[best]) best = v;
    tokens.push(best);
  }
  const ms = (performance.now() - t1) / 6;
  // The same seed builds the same model: a second build decodes the same first token.
  const again = await backend.compile(buildDecoder());
  const first = (await again.run({ input_ids: Tensor.from('int64', [1, 3], [1n, 42n, 7n]) })).logits.toFloat32().subarray(2 * cfg.vocab, 3 * cfg.vocab);
  const firstAgain = first.indexOf(Math.max(...first));
  if (firstAgain !== tokens[3]) throw new Error(`rebuilt model decoded ${firstAgain}, first run ${tokens[3]}`);
  console.log(`decoded on ORT ${exe.info.device}: [${tokens.join(', ')}] (${ms.toFixed(1)} ms/step; a rebuild with the same seed agrees)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
