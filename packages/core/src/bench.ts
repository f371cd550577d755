// The shape of a benchmark suite. Suites live outside the packages' main entries (each package's
// `./bench` subpath, built from its `bench/` folder) and run through one entry: `leanformer bench <name>`.
// Benchmarks are not tests: they time real work and compare against a peer in the same run.
import { LeanformerError } from './errors.js';
import { escapeXml, formatFigure, htmlDocument, htmlTable, svgBarChart, type BarItem } from './picture.js';
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

// Metric-name suffixes that carry a unit, longest first: metrics sharing one are drawn on one scale, so a
// suite's own figure sits beside its peer's (`efficientvit_m0_ms` / `efficientvit_m0_timm_onnx_ms`).
const UNIT_SUFFIXES = ['ms_per_token', 'mb_per_cpu_s', 'mb_per_s', 'tokens_per_s', 'seconds_per_gb', 'seconds', 'bytes', 'params', 'mflops', 'ms', 'us', 'mb', 'gb', 's'] as const;
// Spreads of a figure `x`, drawn as its whisker: `x_p25`/`x_p75`.
const SPREAD = /_(p25|p75)$/;
// Ratios between two figures (ours vs a peer, a speed-up): drawn against a rule at 1×. A difference
// named `…_diff_…_vs_…` is not a ratio.
const isRatio = (k: string): boolean => /(_vs_|_over_|_to_|speedup|_ratio)/.test(k) && !/diff/.test(k);

/**
 * A self-contained HTML page of one bench result: bar charts that put figures of the same unit side by
 * side (ours beside the peer's from the same run), ratio metrics (`*_vs_*`, speed-ups, ratios) against a
 * rule at 1, the full metrics table and the suite's notes. `leanformer bench <suite> --html <file>` writes it.
 *
 * @example
 * ```ts
 * const html = benchHtml({ suite: 'vision', metrics: { ours_ms: 3.1, timm_onnx_ms: 4.0, ours_vs_timm_onnx: 1.29 } });
 * ```
 */
export function benchHtml(result: BenchResult, options: { readonly command?: string } = {}): string {
  const metrics = Object.entries(result.metrics as Record<string, unknown>);
  const numeric = new Map(metrics.filter(([, v]) => typeof v === 'number' || v === null) as [string, number | null][]);
  const item = (k: string): BarItem => {
    const v = numeric.get(k)!;
    const lo = numeric.get(`${k}_p25`), hi = numeric.get(`${k}_p75`);
    return typeof lo === 'number' && typeof hi === 'number' ? { label: k, value: v, low: lo, high: hi } : { label: k, value: v };
  };
  const charts: string[] = [];
  const ratios = [...numeric.keys()].filter((k) => isRatio(k) && !SPREAD.test(k));
  if (ratios.length) charts.push(svgBarChart({ title: 'ratios (rule at 1×)', items: ratios.map(item), reference: 1, unit: '×' }));
  const groups = new Map<string, string[]>();
  for (const k of numeric.keys()) {
    if (isRatio(k) || SPREAD.test(k)) continue;
    const unit = UNIT_SUFFIXES.find((u) => k.endsWith(`_${u}`));
    if (unit) groups.set(unit, [...(groups.get(unit) ?? []), k]);
  }
  for (const [unit, keys] of groups) if (keys.length >= 2) charts.push(svgBarChart({ title: `figures in ${unit.replace(/_/g, ' ')}`, items: keys.map(item), unit: unit.replace(/_/g, ' ') }));
  const rows = metrics.map(([k, v]) => [k, typeof v === 'number' ? formatFigure(v) : v === null ? 'null' : typeof v === 'string' ? v : JSON.stringify(v)]);
  const notes = (result as { notes?: unknown }).notes;
  // Suites keep notes as a list of lines or as metric → explanation.
  const noteItems = Array.isArray(notes) ? notes.map(String) : notes && typeof notes === 'object' ? Object.entries(notes).map(([k, v]) => `${k}: ${String(v)}`) : [];
  const noteList = noteItems.length ? `<h2>notes</h2><ul>${noteItems.map((n) => `<li>${escapeXml(n)}</li>`).join('')}</ul>` : '';
  const extra = Object.entries(result as unknown as Record<string, unknown>).filter(([k]) => !['suite', 'metrics', 'notes'].includes(k));
  const extraTable = extra.length ? `<h2>other fields</h2>${htmlTable(['field', 'value'], extra.map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))}` : '';
  const body = [
    `<h1>leanformer bench ${escapeXml(result.suite)}</h1>`,
    options.command ? `<p class="muted"><code>${escapeXml(options.command)}</code></p>` : '',
    charts.length ? charts.join('\n') : '<p class="muted">no metric pairs to chart (see the table)</p>',
    `<h2>all metrics</h2>${htmlTable(['metric', 'value'], rows)}`,
    noteList,
    extraTable,
  ].join('\n');
  return htmlDocument(`leanformer bench ${result.suite}`, body);
}
