import { LeanformerError } from '../errors.js';
import { subgraphs, type Graph, type Node } from '../ir/graph.js';
import type { Pass } from './pass.js';
import { implicitInputs } from './util.js';

/**
 * Orders each graph's nodes so every value is produced before it is read. Stable: among nodes
 * that are ready, the one earliest in the current order goes first, so a sorted graph keeps
 * its order (and `modified` is false). A node holding subgraphs is placed after the producers
 * of the outer values its bodies read. Subgraph bodies are sorted too.
 * Throws `INVALID_GRAPH` naming the nodes of a cycle.
 *
 * @example
 * ```ts
 * topologicalSort().run(graph, {});
 * ```
 */
export function topologicalSort(): Pass {
  return {
    name: 'topological-sort',
    run(graph) {
      return { graph, modified: sortGraph(graph) };
    },
  };
}

function sortGraph(graph: Graph): boolean {
  let modified = false;
  for (const n of graph.nodes) for (const s of subgraphs(n)) modified = sortGraph(s) || modified;
  const nodes = graph.nodes;
  const index = new Map<Node, number>(nodes.map((n, i) => [n, i]));
  const deps: Set<number>[] = nodes.map(() => new Set());
  const users: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    const reads = new Set(n.inputs);
    for (const v of implicitInputs(n)) reads.add(v);
    for (const v of reads) {
      const p = v?.producer;
      const j = p ? index.get(p) : undefined;
      if (j === undefined || deps[i]!.has(j)) continue;
      deps[i]!.add(j);
      users[j]!.push(i);
    }
  });
  const indeg = deps.map((d) => d.size);
  const heap = new MinHeap();
  indeg.forEach((d, i) => { if (d === 0) heap.push(i); });
  const order: Node[] = [];
  while (heap.size) {
    const i = heap.pop();
    order.push(nodes[i]!);
    for (const u of users[i]!) if (--indeg[u]! === 0) heap.push(u);
  }
  if (order.length < nodes.length) {
    const remaining = new Set(indeg.flatMap((d, i) => (d > 0 ? [i] : [])));
    throw new LeanformerError('INVALID_GRAPH', `Graph '${graph.name}' has a cycle: ${describeCycle(nodes, deps, remaining)}`, {
      details: { graph: graph.name },
    });
  }
  if (order.some((n, i) => n !== nodes[i])) {
    graph.reorder(order);
    modified = true;
  }
  return modified;
}

/** Walks unresolved dependencies from a stuck node until one repeats; the repeat closes the cycle. */
function describeCycle(nodes: readonly Node[], deps: Set<number>[], remaining: Set<number>): string {
  const path: number[] = [];
  const pos = new Map<number, number>();
  let cur = Math.min(...remaining);
  while (!pos.has(cur)) {
    pos.set(cur, path.length);
    path.push(cur);
    cur = [...deps[cur]!].find((d) => remaining.has(d))!;
  }
  // Data-flow order (each node feeds the next), starting from the earliest node in the list.
  const cycle = path.slice(pos.get(cur)).reverse();
  const k = cycle.indexOf(Math.min(...cycle));
  const rotated = [...cycle.slice(k), ...cycle.slice(0, k)];
  return [...rotated, rotated[0]!].map((i) => nodes[i]!.describe()).join(' → ');
}

/** A binary min-heap of node indices. */
class MinHeap {
  private a: number[] = [];
  get size(): number { return this.a.length; }
  push(x: number): void {
    const a = this.a;
    a.push(x);
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (a[p]! <= a[i]!) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && a[l]! < a[m]!) m = l;
        if (r < a.length && a[r]! < a[m]!) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}
