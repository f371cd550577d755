import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main, type Io } from './index.js';
import { BENCH_PACKAGES, benchParams, findBenchSuite, listBenchSuites, loadBenchEntry } from './commands/bench.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const io: Io = { out: (t) => { out += t; }, err: (t) => { err += t; }, stderrIsTTY: false };
  const code = await main(argv, io);
  return { code, out, err };
}

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('leanformer bench', () => {
  it('validates --ep and --threads before loading any package, and names unknown suites', async () => {
    const ep = await cli('bench', 'vision', '--ep', 'cuda');
    expect(ep.code).not.toBe(0);
    expect(ep.err).toMatch(/--ep must be cpu or webgpu, got 'cuda'/);
    const th = await cli('bench', 'quant', '--threads', '0');
    expect(th.err).toMatch(/--threads must be an integer ≥ 1 \(decimal\), got '0'/);
    expect(th.code).toBe(2);
    const prefix = await cli('bench', 'speed');
    expect(prefix.code).toBe(2);
    expect(prefix.err).toMatch(/unknown suite 'speed'; run 'leanformer bench list'/);
    const inPkg = await cli('bench', 'quant-nosuch');
    expect(inPkg.err).toMatch(/unknown suite 'quant-nosuch'; quant suites: quant, quant-rtn/);
  });

  it('every package with a bench/ folder is reachable by a prefix, and every suite is named after it', async () => {
    // kv-cache's GPU suite has an entry of its own (`gpu` prefix): it needs runtime-ort, which kv-cache's main bench does not.
    const withBench = [...readdirSync(`${root}packages`).filter((p) => existsSync(`${root}packages/${p}/bench/index.ts`)).map((p) => `@leanformer/${p}/bench`), '@leanformer/kv-cache/gpu-bench'].sort();
    expect(Object.values(BENCH_PACKAGES).sort()).toEqual(withBench);
    const suites = await listBenchSuites();
    const names = suites.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const prefix of Object.keys(BENCH_PACKAGES)) {
      const own = await loadBenchEntry(prefix);
      expect(own.length, prefix).toBeGreaterThan(0);
      for (const s of own) {
        expect(s.summary, s.name).not.toBe('');
        expect(typeof s.run, s.name).toBe('function');
      }
    }
    expect(names).toEqual(expect.arrayContaining(['quant', 'attention', 'kv', 'peft', 'quant-rtn', 'attention-swa', 'onnx-import', 'ort-decoder', 'tfjs-decoder-layer']));
  });

  it('checks --param names against the suite and parses values strictly', async () => {
    const rtn = await findBenchSuite('quant-rtn');
    expect(benchParams(rtn, ['layers=2', 'reps=1'])).toEqual({ layers: '2', reps: '1' });
    expect(() => benchParams(rtn, ['width=8'])).toThrow(/unknown parameter 'width'; allowed: layers, reps/);
    expect(() => benchParams(rtn, ['layers'])).toThrow(/--param must be name=value, got 'layers'/);
    const r = await cli('bench', 'quant-rtn', '--param', 'layers=0x2');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bench parameter 'layers' must be a decimal number, got '0x2'/);
  });

  it('list prints every suite with its parameters', async () => {
    const r = await cli('bench', 'list');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ {2}quant-rtn +RTN int4 quantize seconds per GB/m);
    expect(r.out).toMatch(/--param layers=… {2}MatMul layers of 4096² \(default 8\)/);
  });

  it('runs a suite end to end and prints one JSON object', async () => {
    const r = await cli('bench', 'kv-gqa-int8', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.suite).toBe('kv-gqa-int8');
    expect(j.metrics.agrees).toBe(true);
  });

  it('--html writes a self-contained page of the same run beside the one JSON object; a bad path fails before the run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lf-bench-html-'));
    try {
      const file = join(dir, 'kv.html');
      const r = await cli('bench', 'kv-gqa-int8', '--json', '--html', file);
      expect(r.code, r.err).toBe(0);
      const j = JSON.parse(r.out);
      const html = readFileSync(file, 'utf8');
      expect(html).toMatch(/^<!doctype html>/);
      expect(html).toContain("default-src 'none'");
      expect(html).toContain('<code>leanformer bench kv-gqa-int8</code>');
      for (const k of Object.keys(j.metrics)) expect(html, k).toContain(`<td>${k}</td>`);
      const t0 = performance.now();
      const bad = await cli('bench', 'kv-gqa-int8', '--html', join(dir, 'no', 'such', 'x.html'));
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/Output folder .* does not exist/);
      expect(performance.now() - t0).toBeLessThan(2000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
