import type { Graph } from '../ir/graph.js';
import type { Pass, PassContext, PassResult } from '../passes/pass.js';
import { analyzeGraph, type AnalyzeOptions, type GraphCost } from './cost.js';

/** Key under which {@link costAnalysisPass} stores its {@link GraphCost} in `graph.meta`. */
export const COST_META_KEY = 'leanformer.cost';

/**
 * A read-only pass that stores the graph's parameter and MAC counts in
 * `graph.meta.get(COST_META_KEY)`; it never modifies the graph (`modified: false`).
 *
 * @example
 * ```ts
 * const { graph } = new PassManager([costAnalysisPass({ dims: { batch: 1 } })]).run(g);
 * const cost = graph.meta.get(COST_META_KEY) as GraphCost;
 * ```
 */
export function costAnalysisPass(options: AnalyzeOptions = {}): Pass {
  return {
    name: 'cost-analysis',
    run(graph: Graph, _ctx: PassContext): PassResult {
      const cost: GraphCost = analyzeGraph(graph, options);
      graph.meta.set(COST_META_KEY, cost);
      return { graph, modified: false };
    },
  };
}
