// ONNX lowering of leanformer.Attention, per target. Which form each (target, pattern) gets is data
// (ATTENTION_FORMS), chosen by measurement where we could measure (ORT CPU, see
// packages/attention/bench and its README); each form is one function.
//   gqa      com.microsoft.GroupQueryAttention (cpu, cuda, webgpu); dense, or window via local_window_size
//   mha      com.microsoft.MultiHeadAttention, unidirectional; dense MHA (num_heads = kv_num_heads), no past
//   masked   core's decomposition: full scores + boolean mask + Softmax (any pattern, any target)
//   blocked  core's decomposition that never computes skipped scores (window, sinks_window, moa; no past)
import {
  attentionAttrs, attr, canBlockAttention, decomposeAttention, DTypes, GraphBuilder, LeanformerError,
  type Node, type Target, type Value,
} from '@leanformer/core';

/** The ONNX forms leanformer.Attention can take. */
export type AttentionForm = 'gqa' | 'mha' | 'masked' | 'blocked';

/**
 * Preferred forms per target and pattern, first applicable wins. ORT CPU: GroupQueryAttention with
 * `local_window_size` computes the full QK product and masks (measured 0.81× the dense op at 8K), so
 * windows go to the blocked decomposition there; dense goes to GQA (the fastest dense form we measured).
 * CUDA/WebGPU keep GQA for windows (their kernels skip out-of-window blocks; not measured here).
 * TensorRT takes ONNX-domain ops only; tfjs has no contrib ops.
 */
export const ATTENTION_FORMS: Readonly<Record<string, Readonly<Record<string, readonly AttentionForm[]>>>> = Object.freeze({
  'ort-cpu': { dense: ['gqa', 'masked'], window: ['blocked', 'masked'], sinks_window: ['blocked', 'masked'], moa: ['blocked', 'masked'], block_sparse: ['masked'], topk: ['masked'] },
  'ort-cuda': { dense: ['gqa', 'masked'], window: ['gqa', 'blocked', 'masked'], sinks_window: ['blocked', 'masked'], moa: ['blocked', 'masked'], block_sparse: ['masked'], topk: ['masked'] },
  'ort-webgpu': { dense: ['gqa', 'masked'], window: ['gqa', 'blocked', 'masked'], sinks_window: ['blocked', 'masked'], moa: ['blocked', 'masked'], block_sparse: ['masked'], topk: ['masked'] },
  'ort-wasm': { dense: ['masked'], window: ['blocked', 'masked'], sinks_window: ['blocked', 'masked'], moa: ['blocked', 'masked'], block_sparse: ['masked'], topk: ['masked'] },
  'ort-tensorrt': { dense: ['masked'], window: ['blocked', 'masked'], sinks_window: ['blocked', 'masked'], moa: ['blocked', 'masked'], block_sparse: ['masked'], topk: ['masked'] },
  tfjs: { dense: ['masked'], window: ['blocked', 'masked'], sinks_window: ['blocked', 'masked'], moa: ['blocked', 'masked'], block_sparse: ['masked'], topk: ['masked'] },
});

/** Options of {@link lowerAttention}. */
export interface AttentionLoweringOptions {
  /** Force a form (throws LOWERING_FAILED when it does not apply to the node). */
  readonly form?: AttentionForm;
  /** Query chunk of the blocked form. */
  readonly chunkSize?: number;
}

function targetKey(t: Target): string { return t.runtime === 'ort' ? `ort-${t.ep}` : 'tfjs'; }

function fail(node: Node, t: Target, why: string): never {
  throw new LeanformerError('LOWERING_FAILED', `${node.describe()} cannot be lowered for ${targetKey(t)}: ${why}`, { details: { op: 'leanformer::Attention', target: targetKey(t) } });
}

/** Why `form` does not apply to `node` on `target`, or null when it does. */
export function attentionFormBlocker(node: Node, target: Target, form: AttentionForm): string | null {
  const a = attentionAttrs(node);
  const dt = node.input(0).dtype;
  switch (form) {
    case 'masked': return null;
    case 'blocked': return canBlockAttention(node) ? null : 'the blocked form needs a window, sinks_window or moa pattern (moa: static sequence length) and no past K/V';
    case 'gqa':
      if (target.runtime !== 'ort' || !['cpu', 'cuda', 'webgpu'].includes(target.ep)) return 'GroupQueryAttention runs on ORT cpu, cuda and webgpu only';
      if (a.pattern !== 'dense' && a.pattern !== 'window') return `GroupQueryAttention has no '${a.pattern}' pattern (dense or local_window_size only)`;
      if (target.ep === 'cuda' && dt !== DTypes.float16) return 'the CUDA GroupQueryAttention kernel takes float16/bfloat16 only';
      if (Boolean(node.inputs[3]) !== Boolean(node.inputs[4])) return 'past_key and past_value must be given together';
      return null;
    case 'mha':
      if (target.runtime !== 'ort' || !['cpu', 'cuda', 'webgpu'].includes(target.ep)) return 'MultiHeadAttention runs on ORT cpu, cuda and webgpu only';
      if (a.pattern !== 'dense') return 'MultiHeadAttention is lowered for the dense pattern only';
      if (a.numHeads !== a.kvNumHeads) return 'MultiHeadAttention needs num_heads = kv_num_heads';
      if (node.inputs[3] || node.inputs[4] || node.outputs[1] || node.outputs[2]) return 'the MultiHeadAttention form is used without past/present K/V';
      return null;
  }
}

/**
 * Rewrites one leanformer.Attention node into the ONNX form for `target` (in place): the first form in
 * {@link ATTENTION_FORMS} for the target and pattern that applies, or `options.form`.
 *
 * @example
 * ```ts
 * for (const n of [...g.nodes]) if (n.domain === 'leanformer' && n.op === 'Attention') lowerAttention(n, { runtime: 'ort', ep: 'cpu' });
 * ```
 */
export function lowerAttention(node: Node, target: Target, options: AttentionLoweringOptions = {}): AttentionForm {
  const a = attentionAttrs(node);
  let form = options.form;
  if (form) {
    const why = attentionFormBlocker(node, target, form);
    if (why) fail(node, target, why);
  } else {
    const prefs = ATTENTION_FORMS[targetKey(target)]?.[a.pattern] ?? ['masked'];
    form = prefs.find((f) => attentionFormBlocker(node, target, f) === null) ?? 'masked';
  }
  switch (form) {
    case 'masked': decomposeAttention(node, { form: 'masked' }); break;
    case 'blocked': decomposeAttention(node, { form: 'blocked', ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}) }); break;
    case 'gqa': toGqa(node); break;
    case 'mha': toMha(node); break;
  }
  return form;
}

function replaceOutputs(node: Node, news: readonly (Value | null)[]): void {
  const g = node.graph;
  const olds = node.outputs.map((o) => o ?? null);
  olds.forEach((o, i) => { if (o && news[i]) { news[i]!.type = o.type; o.replaceAllUsesWith(news[i]!); } });
  g.removeNode(node, true);
  olds.forEach((o, i) => { if (o && news[i] && !g.lookup(o.name)) news[i]!.name = o.name; });
}

function toGqa(node: Node): void {
  const a = attentionAttrs(node);
  const g = node.graph;
  const b = GraphBuilder.editing(g, node);
  g.opsets.set('com.microsoft', Math.max(1, g.opsets.get('com.microsoft') ?? 1));
  const q = node.input(0);
  const pk = node.inputs[3] ?? null, pv = node.inputs[4] ?? null;
  // total length = past + new; seqlens_k is the 0-based index of each batch row's last key (total − 1).
  const S = b.shape(q, 1, 2);
  const B = b.shape(q, 0, 1);
  const T = pk ? b.add(b.shape(pk, 2, 3), S) : S;
  // total_sequence_length is an int32 scalar. ReduceMax keeps ONNX shape inference from propagating
  // the int64 Shape data into the int32 input (ORT's GQA shape inference rejects that).
  const total = b.op('ReduceMax', [b.cast(T, DTypes.int32)], { keepdims: 0 });
  const seqlens = b.op('ReduceMax', [b.unsqueeze(b.cast(b.expand(b.sub(T, b.int64([1])), B), DTypes.int32), [1]), b.int64([1])], { keepdims: 0 }); // [B]
  const D = Number(q.shape?.[2]) / a.numHeads;
  const n = g.insertBefore(node, {
    op: 'GroupQueryAttention', domain: 'com.microsoft', name: node.name,
    inputs: [q, node.input(1), node.input(2), pk, pv, seqlens, total],
    outputs: [g.uniqueName(`${node.output(0).name}_gqa`), g.uniqueName(`${node.output(0).name}_gqa_pk`), g.uniqueName(`${node.output(0).name}_gqa_pv`)],
    attrs: {
      num_heads: attr.int(a.numHeads), kv_num_heads: attr.int(a.kvNumHeads),
      scale: attr.float(a.scale > 0 ? a.scale : 1 / Math.sqrt(D)),
      // Checked on onnxruntime-node 1.30 CPU (packages/attention/bench/gqa-check.ts): local_window_size = w
      // gives exactly our window (q − k < w, the query itself included).
      ...(a.pattern === 'window' ? { local_window_size: attr.int(a.window) } : {}),
    },
  });
  n.output(0).type = node.output(0).type;
  replaceOutputs(node, [n.output(0), n.output(1), n.output(2)]);
}

function toMha(node: Node): void {
  const a = attentionAttrs(node);
  const g = node.graph;
  g.opsets.set('com.microsoft', Math.max(1, g.opsets.get('com.microsoft') ?? 1));
  const D = Number(node.input(0).shape?.[2]) / a.numHeads;
  const n = g.insertBefore(node, {
    op: 'MultiHeadAttention', domain: 'com.microsoft', name: node.name,
    inputs: [node.input(0), node.input(1), node.input(2)],
    outputs: [g.uniqueName(`${node.output(0).name}_mha`)],
    attrs: { num_heads: attr.int(a.numHeads), unidirectional: attr.int(1), scale: attr.float(a.scale > 0 ? a.scale : 1 / Math.sqrt(D)) },
  });
  replaceOutputs(node, [n.output(0)]);
}
