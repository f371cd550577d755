// Study, not a check (runs only with LEANFORMER_INT4_STUDY=1, ~1–2 min a model): how often int4 weights
// keep the first 8 greedy tokens of a trained tiny Llama, per method, block size and calibration text.
// Reference: our fp32 conversion (equal to transformers within 1e-4, parity.test.ts). The model is
// fixtures/llama-trained, or the folder in LEANFORMER_INT4_STUDY_DIR (make_trained_llama.py's other
// shapes, README "Quantized quality"). Prompts: the fixture's reference prompt plus the first 20 tokens
// of each line of fixtures/llama-trained/study-prompts.txt (prose lines of the repository's READMEs,
// frozen; the models were trained on the repository's sources and docs). Prints one JSON line per
// configuration: { config, refPromptKeeps8, refPromptCosine, keeps8, prompts, kept (one 0/1 a prompt), meanCosine }, after one
// line with the fp32 model's smallest top-1/top-2 margin over each prompt's first 8 greedy steps.
//   LEANFORMER_INT4_STUDY=1 [LEANFORMER_INT4_STUDY_DIR=<hf-dir>] npx vitest run packages/models/src/int4-study.test.ts
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it } from 'vitest';
import { cosine } from '@leanformer/core';
import { greedyIds, prefillLogits, studyPrompts } from './decode.test-support.js';
import { convertCheckpoint, loadPretrained, type ConvertOptions } from './node.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/llama-trained', import.meta.url));
const MODEL = process.env.LEANFORMER_INT4_STUDY_DIR ?? FIXTURE;
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'lf-int4-study-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const README_CALIB = ['packages/kv-cache/README.md', 'packages/attention/README.md', 'packages/peft/README.md', 'packages/vision/README.md'];
/** The packages' non-test TypeScript sources (~1 MB): in-domain text that is not among the study prompts. */
const sources = (): string => readdirSync(join(ROOT, 'packages')).sort().flatMap((p) => {
  const src = join(ROOT, 'packages', p, 'src');
  try { return readdirSync(src).filter((f) => f.endsWith('.ts') && !f.includes('test')).sort().map((f) => readFileSync(join(src, f), 'utf8')); } catch { return []; }
}).join('\n');
const CONFIGS: [string, ConvertOptions][] = [
  ['rtn', { method: 'rtn' }], ['hqq', { method: 'hqq' }], ['awq', { method: 'awq' }],
  ['gptq', { method: 'gptq' }], ['gptq block 16', { method: 'gptq', blockSize: 16 }],
  ...README_CALIB.map((f): [string, ConvertOptions] => [`gptq calib=${f}`, { method: 'gptq', calibration: { text: readFileSync(join(ROOT, f), 'utf8') } }]),
  ['gptq calib=package sources, 512 × 128 tokens', { method: 'gptq', calibration: { text: sources(), batches: 512, tokens: 128 } }],
  ['gptq self-calibration (64 × 64 sampled tokens)', { method: 'gptq', calibration: { self: true } }],
];

describe.skipIf(!process.env.LEANFORMER_INT4_STUDY)('int4 greedy-token study (trained tiny Llama)', () => {
  it('prints keep-8 rates and cosines', async () => {
    const fp32 = await loadPretrained(MODEL);
    const prompts = studyPrompts(fp32.tokenizer!);
    const refs: { ids: number[]; logits: Float32Array; margin: number }[] = [];
    for (const p of prompts) {
      const ids = await greedyIds(fp32, 8, p);
      // Top-1 − top-2 at each of the 8 greedy steps: one causal prefill over the prompt and the first 7
      // greedy tokens, whose last 8 rows predict steps 1…8.
      const seq = [...p, ...ids.slice(0, 7)], all = await prefillLogits(fp32, seq), V = all.length / seq.length;
      let margin = Infinity;
      for (let r = p.length - 1; r < seq.length; r++) {
        const row = [...all.subarray(r * V, (r + 1) * V)].sort((a, b) => b - a);
        margin = Math.min(margin, row[0]! - row[1]!);
      }
      refs.push({ ids, logits: await prefillLogits(fp32, p), margin });
    }
    await fp32.dispose();
    console.log(JSON.stringify({ model: MODEL, fp32MinMarginsFirst8: refs.map((r) => +r.margin.toFixed(3)) }));
    // Pooled over every configuration: the share of prompts keeping all 8 tokens, by the fp32 model's
    // smallest margin over them (the int4 logit error is ~0.3–1 logits RMS here).
    const BINS = [0.05, 0.2, 0.5, Infinity], byBin = BINS.map(() => ({ kept: 0, of: 0 }));
    for (const [ci, [config, o]] of CONFIGS.entries()) {
      const out = join(work, String(ci));
      await convertCheckpoint(MODEL, out, { precision: 'int4', ...o });
      const q = await loadPretrained(out);
      const keeps: boolean[] = [], cos: number[] = [];
      for (const [i, p] of prompts.entries()) {
        keeps.push((await greedyIds(q, 8, p)).every((t, j) => t === refs[i]!.ids[j]));
        cos.push(cosine(await prefillLogits(q, p), refs[i]!.logits));
      }
      await q.dispose();
      rmSync(out, { recursive: true, force: true });
      keeps.forEach((k, i) => { const b = byBin[BINS.findIndex((x) => refs[i]!.margin < x)]!; b.of++; if (k) b.kept++; });
      console.log(JSON.stringify({ config, refPromptKeeps8: keeps[0], refPromptCosine: +cos[0]!.toFixed(5), keeps8: keeps.filter(Boolean).length, prompts: prompts.length, kept: keeps.map((k) => (k ? '1' : '0')).join(''), meanCosine: +(cos.reduce((a, b) => a + b, 0) / cos.length).toFixed(5) }));
    }
    console.log(JSON.stringify({ keptByMinMargin: Object.fromEntries(BINS.map((x, i) => [`< ${x}`, `${byBin[i]!.kept}/${byBin[i]!.of}`])) }));
  }, 1_200_000);
});
