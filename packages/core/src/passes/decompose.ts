import { LeanformerError } from '../errors.js';
import { normalizeDomain, subgraphs, type Graph, type Node, type Value } from '../ir/graph.js';
import { GraphBuilder } from '../builder/builder.js';
import type { Pass } from './pass.js';
import { allGraphs } from './util.js';

/**
 * Builds a node's reference computation from other ops. `b` inserts right before the node (so the
 * list stays topological) and has every typed helper. Return the values that replace the node's
 * outputs, in order (one Value for single-output ops; null for an output nothing reads).
 */
export type DecompositionFn = (node: Node, b: GraphBuilder) => Value | readonly (Value | null)[];

const registry = new Map<string, DecompositionFn>();
const key = (domain: string, op: string) => `${normalizeDomain(domain)}::${op}`;

/**
 * Registers the reference decomposition of `domain::op`. Lowerings fall back to it when a target
 * has no faster form. Registering the same op twice throws (a silent override would change
 * what every lowering computes).
 *
 * @example
 * ```ts
 * registerDecomposition('leanformer', 'Swish', (node, b) => b.silu(node.input(0)));
 * ```
 */
export function registerDecomposition(domain: string, op: string, fn: DecompositionFn): void {
  const k = key(domain, op);
  if (registry.has(k)) throw new LeanformerError('INVALID_ARGUMENT', `A decomposition for ${k} is already registered`);
  registry.set(k, fn);
}

/** The decomposition registered for `domain::op`, if any. */
export function getDecomposition(domain: string, op: string): DecompositionFn | undefined {
  return registry.get(key(domain, op));
}

/** Options of {@link decompose}. */
export interface DecomposeOptions {
  /** Which nodes to decompose (default: every `leanformer`-domain node that has a decomposition). */
  readonly filter?: (node: Node) => boolean;
  /** Throw NOT_SUPPORTED when a node the filter selects has no decomposition (default false: leave it). */
  readonly requireAll?: boolean;
  /** Rounds of re-decomposing ops that decompositions emit (default 8). */
  readonly maxDepth?: number;
}

/**
 * Replaces selected nodes by their registered reference decompositions (by default, every
 * `leanformer`-domain node that has one), repeating while decompositions emit further
 * decomposable nodes. Output names are kept. Domains that no node uses any more are dropped
 * from the opset imports.
 *
 * @example
 * ```ts
 * decompose().run(graph, {}); // leanformer ops → standard ONNX ops
 * ```
 */
export function decompose(options: DecomposeOptions = {}): Pass {
  const filter = options.filter ?? ((n: Node) => n.domain === 'leanformer');
  const maxDepth = options.maxDepth ?? 8;
  return {
    name: 'decompose',
    run(graph) {
      let modified = false;
      const touched = new Set<string>();
      for (let round = 0; ; round++) {
        let changed = false;
        for (const g of allGraphs(graph)) {
          for (const node of [...g.nodes]) {
            if (!filter(node)) continue;
            const fn = getDecomposition(node.domain, node.op);
            if (!fn) {
              if (options.requireAll) throw new LeanformerError('NOT_SUPPORTED', `No decomposition is registered for ${node.describe()}; register one with registerDecomposition('${node.domain}', '${node.op}', fn)`);
              continue;
            }
            if (round >= maxDepth) throw new LeanformerError('PASS_FAILED', `decompose: ${node.describe()} is still decomposable after ${maxDepth} rounds (a decomposition emits its own op?)`);
            replaceByDecomposition(node, fn, g);
            touched.add(node.domain);
            changed = true;
          }
        }
        modified ||= changed;
        if (!changed) break;
      }
      if (modified) dropUnusedDomains(graph, touched);
      return { graph, modified };
    },
  };
}

function replaceByDecomposition(node: Node, fn: DecompositionFn, graph: Graph): void {
  const b = GraphBuilder.editing(graph, node);
  const res = fn(node, b);
  const repl = Array.isArray(res) ? (res as readonly (Value | null)[]) : [res as Value];
  graph.replaceNode(node, repl);
}

function dropUnusedDomains(graph: Graph, domains: Set<string>): void {
  const used = new Set<string>();
  const visit = (g: Graph) => { for (const n of g.nodes) { used.add(n.domain); for (const s of subgraphs(n)) visit(s); } };
  visit(graph);
  for (const fdef of graph.model?.functions ?? []) { used.add(fdef.domain); visit(fdef.body); }
  for (const d of domains) if (!used.has(d)) graph.opsets.delete(d);
}
