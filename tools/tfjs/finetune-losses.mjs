#!/usr/bin/env node
// Training losses through tfjs autograd on small seeded models: 5 steps of every finetune method on a
// builder decoder, LoRA and full fine-tuning of the GPT-2 fixture (tanh GELU, LayerNorm, learned
// positions), and a few full-training steps of the BERT (erf GELU, attention mask) and ViT (Conv patch
// embedding) encoder fixtures. Deterministic (seeded weights and data, no dropout).
//
// packages/runtime-tfjs/fixtures/finetune-losses.json was written by this script on the build that still
// registered tfjs-core's own gradient definitions (the reference for runtime-tfjs's own gradients):
//   node tools/tfjs/finetune-losses.mjs --write   (after a build)
// test/tfjs-gradients.test.ts imports finetuneLosses() from source and compares against that file.
import { writeFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transformerDecoder } from '@leanformer/core';
import { buildCausalLM, buildEncoder, encoderOutputs, encoderRandomFeeds, readCheckpoint, readEncoderCheckpoint } from '@leanformer/models';
import { folderFiles } from '@leanformer/models/node';
import { finetune, syntheticInstructionTask } from '@leanformer/peft';
import { train } from '@leanformer/runtime-tfjs';

const MODELS = fileURLToPath(new URL('../../packages/models/fixtures/', import.meta.url));
export const FIXTURE = fileURLToPath(new URL('../../packages/runtime-tfjs/fixtures/finetune-losses.json', import.meta.url));
const STEPS = 5;
const METHOD_OPTIONS = { lora: { r: 4 }, paca: { ratio: 0.25 }, galore: { rank: 4, updateProjGap: 10 }, welore: { compression: 0.2 } };

/** Runs every case; returns `{ <case>: losses[] }`. */
export async function finetuneLosses() {
  const out = {};
  const task = { vocab: 24, seqLen: 11, batch: 8 };
  for (const method of ['lora', 'paca', 'welore', 'galore', 'full']) {
    const model = transformerDecoder({ vocabSize: 24, hidden: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 64, seed: 0 });
    const r = await finetune(model, { method, data: syntheticInstructionTask({ ...task, seed: 1 }), steps: STEPS, ...METHOD_OPTIONS });
    out[`decoder/${method}`] = r.losses;
  }

  // GPT-2: `tokens` [1, seq] → `logits`; the instruction task's rows, one per step, as `tokens`/`labels`.
  const gpt2 = readCheckpoint(folderFiles(`${MODELS}gpt2`));
  const rows = syntheticInstructionTask({ vocab: 24, seqLen: 11, batch: 1, seed: 2 });
  const data = (step, micro) => { const b = rows(step, micro); return { tokens: b.input_ids, labels: b.labels }; };
  for (const method of ['lora', 'full']) {
    const graph = buildCausalLM(gpt2.spec, gpt2.weights, { kvCache: false });
    const r = await finetune(graph, { method, data, steps: STEPS, ...METHOD_OPTIONS });
    out[`gpt2/${method}`] = r.losses;
  }

  // Encoders: every float weight trained against a fixed target of the last hidden state (mean squared error).
  for (const name of ['bert', 'vit']) {
    const ck = readEncoderCheckpoint(folderFiles(`${MODELS}encoders/${name}`));
    const graph = buildEncoder(ck.spec, ck.weights);
    const [feeds] = encoderRandomFeeds(ck.spec, { batches: 1, tokens: 8, seed: 3 });
    const output = encoderOutputs(ck.spec)[0];
    const r = await train(graph, {
      steps: 3, optimizer: { type: 'adamw', lr: 1e-2, weightDecay: 0 }, fetches: [output], data: () => feeds,
      loss: (outs, _batch, tf) => {
        const y = outs.get(output);
        const target = tf.sin(tf.reshape(tf.range(0, y.size, 1, 'float32'), y.shape));
        return tf.mean(tf.square(tf.sub(y, target)));
      },
    });
    out[`${name}/full`] = r.losses;
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = Date.now();
  const losses = await finetuneLosses();
  const body = { note: 'losses of tools/tfjs/finetune-losses.mjs on tfjs-cpu (float32); recorded with tfjs-core\'s own gradient definitions (@tensorflow/tfjs-core 4.22.0)', losses };
  if (process.argv.includes('--write')) {
    writeFileSync(`${FIXTURE}.tmp`, `${JSON.stringify(body, null, 2)}\n`);
    renameSync(`${FIXTURE}.tmp`, FIXTURE);
  }
  console.log(JSON.stringify({ seconds: (Date.now() - t0) / 1000, losses }));
}
