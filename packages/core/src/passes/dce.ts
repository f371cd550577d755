import type { Graph, Node } from '../ir/graph.js';
import { subgraphs } from '../ir/graph.js';
import type { Pass } from './pass.js';
import { hasSubgraphs } from './util.js';

/** Options of {@link deadCodeElimination}. */
export interface DeadCodeEliminationOptions {
  /** Also drop initializers nothing reads (default true). Initializers listed as graph inputs are kept. */
  readonly removeUnusedInitializers?: boolean;
}

/**
 * Removes nodes whose outputs nothing reads (not a graph output, no uses, in this graph or in
 * subgraphs), and unused initializers. Subgraph bodies are cleaned first, so an outer value read
 * only by a dead inner node becomes dead too. Nodes that hold subgraphs (If, Loop, Scan) are
 * kept conservatively: their bodies may have effects the IR does not model.
 *
 * @example
 * ```ts
 * const { modified } = deadCodeElimination().run(graph, {});
 * ```
 */
export function deadCodeElimination(options: DeadCodeEliminationOptions = {}): Pass {
  const dropInits = options.removeUnusedInitializers ?? true;
  return {
    name: 'dead-code-elimination',
    run(graph) {
      const modified = clean(graph, dropInits);
      return { graph, modified };
    },
  };
}

function isDead(node: Node, graph: Graph): boolean {
  if (hasSubgraphs(node)) return false;
  return node.outputs.every((v) => !v || (v.uses.length === 0 && !graph.outputs.includes(v)));
}

function clean(graph: Graph, dropInits: boolean): boolean {
  let modified = false;
  for (const n of graph.nodes) for (const s of subgraphs(n)) modified = clean(s, dropInits) || modified;
  // Reverse order removes a chain in one sweep when the list is topological; repeat otherwise.
  for (let changed = true; changed;) {
    changed = false;
    const nodes = graph.nodes;
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i]!;
      if (isDead(n, graph)) { graph.removeNode(n); changed = true; modified = true; }
    }
  }
  if (dropInits) {
    for (const v of [...graph.initializers.values()]) {
      if (v.uses.length === 0 && !graph.outputs.includes(v) && !graph.inputs.includes(v)) {
        graph.removeInitializer(v);
        modified = true;
      }
    }
  }
  return modified;
}
