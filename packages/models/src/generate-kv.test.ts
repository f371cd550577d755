// generate()'s KV options on the tiny Llama (prompt 20 tokens, 32 greedy tokens, transformers'
// fp32 greedy tokens as the reference): what each option keeps and how far the output stays equal.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type Io } from '@leanformer/cli';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';
import { generate, type GenerateTextOptions } from './pretrained.js';
import { convertCheckpoint, loadPretrained, type PretrainedModel } from './node.js';

const LLAMA = fileURLToPath(new URL('../fixtures/llama', import.meta.url));
const ref = JSON.parse(readFileSync(join(LLAMA, 'reference.json'), 'utf8')) as { promptIds: number[]; greedyIds: number[] };
const P = ref.promptIds.length; // 20
const work = mkdtempSync(join(tmpdir(), 'lf-models-kv-'));
let m: PretrainedModel;
beforeAll(async () => { m = await loadPretrained(LLAMA, { queryOutputs: true }); });
afterAll(async () => { await m.dispose(); rmSync(work, { recursive: true, force: true }); });

async function run(model: PretrainedModel, o: Partial<GenerateTextOptions>): Promise<{ ids: number[]; lens: number[] }> {
  const ids: number[] = [], lens: number[] = [];
  for await (const t of generate(model, undefined, { promptIds: ref.promptIds, maxNewTokens: 32, stopAtEos: false, ...o })) { ids.push(t.id); lens.push(t.kvLength); }
  return { ids, lens };
}

describe('generate --kv', () => {
  // Measured on this fixture (random weights, greedy margins ~0.006): fp16 and int8 KV keep all 32
  // greedy tokens of transformers' fp32 run; int4 KV (groups of 16 = head_dim) keeps the first 6.
  it('fp16 and int8 KV: the 32 greedy tokens equal transformers\' fp32 ones; int4: the first 6', async () => {
    expect((await run(m, { kv: 'fp16' })).ids).toEqual(ref.greedyIds);
    expect((await run(m, { kv: 'int8' })).ids).toEqual(ref.greedyIds);
    const int4 = (await run(m, { kv: 'int4' })).ids;
    expect(int4.slice(0, 6)).toEqual(ref.greedyIds.slice(0, 6));
    expect(int4).not.toEqual(ref.greedyIds); // int4 does change what is stored
  }, 60_000);
});

describe('generate --window / --evict', () => {
  it('--window N holds min(prompt + step, N) positions after every run; a window that fits everything changes nothing', async () => {
    for (const evict of [undefined, 'streaming', 'h2o', 'snapkv'] as const) {
      const r = await run(m, { window: 16, ...(evict ? { evict } : {}) });
      expect(r.lens, String(evict)).toEqual(r.lens.map((_, i) => Math.min(P + i, 16)));
    }
    const full = await run(m, { window: P + 32 });
    expect(full.ids).toEqual(ref.greedyIds);
    expect(full.lens.at(-1)).toBe(P + 31);
    // Measured: a 40-position window first evicts after token 21 and keeps the first 23 tokens.
    expect((await run(m, { window: 40 })).ids.slice(0, 21)).toEqual(ref.greedyIds.slice(0, 21));
  }, 60_000);

  it('ORT CPU and tfjs-cpu keep the same positions: identical tokens with --kv int8 --window 24 --evict streaming', async () => {
    const tf = await loadPretrained(LLAMA, { backend: createTfjsBackend('cpu') });
    try {
      const o = { kv: 'int8', window: 24, evict: 'streaming' } as const;
      const a = await run(m, o), b = await run(tf, o);
      expect(b.ids).toEqual(a.ids);
      expect(b.lens).toEqual(a.lens);
    } finally { await tf.dispose(); }
  }, 60_000);

  it('h2o / snapkv need query outputs: NOT_SUPPORTED on a model loaded without them and on a converted folder', async () => {
    const plain = await loadPretrained(LLAMA);
    try { await expect(run(plain, { window: 16, evict: 'h2o' })).rejects.toMatchObject({ code: 'NOT_SUPPORTED' }); } finally { await plain.dispose(); }
    const out = join(work, 'fp32');
    await convertCheckpoint(LLAMA, out);
    await expect(loadPretrained(out, { queryOutputs: true })).rejects.toMatchObject({ code: 'NOT_SUPPORTED' });
    const conv = await loadPretrained(out);
    try { expect((await run(conv, { window: 24, evict: 'streaming' })).ids).toEqual((await run(m, { window: 24, evict: 'streaming' })).ids); } finally { await conv.dispose(); }
  }, 60_000);
});

describe('leanformer generate --kv/--window/--evict', () => {
  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '', err = '';
    const io: Io = { out: (t) => { out += t; }, err: (t) => { err += t; }, stderrIsTTY: false };
    return { code: await main(argv, io), out, err };
  }
  const ids = ref.promptIds.join(',');

  it('--json reports the options used and the positions kept', async () => {
    const r = await cli('generate', LLAMA, '--prompt-ids', ids, '--max-new-tokens', '4', '--kv', 'int8', '--window', '16', '--evict', 'snapkv', '--json');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).kv).toEqual({ format: 'int8', window: 16, evict: 'snapkv', length: 16 });
    const d = await cli('generate', LLAMA, '--prompt-ids', ids, '--max-new-tokens', '4', '--json');
    expect(JSON.parse(d.out).kv).toEqual({ format: 'fp32', window: null, evict: null, length: P + 3 });
  }, 60_000);

  it('invalid combinations are usage errors (exit 2) naming what is allowed', async () => {
    for (const [args, msg] of [
      [['--evict', 'h2o'], /--evict h2o needs --window N/],
      [['--kv', 'int3'], /fp32, fp16, int8, int4/],
      [['--window', '8', '--evict', 'lru'], /streaming, snapkv, h2o/],
      [['--window', '4', '--evict', 'streaming'], /--window must be > 4/],
      [['--window', '0'], /window/],
    ] as const) {
      const r = await cli('generate', LLAMA, '--prompt-ids', ids, ...args);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(msg);
    }
  }, 60_000);
});
