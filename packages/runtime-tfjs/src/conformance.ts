// ONNX node-test conformance on tfjs: each case directory holds model.onnx and
// test_data_set_N/{input_i,output_i}.pb. This module runs already-decoded cases (so it stays
// free of file and protobuf code); ./node.ts reads directories and decodes with injected decoders.

import { allclose, LeanformerError, ONNX_TOLERANCE, type Graph, type Tensor, type Tolerance } from '@leanformer/core';
import { TfjsBackend } from './backend.js';
import { unsupportedOps, unsupportedTypes } from './compile.js';

/** Inputs (graph-input order) and expected outputs (graph-output order) of each data set. */
export type DataSets = readonly { readonly inputs: readonly Tensor[]; readonly outputs: readonly Tensor[] }[];

/** One decoded test case. */
export interface TfjsConformanceCase {
  readonly name: string;
  readonly graph: Graph;
  /** Data sets: inputs in graph-input order, expected outputs in graph-output order (loaded lazily when a function). */
  readonly dataSets: DataSets | (() => DataSets);
}

/** The outcome of one case. */
export interface TfjsCaseResult {
  readonly name: string;
  readonly status: 'pass' | 'fail' | 'unsupported';
  /** Why it failed, or the ops it lacks. */
  readonly reason?: string;
  readonly unsupportedOps?: readonly string[];
}

/** Totals over many cases. */
export interface ConformanceSummary {
  readonly total: number;
  /** Cases whose ops all have tfjs kernels (the denominator of the pass rate). */
  readonly supported: number;
  readonly passed: number;
  readonly failed: number;
  /** passed / supported. */
  readonly passRate: number;
  /** Ops that made cases unsupported, with how many cases each blocked. */
  readonly unsupportedOps: Readonly<Record<string, number>>;
  readonly results: readonly TfjsCaseResult[];
}

/**
 * Runs decoded cases on a tfjs backend. A case is `unsupported` when an op has no kernel;
 * otherwise it passes when every output of every data set matches within `tolerance`.
 *
 * @example
 * ```ts
 * const summary = await runConformanceCases(cases, createTfjsBackend('cpu'));
 * console.log(summary.passed, '/', summary.supported);
 * ```
 */
export async function runConformanceCases(cases: Iterable<TfjsConformanceCase | { name: string; error: unknown }>, backend: TfjsBackend, tolerance: Tolerance = ONNX_TOLERANCE): Promise<ConformanceSummary> {
  const results: TfjsCaseResult[] = [];
  const blocked: Record<string, number> = {};
  for (const c of cases) {
    if ('error' in c) {
      results.push({ name: c.name, status: 'fail', reason: `could not load: ${(c.error as Error)?.message ?? String(c.error)}` });
      continue;
    }
    // Unsupported ops, and value types tfjs has no form for (strings, sequences, optionals).
    const missing = [...unsupportedOps(c.graph), ...unsupportedTypes(c.graph).map((t) => `(${t})`)];
    if (missing.length) {
      for (const op of missing) blocked[op] = (blocked[op] ?? 0) + 1;
      results.push({ name: c.name, status: 'unsupported', unsupportedOps: missing, reason: `no kernel for ${missing.join(', ')}` });
      continue;
    }
    results.push(await runCase(c, backend, tolerance));
  }
  const supported = results.filter((r) => r.status !== 'unsupported').length;
  const passed = results.filter((r) => r.status === 'pass').length;
  return { total: results.length, supported, passed, failed: supported - passed, passRate: supported ? passed / supported : 0, unsupportedOps: blocked, results };
}

async function runCase(c: TfjsConformanceCase, backend: TfjsBackend, tol: Tolerance): Promise<TfjsCaseResult> {
  let exe;
  try {
    exe = await backend.compile(c.graph);
    const inputs = exe.inputNames;
    const sets = typeof c.dataSets === 'function' ? c.dataSets() : c.dataSets;
    for (const [k, ds] of sets.entries()) {
      const feeds: Record<string, Tensor> = {};
      // Data sets give inputs in graph-input order; initializer-backed inputs may be omitted.
      const all = c.graph.inputs.map((v) => v.name);
      ds.inputs.forEach((t, i) => { const n = all[i]; if (n !== undefined && (inputs.includes(n) || c.graph.initializers.has(n))) feeds[n] = t; });
      const out = await exe.run(feeds);
      for (const [i, want] of ds.outputs.entries()) {
        const name = exe.outputNames[i];
        if (name === undefined) throw new LeanformerError('INVALID_ARGUMENT', `data set ${k} has more outputs than the graph`);
        const why = allclose(out[name]!, want, tol);
        if (why) return { name: c.name, status: 'fail', reason: `output '${name}' (data set ${k}): ${why}` };
      }
    }
    return { name: c.name, status: 'pass' };
  } catch (e) {
    return { name: c.name, status: 'fail', reason: (e as Error).message };
  } finally {
    await exe?.dispose();
  }
}
