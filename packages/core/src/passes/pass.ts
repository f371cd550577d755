import { LeanformerError } from '../errors.js';
import type { Graph } from '../ir/graph.js';

/** Shared, read-only facts for a pass run (e.g. a target, logging). */
export interface PassContext {
  readonly log?: (message: string) => void;
  readonly [key: string]: unknown;
}

/** What a pass returns: the (possibly new) graph and whether anything changed. */
export interface PassResult {
  readonly graph: Graph;
  /** True when the pass changed the graph. */
  readonly modified: boolean;
}

/**
 * A graph transformation. Passes keep no state between runs; they may edit the graph
 * in place and return it, or return a new graph.
 */
export interface Pass {
  readonly name: string;
  run(graph: Graph, ctx: PassContext): PassResult;
}

/**
 * A pass whose work is asynchronous (quantization that calibrates on a backend or quantizes on
 * worker threads). A PassManager holding one runs with {@link PassManager.runAsync}.
 */
export interface AsyncPass {
  readonly name: string;
  run(graph: Graph, ctx: PassContext): Promise<PassResult>;
}

/** Result of a pass-manager run: the graph and which passes changed it. */
export interface PassManagerResult extends PassResult {
  readonly applied: readonly string[];
}

/**
 * Runs passes in order, optionally to a fixed point. A failure names the failing pass
 * and those that ran before it. `run` takes synchronous passes; `runAsync` takes both kinds.
 *
 * @example
 * ```ts
 * const pm = new PassManager([deadCodeElimination(), constantFolding()], { fixedPoint: true });
 * const { graph, modified } = pm.run(g);
 * const q = await new PassManager([quantizePass({ method: 'rtn' }), deadCodeElimination()]).runAsync(g);
 * ```
 */
export class PassManager {
  constructor(readonly passes: readonly (Pass | AsyncPass)[], readonly options: { fixedPoint?: boolean; maxIterations?: number } = {}) {}

  run(graph: Graph, ctx: PassContext = {}): PassManagerResult {
    const steps = this.steps(graph, ctx);
    let next = steps.next();
    while (!next.done) {
      const { pass, graph: g, ran } = next.value;
      let r: PassResult;
      try {
        const out = pass.run(g, ctx);
        if (out instanceof Promise) {
          out.catch(() => {}); // its outcome is moot: the run stops here
          throw new LeanformerError('INVALID_ARGUMENT', 'it is asynchronous; run this PassManager with runAsync()');
        }
        r = out;
      } catch (e) { throw failure(pass, ran, e); }
      next = steps.next(r);
    }
    return next.value;
  }

  async runAsync(graph: Graph, ctx: PassContext = {}): Promise<PassManagerResult> {
    const steps = this.steps(graph, ctx);
    let next = steps.next();
    while (!next.done) {
      const { pass, graph: g, ran } = next.value;
      let r: PassResult;
      try { r = await pass.run(g, ctx); } catch (e) { throw failure(pass, ran, e); }
      next = steps.next(r);
    }
    return next.value;
  }

  /** The pass order and fixed-point bookkeeping, shared by run and runAsync: yields each pass to run (and those run before it), receives its result. */
  private *steps(graph: Graph, _ctx: PassContext): Generator<{ pass: Pass | AsyncPass; graph: Graph; ran: readonly string[] }, PassManagerResult, PassResult> {
    const applied: string[] = [];
    const ran: string[] = [];
    const maxIter = this.options.fixedPoint ? this.options.maxIterations ?? 16 : 1;
    let g = graph;
    let anyModified = false;
    for (let iter = 0; iter < maxIter; iter++) {
      let modified = false;
      for (const pass of this.passes) {
        const r = yield { pass, graph: g, ran: [...ran] };
        ran.push(pass.name);
        g = r.graph;
        if (r.modified) { modified = true; applied.push(pass.name); }
      }
      anyModified ||= modified;
      if (!modified) break;
    }
    return { graph: g, modified: anyModified, applied };
  }

}

/** PASS_FAILED naming the failing pass and those that ran before it. */
function failure(pass: Pass | AsyncPass, ran: readonly string[], e: unknown): LeanformerError {
  const before = ran.length ? ` after [${ran.join(', ')}]` : '';
  const msg = e instanceof Error ? e.message : String(e);
  return new LeanformerError('PASS_FAILED', `Pass '${pass.name}' failed${before}: ${msg}`, { cause: e, details: { pass: pass.name, ran: [...ran] } });
}
