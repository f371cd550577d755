// ONNX lowering of leanformer.Attention, per target. Which form each (target, pattern) gets is data
// (ATTENTION_FORMS), chosen by measurement where we could measure (ORT CPU, see
// packages/attention/bench and its README); each form is one function.
//   gqa      com.microsoft.GroupQueryAttention (cpu, cuda, webgpu); dense, or window via local_window_size
//   mha      com.microsoft.MultiHeadAttention, unidirectional; dense MHA (num_heads = kv_num_heads), no past
//   masked   core's decomposition: full scores + boolean mask + Softmax (any pattern, any target)
//   blocked  core's decomposition that never computes skipped scores (window, sinks_window, moa; no past)
//   blocked_mha  queries in chunks as a batch, each chunk against its gathered window of keys, through
//            com.microsoft.MultiHeadAttention with an additive bias (fused QK·softmax·V kernel; window; no past)
import {
  attentionAttrs, attr, canBlockAttention, tensorType, decomposeAttention, DTypes, GraphBuilder, LeanformerError,
  type Node, type Target, type Value,
} from '@leanformer/core';

/** The ONNX forms leanformer.Attention can take. */
export type AttentionForm = 'gqa' | 'mha' | 'masked' | 'blocked' | 'blocked_mha';

/**
 * Preferred forms per target and pattern, first applicable wins. ORT CPU: GroupQueryAttention with
 * `local_window_size` computes the full QK product and masks (measured 0.81× the dense op at 8K), so
 * windows go to the blocked decomposition there; dense goes to GQA (the fastest dense form we measured).
 * CUDA/WebGPU keep GQA for windows (their kernels skip out-of-window blocks; not measured here).
 * TensorRT takes ONNX-domain ops only; tfjs has no contrib ops.
 */
export const ATTENTION_FORMS: Readonly<Record<string, Readonly<Record<string, readonly AttentionForm[]>>>> = Object.freeze({
  'ort-cpu': { dense: ['gqa', 'masked'], window: ['blocked_mha', 'blocked', 'masked'], sinks_window: ['blocked', 'masked'], moa: ['blocked', 'masked'], block_sparse: ['masked'], topk: ['masked'] },
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
    case 'blocked_mha':
      if (target.runtime !== 'ort' || !['cpu', 'cuda', 'webgpu'].includes(target.ep)) return 'MultiHeadAttention runs on ORT cpu, cuda and webgpu only';
      if (a.pattern !== 'window') return 'the blocked MultiHeadAttention form covers the window pattern';
      if (a.numHeads !== a.kvNumHeads) return 'MultiHeadAttention needs num_heads = kv_num_heads';
      if (node.inputs[3] || node.inputs[4] || node.outputs[1] || node.outputs[2]) return 'the blocked form is for prefill without past/present K/V';
      if (typeof node.input(0).shape?.[2] !== 'number') return 'needs a static hidden size';
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
    case 'blocked_mha': toBlockedMha(node, options.chunkSize); break;
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

function toBlockedMha(node: Node, chunkSize?: number): void {
  const a = attentionAttrs(node);
  const g = node.graph;
  const b = GraphBuilder.editing(g, node);
  g.opsets.set('com.microsoft', Math.max(1, g.opsets.get('com.microsoft') ?? 1));
  const i64 = DTypes.int64, f32 = DTypes.float32;
  const hid = Number(node.input(0).shape![2]);
  const H = a.numHeads, D = hid / H, W = a.window;
  // Chunk 64 measured fastest at an 8K prefill with window 512 on ORT CPU (README).
  const C = chunkSize ?? Math.max(16, Math.min(64, W));
  const nb = Math.ceil((W - 1) / C);
  const KW = (nb + 1) * C;
  const S = b.shape(node.input(0), 1, 2);
  const cC = b.int64([C]);
  const pad = b.op('Mod', [b.sub(cC, b.op('Mod', [S, cC])), cC]);
  const Sp = b.add(S, pad);
  const nC = b.div(Sp, cC);
  // Queries: [B,S,hid] → pad → [B·nC, C, hid]; keys/values: pad nb·C in front, gather each chunk's window → [B·nC, KW, hid].
  const q = b.reshape(b.op('Pad', [node.input(0), b.concat([b.int64([0, 0, 0, 0]), pad, b.int64([0])], 0)]), [-1, C, hid]);
  const cIdx = b.reshape(b.range(b.scalar(0, i64), b.squeeze(nC, [0]), b.scalar(1, i64)), [-1, 1]);
  const jIdx = b.reshape(b.constant(Array.from({ length: KW }, (_, j) => j), i64, 'attn_j'), [1, KW]);
  const widx = b.add(b.mul(cIdx, b.scalar(C, i64)), jIdx); // [nC,KW]
  const kvPads = b.concat([b.int64([0, nb * C, 0, 0]), pad, b.int64([0])], 0);
  const win = (x: Value): Value => b.reshape(b.gather(b.op('Pad', [x, kvPads]), widx, 1), [-1, KW, hid]);
  // Bias [nC,1,C,KW] (batch rows are b·nC + c, so B > 1 tiles it): Δ = nb·C + i − j must be in [0, W), key position ≥ 0.
  const iIdx = b.reshape(b.constant(Array.from({ length: C }, (_, i) => i), i64, 'attn_i'), [1, C, 1]);
  const j3 = b.reshape(jIdx, [1, 1, KW]);
  const delta = b.sub(b.add(iIdx, b.scalar(nb * C, i64)), j3);
  const kpos = b.add(b.mul(b.reshape(cIdx, [-1, 1, 1]), b.scalar(C, i64)), b.sub(j3, b.scalar(nb * C, i64)));
  const keep = b.op('And', [b.op('And', [b.op('GreaterOrEqual', [delta, b.scalar(0, i64)]), b.less(delta, b.scalar(W, i64))]), b.op('GreaterOrEqual', [kpos, b.scalar(0, i64)])]);
  let bias = b.unsqueeze(b.where(keep, b.scalar(0, f32), b.scalar(-1e30, f32)), [1]); // [nC,1,C,KW]
  const B = b.shape(node.input(0), 0, 1);
  bias = b.reshape(b.expand(b.unsqueeze(bias, [0]), b.concat([B, b.int64([1, 1, 1, 1])], 0)), [-1, 1, C, KW]);
  const n = g.insertBefore(node, {
    op: 'MultiHeadAttention', domain: 'com.microsoft', name: node.name,
    inputs: [q, win(node.input(1)), win(node.input(2)), null, null, bias],
    outputs: [g.uniqueName(`${node.output(0).name}_bmha`)],
    attrs: { num_heads: attr.int(H), scale: attr.float(a.scale > 0 ? a.scale : 1 / Math.sqrt(D)) },
  });
  n.output(0).type = tensorType(node.input(0).dtype, [null, C, hid]);
  const B1 = b.reshape(n.output(0), b.concat([B, b.int64([-1, hid])], 0)); // [B, Sp, hid]
  const out = b.slice(B1, b.int64([0]), S, [1]);
  replaceOutputs(node, [out]);
}
