import type { Graph, Node, Value } from '../ir/graph.js';
import { subgraphs } from '../ir/graph.js';
import type { Pass } from './pass.js';
import { attributeKey, attributesEqual, hasSubgraphs, isNondeterministic } from './util.js';

/**
 * Merges nodes that compute the same thing: same op, domain, overload, attributes and the very
 * same input values (so constants with equal content merge only after {@link initializerDedup}).
 * The first node in list order is kept and the later one's uses are pointed at it.
 * Never merged: non-deterministic ops (RandomNormal, Dropout, …), nodes holding subgraphs,
 * and duplicates whose outputs are graph outputs (their names are the model's interface).
 * Runs inside subgraph bodies too (each graph on its own).
 *
 * @example
 * ```ts
 * commonSubexpressionElimination().run(graph, {});
 * ```
 */
export function commonSubexpressionElimination(): Pass {
  return {
    name: 'common-subexpression-elimination',
    run(graph) {
      return { graph, modified: cse(graph) };
    },
  };
}

function cse(graph: Graph): boolean {
  let modified = false;
  for (const n of graph.nodes) for (const s of subgraphs(n)) modified = cse(s) || modified;
  const ids = new Map<Value, number>();
  const id = (v: Value | null) => {
    if (!v) return '-';
    let i = ids.get(v);
    if (i === undefined) { i = ids.size; ids.set(v, i); }
    return String(i);
  };
  const seen = new Map<string, Node[]>();
  for (const node of [...graph.nodes]) {
    if (isNondeterministic(node) || hasSubgraphs(node) || node.outputs.length === 0) continue;
    const attrs = [...node.attrs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = [node.domain, node.op, node.overload, node.inputs.map(id).join(','), node.outputs.map((v) => (v ? 1 : 0)).join(''),
      attrs.map(([k, a]) => `${k}=${attributeKey(a)}`).join(';')].join('|');
    const candidates = seen.get(key);
    const match = candidates?.find((c) => sameAttrs(c, node));
    if (match && canReplace(node, match, graph)) {
      node.outputs.forEach((v, i) => v?.replaceAllUsesWith(match.outputs[i]!));
      graph.removeNode(node);
      modified = true;
      continue;
    }
    if (candidates) candidates.push(node);
    else seen.set(key, [node]);
  }
  return modified;
}

function sameAttrs(a: Node, b: Node): boolean {
  if (a.attrs.size !== b.attrs.size) return false;
  for (const [k, x] of a.attrs) {
    const y = b.attrs.get(k);
    if (!y || !attributesEqual(x, y)) return false;
  }
  return true;
}

function canReplace(dup: Node, kept: Node, graph: Graph): boolean {
  return dup.outputs.every((v, i) => !v || (!graph.outputs.includes(v) && kept.outputs[i] != null));
}
