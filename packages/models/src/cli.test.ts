// `leanformer tokenize | convert | generate` through the CLI's main() (the extension table loads them).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main, type Io } from '@leanformer/cli';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
const LLAMA = `${FIX}llama`;
const ref = JSON.parse(readFileSync(`${LLAMA}/reference.json`, 'utf8')) as { promptIds: number[]; greedyIds: number[] };
const tokRef = JSON.parse(readFileSync(`${FIX}tokenizer-reference.json`, 'utf8')) as { sentences: { text: string; ids: number[] }[] };
const work = mkdtempSync(join(tmpdir(), 'lf-models-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const io: Io = { out: (t) => { out += t; }, err: (t) => { err += t; }, stderrIsTTY: false };
  const code = await main(argv, io);
  return { code, out, err };
}

describe('leanformer tokenize / convert / generate', () => {
  it('tokenize --json prints { ids } equal to the Rust tokenizers', async () => {
    const s = tokRef.sentences[4]!;
    const r = await cli('tokenize', LLAMA, '--text', s.text, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ ids: s.ids });
  });

  it('generate --prompt-ids --json on an HF folder: transformers\' greedy tokens and the documented keys', async () => {
    const r = await cli('generate', LLAMA, '--prompt-ids', ref.promptIds.join(','), '--max-new-tokens', '8', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(['promptIds', 'newIds', 'text', 'prefillMs', 'decodeTokensPerSecond', 'kv']);
    expect(j.promptIds).toEqual(ref.promptIds);
    expect(j.newIds).toEqual(ref.greedyIds.slice(0, 8));
    expect(typeof j.text).toBe('string');
    expect(j.decodeTokensPerSecond).toBeGreaterThan(0);
  });

  it('generate --backend tfjs-cpu on an HF folder gives the same tokens', async () => {
    const r = await cli('generate', LLAMA, '--prompt-ids', ref.promptIds.join(','), '--max-new-tokens', '8', '--backend', 'tfjs-cpu', '--json');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).newIds).toEqual(ref.greedyIds.slice(0, 8));
  });

  it('convert → generate --prompt on the converted folder gives the same tokens as the HF folder', async () => {
    const out = join(work, 'conv');
    const c = await cli('convert', LLAMA, '-o', out, '--json');
    expect(c.code, c.err).toBe(0);
    expect(JSON.parse(c.out).files).toContain('model.onnx');
    const a = JSON.parse((await cli('generate', LLAMA, '--prompt', 'Once upon a time', '--max-new-tokens', '6', '--json')).out);
    const b = JSON.parse((await cli('generate', out, '--prompt', 'Once upon a time', '--max-new-tokens', '6', '--json')).out);
    expect(b.promptIds).toEqual(a.promptIds);
    expect(b.newIds).toEqual(a.newIds);
    expect(b.text).toBe(a.text);
  });

  it('an int4 GPTQ conversion of the trained tiny Llama runs on ORT CPU and tfjs-cpu (its com.microsoft kernels) with the same tokens', async () => {
    const out = join(work, 'trained-int4');
    const c = await cli('convert', `${FIX}llama-trained`, '-o', out, '--precision', 'int4', '--method', 'gptq', '--json');
    expect(c.code, c.err).toBe(0);
    const ort = JSON.parse((await cli('generate', out, '--prompt', 'export function ', '--max-new-tokens', '12', '--json')).out);
    const tfjs = await cli('generate', out, '--prompt', 'export function ', '--max-new-tokens', '12', '--backend', 'tfjs-cpu', '--json');
    expect(tfjs.code, tfjs.err).toBe(0);
    expect(JSON.parse(tfjs.out).newIds).toEqual(ort.newIds);
    expect(ort.newIds).toHaveLength(12);
  }, 60_000);

  it('--chat encodes the chat template; --repetition-penalty changes the repeated greedy output', async () => {
    const chat = JSON.parse((await cli('generate', LLAMA, '--prompt', 'Hi!', '--chat', '--max-new-tokens', '2', '--json')).out);
    const tpl = JSON.parse((await cli('tokenize', LLAMA, '--text', '<|user|>\nHi!<|end|>\n<|assistant|>\n', '--json')).out);
    expect(chat.promptIds).toEqual(tpl.ids);
    const plain = JSON.parse((await cli('generate', LLAMA, '--prompt', 'Once upon a time', '--max-new-tokens', '6', '--json')).out);
    const pen = JSON.parse((await cli('generate', LLAMA, '--prompt', 'Once upon a time', '--max-new-tokens', '6', '--repetition-penalty', '5', '--json')).out);
    expect(new Set(plain.newIds).size).toBeLessThan(plain.newIds.length); // this tiny model repeats itself…
    expect(new Set(pen.newIds).size).toBe(pen.newIds.length); // …and a strong penalty stops it
  });

  it('bad usage is one line on stderr, nothing on stdout, non-zero exit', async () => {
    for (const argv of [
      ['generate', LLAMA, '--prompt', 'x', '--prompt-ids', '1'],
      ['generate', LLAMA, '--prompt-ids', '1,x'],
      ['generate', LLAMA, '--prompt-ids', '9999'],
      ['generate', LLAMA, '--prompt-ids', '1', '--top-p', '1.5'],
      ['convert', LLAMA, '-o', join(work, 'bad'), '--precision', 'int3'],
      ['tokenize', LLAMA],
    ]) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).not.toBe(0);
      expect(r.out, argv.join(' ')).toBe('');
      expect(r.err.trim().split('\n'), argv.join(' ')).toHaveLength(1);
    }
    // Flag values are parsed by core's strict parsers: a bad one is a usage error (exit 2), like the other commands.
    const hex = await cli('generate', LLAMA, '--prompt-ids', '1', '--temperature', '0x2');
    expect([hex.code, hex.err]).toEqual([2, "leanformer generate: --temperature must be a number > 0 (decimal), got '0x2'\n"]);
    expect((await cli('convert', LLAMA)).code).toBe(2);
    const both = await cli('convert', LLAMA, '-o', join(work, 'bad-calib'), '--precision', 'int4', '--method', 'gptq', '--calib-self', '--calib-text', 'README.md');
    expect([both.code, both.err]).toEqual([2, 'leanformer convert: give --calib-text or --calib-self, not both\n']);
    expect(existsSync(join(work, 'bad-calib'))).toBe(false);
  });

  it('convert --calib-self: int4 GPTQ calibrated on the model\'s own samples, reported in leanformer.json as gptq', async () => {
    const out = join(work, 'self-int4');
    const c = await cli('convert', `${FIX}llama-trained`, '-o', out, '--precision', 'int4', '--method', 'gptq', '--calib-self', '--json');
    expect(c.code, c.err).toBe(0);
    expect(JSON.parse(c.out)).toMatchObject({ precision: 'int4', method: 'gptq' });
    const g = JSON.parse((await cli('generate', out, '--prompt', 'export function ', '--max-new-tokens', '4', '--json')).out);
    expect(g.newIds).toHaveLength(4);
  }, 60_000);
});
