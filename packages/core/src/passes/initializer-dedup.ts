import type { Graph, Value } from '../ir/graph.js';
import type { Pass } from './pass.js';
import { allGraphs, fnv1a, tensorsEqual } from './util.js';

/** Options of {@link initializerDedup}. */
export interface InitializerDedupOptions {
  /** Initializers larger than this many bytes are left alone (default: no limit). */
  readonly maxBytes?: number;
}

/**
 * Merges initializers with the same dtype, shape and bytes: later duplicates' uses point at the
 * first, and the duplicates are removed. Tensors are grouped by dtype/shape first, hashed
 * (FNV-1a) only when a group has several members, and merged only after an exact byte compare.
 * Initializers that are graph inputs or outputs are left alone (they are part of the interface).
 * Each graph (subgraphs too) is deduplicated on its own.
 *
 * @example
 * ```ts
 * initializerDedup().run(graph, {});
 * ```
 */
export function initializerDedup(options: InitializerDedupOptions = {}): Pass {
  return {
    name: 'initializer-dedup',
    run(graph) {
      let modified = false;
      for (const g of allGraphs(graph)) modified = dedup(g, options.maxBytes ?? Infinity) || modified;
      return { graph, modified };
    },
  };
}

function dedup(graph: Graph, maxBytes: number): boolean {
  const groups = new Map<string, Value[]>();
  for (const v of graph.initializers.values()) {
    const t = v.const!;
    if (graph.inputs.includes(v) || graph.outputs.includes(v) || t.byteLength > maxBytes) continue;
    const key = `${t.dtype.name}[${t.shape.join(',')}]`;
    const list = groups.get(key);
    if (list) list.push(v);
    else groups.set(key, [v]);
  }
  let modified = false;
  for (const list of groups.values()) {
    if (list.length < 2) continue;
    const byHash = new Map<string, Value[]>();
    for (const v of list) {
      const t = v.const!;
      const h = t.dtype.storage === 'string' ? (t.data as string[]).join('\u0000') : String(fnv1a(t.bytes()));
      const kept = byHash.get(h);
      const same = kept?.find((k) => tensorsEqual(k.const!, t));
      if (same) {
        v.replaceAllUsesWith(same);
        graph.removeInitializer(v);
        modified = true;
      } else if (kept) kept.push(v);
      else byHash.set(h, [v]);
    }
  }
  return modified;
}
