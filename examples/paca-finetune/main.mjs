// PaCA fine-tuning (Partial Connection Adaptation): train a random 1/8 of each linear layer's input
// connections (rows of W) in place, with no adapter layers, on the built-in instruction task (copy /
// reverse / increment; loss on the answer only; seeded, no downloads) through tfjs-cpu autograd.
// Prints the held-out loss before and after and checks that it went down; then checks the exported
// model: a plain decoder (no PaCA ops, the base model's parameter count) in which only the selected
// rows changed, and that ONNX Runtime CPU computes the same held-out loss from it.
//
//   npm run example:paca-finetune      # or, after a build: node examples/paca-finetune/main.mjs
import { analyzeGraph, transformerDecoder } from '@leanformer/core';
import { finetune, selectPartialConnections, syntheticInstructionTask } from '@leanformer/peft';
import { createOrtBackend } from '@leanformer/runtime-ort/node';

const STEPS = 20;
const RATIO = 1 / 8; // trained rows per matrix
const config = { vocabSize: 32, hidden: 64, layers: 2, heads: 4, ffn: 128, seed: 0 };
const base = transformerDecoder(config);
const data = syntheticInstructionTask({ vocab: 32, seqLen: 16, batch: 8, seed: 0 });
const held = syntheticInstructionTask({ vocab: 32, seqLen: 16, batch: 8, seed: 1 });
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const t0 = performance.now();
const r = await finetune(base, { method: 'paca', data, evalData: held, steps: STEPS, paca: { ratio: RATIO, seed: 0 } });
const seconds = (performance.now() - t0) / 1000;
const baseParams = analyzeGraph(base, { dims: { batch: 1, seq: 16 } }).params;
console.log(`PaCA on ${config.layers} layers × 7 projections, ${(RATIO * 100).toFixed(1)}% of input connections: ${r.trainableParams} trainable of ${baseParams} parameters (${(r.trainableParams / baseParams * 100).toFixed(1)}%)`);
console.log(`  ${STEPS} steps on tfjs-cpu in ${seconds.toFixed(1)} s (${median(r.stepMs).toFixed(0)} ms/step median); training loss ${r.losses[0].toFixed(3)} → ${r.losses.at(-1).toFixed(3)}`);
console.log(`  held-out loss (2 batches, another seed): ${r.evalLossBefore.toFixed(4)} → ${r.evalLossAfter.toFixed(4)}`);
if (!(r.evalLossAfter < r.evalLossBefore)) throw new Error(`held-out loss did not decrease: ${r.evalLossBefore} → ${r.evalLossAfter}`);

// The exported model is a plain decoder: no PaCA node, same parameter count as the base.
const tuned = r.graph;
const foreign = tuned.nodes.filter((n) => n.domain !== '');
if (foreign.length > 0) throw new Error(`exported model still has ${foreign.map((n) => n.op).join(', ')}`);
const tunedParams = analyzeGraph(tuned, { dims: { batch: 1, seq: 16 } }).params;
if (tunedParams !== baseParams) throw new Error(`exported model has ${tunedParams} parameters, base ${baseParams}`);

// Only the selected rows moved (the selection is seeded: the same call gives the same rows).
const selection = selectPartialConnections(base, { targetModules: 'all-linear', ratio: RATIO, seed: 0 });
let changedRows = 0;
let selectedRows = 0;
for (const [module, rows] of selection) {
  const name = `${module}.weight`;
  const before = base.initializers.get(name)?.const;
  const after = tuned.initializers.get(name)?.const;
  if (!before || !after) throw new Error(`no initializer '${name}' in the base or exported model`);
  const [inF, outF] = before.shape;
  const a = before.toFloat32();
  const b = after.toFloat32();
  const allowed = new Set(rows);
  selectedRows += rows.length;
  for (let i = 0; i < inF; i++) {
    let moved = false;
    for (let j = 0; j < outF && !moved; j++) moved = a[i * outF + j] !== b[i * outF + j];
    if (moved && !allowed.has(i)) throw new Error(`${name}: row ${i} changed but was not selected`);
    if (moved) changedRows++;
  }
}
console.log(`exported model: plain ONNX ops, ${tunedParams} parameters (= base); ${changedRows} of ${selectedRows} selected rows changed, no other row`);
if (changedRows === 0) throw new Error('no weight row changed');

// ONNX Runtime computes the same held-out loss from the exported model.
const exe = await createOrtBackend({ eps: ['cpu'], intraOpNumThreads: 2 }).compile(tuned);
let sum = 0;
let count = 0;
for (let s = 0; s < 2; s++) {
  const batch = held(s, 0);
  const z = (await exe.run({ input_ids: batch.input_ids })).logits.toFloat32();
  const y = batch.labels.toArray().map(Number);
  const V = config.vocabSize;
  for (let i = 0; i < y.length; i++) {
    if (y[i] === -100) continue;
    let mx = -Infinity;
    for (let j = 0; j < V; j++) mx = Math.max(mx, z[i * V + j]);
    let se = 0;
    for (let j = 0; j < V; j++) se += Math.exp(z[i * V + j] - mx);
    sum += Math.log(se) + mx - z[i * V + y[i]];
    count++;
  }
}
await exe.dispose();
const ortLoss = sum / count;
console.log(`ORT ${exe.info.device} held-out loss of the exported model: ${ortLoss.toFixed(4)} (tfjs: ${r.evalLossAfter.toFixed(4)})`);
if (!(Math.abs(ortLoss - r.evalLossAfter) < 1e-4)) throw new Error(`ORT loss ${ortLoss} differs from tfjs ${r.evalLossAfter}`);
console.log(`Summary: PaCA trained ${(r.trainableParams / baseParams * 100).toFixed(1)}% of the weights in place for ${STEPS} steps; held-out loss ${r.evalLossBefore.toFixed(3)} → ${r.evalLossAfter.toFixed(3)}, deployable as the plain model.`);
