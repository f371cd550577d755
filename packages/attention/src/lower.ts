import { canBlockAttention, decomposeAttention, type Graph, type Pass } from '@leanformer/core';

/** How {@link attentionDecompositionPass} decomposes leanformer.Attention nodes. */
export interface AttentionDecompositionOptions {
  /** `auto` (default): blocked where it applies (window-like pattern, no past), else masked. */
  readonly form?: 'auto' | 'masked' | 'blocked';
  /** Query chunk of the blocked form (default: min(256, window), at least 16). */
  readonly chunkSize?: number;
}

/**
 * A pass that replaces every `leanformer.Attention` node by standard ONNX ops, so the graph runs on
 * any runtime (tfjs, ORT on any EP, TensorRT). `auto` picks the blocked form for window-like patterns
 * without past K/V, which never computes skipped scores.
 *
 * @example
 * ```ts
 * const { graph } = attentionDecompositionPass().run(g, {});
 * ```
 */
export function attentionDecompositionPass(o: AttentionDecompositionOptions = {}): Pass {
  return {
    name: 'attention-decomposition',
    run(graph: Graph) {
      let modified = false;
      for (const n of [...graph.nodes]) {
        if (n.domain !== 'leanformer' || n.op !== 'Attention') continue;
        const form = o.form === 'masked' ? 'masked' : o.form === 'blocked' ? 'blocked' : canBlockAttention(n) ? 'blocked' : 'masked';
        decomposeAttention(n, { form, ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}) });
        modified = true;
      }
      return { graph, modified };
    },
  };
}
