// End-to-end: `leanformer unpack` (the built binary) on damaged .lfpack files. A flipped bit in a
// tensor's stream exits 1 naming CORRUPT_FILE and the tensor, with no output and no temporary
// left; a version-1 file (no checksums) still unpacks, with a note; a sample of random damage
// through the real process never hangs (each run has a wall-clock limit) and always exits 0 or 1.
// Needs a build first (`npx nx run-many -t build`).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { transformerDecoder } from '@leanformer/core';
import { saveModel } from '@leanformer/onnx/node';
import { readLfpackManifest } from '@leanformer/quant';
import { toVersion1 } from '../packages/quant/src/lfpack-v1.test-support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(root, 'packages/cli/bin/leanformer.js');
const built = existsSync(join(root, 'packages/cli/dist/index.js')) && existsSync(join(root, 'packages/quant/dist/cli.js'));
/** A run that takes longer is a hang (a healthy one takes well under a second). */
const RUN_LIMIT_MS = 30_000;
const SAMPLE = 8;

function leanformer(...args: string[]): { code: number | null; signal: string | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: RUN_LIMIT_MS });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'lf-lfpack-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const leftovers = (): string[] => readdirSync(dir).filter((n) => n.startsWith('.') || n.includes('.tmp-'));

if (!built) console.warn('lfpack e2e: skipped, packages/cli/dist or packages/quant/dist is missing; run `npx nx run-many -t build` first');

describe.skipIf(!built)('leanformer unpack on damaged .lfpack files (built binary)', () => {
  const model = join(dir, 'm.onnx');
  const packed = join(dir, 'm.lfpack');

  it('packs a small model', async () => {
    await saveModel(transformerDecoder({ vocabSize: 32, hidden: 32, layers: 1, heads: 2, ffn: 64, seed: 2 }), model);
    const r = leanformer('pack', model, '-o', packed);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('a flipped bit in a tensor exits 1 with CORRUPT_FILE and the tensor name, and writes nothing (plain and --stream)', () => {
    const bytes = readFileSync(packed);
    const t = readLfpackManifest(bytes).tensors[1]!;
    const bad = Buffer.from(bytes);
    bad[t.offset + Math.floor(t.length / 2)]! ^= 0x04;
    writeFileSync(join(dir, 'flipped.lfpack'), bad);
    for (const stream of [[], ['--stream']]) {
      const out = join(dir, 'out.onnx');
      const r = leanformer('unpack', join(dir, 'flipped.lfpack'), '-o', out, ...stream);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('CORRUPT_FILE');
      expect(r.stderr).toContain(`tensor '${t.name}'`);
      expect(r.stdout).toBe('');
      expect(existsSync(out)).toBe(false);
      expect(existsSync(`${out}.data`)).toBe(false);
      expect(leftovers()).toEqual([]);
    }
  });

  it('a version-1 file (no checksums) unpacks to the same model, with a note that it was not verified', () => {
    writeFileSync(join(dir, 'v1.lfpack'), toVersion1(readFileSync(packed)));
    const a = leanformer('unpack', packed, '-o', join(dir, 'a.onnx'));
    const b = leanformer('unpack', join(dir, 'v1.lfpack'), '-o', join(dir, 'b.onnx'));
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(a.stderr).toBe('');
    expect(b.stderr).toMatch(/version 1, which has no checksums/);
    expect(readFileSync(join(dir, 'b.onnx')).equals(readFileSync(join(dir, 'a.onnx')))).toBe(true);
  });

  it(`${SAMPLE} randomly damaged files: each run ends within ${RUN_LIMIT_MS / 1000} s with exit 0 (weights intact) or 1 (LeanformerError message)`, () => {
    const bytes = readFileSync(packed);
    let s = 99;
    const next = (n: number): number => Math.floor(((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * n);
    for (let i = 0; i < SAMPLE; i++) {
      const bad = Buffer.from(bytes);
      if (i % 2) bad[next(bad.length)]! ^= 1 << next(8);
      else for (let k = next(bad.length), end = k + 100; k < Math.min(end, bad.length); k++) bad[k] = next(256);
      const input = join(dir, `r${i}.lfpack`);
      const out = join(dir, `r${i}.onnx`);
      writeFileSync(input, bad);
      const r = leanformer('unpack', input, '-o', out, ...(i % 4 < 2 ? [] : ['--stream']));
      expect(r.signal, `case ${i} was killed after ${RUN_LIMIT_MS} ms (a hang)`).toBeNull();
      expect([0, 1], `case ${i}: ${r.stderr}`).toContain(r.code);
      if (r.code === 1) {
        expect(r.stderr).toMatch(/^leanformer unpack: /);
        expect(r.stderr).not.toMatch(/unexpected error/);
        expect(existsSync(out)).toBe(false);
      }
      expect(leftovers()).toEqual([]);
    }
  }, 10 * RUN_LIMIT_MS);
});
