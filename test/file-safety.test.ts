// Never lose or corrupt a user's file (issue 16, items 1 and 3): every command that writes refuses an
// output that is its input (same path, `..`, symlink, hard link, through the `.data` sidecar) before
// any work, and checks the output folder before slow work; the input stays byte-identical and no
// temporary is left. The commands run in-process through main() (fast); the signal tests spawn the
// built CLI (they need `npx nx run-many -t build`, as kill-midway does).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transformerDecoder } from '@leanformer/core';
import { main, type Io } from '@leanformer/cli';
import { encodeModel } from '@leanformer/onnx';
import { saveModel } from '@leanformer/onnx/node';
import { createLoraAdapter } from '@leanformer/peft';
import { writeAdapterDir } from '@leanformer/peft/cli';
import { writeSyntheticDecoder } from '@leanformer/quant/node';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'lf-safety-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const temps = (d = dir) => readdirSync(d).filter((n) => n.includes('.tmp-'));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const io: Io = { out: (t) => { out += t; }, err: (t) => { err += t; }, stderrIsTTY: false };
  return { code: await main(argv, io), out, err };
}

const model = join(dir, 'm.onnx'); // with external data: m.onnx + m.onnx.data
const lfpack = join(dir, 'm.lfpack');
const adapter = join(dir, 'adapter');
const garbage = join(dir, 'garbage.onnx'); // not a model: a command that reads it first fails on it

beforeAll(async () => {
  const g = transformerDecoder({ vocabSize: 32, hidden: 16, layers: 1, heads: 2, ffn: 32, seed: 1 });
  await saveModel(g, model, { externalData: true });
  writeAdapterDir(adapter, createLoraAdapter(g, { r: 2, alpha: 4, targetModules: ['q_proj'] }, 'a'));
  writeFileSync(garbage, 'not an onnx model');
  expect((await cli('pack', model, '-o', lfpack)).code).toBe(0);
  expect(existsSync(`${model}.data`)).toBe(true);
});

/** argv of each writing command for input `input` and output `out`. */
const COMMANDS: Record<string, { input: () => string; argv: (input: string, out: string) => string[] }> = {
  quantize: { input: () => model, argv: (i, o) => ['quantize', i, '-o', o, '--method', 'rtn'] },
  'quantize --stream': { input: () => model, argv: (i, o) => ['quantize', i, '-o', o, '--method', 'rtn', '--stream'] },
  sparsify: { input: () => model, argv: (i, o) => ['sparsify', i, '-o', o, '--pattern', '2:4'] },
  'sparsify --stream': { input: () => model, argv: (i, o) => ['sparsify', i, '-o', o, '--pattern', '2:4', '--stream'] },
  pack: { input: () => model, argv: (i, o) => ['pack', i, '-o', o] },
  'pack --stream': { input: () => model, argv: (i, o) => ['pack', i, '-o', o, '--stream'] },
  unpack: { input: () => lfpack, argv: (i, o) => ['unpack', i, '-o', o] },
  'unpack --stream': { input: () => lfpack, argv: (i, o) => ['unpack', i, '-o', o, '--stream'] },
  finetune: { input: () => model, argv: (i, o) => ['finetune', i, '-o', o, '--method', 'lora', '--steps', '1', '--batch', '1', '--seq-len', '8', '--json'] },
  lora: { input: () => model, argv: (i, o) => ['lora', 'merge', i, '--adapter', adapter, '-o', o] },
};

/** The ways to name the input as the output: plain, `sub/..`, a symlink, a hard link. */
function aliases(input: string): Record<string, string> {
  const base = input.slice(dir.length + 1);
  mkdirSync(join(dir, 'sub'), { recursive: true });
  const sym = join(dir, `sym-${base}`);
  const hard = join(dir, `hard-${base}`);
  if (!existsSync(sym)) symlinkSync(input, sym);
  if (!existsSync(hard)) linkSync(input, hard);
  return { plain: input, dotdot: join(dir, 'sub', '..', base), symlink: sym, hardlink: hard };
}

describe('-o naming the input is refused before any work', () => {
  for (const [name, c] of Object.entries(COMMANDS)) {
    it(`${name}: plain, ./sub/.., symlink and hard link exit 1 naming both paths; input byte-identical, no temporary`, async () => {
      const input = c.input();
      const before = [sha(input), existsSync(`${input}.data`) ? sha(`${input}.data`) : ''];
      for (const [how, out] of Object.entries(aliases(input))) {
        const r = await cli(...c.argv(input, out));
        expect({ how, code: r.code, err: r.err }).toEqual({ how, code: 1, err: expect.stringMatching(new RegExp(`^leanformer \\w+: Output '.*' is the input '.*'.*choose another output path\\n$`)) });
        expect([sha(input), existsSync(`${input}.data`) ? sha(`${input}.data`) : ''], `${name} via ${how}`).toEqual(before);
        expect(temps(), `${name} via ${how}`).toEqual([]);
      }
    });
  }

  it('the external-data sidecar counts: -o m.onnx.data is refused, and an output whose .data is the input', async () => {
    expect((await cli('quantize', model, '-o', `${model}.data`, '--method', 'rtn')).err).toMatch(/is the input '.*m\.onnx\.data'/);
    linkSync(model, join(dir, 'side.lfpack.data'));
    expect((await cli('pack', model, '-o', join(dir, 'side.lfpack'))).err).toMatch(/Output '.*side\.lfpack\.data' is the input/);
    expect(existsSync(join(dir, 'side.lfpack'))).toBe(false);
    rmSync(join(dir, 'side.lfpack.data'));
  });

  it('finetune refuses --checkpoint or --adapter-out files on its inputs, and a --checkpoint equal to -o', async () => {
    const before = sha(model);
    const ft = (...extra: string[]) => cli(...COMMANDS.finetune!.argv(model, join(dir, 'ft.onnx')), ...extra);
    expect((await ft('--checkpoint', model)).err).toMatch(/is the input/);
    expect((await ft('--checkpoint', join(dir, 'ft.onnx'))).err).toMatch(/are the same file/);
    expect(sha(model)).toBe(before);
    expect(existsSync(join(dir, 'ft.onnx'))).toBe(false);
  });
});

describe('a missing or unusable output folder fails before reading, loading or training', () => {
  // The input is not a model: a command that read it before checking the output would fail on it instead.
  const argvs: Record<string, (out: string) => string[]> = {
    ...Object.fromEntries(Object.entries(COMMANDS).map(([n, c]) => [n, (o: string) => c.argv(garbage, o)])),
    zoo: (o) => ['zoo', 'fasternet_t0', '-o', o],
  };
  for (const [name, argv] of Object.entries(argvs)) {
    it(`${name}`, async () => {
      const out = join(dir, 'no-such-folder', 'out.onnx');
      const r = await cli(...argv(out));
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/Output folder '.*no-such-folder' of '.*out\.onnx' does not exist; create it first\n$/);
      const folder = await cli(...argv(dir));
      expect(folder.err).toMatch(/is a folder; give a file path/);
      expect(existsSync(join(dir, 'no-such-folder'))).toBe(false);
    });
  }

  it('finetune: a --checkpoint into a missing folder fails before training and writes no model', async () => {
    const out = join(dir, 'ft-ok.onnx');
    const r = await cli(...COMMANDS.finetune!.argv(model, out), '--checkpoint', join(dir, 'missing', 'ck.safetensors'));
    expect(r.err).toMatch(/Output folder '.*missing' .* does not exist/);
    expect(existsSync(out)).toBe(false);
    expect(temps()).toEqual([]);
  });
});

// ---- SIGINT / SIGTERM midway through a long write, on the built CLI --------------------------

const BIN = join(root, 'packages/cli/bin/leanformer.js');
const built = existsSync(join(root, 'packages/cli/dist/index.js')) && existsSync(join(root, 'packages/core/dist/node.js'));
if (!built) console.warn('file-safety: signal tests skipped, packages are not built; run `npx nx run-many -t build` first');

describe.skipIf(!built)('SIGINT and SIGTERM midway through a write (built CLI)', () => {
  const sdir = join(dir, 'signals');
  let big = '';
  let hashes: string[] = [];

  beforeAll(async () => {
    mkdirSync(sdir);
    // ~60 MB of float32 weights in 15 linear layers: a streamed run takes about a second.
    const f = await writeSyntheticDecoder(join(sdir, 'big.onnx'), { layers: 2, hidden: 768, ffn: 2048, vocab: 1024, seed: 3 }, { encodeModel });
    big = f.model;
    hashes = [sha(f.model), sha(f.data)];
  }, 60_000);

  /** Spawns the CLI and sends `signal` as soon as its first temporary appears in the output folder. */
  function interrupt(argv: string[], signal: NodeJS.Signals): Promise<{ code: number | null; signal: string | null; sawTemp: boolean; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let sawTemp = false;
      child.stderr.on('data', (b) => { stderr += String(b); });
      const poll = setInterval(() => {
        if (!sawTemp && temps(sdir).length > 0) { sawTemp = true; child.kill(signal); }
      }, 2);
      child.on('error', reject);
      child.on('exit', (code, sig) => { clearInterval(poll); resolve({ code, signal: sig, sawTemp, stderr }); });
    });
  }

  for (const [what, argv, signal, code] of [
    ['quantize --stream', (o: string) => ['quantize', big, '-o', o, '--method', 'rtn', '--stream'], 'SIGINT', 130],
    ['quantize --stream', (o: string) => ['quantize', big, '-o', o, '--method', 'rtn', '--stream'], 'SIGTERM', 143],
    ['pack --stream', (o: string) => ['pack', big, '-o', o, '--stream'], 'SIGINT', 130],
  ] as const) {
    it(`${what}: ${signal} leaves no temporary and no output, the input unchanged, exit ${code}`, async () => {
      const out = join(sdir, `out-${signal}.${what.startsWith('pack') ? 'lfpack' : 'onnx'}`);
      const r = await interrupt(argv(out), signal);
      expect(r.sawTemp, `the run ended before writing anything: ${r.stderr}`).toBe(true);
      expect({ code: r.code, signal: r.signal, temps: temps(sdir) }).toEqual({ code, signal: null, temps: [] });
      expect(existsSync(out) || existsSync(`${out}.data`)).toBe(false);
      expect([sha(big), sha(`${big}.data`)]).toEqual(hashes);
    }, 60_000);
  }
});

describe('leftovers of a killed run', () => {
  it('are removed by the next write of the same output, and the command says so on stderr', async () => {
    const out = join(dir, 'leftover.lfpack');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // exited: its pid runs nothing now
    const stale = join(dir, `.leftover.lfpack.tmp-${dead}-deadbeef`); // what SIGKILL leaves behind
    writeFileSync(stale, 'half a file');
    const r = await cli('pack', model, '-o', out);
    expect(r.code).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(r.err).toContain(`note: removed ${stale}, a temporary file left by an interrupted run`);
    expect((await cli('pack', model, '-o', out)).err).not.toContain('note: removed'); // reported once
  });
});
