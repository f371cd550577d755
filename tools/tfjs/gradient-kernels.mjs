#!/usr/bin/env node
// Which tfjs kernels does training differentiate through, and does runtime-tfjs define each one's gradient?
// Runs the cases of finetune-losses.mjs (5 finetune methods on a builder decoder, GPT-2 LoRA/full, BERT and
// ViT full training) with each of our gradients wrapped to note its kernel, then prints the kernels used and
// those of ours these runs never reach. A kernel without a gradient would fail the run with NOT_SUPPORTED
// naming it (tfjs-core registers none of its own).
//   node tools/tfjs/gradient-kernels.mjs     (after a build)
import * as tf from '@tensorflow/tfjs-core';
import { tfjsGradientKernels, useTfjsBackend } from '@leanformer/runtime-tfjs';
import { finetuneLosses } from './finetune-losses.mjs';

await useTfjsBackend('cpu'); // registers ours
const ours = tfjsGradientKernels();
const used = new Set();
for (const name of ours) {
  const config = tf.getGradient(name);
  const f = config.gradFunc;
  config.gradFunc = (...args) => { used.add(name); return f(...args); };
}
await finetuneLosses();
console.log(JSON.stringify({ ours: ours.length, used: [...used].sort(), unusedOfOurs: ours.filter((k) => !used.has(k)) }));
