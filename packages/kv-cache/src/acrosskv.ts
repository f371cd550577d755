import { LeanformerError, attentionAttrs, deadCodeElimination, shapeSize, type Graph, type Node, type Pass, type Value } from '@leanformer/core';

/** Options of {@link acrossKVPass}. */
export interface AcrossKVOptions {
  /** Adjacent attention layers that share one KV cache (SwiftKV uses 2). Default 2. */
  readonly group?: number;
}

function isAttention(n: Node): boolean { return n.domain === 'leanformer' && n.op === 'Attention'; }

/**
 * SwiftKV AcrossKV as a graph rewrite: within every run of `group` adjacent `leanformer.Attention`
 * layers, the later layers read the first layer's keys and values (and its past K/V), their own past
 * inputs and present outputs are removed, and dead K/V projections are eliminated. The KV cache then
 * holds one entry per group: half the bytes for pairs. SwiftKV recovers accuracy by distillation;
 * applied to a model not trained for it, expect (and measure) a loss.
 *
 * @example
 * ```ts
 * acrossKVPass({ group: 2 }).run(graph, {});
 * ```
 */
export function acrossKVPass(o: AcrossKVOptions = {}): Pass {
  const group = o.group ?? 2;
  if (!Number.isInteger(group) || group < 2) throw new LeanformerError('INVALID_ARGUMENT', `acrossKVPass: 'group' must be an integer ≥ 2, got ${group}`);
  return {
    name: 'swiftkv-acrosskv',
    run(graph: Graph) {
      const atts = graph.nodes.filter(isAttention);
      let modified = false;
      for (let s = 0; s + 1 < atts.length; s += group) {
        const first = atts[s]!;
        const fa = attentionAttrs(first);
        for (let j = s + 1; j < Math.min(s + group, atts.length); j++) {
          const n = atts[j]!;
          const na = attentionAttrs(n);
          const kd = (v: Value | null | undefined) => v?.shape?.[2];
          if (na.kvNumHeads !== fa.kvNumHeads || kd(n.inputs[1]) !== kd(first.inputs[1])) {
            throw new LeanformerError('INVALID_GRAPH', `acrossKVPass: ${n.describe()} and ${first.describe()} have different KV geometry (kv heads ${na.kvNumHeads} vs ${fa.kvNumHeads}); layers sharing a cache must match`);
          }
          if (Boolean(n.inputs[3]) !== Boolean(first.inputs[3])) throw new LeanformerError('INVALID_GRAPH', `acrossKVPass: ${n.describe()} and ${first.describe()} disagree on past K/V`);
          const oldPast = [n.inputs[3] ?? null, n.inputs[4] ?? null];
          for (const i of [1, 2, 3, 4]) if (first.inputs[i]) n.setInput(i, first.inputs[i]!);
          // The shared layer's own cache disappears: present outputs and now-unused past inputs.
          for (const out of [n.outputs[1], n.outputs[2]]) {
            if (!out) continue;
            for (let k = graph.outputs.length - 1; k >= 0; k--) if (graph.outputs[k] === out) graph.outputs.splice(k, 1);
          }
          for (const p of oldPast) {
            if (p && p.uses.length === 0) { const k = graph.inputs.indexOf(p); if (k >= 0) graph.inputs.splice(k, 1); }
          }
          modified = true;
        }
      }
      if (modified) deadCodeElimination().run(graph, {});
      return { graph, modified };
    },
  };
}

/** Bytes of the KV cache a graph carries: the sum over its `past_*` inputs, at `pastLen` tokens (symbolic dims → pastLen). */
export function kvCacheBytes(graph: Graph, pastLen: number, bytesPerElement = 2): number {
  let total = 0;
  for (const v of graph.inputs) {
    if (!v.name.startsWith('past_')) continue;
    const shape = (v.shape ?? []).map((d) => (typeof d === 'number' ? d : pastLen));
    total += shapeSize(shape) * bytesPerElement;
  }
  return total;
}
