// The CLI contract (issue #16, items 10–13): exit codes 0 ok / 1 failed / 2 usage, --version, help <command>,
// raw Node errors turned into one-line LeanformerErrors, strict numeric parsing, and the quantize and finetune
// rough edges. Everything runs in-process through main() with a captured Io; models are a few KB.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DTypes, Graph, Tensor, tensorType, transformerDecoder, type Dim } from '@leanformer/core';
import { encodeModel } from '@leanformer/onnx';
import { loadModel } from '@leanformer/onnx/node';
import { main, type Io } from './index.js';
import { fromNodeError } from './node-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'lf-cli-contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI in-process; stderr counts as a terminal only when `onTerminal` (progress bars draw then). */
async function cliIo(onTerminal: boolean, argv: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const io: Io = { out: (t) => { out += t; }, err: (t) => { err += t; }, stderrIsTTY: onTerminal };
  const code = await main(argv, io);
  return { code, out, err };
}
const cli = (...argv: string[]) => cliIo(false, argv);

/** x[shape] → Relu → y: a model whose only input has the given (possibly symbolic) shape. */
function reluModel(name: string, shape: readonly Dim[]): string {
  const g = new Graph(name);
  g.opsets.set('', 17);
  const x = g.addInput('x', tensorType(DTypes.float32, shape));
  const n = g.addNode({ op: 'Relu', inputs: [x], outputs: ['y'] });
  n.output(0).type = tensorType(DTypes.float32, shape);
  g.addOutput(n.output(0));
  const path = join(dir, `${name}.onnx`);
  writeFileSync(path, encodeModel(g));
  return path;
}

/** x[2, 64] · W[64, 32] → y: one linear layer, which is also the graph output. */
function oneMatMul(): string {
  const g = new Graph('one-matmul');
  g.opsets.set('', 21);
  const x = g.addInput('x', tensorType(DTypes.float32, [2, 64]));
  const w = g.addInitializer('W', Tensor.from('float32', [64, 32], Array.from({ length: 64 * 32 }, (_, i) => Math.sin(i * 0.37))));
  const n = g.addNode({ op: 'MatMul', inputs: [x, w], outputs: ['y'], attrs: {} });
  n.output(0).type = tensorType(DTypes.float32, [2, 32]);
  g.addOutput(n.output(0));
  const path = join(dir, 'one-matmul.onnx');
  writeFileSync(path, encodeModel(g));
  return path;
}

const decoder = join(dir, 'decoder.onnx');
writeFileSync(decoder, encodeModel(transformerDecoder({ vocabSize: 16, hidden: 16, layers: 1, heads: 2, ffn: 32, seed: 1, initStd: 0.15 })));
const symbolic = reluModel('symbolic', ['batch', 3]);

describe('exit codes, --version, help', () => {
  it('--version and -V print the CLI package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await cli(flag)).toEqual({ code: 0, out: `${version}\n`, err: '' });
  });

  it("'help <command>' prints that command's help; --help states the exit-code rule", async () => {
    const h = await cli('help', 'quantize');
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^Usage: leanformer quantize <in.onnx> /);
    expect((await cli('help', 'nosuch')).code).toBe(2);
    expect((await cli('--help')).out).toMatch(/Exit status: 0 done, 1 failed .*, 2 bad usage/s);
  });

  it('bad flag values exit 2 like unknown flags; runtime failures exit 1', async () => {
    const out = join(dir, 'never.onnx');
    const usage: string[][] = [
      ['run', symbolic, '--repeat', 'lots'],
      ['run', symbolic, '--bogus'],
      ['quantize', decoder, '-o', out, '--method', 'bogus'],
      ['quantize', decoder, '--method', 'rtn'], // missing -o
      ['bench', 'quant', '--threads', '0'],
      ['zoo', 'vit_micro', '-o', out, '--num-classes', 'x'],
      ['finetune', decoder, '-o', out, '--method', 'lora', '--steps', '2.5'],
      // flags are checked before any file is read: still usage, not 'No such file'
      ['quantize', join(dir, 'missing.onnx'), '-o', out, '--method', 'rtn', '--bits', '3'],
      ['finetune', join(dir, 'missing.onnx'), '-o', out, '--method', 'lora', '--lr', '0x1'],
      ['lora', 'merge', join(dir, 'missing.onnx'), '-o', out, '--adapter', join(dir, 'no-adapter'), '--weights', 'a'],
    ];
    for (const argv of usage) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err.trim().split('\n'), argv.join(' ')).toHaveLength(1);
    }
    expect((await cli('run', join(dir, 'missing.onnx'))).code).toBe(1);
  });
});

describe('strict numeric parsing', () => {
  it('refuses 0x4, 1e3, " 4" and 4.0 where an integer is meant, naming the flag and the allowed values', async () => {
    for (const v of ['0x4', '1e3', ' 4', '4.0']) {
      const r = await cli('quantize', decoder, '-o', join(dir, 'q.onnx'), '--method', 'rtn', '--bits', v);
      expect(r.code, v).toBe(2);
      expect(r.err, v).toBe(`leanformer quantize: --bits must be one of 4, 8 (decimal), got '${v}'\n`);
    }
    const rep = await cli('run', symbolic, '--repeat', '1e3');
    expect(rep.err).toBe("leanformer run: --repeat must be an integer ≥ 1 (decimal), got '1e3'\n");
  });

  it("a negative number is the flag's value with a clear message, not parseArgs' 'argument is ambiguous'", async () => {
    const r = await cli('quantize', decoder, '-o', join(dir, 'q.onnx'), '--method', 'rtn', '--bits', '-4');
    expect(r.code).toBe(2);
    expect(r.err).toBe("leanformer quantize: --bits must be one of 4, 8 (decimal), got '-4'\n");
    const s = await cli('run', symbolic, '--seed', '-1');
    expect(s.err).toBe("leanformer run: --seed must be an integer ≥ 0 (decimal), got '-1'\n");
  });

  it('run --dim with a name that is not a symbolic dim of the model is refused, naming the allowed names', async () => {
    const r = await cli('run', symbolic, '--dim', 'nosuch=4');
    expect(r.code).toBe(2);
    expect(r.err).toBe("leanformer run: --dim 'nosuch': not a symbolic dimension of the model's inputs; allowed: batch\n");
    const ok = await cli('run', symbolic, '--dim', 'batch=5', '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).outputs[0].shape).toEqual([5, 3]);
  });

  it('conformance on a folder with no cases is an error (exit 1)', async () => {
    const empty = join(dir, 'no-cases');
    mkdirSync(empty, { recursive: true });
    const r = await cli('conformance', empty);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^leanformer conformance: no cases found under .*no-cases/);
  });

  it('sparsify defaults --pattern to 2:4, its only value, and the help says so', async () => {
    const r = await cli('sparsify', decoder, '-o', join(dir, 'sparse.onnx'), '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ pattern: '2:4' });
    expect((await cli('help', 'sparsify')).out).toMatch(/--pattern <2:4> +sparsity pattern: 2:4, the only one \(default 2:4\)/);
    expect((await cli('sparsify', decoder, '-o', join(dir, 'sparse.onnx'), '--pattern', '1:4')).code).toBe(2);
  });
});

describe('Node errors become LeanformerErrors naming the path or value', () => {
  it('quantize, pack and sparsify on a folder; unpack of a missing file', async () => {
    for (const c of ['quantize', 'pack', 'sparsify']) {
      const r = await cli(c, dir, '-o', join(dir, 'o.bin'), ...(c === 'quantize' ? ['--method', 'rtn'] : []));
      expect(r.code, c).toBe(1);
      expect(r.err, c).toBe(`leanformer ${c}: ${dir} is a folder; expected a model file\n`);
    }
    const u = await cli('unpack', join(dir, 'missing.lfpack'), '-o', join(dir, 'o.onnx'));
    expect(u.code).toBe(1);
    expect(u.err).toBe(`leanformer unpack: No such file: ${join(dir, 'missing.lfpack')}\n`);
  });

  it('an unwritable output path (EACCES / EROFS) is an IO_ERROR naming the path, not `unexpected error`', async () => {
    // /sys refuses new files even to root, where chmod-ing a folder read-only does not.
    const r = await cli('pack', decoder, '-o', '/sys/out.lfpack');
    expect(r.code).toBe(1);
    expect(r.err).not.toMatch(/unexpected error/);
    // Core's atomic writer names the output (its temporary beside it is what the kernel refused).
    expect(r.err).toMatch(/^leanformer pack: (Cannot write '\/sys\/out\.lfpack'|\/sys\/out\.lfpack\S*): .*(permission denied|read-only file system|not writable)/i);
    const e = Object.assign(new Error("EACCES: permission denied, open '/ro/x'"), { code: 'EACCES', path: '/ro/x', syscall: 'open' });
    expect(fromNodeError(e)).toMatchObject({ code: 'IO_ERROR', message: '/ro/x: permission denied (EACCES in open)', details: { path: '/ro/x', errno: 'EACCES' } });
    expect(fromNodeError(new RangeError('Invalid typed array length: 100000000000'))).toMatchObject({ code: 'SIZE_LIMIT' });
    expect(fromNodeError(new TypeError('x is not a function'))).toBeUndefined();
  });

  it("--exclude '(' is a usage error naming the pattern", async () => {
    const r = await cli('quantize', decoder, '-o', join(dir, 'q.onnx'), '--method', 'rtn', '--exclude', '(');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^leanformer quantize: --exclude must be a JavaScript regular expression, got '\(': Invalid regular expression/);
  });

  it('run on a model with huge declared dims is a SIZE_LIMIT error naming the input and shape', async () => {
    const r = await cli('run', reluModel('huge', [100000, 100000]));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^leanformer run: Cannot generate input 'x' of shape \[100000, 100000\]: 10000000000 elements/);
  });

  it('zoo --num-classes 100000000 is refused naming the flag and its range', async () => {
    const r = await cli('zoo', 'vit_micro', '--num-classes', '100000000', '-o', join(dir, 'vit.onnx'));
    expect(r.code).toBe(2);
    expect(r.err).toBe("leanformer zoo: --num-classes must be an integer ≥ 0 and ≤ 100000 (decimal), got '100000000'\n");
  });

  it('run --backend tfjs-webgpu prints one line, without the tfjs TypeError stack', async () => {
    const warn = vi.spyOn(console, 'warn');
    try {
      const r = await cli('run', symbolic, '--backend', 'tfjs-webgpu');
      if (r.code === 0) return; // this machine has a WebGPU adapter: nothing to report
      expect(r.err).toMatch(/^leanformer run: [^\n]*\n$/);
      expect(warn.mock.calls.flat().join('\n')).not.toMatch(/TypeError|Initialization of backend/);
    } finally { warn.mockRestore(); }
    expect((await cli('run', symbolic, '--backend', 'tfjs-cpu', '--json')).code).toBe(0); // a backend that starts still runs
  });
});

describe('quantize notes and the LM-head rule', () => {
  it('the edge-bits note names the CLI flag, and --edge-bits exists', async () => {
    const r = await cli('quantize', decoder, '-o', join(dir, 'q4.onnx'), '--method', 'rtn', '--bits', '4', '--block-size', '16');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/note: embeddings and LM head quantized to 8 bits; pass --edge-bits 4 /);
    const e = await cli('quantize', decoder, '-o', join(dir, 'q4e.onnx'), '--method', 'rtn', '--bits', '4', '--block-size', '16', '--edge-bits', '4');
    expect(e.code).toBe(0);
    expect(e.err).not.toMatch(/LM head/);
    const bitsOf = async (p: string) => (await loadModel(p)).nodes.filter((n) => n.op === 'MatMulNBits').map((n) => Number(n.attr('bits', 0)));
    expect(new Set(await bitsOf(join(dir, 'q4.onnx')))).toEqual(new Set([4, 8]));
    expect(new Set(await bitsOf(join(dir, 'q4e.onnx')))).toEqual(new Set([4]));
  });

  it("a one-MatMul model's only layer is quantized at --bits, not kept at 8 as an LM head", async () => {
    const out = join(dir, 'one-q4.onnx');
    const r = await cli('quantize', oneMatMul(), '-o', out, '--method', 'rtn', '--bits', '4', '--block-size', '16');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const q = (await loadModel(out)).nodes.filter((n) => n.op === 'MatMulNBits');
    expect(q.map((n) => Number(n.attr('bits', 0)))).toEqual([4]);
  });
});

describe('finetune', () => {
  const data = (name: string, lines: readonly unknown[]): string => {
    const p = join(dir, name);
    writeFileSync(p, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    return p;
  };
  const good = { input_ids: [1, 2, 3, 4], labels: [-100, 2, 3, 4] };
  const tune = (...extra: string[]) => cli('finetune', decoder, '-o', join(dir, 'tuned.onnx'), '--method', 'lora', '--steps', '2', '--batch', '2', ...extra);

  it('progress: a bar of steps with the last loss on a terminal, its line cleared at the end; nothing without one or with --json', async () => {
    const file = data('good.jsonl', [good, good, good]);
    const args = ['finetune', decoder, '-o', join(dir, 'tuned.onnx'), '--method', 'lora', '--steps', '2', '--batch', '2', '--data', file];
    const tty = await cliIo(true, args);
    expect(tty.code).toBe(0);
    expect(tty.err).toMatch(/^\r\x1b\[Kfinetune \[#{10}-{10}\] 1\/2 steps .*loss \d+\.\d{4}/);
    expect(tty.err.endsWith('\r\x1b[K')).toBe(true);
    const pipe = await cliIo(false, args);
    expect([pipe.code, pipe.err]).toEqual([0, '']);
    const json = await cliIo(true, [...args, '--json']);
    expect([json.code, json.err]).toEqual([0, '']);
    expect(JSON.parse(json.out)).toMatchObject({ method: 'lora', steps: 2 });
  }, 60_000);

  it('--data is validated up front, naming the line: ids in [0, vocab), no string ids, at least one unmasked label per line', async () => {
    const cases: [unknown, RegExp][] = [
      [{ input_ids: [1, -2, 3, 4], labels: [-100, 2, 3, 4] }, /line 2: input_ids\[1\] is -2; token ids must be integers in \[0, 16\)/],
      [{ input_ids: [1, 2, 3, 16], labels: [-100, 2, 3, 4] }, /line 2: input_ids\[3\] is 16; token ids must be integers in \[0, 16\)/],
      [{ input_ids: [1, 'a', 3, 4], labels: [-100, 2, 3, 4] }, /line 2: input_ids\[1\] is "a"; token ids must be integers/],
      [{ input_ids: [1, 2, 3, 4], labels: [-100, 2.5, 3, 4] }, /line 2: labels\[1\] is 2.5; labels must be -100 \(ignored\) or integers in \[0, 16\)/],
      [{ input_ids: [1, 2, 3, 4], labels: [-100, -100, -100, -100] }, /line 2: every label is -100, so it trains on nothing/],
    ];
    for (const [bad, want] of cases) {
      const r = await tune('--data', data('bad.jsonl', [good, bad, good]));
      expect(r.code, JSON.stringify(bad)).toBe(1);
      expect(r.err, JSON.stringify(bad)).toMatch(want);
      expect(r.err).not.toMatch(/unexpected error|step 1/);
    }
  });

  it('--r above min(dims) of the target layers is refused before any training', async () => {
    const t0 = performance.now();
    const r = await tune('--r', '100000');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/r = 100000 exceeds min\(in, out\) = 16 of target '.*'/);
    expect(r.err).not.toMatch(/step 1/);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});
