// `leanformer bench <suite> [--quick] [--json] [--param name=value …]`: the one entry to every benchmark.
// Suites are data (core's BenchSuite) exported by each package's `./bench` subpath; a suite's name
// starts with its package's prefix (`quant`, `quant-rtn`, `attention-swa`, …), so running one loads
// only that package's benchmarks. `leanformer bench list` loads them all.
import { benchHtml, intFlag, LeanformerError, UsageError, type BenchResult, type BenchSuite } from '@leanformer/core';
import { checkOutputPath, commandProgressBar, writeFileAtomic } from '@leanformer/core/node';
import type { Command } from '../registry.js';

/** Suite-name prefix → the package whose `./bench` entry holds those suites. */
export const BENCH_PACKAGES: Readonly<Record<string, string>> = Object.freeze({
  quant: '@leanformer/quant/bench',
  attention: '@leanformer/attention/bench',
  kv: '@leanformer/kv-cache/bench',
  gpu: '@leanformer/kv-cache/gpu-bench',
  peft: '@leanformer/peft/bench',
  vision: '@leanformer/vision/bench',
  onnx: '@leanformer/onnx/bench',
  ort: '@leanformer/runtime-ort/bench',
  tfjs: '@leanformer/runtime-tfjs/bench',
  models: '@leanformer/models/bench',
});

/** Imports with a computed specifier, so a CLI build without that package still starts. */
const load = (spec: string): Promise<Record<string, unknown>> => import(/* @vite-ignore */ spec) as Promise<Record<string, unknown>>;

/** The suites exported by one bench entry; checks the entry's shape and that every name carries the prefix. */
export async function loadBenchEntry(prefix: string): Promise<readonly BenchSuite[]> {
  const entry = BENCH_PACKAGES[prefix];
  if (!entry) throw new LeanformerError('INVALID_ARGUMENT', `bench: no package has suites named '${prefix}…'; prefixes: ${Object.keys(BENCH_PACKAGES).join(', ')}`);
  let mod: Record<string, unknown>;
  try {
    mod = await load(entry);
  } catch (e) {
    if (e instanceof Error && 'code' in e && ['ERR_MODULE_NOT_FOUND', 'ERR_PACKAGE_PATH_NOT_EXPORTED'].includes(String((e as { code?: string }).code))) {
      throw new LeanformerError('BACKEND_UNAVAILABLE', `bench: ${entry} is not built or installed`, { cause: e });
    }
    throw e;
  }
  const benches = mod['benches'];
  if (!Array.isArray(benches)) throw new LeanformerError('NOT_SUPPORTED', `${entry} does not export a 'benches' list`);
  for (const s of benches as BenchSuite[]) {
    if (s.name !== prefix && !s.name.startsWith(`${prefix}-`)) throw new LeanformerError('NOT_SUPPORTED', `${entry}: suite '${s.name}' must be named '${prefix}' or '${prefix}-…'`);
  }
  return benches as BenchSuite[];
}

/** Every suite of every package (packages that are not installed are skipped). */
export async function listBenchSuites(): Promise<BenchSuite[]> {
  const all: BenchSuite[] = [];
  for (const prefix of Object.keys(BENCH_PACKAGES)) {
    try { all.push(...await loadBenchEntry(prefix)); } catch (e) {
      if (!(e instanceof LeanformerError && e.code === 'BACKEND_UNAVAILABLE')) throw e;
    }
  }
  return all;
}

/** The suite of this name. */
export async function findBenchSuite(name: string): Promise<BenchSuite> {
  const prefix = name.split('-')[0]!;
  if (!BENCH_PACKAGES[prefix]) throw new UsageError(`bench: unknown suite '${name}'; run 'leanformer bench list' for the suites`);
  const suites = await loadBenchEntry(prefix);
  const s = suites.find((x) => x.name === name);
  if (!s) throw new UsageError(`bench: unknown suite '${name}'; ${prefix} suites: ${suites.map((x) => x.name).join(', ')}`);
  return s;
}

/** `--param name=value` pairs, checked against the suite's declared parameters. */
export function benchParams(suite: BenchSuite, raw: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const known = Object.keys(suite.params ?? {});
  for (const p of raw) {
    const eq = p.indexOf('=');
    const name = eq > 0 ? p.slice(0, eq) : '';
    if (!name) throw new UsageError(`bench: --param must be name=value, got '${p}'`, 'param');
    if (!known.includes(name)) {
      throw new UsageError(`bench ${suite.name}: unknown parameter '${name}'; ${known.length ? `allowed: ${known.join(', ')}` : 'this suite takes none'}`, 'param');
    }
    out[name] = p.slice(eq + 1);
  }
  return out;
}

function listText(suites: readonly BenchSuite[]): string {
  const w = Math.max(...suites.map((s) => s.name.length));
  const lines: string[] = [];
  for (const s of suites) {
    lines.push(`  ${s.name.padEnd(w)}  ${s.summary}`);
    for (const [k, p] of Object.entries(s.params ?? {})) lines.push(`  ${''.padEnd(w)}    --param ${k}=…  ${p.description}${p.default !== undefined ? ` (default ${p.default})` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

export const benchCommand: Command = {
  name: 'bench',
  summary: "Run a benchmark suite and print its metrics ('leanformer bench list' shows the suites)",
  positionals: ['<suite>'],
  options: {
    quick: { type: 'boolean', description: 'smaller sizes and fewer runs (minutes → seconds)' },
    json: { type: 'boolean', description: 'print one JSON object { "suite", "metrics": { … }, … }' },
    html: { type: 'string', arg: '<file.html>', description: "also write a self-contained HTML page: our figures beside the peer's (bars per unit, ratios against 1×) and every metric" },
    ep: { type: 'string', arg: '<cpu|webgpu>', description: 'device where a suite has a choice (ORT execution provider or tfjs backend); default cpu' },
    threads: { type: 'string', arg: '<N>', description: 'threads where a suite uses them (ORT intra-op, the quantize worker pool)' },
    param: { type: 'string', multiple: true, arg: '<name=value>', description: "a suite's own parameter (repeatable; 'leanformer bench list' names them)" },
  },
  details: 'Benchmarks are not tests: they time real work on this machine and compare against a peer in the same run.\n`leanformer bench list` prints every suite with its parameters.',
  async run(ctx) {
    const name = ctx.positionals[0]!;
    if (name === 'list') {
      const suites = await listBenchSuites();
      ctx.io.out(ctx.values.json ? `${JSON.stringify(suites.map((s) => ({ name: s.name, summary: s.summary, params: s.params ?? {} })))}\n` : listText(suites));
      return 0;
    }
    // Flags first: a bad value fails before any package is loaded.
    const ep = (ctx.values.ep as string | undefined) ?? 'cpu';
    if (ep !== 'cpu' && ep !== 'webgpu') throw new UsageError(`bench: --ep must be cpu or webgpu, got '${ep}'`, 'ep');
    const threads = intFlag('threads', ctx.values.threads, { min: 1 });
    const html = ctx.values.html as string | undefined;
    if (html !== undefined) checkOutputPath(html); // before minutes of benchmarking, not after
    const suite = await findBenchSuite(name);
    const params = benchParams(suite, (ctx.values.param as string[] | undefined) ?? []);
    // A spinner with the elapsed time until the suite reports progress of its own; notes print above it.
    const bar = commandProgressBar(ctx.io, ctx.values);
    bar.update({ phase: `bench ${suite.name}`, done: 0, total: null, unit: 'runs' });
    let result: BenchResult;
    try {
      result = await suite.run({ quick: Boolean(ctx.values.quick), ep, threads, params, log: (t) => bar.log(t), onProgress: bar.update });
    } finally { bar.done(); }
    if (html !== undefined) {
      const argv = ['leanformer bench', name, ...(ctx.values.quick ? ['--quick'] : []), ...(ep !== 'cpu' ? [`--ep ${ep}`] : []), ...(threads ? [`--threads ${threads}`] : []), ...Object.entries(params).map(([k, v]) => `--param ${k}=${v}`)];
      writeFileAtomic(html, benchHtml(result, { command: argv.join(' ') }));
    }
    if (ctx.values.json) ctx.io.out(`${JSON.stringify(result)}\n`);
    else for (const [k, v] of Object.entries(result.metrics)) ctx.io.out(`${k.padEnd(36)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`);
    return 0;
  },
};
