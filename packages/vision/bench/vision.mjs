#!/usr/bin/env node
// Vision benchmark: our EfficientViT-M0 graph vs timm's own ONNX export on the same ONNX Runtime
// (same EP, same threads), SqueezeTime vs a same-width 3-D conv net, HiRED 20% token keep on
// ViT-Tiny, GPUSQ-ViT logit cosine. Prints one JSON object { suite, metrics, notes }.
// Needs a build (`npx nx run-many -t build`) and, for the timm peer, the fixtures made by
// packages/vision/fixtures/make_timm_fixtures.py.
//
//   node packages/vision/bench/vision.mjs [--quick] [--threads 2] [--runs 200] [--seeded]
//   GPU machine: node packages/vision/bench/vision.mjs --ep webgpu
//
// Our M0 runs timm's state dict (`--timm-weights`; default: efficientvit_m0.safetensors beside
// timm's export in the package's fixtures folder, else the committed one under
// packages/vision/fixtures/ of the working directory, for runs from the repo root with the
// package installed elsewhere, as on the GPU machine). `--seeded` keeps our seeded random weights
// instead (not the same model: shows what random-init attention does to the timing).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as onnx from '@leanformer/onnx';
import { runVisionBench } from '@leanformer/vision/cli';

const { values } = parseArgs({ options: {
  quick: { type: 'boolean', default: false }, ep: { type: 'string', default: 'cpu' }, threads: { type: 'string', default: '0' },
  runs: { type: 'string' }, 'timm-weights': { type: 'string' }, seeded: { type: 'boolean', default: false },
} });
if (values.ep !== 'cpu' && values.ep !== 'webgpu') throw new Error(`--ep must be cpu or webgpu, got ${values.ep}`);
const threads = Number(values.threads);
const beside = fileURLToPath(new URL('../fixtures/efficientvit_m0.safetensors', import.meta.resolve('@leanformer/vision/cli')));
const committed = resolve('packages/vision/fixtures/efficientvit_m0.safetensors');
const timmWeights = values.seeded ? false : values['timm-weights'] ?? (!existsSync(beside) && existsSync(committed) ? committed : undefined);
const result = await runVisionBench({
  onnx, quick: values.quick, ep: values.ep, ...(threads > 0 ? { threads } : {}),
  ...(values.runs ? { runs: Number(values.runs) } : {}), ...(timmWeights !== undefined ? { timmWeights } : {}),
});
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
