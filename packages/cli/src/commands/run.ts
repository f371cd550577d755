import { intFlag, UsageError, type Tensor } from '@leanformer/core';
import { commandProgressBar } from '@leanformer/core/node';
import { cliBackend, cliBackendNames } from '../backends.js';
import { outputMetrics } from '../compare.js';
import { DEFAULT_SYMBOLIC_DIM, generateInputs, readTestDataSet, timeRuns, type InputSpec } from '../model.js';
import { prepareModel } from '../pipeline.js';
import type { Command } from '../registry.js';

/** One output in `leanformer run --json`. Error fields are null without expected outputs. */
export interface RunOutput {
  readonly name: string;
  readonly shape: readonly number[];
  readonly maxAbsErr: number | null;
  readonly maxRelErr: number | null;
  readonly cosine: number | null;
}

/** What `leanformer run --json` prints. */
export interface RunReport {
  readonly backend: string;
  readonly epUsed: string;
  readonly msPerRun: number;
  readonly outputs: readonly RunOutput[];
  /**
   * Where ONNX Runtime ran each node, from its profiler (ORT in Node): node count per provider and
   * every node outside `epUsed`, by name and op. Absent for other runtimes.
   */
  readonly placement?: OrtPlacementSummary;
}

/** The placement part of {@link RunReport} (runtime-ort's `OrtPlacement`). */
export interface OrtPlacementSummary {
  readonly nodes: number;
  readonly byProvider: Readonly<Record<string, number>>;
  readonly outside: readonly { readonly name: string; readonly op: string; readonly provider: string }[];
}

/** Parses `--dim name=N` occurrences (N ≥ 1). */
function dimOptions(raw: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of (raw as string[] | undefined) ?? []) {
    const m = /^([^=]+)=(\d+)$/.exec(item);
    if (!m || !(Number(m[2]) >= 1) || !Number.isSafeInteger(Number(m[2]))) throw new UsageError(`--dim takes name=N with N ≥ 1 (e.g. --dim seq=16), got '${item}'`, 'dim');
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Refuses `--dim` names that are not symbolic dimensions of the model's inputs, naming the ones that are. */
function checkDimNames(dims: Readonly<Record<string, number>>, inputs: readonly InputSpec[]): void {
  const known = [...new Set(inputs.flatMap((s) => (s.shape ?? []).filter((d): d is string => typeof d === 'string')))];
  const unknown = Object.keys(dims).filter((d) => !known.includes(d));
  if (unknown.length) {
    throw new UsageError(`--dim ${unknown.map((d) => `'${d}'`).join(', ')}: not a symbolic dimension of the model's inputs; ${known.length ? `allowed: ${known.join(', ')}` : 'the model has none'}`, 'dim');
  }
}

function fmt(x: number | null, digits = 3): string { return x === null ? '-' : Number.isFinite(x) ? x.toExponential(digits - 1) : String(x); }

/** `leanformer run <model.onnx> [--data <dir>] [--backend …] [--direct] [--repeat N] [--json]` */
export const runCommand: Command = {
  name: 'run',
  summary: 'Run an ONNX model through the IR (import, lower for the backend, run), or as-is with --direct.',
  positionals: ['<model.onnx>'],
  options: {
    data: { type: 'string', arg: '<dir>', description: 'ONNX test data folder: input_0.pb, … and optional output_0.pb, … (TensorProto)' },
    backend: { type: 'string', arg: '<name>', description: `one of ${cliBackendNames().join(', ')} (default ort-cpu)` },
    direct: { type: 'boolean', description: "run the file's bytes as-is, without the IR (baseline)" },
    repeat: { type: 'string', arg: '<N>', description: 'timed runs after one warm-up; msPerRun is their median (default 1)' },
    seed: { type: 'string', arg: '<N>', description: 'seed of generated inputs when --data is absent (default 0)' },
    dim: { type: 'string', multiple: true, arg: '<name=N>', description: `size of a symbolic dimension for generated inputs (default ${DEFAULT_SYMBOLIC_DIM})` },
    threads: { type: 'string', arg: '<N>', description: 'intra-op threads (runtime default when absent)' },
    json: { type: 'boolean', description: 'print one JSON object: { backend, epUsed, msPerRun, outputs: [{ name, shape, maxAbsErr, maxRelErr, cosine }], placement: { nodes, byProvider, outside: [{ name, op, provider }] } (ORT)}' },
  },
  details: `Without --data, inputs are generated from the declared shapes: floats uniform in [-1, 1), integers in [0, 10),
symbolic dimensions ${DEFAULT_SYMBOLIC_DIM} unless --dim says otherwise. With expected outputs, each output reports
max abs error, max relative error (over non-zero expected values) and cosine similarity.
Exit status: 0 when the model ran (whatever the errors), 1 when it could not, 2 on bad usage.`,
  async run({ positionals, values, io }) {
    const path = positionals[0]!;
    const backendName = (values['backend'] as string | undefined) ?? 'ort-cpu';
    const entry = cliBackend(backendName);
    const repeat = intFlag('repeat', values['repeat'], { min: 1 }) ?? 1;
    const seed = intFlag('seed', values['seed'], { min: 0 }) ?? 0;
    const threads = intFlag('threads', values['threads'], { min: 1 });
    const dims = dimOptions(values['dim']);
    const json = Boolean(values['json']);
    const backend = await entry.create({ ...(threads ? { threads } : {}), ...(json ? { placement: true } : {}) });
    const { exe, inputs } = await prepareModel(path, backend, Boolean(values['direct']));
    try {
      checkDimNames(dims, inputs);
      let feeds: Record<string, Tensor>;
      let expected: Record<string, Tensor> = {};
      if (values['data'] !== undefined) {
        const set = readTestDataSet(values['data'] as string, exe.inputNames, exe.outputNames);
        feeds = set.inputs;
        expected = set.expected;
      } else {
        feeds = generateInputs(inputs, { seed, dims });
      }
      // Placement: one profiled run, then profiling ends, so the timed runs below are not profiled.
      let placement: OrtPlacementSummary | undefined;
      const placed = exe as { placement?: () => OrtPlacementSummary };
      if (json && typeof placed.placement === 'function') {
        await exe.run(feeds);
        const { nodes, byProvider, outside } = placed.placement();
        placement = { nodes, byProvider, outside };
      }
      const bar = commandProgressBar(io, values);
      let timed;
      try { timed = await timeRuns(exe, feeds, repeat, bar.update); } finally { bar.done(); }
      const { msPerRun, outputs } = timed;
      const report: RunReport = {
        backend: backendName,
        epUsed: exe.info.device,
        msPerRun,
        outputs: exe.outputNames.filter((n) => outputs[n]).map((name) => {
          const got = outputs[name]!;
          const want = expected[name];
          const m = want ? outputMetrics(got, want) : { maxAbsErr: null, maxRelErr: null, cosine: null };
          return { name, shape: [...got.shape], ...m };
        }),
        ...(placement ? { placement } : {}),
      };
      if (values['json']) {
        io.out(`${JSON.stringify(report)}\n`);
      } else {
        const fallbacks = (exe.info as { fallbacks?: readonly { ep: string; reason: string }[] }).fallbacks ?? [];
        const lines = [
          `${path} on ${backendName}${values['direct'] ? ' (direct)' : ''}: ran on ${exe.info.device}, ${msPerRun.toFixed(3)} ms/run (median of ${repeat})`,
          ...fallbacks.map((f) => `  skipped ${f.ep}: ${f.reason}`),
          ...report.outputs.map((o) => `  ${o.name} [${o.shape.join(', ')}]${expected[o.name] ? `  maxAbsErr ${fmt(o.maxAbsErr)}  maxRelErr ${fmt(o.maxRelErr)}  cosine ${o.cosine === null ? '-' : o.cosine.toFixed(6)}` : ''}`),
        ];
        io.out(lines.join('\n') + '\n');
      }
      return 0;
    } finally {
      await exe.dispose();
    }
  },
};
