// The progress bar as a user sees it: the built `leanformer quantize` under a pseudo-terminal
// (util-linux `script`, no node-pty) draws frames on stderr (`\r` + erase-line + `quantize [###---]
// 3/15 layers …`) and clears the line before its summary; with --json, or with pipes instead of a
// terminal, it draws nothing and stdout holds exactly one JSON object. Needs a build first
// (`npx nx run-many -t build`; the root `npm test` builds before testing).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeModel } from '@leanformer/onnx';
import { writeSyntheticDecoder } from '@leanformer/quant/node';

const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(root, 'packages/cli/bin/leanformer.js');
const built = existsSync(join(root, 'packages/cli/dist/index.js')) && existsSync(join(root, 'packages/quant/dist/cli.js'));
const haveScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
if (!built) console.warn('progress pty: skipped, packages/cli/dist is missing; run `npx nx run-many -t build` first');
else if (!haveScript) console.warn("progress pty: skipped, util-linux 'script' is not installed");

// ~118 MB of float32 weights in 15 linear layers: about a second of RTN on one core, so the bar
// (at most 10 frames a second) draws several frames.
const CFG = { layers: 2, hidden: 1024, ffn: 2752, vocab: 2048, seed: 3 };
const LINEAR = CFG.layers * 7 + 1;
const CLEAR = '\r\x1b[K';

const dir = mkdtempSync(join(tmpdir(), 'lf-progress-pty-'));
let model = '';
beforeAll(async () => {
  if (built && haveScript) model = (await writeSyntheticDecoder(join(dir, 'in.onnx'), CFG, { encodeModel })).model;
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs `leanformer <args>` under a pseudo-terminal; `redirect` sends its stdout to that file instead. Returns what the terminal showed. */
function underPty(args: readonly string[], redirect?: string): { code: number; screen: string; seconds: number } {
  const cmd = [process.execPath, BIN, ...args].map(sh).join(' ') + (redirect ? ` > ${sh(redirect)}` : '');
  const t0 = performance.now();
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, COLUMNS: '120' } });
  return { code: r.status ?? -1, screen: r.stdout, seconds: (performance.now() - t0) / 1000 };
}

function quantizeFrames(screen: string): number[] {
  return [...screen.matchAll(/\r\x1b\[Kquantize \[[#-]{20}\] (\d+)\/(\d+) layers/g)].map((m) => {
    expect(Number(m[2])).toBe(LINEAR);
    return Number(m[1]);
  });
}

describe.skipIf(!built || !haveScript)('progress bar under a pseudo-terminal (built CLI)', () => {
  for (const stream of [false, true]) {
    it(`quantize${stream ? ' --stream' : ''} draws layer frames with rate and ETA, then clears the line before its summary`, () => {
      const out = join(dir, `q${stream ? '-stream' : ''}.onnx`);
      const r = underPty(['quantize', model, '-o', out, '--method', 'rtn', '--bits', '4', ...(stream ? ['--stream'] : [])]);
      expect(r.code, r.screen).toBe(0);
      const done = quantizeFrames(r.screen);
      expect(new Set(done).size, r.screen).toBeGreaterThanOrEqual(3); // several distinct counts, e.g. 0, 3, 7 of 15
      expect(done).toEqual([...done].sort((a, b) => a - b)); // the count only grows
      expect(r.screen).toMatch(/\r\x1b\[Kquantize \[[#-]{20}\] \d+\/15 layers {2}[\d.]+ layers\/s {2}ETA \d+s {2}\S+/);
      // Throttled: no more than ~10 frames a second over the whole run.
      expect(r.screen.split(CLEAR).length - 1).toBeLessThanOrEqual(Math.ceil(r.seconds * 10) + 3);
      // The line is erased, then the summary prints on a clean line.
      const afterLastClear = r.screen.slice(r.screen.lastIndexOf(CLEAR) + CLEAR.length);
      expect(afterLastClear).toMatch(/^rtn 4-bit .*16 layers/);
      expect(existsSync(out)).toBe(true);
    }, 120_000);
  }

  it('quantize --json on a terminal draws no bar, and stdout is exactly one JSON object', () => {
    const json = join(dir, 'report.json');
    const r = underPty(['quantize', model, '-o', join(dir, 'qj.onnx'), '--method', 'rtn', '--bits', '4', '--json'], json);
    expect(r.code, r.screen).toBe(0);
    expect(r.screen).not.toContain('\x1b[');
    expect(r.screen).not.toMatch(/layers\/s|\d+\/15 layers/);
    const text = readFileSync(json, 'utf8');
    expect(text.endsWith('\n') && text.indexOf('\n') === text.length - 1).toBe(true); // one line
    expect(JSON.parse(text)).toMatchObject({ method: 'rtn', bits: 4, layersQuantized: LINEAR + 1 });
  }, 120_000);

  it('without a terminal (pipes) it draws nothing, with or without --json', () => {
    for (const extra of [['--json'], []]) {
      const r = spawnSync(process.execPath, [BIN, 'quantize', model, '-o', join(dir, 'qp.onnx'), '--method', 'rtn', '--bits', '4', ...extra], { encoding: 'utf8', timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/[\r\x1b]/);
      expect(r.stdout).not.toMatch(/[\r\x1b]/);
      const lines = r.stdout.split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      if (extra.length) expect(JSON.parse(lines[0]!)).toMatchObject({ layersQuantized: LINEAR + 1 });
      else expect(lines[0]).toMatch(/^rtn 4-bit /);
    }
  }, 120_000);
});
