#!/usr/bin/env node
// Which of tfjs-core's gradient definitions (bundled into runtime-tfjs's dist and registered against the
// user's tfjs-core) does fine-tuning actually reach? Wraps every registered gradient, runs two steps of each
// finetune method (lora, paca, welore, galore, full) on a small builder decoder, and prints the kernels whose
// gradients ran: the set hand-written gradients would have to cover to drop the bundled definitions.
//   node tools/tfjs/gradient-kernels.mjs     (after a build)
import '@leanformer/runtime-tfjs';
import { transformerDecoder } from '@leanformer/core';
import { finetune, syntheticInstructionTask } from '@leanformer/peft';

const registry = globalThis._tfGlobals.get('gradRegistry'); // tfjs-core keeps its registries on the global namespace
const used = new Set();
for (const [name, config] of registry) {
  const f = config.gradFunc;
  config.gradFunc = (...args) => { used.add(name); return f(...args); };
}
const task = { vocab: 24, seqLen: 11, batch: 8 };
for (const method of ['lora', 'paca', 'welore', 'galore', 'full']) {
  const model = transformerDecoder({ vocabSize: 24, hidden: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 64, seed: 0 });
  await finetune(model, { method, data: syntheticInstructionTask({ ...task, seed: 1 }), steps: 2, lora: { r: 4 }, paca: { ratio: 0.25 }, galore: { rank: 4, updateProjGap: 10 }, welore: { compression: 0.2 } });
}
console.log(JSON.stringify({ registered: registry.size, used: [...used].sort() }));
