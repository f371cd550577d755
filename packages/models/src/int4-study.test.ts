// Study, not a check (runs only with LEANFORMER_INT4_STUDY=1, ~1 min): how often int4 weights keep the
// first 8 greedy tokens of the trained tiny Llama (fixtures/llama-trained), per method, block size and
// calibration text. Reference: our fp32 conversion (equal to transformers within 1e-4, parity.test.ts).
// Prompts: the fixture's reference prompt plus the first 20 tokens of each line of
// fixtures/llama-trained/study-prompts.txt (prose lines of the repository's READMEs, frozen; the model was
// trained on the repository's sources and docs). Prints one JSON line per
// configuration: { config, refPromptKeeps8, refPromptCosine, keeps8, prompts, meanCosine }.
//   LEANFORMER_INT4_STUDY=1 npx vitest run packages/models/src/int4-study.test.ts
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it } from 'vitest';
import { cosine } from '@leanformer/core';
import { greedyIds, prefillLogits } from './decode.test-support.js';
import { convertCheckpoint, loadPretrained, type ConvertOptions } from './node.js';

const TRAINED = fileURLToPath(new URL('../fixtures/llama-trained', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'lf-int4-study-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const CALIB = [undefined, 'packages/kv-cache/README.md', 'packages/attention/README.md', 'packages/peft/README.md', 'packages/vision/README.md'];
const CONFIGS: [string, ConvertOptions][] = [
  ['rtn', { method: 'rtn' }], ['hqq', { method: 'hqq' }],
  ...CALIB.flatMap((f) => (['awq', 'gptq'] as const).map((method): [string, ConvertOptions] => [`${method} calib=${f ?? 'built-in English'}`, { method, ...(f ? { calibration: { text: readFileSync(join(ROOT, f), 'utf8') } } : {}) }])),
  ...CALIB.map((f): [string, ConvertOptions] => [`gptq block 16 calib=${f ?? 'built-in English'}`, { method: 'gptq', blockSize: 16, ...(f ? { calibration: { text: readFileSync(join(ROOT, f), 'utf8') } } : {}) }]),
];

describe.skipIf(!process.env.LEANFORMER_INT4_STUDY)('int4 greedy-token study (trained tiny Llama)', () => {
  it('prints keep-8 rates and cosines', async () => {
    const ref = JSON.parse(readFileSync(join(TRAINED, 'reference.json'), 'utf8')) as { promptIds: number[] };
    const fp32 = await loadPretrained(TRAINED);
    const lines = readFileSync(join(TRAINED, 'study-prompts.txt'), 'utf8').split('\n').filter((l) => l.length > 0);
    const prompts = [ref.promptIds, ...lines.map((l) => fp32.tokenizer!.encode(l).slice(0, 20))];
    const refs: { ids: number[]; logits: Float32Array }[] = [];
    for (const p of prompts) refs.push({ ids: await greedyIds(fp32, 8, p), logits: await prefillLogits(fp32, p) });
    await fp32.dispose();
    for (const [ci, [config, o]] of CONFIGS.entries()) {
      const out = join(work, String(ci));
      await convertCheckpoint(TRAINED, out, { precision: 'int4', ...o });
      const q = await loadPretrained(out);
      const keeps: boolean[] = [], cos: number[] = [];
      for (const [i, p] of prompts.entries()) {
        keeps.push((await greedyIds(q, 8, p)).every((t, j) => t === refs[i]!.ids[j]));
        cos.push(cosine(await prefillLogits(q, p), refs[i]!.logits));
      }
      await q.dispose();
      console.log(JSON.stringify({ config, refPromptKeeps8: keeps[0], refPromptCosine: +cos[0]!.toFixed(5), keeps8: keeps.filter(Boolean).length, prompts: prompts.length, meanCosine: +(cos.reduce((a, b) => a + b, 0) / cos.length).toFixed(5) }));
    }
  }, 600_000);
});
