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

/** Result of a pass-manager run: the graph and which passes changed it. */
export interface PassManagerResult extends PassResult {
  readonly applied: readonly string[];
}

/**
 * Runs passes in order, optionally to a fixed point. A failure names the failing pass
 * and those that ran before it.
 *
 * @example
 * ```ts
 * const pm = new PassManager([deadCodeElimination(), constantFolding()], { fixedPoint: true });
 * const { graph, modified } = pm.run(g);
 * ```
 */
export class PassManager {
  constructor(readonly passes: readonly Pass[], readonly options: { fixedPoint?: boolean; maxIterations?: number } = {}) {}

  run(graph: Graph, ctx: PassContext = {}): PassManagerResult {
    const applied: string[] = [];
    const ran: string[] = [];
    const maxIter = this.options.fixedPoint ? this.options.maxIterations ?? 16 : 1;
    let g = graph;
    let anyModified = false;
    for (let iter = 0; iter < maxIter; iter++) {
      let modified = false;
      for (const pass of this.passes) {
        let r: PassResult;
        try {
          r = pass.run(g, ctx);
        } catch (e) {
          const before = ran.length ? ` after [${ran.join(', ')}]` : '';
          const msg = e instanceof Error ? e.message : String(e);
          throw new LeanformerError('PASS_FAILED', `Pass '${pass.name}' failed${before}: ${msg}`, { cause: e, details: { pass: pass.name, ran: [...ran] } });
        }
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
