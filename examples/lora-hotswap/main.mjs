// LoRA hot-swapping: fine-tune a LoRA adapter on a small decoder (tfjs-cpu autograd, the built-in
// instruction task; seeded, no downloads), add two more adapters (a second one of another rank and
// their 50/50 combination), then serve all three — and the base model — from ONE onnxruntime-node
// session whose adapter weights are graph inputs fed per request. Each adapter's output is checked
// against its merged model (W + s·A·B folded into the weights, compiled separately), and the time
// of a request that switches adapter is compared with a request to a merged model.
//
//   npm run example:lora-hotswap       # or, after a build: node examples/lora-hotswap/main.mjs
import { Tensor, rng, transformerDecoder } from '@leanformer/core';
import { LoraHotSwap, combineAdapters, createLoraAdapter, finetune, mergeLora, syntheticInstructionTask } from '@leanformer/peft';
import { createOrtBackend } from '@leanformer/runtime-ort/node';

const STEPS = 20; // LoRA training steps (tfjs-cpu)
const TOL = 1e-5; // max |Δ logits| between the hot-swapped adapter and its merged model
const config = { vocabSize: 32, hidden: 64, layers: 2, heads: 4, ffn: 128, seed: 0 };
const base = transformerDecoder(config);
const data = syntheticInstructionTask({ vocab: 32, seqLen: 16, batch: 8, seed: 0 });
const held = syntheticInstructionTask({ vocab: 32, seqLen: 16, batch: 8, seed: 1 });
const maxAbsDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// 1. A trained adapter: LoRA r = 8 on all 7 projections of both layers.
const tuned = await finetune(base, { method: 'lora', data, evalData: held, steps: STEPS, lora: { r: 8, name: 'tuned' } });
console.log(`fine-tuned LoRA 'tuned' (r 8, ${tuned.trainableParams} trainable parameters, ${STEPS} steps on tfjs-cpu, ${median(tuned.stepMs).toFixed(0)} ms/step): held-out loss ${tuned.evalLossBefore.toFixed(3)} → ${tuned.evalLossAfter.toFixed(3)}`);
if (!(tuned.evalLossAfter < tuned.evalLossBefore)) throw new Error('LoRA fine-tuning did not lower the held-out loss');

// 2. A second adapter of rank 4 (PEFT init leaves B = 0, i.e. no change: give B seeded values so it does something),
//    and the exact 50/50 combination of the two (concatenated along the rank).
const init = createLoraAdapter(base, { r: 4, alpha: 8, targetModules: 'all-linear', seed: 1 }, 'other');
const r = rng(2);
const other = { ...init, modules: new Map([...init.modules].map(([m, w]) => [m, { ...w, B: r.normalTensor(w.B.shape, 0.05) }])) };
const mix = combineAdapters([tuned.adapter, other], [0.5, 0.5], 'mix');
const adapters = [tuned.adapter, other, mix];

// 3. One session for all of them.
const backend = createOrtBackend({ eps: ['cpu'], intraOpNumThreads: 2 });
const swap = await LoraHotSwap.create(base, backend, { targetModules: 'all-linear' });
for (const a of adapters) swap.add(a);
console.log(`hot-swap session on ORT ${swap.executor.info.device}: ${swap.slots.length} adapter slots, adapters [${swap.adapters.join(', ')}] + base (null)`);

const feeds = { input_ids: held(0, 0).input_ids };
const merged = {};
for (const a of adapters) merged[a.name] = await backend.compile(mergeLora(base, a));
merged.base = await backend.compile(base);
const want = {};
for (const [name, exe] of Object.entries(merged)) want[name] = (await exe.run(feeds)).logits.toFloat32();

for (const name of [...adapters.map((a) => a.name), null]) {
  const got = (await swap.run(feeds, name)).logits.toFloat32();
  const key = name ?? 'base';
  const d = maxAbsDiff(got, want[key]);
  const moved = maxAbsDiff(want[key], want.base);
  console.log(`  ${key.padEnd(5)}: hot-swapped vs merged max |Δ logits| ${d.toExponential(2)} (tolerance ${TOL})${name === null ? '' : `; the adapter moves the logits by up to ${moved.toFixed(3)}`}`);
  if (!(d <= TOL)) throw new Error(`adapter '${key}': hot-swap and merged model differ by ${d}`);
  if (name !== null && !(moved > 1e-3)) throw new Error(`adapter '${key}' does not change the model`);
}

// 4. Timing: requests that switch adapter every time vs requests to one merged model.
const order = ['tuned', 'other', 'mix', null];
for (let i = 0; i < 8; i++) await swap.run(feeds, order[i % 4]); // warm-up
const swapMs = [];
for (let i = 0; i < 60; i++) {
  const t = performance.now();
  await swap.run(feeds, order[i % 4]);
  swapMs.push(performance.now() - t);
}
const mergedMs = [];
for (let i = 0; i < 60; i++) {
  const t = performance.now();
  await merged.tuned.run(feeds);
  mergedMs.push(performance.now() - t);
}
const [b, s] = feeds.input_ids.shape;
console.log(`request [${b}×${s} tokens] switching adapter every time: ${median(swapMs).toFixed(2)} ms (median of 60); merged model: ${median(mergedMs).toFixed(2)} ms`);
for (const exe of Object.values(merged)) await exe.dispose();
await swap.dispose();
console.log(`Summary: ${adapters.length} adapters + base served from one ORT session, each equal to its merged model within ${TOL}; hot-swap request ${median(swapMs).toFixed(2)} ms vs ${median(mergedMs).toFixed(2)} ms merged.`);
