// The shape of a benchmark suite. Suites live outside the packages' main entries (each package's
// `./bench` subpath, built from its `bench/` folder) and run through one entry: `leanformer bench <name>`.
// Benchmarks are not tests: they time real work and compare against a peer in the same run.
import { LeanformerError } from './errors.js';
import type { ProgressCallback } from './progress.js';

/** One named parameter a suite accepts (`leanformer bench <suite> --param name=value`). */
export interface BenchParam {
  readonly description: string;
  /** Shown in `leanformer bench list`; the suite applies it when the parameter is absent. */
  readonly default?: string;
}

/** What a suite's `run` receives. */
export interface BenchRunOptions {
  /** Smaller sizes and fewer runs (minutes → seconds). */
  readonly quick: boolean;
  /** The device where a suite has a choice: an ORT execution provider or a tfjs backend. */
  readonly ep: 'cpu' | 'webgpu';
  /** Threads where a suite uses them (ORT intra-op, worker pools); undefined = the suite's default. */
  readonly threads: number | undefined;
  /** The `--param name=value` pairs, already checked against the suite's `params`. */
  readonly params: Readonly<Record<string, string>>;
  /** Human-readable notes (stderr in the CLI, printed above its progress bar); the result goes in the returned JSON. */
  log(text: string): void;
  /** Where a suite reports progress (cases, runs, layers); the CLI draws it as a bar on a terminal. */
  readonly onProgress?: ProgressCallback;
}

/** What every suite returns (suites may add fields): `leanformer bench <suite> --json` prints it as one JSON object. */
export interface BenchResult {
  readonly suite: string;
  /** The figures, flat: name → number (or null where it could not be measured, with the reason beside it). */
  readonly metrics: object;
}

/**
 * A benchmark suite: data the CLI lists, validates parameters against and runs.
 *
 * @example
 * ```ts
 * export const rtnSpeed: BenchSuite = {
 *   name: 'quant-rtn', summary: 'RTN quantize time alone',
 *   params: { layers: { description: 'MatMul layers', default: '8' } },
 *   async run(o) { const layers = benchInt(o.params, 'layers', 8); return { suite: 'quant-rtn', metrics: { layers } }; },
 * };
 * ```
 */
export interface BenchSuite {
  readonly name: string;
  /** One line for `leanformer bench list`. */
  readonly summary: string;
  readonly params?: Readonly<Record<string, BenchParam>>;
  run(options: BenchRunOptions): Promise<BenchResult>;
}

/** A suite parameter as a finite number (decimal notation only), or `fallback` when absent. */
export function benchNumber(params: Readonly<Record<string, string>>, name: string, fallback: number): number {
  const raw = params[name];
  if (raw === undefined) return fallback;
  if (!/^-?(\d+\.?\d*|\.\d+)$/.test(raw)) {
    throw new LeanformerError('INVALID_ARGUMENT', `bench parameter '${name}' must be a decimal number, got '${raw}'`, { details: { argument: name } });
  }
  return Number(raw);
}

/** A suite parameter as a non-negative integer, or `fallback` when absent. */
export function benchInt(params: Readonly<Record<string, string>>, name: string, fallback: number): number {
  const n = benchNumber(params, name, fallback);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new LeanformerError('INVALID_ARGUMENT', `bench parameter '${name}' must be a non-negative integer, got '${params[name]}'`, { details: { argument: name } });
  }
  return n;
}

/** Median of a list of numbers (the upper one of the middle two for even lengths). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new LeanformerError('INVALID_ARGUMENT', 'median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
