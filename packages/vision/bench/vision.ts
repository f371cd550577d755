// `leanformer bench vision`: our EfficientViT-M0 graph vs timm's own ONNX export on the same ONNX
// Runtime (same EP, same threads), SqueezeTime vs a same-width 3-D conv net, HiRED 20% token keep on
// ViT-Tiny, GPUSQ-ViT logit cosine. The timm peer is made by packages/vision/fixtures/make_timm_fixtures.py.
// GPU machine: `leanformer bench vision --ep webgpu`.
// Our M0 runs timm's state dict (--param timm-weights=<file>; default: efficientvit_m0.safetensors in
// the package's fixtures folder, else packages/vision/fixtures/ under the working directory, for runs
// from the repo root with the package installed elsewhere). --param seeded=1 keeps our seeded random
// weights instead (not the same model: shows what random-init attention does to the timing).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchInt, type BenchSuite } from '@leanformer/core';
import { visionFixturesDir } from '@leanformer/vision/cli';
import { runVisionBench } from './run.js';

export const visionSuite: BenchSuite = {
  name: 'vision',
  summary: 'EfficientViT-M0 vs timm\'s ONNX export on ORT (same weights), SqueezeTime, HiRED, GPUSQ-ViT',
  params: {
    runs: { description: 'timed rounds of the M0 comparison (quick: 20)', default: '200' },
    'timm-weights': { description: 'timm state dict for our M0 (efficientvit_m0.safetensors)' },
    seeded: { description: '1: our seeded random weights instead of timm\'s', default: '0' },
  },
  async run(o) {
    const beside = join(visionFixturesDir(), 'efficientvit_m0.safetensors');
    const committed = resolve('packages/vision/fixtures/efficientvit_m0.safetensors');
    const timmWeights = benchInt(o.params, 'seeded', 0) === 1 ? false : o.params['timm-weights'] ?? (!existsSync(beside) && existsSync(committed) ? committed : undefined);
    return runVisionBench({
      quick: o.quick, ep: o.ep, ...(o.threads ? { threads: o.threads } : {}),
      ...(o.params['runs'] ? { runs: benchInt(o.params, 'runs', 200) } : {}), ...(timmWeights !== undefined ? { timmWeights } : {}),
    });
  },
};
