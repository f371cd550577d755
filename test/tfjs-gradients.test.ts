// runtime-tfjs's own gradients against tfjs-core's: the training losses of tools/tfjs/finetune-losses.mjs
// (5 finetune methods on a builder decoder, GPT-2 LoRA/full, BERT and ViT full training) must match those
// recorded in packages/runtime-tfjs/fixtures/finetune-losses.json with tfjs-core's own gradient definitions
// (the build that bundled them). Same float32 forward pass, gradients summed in another order: the losses
// may differ by float32 rounding, amplified a little over the steps (Adam normalizes tiny gradients).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs tool without type declarations
import { FIXTURE, finetuneLosses } from '../tools/tfjs/finetune-losses.mjs';

const TOLERANCE = 1e-5; // relative, per loss (seen: ≤ 1.1e-7)

describe('runtime-tfjs gradients reproduce tfjs-core\'s training trajectory', () => {
  it('every case\'s losses match the fixture recorded with tfjs-core\'s gradients', async () => {
    const want = (JSON.parse(readFileSync(FIXTURE as string, 'utf8')) as { losses: Record<string, number[]> }).losses;
    const got = (await finetuneLosses()) as Record<string, number[]>;
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    const worst: [string, number][] = [];
    for (const [name, ref] of Object.entries(want)) {
      const run = got[name]!;
      expect(run.length, name).toBe(ref.length);
      const err = Math.max(...ref.map((r, i) => Math.abs(run[i]! - r) / Math.abs(r)));
      worst.push([name, err]);
    }
    console.log(`max relative loss difference per case: ${worst.map(([n, e]) => `${n} ${e.toExponential(1)}`).join(', ')}`);
    for (const [name, err] of worst) expect(err, name).toBeLessThan(TOLERANCE);
  }, 120_000);
});
