import { spawn, spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { LeanformerError } from './errors.js';
import {
  assertOutputsDistinct, checkOutputPath, commitTemp, createTempPath, discardTemp, liveTempPaths, removeStaleTemps, takeRemovedStaleTemps, writeFileAtomic,
} from './node.js';

const dir = mkdtempSync(join(tmpdir(), 'lf-core-node-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(f: () => void): string {
  try { f(); return 'ok'; } catch (e) { return e instanceof LeanformerError ? e.code : `raw: ${String(e)}`; }
}

describe('writeFileAtomic and the temp registry', () => {
  it('writes the bytes, leaves no temporary and nothing registered', () => {
    const p = join(dir, 'a.bin');
    writeFileAtomic(p, new Uint8Array([1, 2, 3]));
    writeFileAtomic(p, 'replaced');
    expect(readFileSync(p, 'utf8')).toBe('replaced');
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect(liveTempPaths()).toEqual([]);
  });

  it('a failed write is an IO_ERROR naming the path and leaves no temporary', () => {
    const p = join(dir, 'missing-folder', 'x.bin');
    expect(() => writeFileAtomic(p, 'x')).toThrow(expect.objectContaining({ code: 'IO_ERROR', message: expect.stringContaining(p) }));
    expect(liveTempPaths()).toEqual([]);
  });

  it('names temporaries .<base>.tmp-<pid>-<8 hex> beside the target; commit renames, discard removes', () => {
    const target = join(dir, 'm.onnx');
    const t1 = createTempPath(target);
    const t2 = createTempPath(target);
    expect(t1).not.toBe(t2);
    expect(t1.slice(dir.length + 1)).toMatch(new RegExp(`^\\.m\\.onnx\\.tmp-${process.pid}-[0-9a-f]{8}$`));
    expect(liveTempPaths()).toEqual([t1, t2]);
    writeFileSync(t1, 'model');
    writeFileSync(t2, 'other');
    commitTemp(t1, target);
    discardTemp(t1); // a no-op after commit: the committed file stays
    discardTemp(t2);
    expect(readFileSync(target, 'utf8')).toBe('model');
    expect(existsSync(t2)).toBe(false);
    expect(liveTempPaths()).toEqual([]);
  });

  it('removes the temporaries of dead processes for the same target, never a live one', () => {
    const target = join(dir, 'stale.onnx');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // exited: its pid runs nothing now
    const stale = join(dir, `.stale.onnx.tmp-${dead}-deadbeef`);
    const alive = join(dir, `.stale.onnx.tmp-${process.pid}-0badf00d`);
    const other = join(dir, `.other.onnx.tmp-${dead}-deadbeef`);
    for (const p of [stale, alive, other]) writeFileSync(p, 'x');
    expect(removeStaleTemps(target)).toEqual([stale]);
    expect([existsSync(stale), existsSync(alive), existsSync(other)]).toEqual([false, true, true]);
    const t = createTempPath(join(dir, 'other.onnx')); // the next write of a target cleans its leftovers
    expect(existsSync(other)).toBe(false);
    expect(takeRemovedStaleTemps()).toEqual([stale, other]); // each removal reported once
    expect(takeRemovedStaleTemps()).toEqual([]);
    discardTemp(t);
    rmSync(alive);
  });
});

describe('checkOutputPath', () => {
  it('accepts a new or existing file in a writable folder', () => {
    expect(codeOf(() => checkOutputPath(join(dir, 'new.onnx')))).toBe('ok');
    writeFileSync(join(dir, 'exists.onnx'), 'x');
    expect(codeOf(() => checkOutputPath(join(dir, 'exists.onnx')))).toBe('ok');
  });

  it('refuses a missing folder, a folder as output and a file as folder, naming the path', () => {
    const missing = join(dir, 'nope', 'out.onnx');
    expect(() => checkOutputPath(missing)).toThrow(expect.objectContaining({ code: 'IO_ERROR', message: expect.stringMatching(/nope.*does not exist/) }));
    mkdirSync(join(dir, 'afolder'));
    expect(() => checkOutputPath(join(dir, 'afolder'))).toThrow(expect.objectContaining({ code: 'IO_ERROR', message: expect.stringMatching(/afolder' is a folder/) }));
    writeFileSync(join(dir, 'afile'), 'x');
    expect(codeOf(() => checkOutputPath(join(dir, 'afile', 'out.onnx')))).toBe('IO_ERROR');
  });

  it.skipIf(process.getuid?.() === 0)('refuses a read-only folder', () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro, { mode: 0o555 });
    expect(() => checkOutputPath(join(ro, 'out.onnx'))).toThrow(/not writable/);
  });
});

describe('assertOutputsDistinct', () => {
  const d = join(dir, 'alias');
  mkdirSync(join(d, 'sub'), { recursive: true });
  const input = join(d, 'in.onnx');
  writeFileSync(input, 'model');
  writeFileSync(join(d, 'in.onnx.data'), 'weights');
  symlinkSync(input, join(d, 'link.onnx'));
  symlinkSync(d, join(d, 'dirlink'));
  linkSync(input, join(d, 'hard.onnx'));
  const refused = (inputs: string[], outputs: string[]) => codeOf(() => assertOutputsDistinct({ inputs, outputs }));

  it('refuses the input itself, via .., via a symlink, via a symlinked folder and via a hard link', () => {
    expect(refused([input], [input])).toBe('OUTPUT_IS_INPUT');
    expect(refused([input], [join(d, 'sub', '..', 'in.onnx')])).toBe('OUTPUT_IS_INPUT');
    expect(refused([input], [join(d, 'link.onnx')])).toBe('OUTPUT_IS_INPUT');
    expect(refused([join(d, 'link.onnx')], [input])).toBe('OUTPUT_IS_INPUT');
    expect(refused([input], [join(d, 'dirlink', 'in.onnx')])).toBe('OUTPUT_IS_INPUT');
    expect(refused([input], [join(d, 'hard.onnx')])).toBe('OUTPUT_IS_INPUT');
  });

  it('refuses an output that is the input\'s sidecar, or whose sidecar is the input', () => {
    expect(refused([input], [join(d, 'in.onnx.data')])).toBe('OUTPUT_IS_INPUT');
    const o = join(d, 'o.lfpack');
    linkSync(input, `${o}.data`); // o.lfpack.data is the input under another name
    expect(refused([input], [o])).toBe('OUTPUT_IS_INPUT');
    rmSync(`${o}.data`);
    expect(refused([input], [o])).toBe('ok');
  });

  it('names both paths in a one-line message; refuses two outputs that are one file', () => {
    const e = (() => { try { assertOutputsDistinct({ inputs: [input], outputs: [join(d, 'link.onnx')] }); } catch (x) { return x as LeanformerError; } })()!;
    expect(e.message).toContain(input);
    expect(e.message).toContain(join(d, 'link.onnx'));
    expect(e.message).not.toContain('\n');
    expect(refused([input], [join(d, 'a.onnx'), join(d, 'sub', '..', 'a.onnx')])).toBe('INVALID_ARGUMENT');
  });

  it('accepts distinct new and existing outputs', () => {
    writeFileSync(join(d, 'old.onnx'), 'x');
    expect(refused([input], [join(d, 'new.onnx'), join(d, 'old.onnx'), join(d, 'sub', 'in.onnx')])).toBe('ok');
  });
});

describe('SIGINT and SIGTERM with live temporaries', () => {
  const bundle = join(dir, 'core-node.mjs');
  const child = join(dir, 'child.mjs');
  const script = `
const { createTempPath } = await import(${JSON.stringify(bundle)});
const [target, mode] = process.argv.slice(2);
if (mode === 'hosted') process.on('SIGINT', () => { process.stdout.write('host handler\\n'); setTimeout(() => process.exit(7), 50); });
const { writeFileSync } = await import('node:fs');
const t = createTempPath(target);
writeFileSync(t, 'partial');
process.stdout.write('ready ' + t + '\\n');
setInterval(() => {}, 1000);
`;

  async function runUntilSignal(target: string, signal: NodeJS.Signals, mode = ''): Promise<{ code: number | null; signal: string | null; tmp: string; out: string }> {
    if (!existsSync(bundle)) {
      await build({ entryPoints: [fileURLToPath(new URL('./node.ts', import.meta.url))], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'silent' });
      writeFileSync(child, script);
    }
    return new Promise((resolve, reject) => {
      const p = spawn(process.execPath, [child, target, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      let tmp = '';
      p.stdout.on('data', (b: Buffer) => {
        out += String(b);
        const m = /ready (\S+)/.exec(out);
        if (m && !tmp) { tmp = m[1]!; p.kill(signal); }
      });
      p.on('error', reject);
      p.on('exit', (code, sig) => resolve({ code, signal: sig, tmp, out }));
    });
  }

  it('SIGINT removes them and exits 130; SIGTERM exits 143', async () => {
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      const r = await runUntilSignal(join(dir, `sig-${signal}.onnx`), signal);
      expect(r.tmp).toMatch(/\.tmp-\d+-[0-9a-f]{8}$/);
      expect({ code: r.code, signal: r.signal, tmpLeft: existsSync(r.tmp) }).toEqual({ code, signal: null, tmpLeft: false });
    }
  });

  it('leaves the decision to exit to a host handler, and still removes them when it exits', async () => {
    const r = await runUntilSignal(join(dir, 'hosted.onnx'), 'SIGINT', 'hosted');
    expect(r.out).toContain('host handler');
    expect({ code: r.code, tmpLeft: existsSync(r.tmp) }).toEqual({ code: 7, tmpLeft: false });
  });
});
