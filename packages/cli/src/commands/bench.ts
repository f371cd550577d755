// `leanformer bench <suite> [--quick] [--json]`: each module's benchmark suite, loaded on first use.
// A suite is a row of data: the package that owns it and how to call its runner with the CLI's
// ONNX codec and ORT CPU backend. Every suite prints `{ "suite", "metrics": { … } }`.
import { intFlag, LeanformerError, UsageError } from '@leanformer/core';
import * as onnx from '@leanformer/onnx';
import type { Command } from '../registry.js';

export interface BenchOptions { readonly quick: boolean; readonly ep: 'cpu' | 'webgpu'; readonly threads: number | undefined }
type BenchResult = { suite: string; metrics: Record<string, unknown>; [k: string]: unknown };

const ortCpu = async () => (await import('@leanformer/runtime-ort/node')).createOrtBackend({ eps: ['cpu'] });
/** Imports with a computed specifier, so a CLI build without that module still starts. */
const load = (spec: string): Promise<Record<string, unknown>> => import(/* @vite-ignore */ spec) as Promise<Record<string, unknown>>;

/** Imports a suite's module and returns its runner, or says which export is missing. */
export async function suiteRunner(suite: BenchSuite): Promise<(o: unknown) => Promise<BenchResult>> {
  const fn = (await load(suite.entry))[suite.runner];
  if (typeof fn !== 'function') throw new LeanformerError('NOT_SUPPORTED', `${suite.entry} does not export ${suite.runner}`);
  return fn as (o: unknown) => Promise<BenchResult>;
}

/** A suite: the module entry that exports its runner, the runner's name, and how the CLI calls it. */
export interface BenchSuite {
  readonly entry: string;
  readonly runner: string;
  run(o: BenchOptions): Promise<BenchResult>;
}

const suite = (entry: string, runner: string, args: (o: BenchOptions) => Promise<unknown> | unknown): BenchSuite => {
  const s: BenchSuite = { entry, runner, run: async (o) => (await suiteRunner(s))(await args(o)) };
  return s;
};

/** The suites, by name. */
export const BENCH_SUITES: Readonly<Record<string, BenchSuite>> = {
  quant: {
    entry: '@leanformer/quant',
    runner: 'runQuantBench',
    // RTN quantizes on worker threads (--threads N, default all cores); the pool is stopped after the run.
    async run(o) {
      const { createQuantWorkerPool } = await load('@leanformer/quant/node') as { createQuantWorkerPool(o?: { threads?: number }): { dispose(): Promise<void> } };
      const pool = createQuantWorkerPool(o.threads ? { threads: o.threads } : {});
      try {
        return await (await suiteRunner(this))({ quick: o.quick, backend: await ortCpu(), codec: { encode: onnx.encodeModel, decode: onnx.decodeModel }, pool });
      } finally { await pool.dispose(); }
    },
  },
  attention: suite('@leanformer/attention', 'runAttentionBench', async (o) => ({ quick: o.quick, backend: await ortCpu() })),
  kv: suite('@leanformer/kv-cache', 'runKvBench', (o) => ({ quick: o.quick })),
  peft: suite('@leanformer/peft', 'runPeftBench', (o) => ({ quick: o.quick, tfjsBackend: o.ep })),
  // The vision bench reads timm fixtures from disk, so it lives in the Node-only cli entry.
  vision: suite('@leanformer/vision/cli', 'runVisionBench', (o) => ({ onnx, quick: o.quick, ep: o.ep, ...(o.threads ? { threads: o.threads } : {}) })),
};

export const benchCommand: Command = {
  name: 'bench',
  summary: `Run a module's benchmark suite (${Object.keys(BENCH_SUITES).join(', ')}) and print its metrics`,
  positionals: ['<suite>'],
  options: {
    quick: { type: 'boolean', description: 'smaller sizes and fewer runs (minutes → seconds)' },
    json: { type: 'boolean', description: 'print one JSON object { "suite", "metrics": { … } }' },
    ep: { type: 'string', arg: '<cpu|webgpu>', description: "device: the ORT execution provider for vision, the tfjs backend of peft's PaCA/LoRA steps; default cpu" },
    threads: { type: 'string', arg: '<N>', description: 'threads where a suite uses them: quant (RTN worker pool; default all cores), vision (ORT intra-op)' },
  },
  details: 'Benchmarks are not tests: they time real work on this machine and compare against a peer in the same run.',
  async run(ctx) {
    const name = ctx.positionals[0]!;
    const suite = BENCH_SUITES[name];
    if (!suite) throw new UsageError(`bench: unknown suite '${name}'; available: ${Object.keys(BENCH_SUITES).join(', ')}`);
    const ep = (ctx.values.ep as string | undefined) ?? 'cpu';
    if (ep !== 'cpu' && ep !== 'webgpu') throw new UsageError(`bench: --ep must be cpu or webgpu, got '${ep}'`, 'ep');
    const threads = intFlag('threads', ctx.values.threads, { min: 1 });
    let result: BenchResult;
    try {
      result = await suite.run({ quick: Boolean(ctx.values.quick), ep, threads });
    } catch (e) {
      if (e instanceof Error && 'code' in e && (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') {
        throw new LeanformerError('BACKEND_UNAVAILABLE', `bench ${name} needs ${suite.entry}, which is not built or installed`, { cause: e });
      }
      throw e;
    }
    if (ctx.values.json) ctx.io.out(`${JSON.stringify(result)}\n`);
    else for (const [k, v] of Object.entries(result.metrics)) ctx.io.out(`${k.padEnd(36)} ${String(v)}\n`);
    return 0;
  },
};
