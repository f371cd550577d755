import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { LeanformerError, type ProgressCallback, type Tensor } from '@leanformer/core';
import type { CliBackend } from './backends.js';
import { allclose, ONNX_TOLERANCE, type Tolerance } from '@leanformer/core';
import { readTestDataSet } from './model.js';
import { prepareModel } from './pipeline.js';

/** One ONNX backend-test case: a folder with model.onnx and test_data_set_* folders. */
export interface ConformanceCase { readonly name: string; readonly dir: string }

/** Result of one case. 'errored': the model or its data could not be loaded or run; 'failed': ran but differed. */
export interface CaseResult {
  readonly name: string;
  readonly status: 'passed' | 'failed' | 'errored';
  /** Why it did not pass (null when it passed). */
  readonly reason: string | null;
}

/** Totals and per-case results of a conformance run (the `--json` form of `leanformer conformance`). */
export interface ConformanceReport {
  readonly total: number;
  readonly passed: number;
  readonly failed: number;
  readonly errored: number;
  readonly cases: readonly CaseResult[];
}

/** Case folders under `root` (recursively; `root` itself may be a case), sorted by path. */
export function findCases(root: string): ConformanceCase[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new LeanformerError('IO_ERROR', `No such folder: ${root}`, { details: { path: root } });
  const out: ConformanceCase[] = [];
  const walk = (dir: string) => {
    const entries = readdirSync(dir, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && e.name === 'model.onnx') && entries.some((e) => e.isDirectory() && e.name.startsWith('test_data_set_'))) {
      out.push({ name: relative(root, dir) || basename(dir), dir });
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name));
  };
  walk(root);
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
}

/**
 * Runs one case on `backend` (through the IR, or `direct`), every data set, compared with ONNX's
 * tolerances. Never throws for problems of the case itself: they come back as 'errored' with the reason.
 *
 * @example
 * ```ts
 * const backend = await cliBackend('ort-cpu').create({ threads: 1 });
 * for (const c of findCases('/usr/share/libonnx-testdata/data/node')) {
 *   const r = await runConformanceCase(c, backend);
 *   if (r.status !== 'passed') console.log(r.name, r.status, r.reason);
 * }
 * ```
 */
export async function runConformanceCase(c: ConformanceCase, backend: CliBackend, options: { direct?: boolean; tolerance?: Tolerance } = {}): Promise<CaseResult> {
  const sets = readdirSync(c.dir).filter((f) => f.startsWith('test_data_set_')).sort();
  let prepared;
  try {
    prepared = await prepareModel(join(c.dir, 'model.onnx'), backend, options.direct ?? false);
  } catch (e) {
    return { name: c.name, status: 'errored', reason: oneLine(e) };
  }
  const { exe } = prepared;
  try {
    // Test data of sequence/optional/map inputs is not a TensorProto; say so instead of a decoder error.
    const nonTensor = prepared.inputs.filter((s) => !s.isTensor).map((s) => s.name);
    if (nonTensor.length) return { name: c.name, status: 'errored', reason: `input ${nonTensor.map((n) => `'${n}'`).join(', ')} is not a tensor (sequence, optional or map); executors take tensor feeds only` };
    for (const s of sets) {
      let got: Record<string, Tensor>;
      let expected: Record<string, Tensor>;
      try {
        const data = readTestDataSet(join(c.dir, s), exe.inputNames, exe.outputNames);
        expected = data.expected;
        got = await exe.run(data.inputs);
      } catch (e) {
        return { name: c.name, status: 'errored', reason: `${s}: ${oneLine(e)}` };
      }
      for (const [name, want] of Object.entries(expected)) {
        const have = got[name];
        const diff = have ? allclose(have, want, options.tolerance ?? ONNX_TOLERANCE) : 'was not produced';
        const why = diff && `output '${name}': ${diff}`;
        if (why) return { name: c.name, status: 'failed', reason: `${s}: ${why}` };
      }
    }
    return { name: c.name, status: 'passed', reason: null };
  } finally {
    await exe.dispose();
  }
}

/**
 * Runs every case under `root` one after another. `onProgress` gets `{ phase: 'conformance', done,
 * total, unit: 'cases', item: <case name> }` after each case (done 0 first).
 */
export async function runConformance(root: string, backend: CliBackend, options: { direct?: boolean; tolerance?: Tolerance; onProgress?: ProgressCallback } = {}): Promise<ConformanceReport> {
  const cases: CaseResult[] = [];
  const found = findCases(root);
  options.onProgress?.({ phase: 'conformance', done: 0, total: found.length, unit: 'cases' });
  for (const c of found) {
    const r = await runConformanceCase(c, backend, options);
    cases.push(r);
    options.onProgress?.({ phase: 'conformance', done: cases.length, total: found.length, unit: 'cases', item: r.name });
  }
  const count = (s: CaseResult['status']) => cases.filter((r) => r.status === s).length;
  return { total: cases.length, passed: count('passed'), failed: count('failed'), errored: count('errored'), cases };
}
