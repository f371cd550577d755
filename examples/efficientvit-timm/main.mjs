// EfficientViT-M0 with timm's weights: build the model with @leanformer/vision's builder (timm's
// layout and parameter names), load a timm state dict from safetensors, run timm's fixed input on
// ONNX Runtime CPU and compare with the logits timm computed in PyTorch. The fixtures are committed
// in packages/vision/fixtures (made by make_timm_fixtures.py: 10 classes, every parameter and BN
// statistic re-drawn from a seeded RNG, so every branch is exercised). No downloads.
//
//   npm run example:efficientvit-timm  # or, after a build: node examples/efficientvit-timm/main.mjs
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Tensor, analyzeGraph, readSafetensors } from '@leanformer/core';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { efficientvit, loadTimmSafetensors } from '@leanformer/vision';

const FIXTURES = fileURLToPath(new URL('../../packages/vision/fixtures/', import.meta.url));
const TOL = 1e-4; // max |Δ logits| against timm
const meta = JSON.parse(readFileSync(`${FIXTURES}efficientvit_m0.json`, 'utf8'));

const model = efficientvit('m0', { numClasses: meta.num_classes });
const cost = analyzeGraph(model.graph, { dims: { batch: 1 } });
console.log(`EfficientViT-M0, ${meta.num_classes} classes: ${cost.params.toLocaleString('en-US')} parameters (timm: ${meta.params.toLocaleString('en-US')}), ${(cost.flops / 1e6).toFixed(1)} M MACs per 224×224 image`);
if (cost.params !== meta.params) throw new Error(`parameter count ${cost.params} differs from timm's ${meta.params}`);

const report = loadTimmSafetensors(model, new Uint8Array(readFileSync(`${FIXTURES}efficientvit_m0.safetensors`)));
console.log(`loaded timm ${meta.timm} state dict: ${report.loaded.length} tensors, ${report.missing.length} missing, ${report.unexpected.length} unexpected`);
if (report.missing.length > 0) throw new Error(`parameters missing from the state dict: ${report.missing.slice(0, 5).join(', ')}`);

const io = readSafetensors(new Uint8Array(readFileSync(`${FIXTURES}efficientvit_m0.io.safetensors`))).tensors;
const input = io.get('input');
const want = io.get('logits').toFloat32();

const backend = createOrtBackend({ eps: ['cpu'], intraOpNumThreads: 2 });
const t0 = performance.now();
const exe = await backend.compile(model.graph);
const compileMs = performance.now() - t0;
// The fixture stores the (float16-exact) input as float16 to halve its size; the model takes float32.
const feeds = { [model.inputName]: new Tensor('float32', input.shape, input.toFloat32()) };
let got;
const times = [];
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  got = (await exe.run(feeds))[model.outputName].toFloat32();
  times.push(performance.now() - t);
}
await exe.dispose();
if (got.length !== want.length) throw new Error(`${got.length} logits, timm has ${want.length}`);
let diff = 0;
for (let i = 0; i < got.length; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]));
const batch = input.shape[0];
const top1 = (x, b) => { const row = Array.from(x.subarray(b * meta.num_classes, (b + 1) * meta.num_classes)); return row.indexOf(Math.max(...row)); };
const classes = Array.from({ length: batch }, (_, b) => `${top1(got, b)}/${top1(want, b)}`);
console.log(`ORT ${exe.info.device}: timm's input [${input.shape.join(', ')}] → logits [${batch}, ${meta.num_classes}] in ${Math.min(...times).toFixed(1)} ms (best of 3; compile ${compileMs.toFixed(0)} ms)`);
console.log(`  vs timm's PyTorch logits: max |Δ| = ${diff.toExponential(2)} (tolerance ${TOL}); top-1 ours/timm per image: ${classes.join(', ')}`);
if (!(diff <= TOL)) throw new Error(`logits differ from timm by ${diff} > ${TOL}`);
console.log(`Summary: timm's EfficientViT-M0 weights run on the leanformer graph and reproduce timm's logits to ${diff.toExponential(1)}.`);
