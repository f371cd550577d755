// ONNX lowering of leanformer.Attention: its forms (each one object of the capability table, chosen
// by measurement where we could measure — ORT CPU, see packages/attention/bench and its README) and
// which targets list them (ATTENTION_LOWERING). EP facts come from core's ep-facts.
//   gqa      com.microsoft.GroupQueryAttention (cpu, cuda, webgpu); dense, or window via local_window_size
//   mha      com.microsoft.MultiHeadAttention, unidirectional; dense MHA (num_heads = kv_num_heads), no past
//   masked   core's decomposition: full scores + boolean mask + Softmax (any pattern, any target)
//   blocked  core's decomposition that never computes skipped scores (window, sinks_window, moa; no past)
//   blocked_mha  queries in chunks as a batch, each chunk against its gathered window of keys, through
//            com.microsoft.MultiHeadAttention with an additive bias (fused QK·softmax·V kernel; window; no past)
//   chunked_gqa  GroupQueryAttention over query chunks laid side by side as heads, each with its window's
//            keys as past (window; no past; static shapes)
//   scan_window  ONNX Scan over query chunks carrying the last window − 1 keys/values as state, so each
//            step's scores stay in cache (window; no past; static shapes)
//   reference    core's registered decomposition (blocked where it applies, else masked), last everywhere
import {
  Graph, Tensor, attentionAttrs, attentionDtypeProblem, attentionHasRope, attr, expandAttentionRope, canBlockAttention, contribKernelProblem, tensorType, decomposeAttention, DTypes, GraphBuilder,
  type Node, type Target, type TargetName, type Value,
} from '@leanformer/core';
import { loweringContext, lowerWithForm, type LoweringContext, type LoweringForm, type OnnxLowering } from '../lowering-registry.js';

/** The ONNX forms leanformer.Attention can take ('reference' is core's decomposition). */
export type AttentionForm = 'gqa' | 'mha' | 'masked' | 'blocked' | 'blocked_mha' | 'chunked_gqa' | 'scan_window' | 'reference';

/** Query chunk of the blocked decomposition per target where measured (else core's default, min(256, window)). */
export const BLOCKED_CHUNK: Readonly<Partial<Record<TargetName, number>>> = Object.freeze({ 'ort-cpu': 128 });

/** Query chunk of the Scan window form (ORT CPU, window 512, 8K: 128 ≈ 64 > 256 > 32). */
export const SCAN_WINDOW_CHUNK = 128;

/** Query chunk of the chunked GroupQueryAttention form (measured on ORT CPU, packages/attention/README.md). */
export const CHUNKED_GQA_CHUNK = 128;

/** Options of {@link lowerAttention}. */
export interface AttentionLoweringOptions {
  /** Force a form (throws LOWERING_FAILED when it does not apply to the node). */
  readonly form?: AttentionForm;
  /** Query chunk of the chunked forms (blocked, blocked_mha, chunked_gqa, scan_window). */
  readonly chunkSize?: number;
}

const headSize = (node: Node, heads: number): number => Number(node.input(0).shape?.[2]) / heads;
const noPast = (node: Node): boolean => !(node.inputs[3] || node.inputs[4] || node.outputs[1] || node.outputs[2]);
const staticShapes = (node: Node): boolean => Boolean(node.input(0).shape?.every((d) => typeof d === 'number')) && typeof node.input(1).shape?.[2] === 'number';

/** Why `form` does not apply to `node` on `target`, or null when it does. */
export function attentionFormBlocker(node: Node, target: Target, form: AttentionForm): string | null {
  const a = attentionAttrs(node);
  switch (form) {
    case 'masked': case 'reference': return null;
    case 'blocked': return canBlockAttention(node) ? null : 'the blocked form needs a window, sinks_window or moa pattern (moa: static sequence length) and no past K/V';
    case 'gqa':
      if (a.pattern !== 'dense' && a.pattern !== 'window') return `GroupQueryAttention has no '${a.pattern}' pattern (dense or local_window_size only)`;
      return contribKernelProblem(target, 'GroupQueryAttention') ?? attentionDtypeProblem(target, node.input(0).dtype)
        ?? (Boolean(node.inputs[3]) !== Boolean(node.inputs[4]) ? 'past_key and past_value must be given together' : null)
        // ORT (1.29/1.30, cpu and cuda) refuses do_rotary otherwise: "head_size shall be a multiple of 16".
        ?? (attentionHasRope(node) && headSize(node, a.numHeads) % 16 !== 0 ? `GroupQueryAttention's rotary needs a head size that is a multiple of 16, got ${headSize(node, a.numHeads)}` : null);
    case 'blocked_mha':
      if (a.pattern !== 'window') return 'the blocked MultiHeadAttention form covers the window pattern';
      if (a.numHeads !== a.kvNumHeads) return 'MultiHeadAttention needs num_heads = kv_num_heads';
      if (!noPast(node)) return 'the blocked form is for prefill without past/present K/V';
      if (typeof node.input(0).shape?.[2] !== 'number') return 'needs a static hidden size';
      return contribKernelProblem(target, 'MultiHeadAttention');
    case 'chunked_gqa':
      if (target.runtime !== 'ort' || target.ep !== 'cpu') return 'the chunked GroupQueryAttention form is measured on ORT cpu only';
      if (a.pattern !== 'window') return 'the chunked GroupQueryAttention form covers the window pattern';
      if (!noPast(node)) return 'the chunked form is for prefill without past/present K/V';
      if (!staticShapes(node)) return 'needs a static batch, sequence length and hidden sizes (chunks become GQA heads, an attribute)';
      return null;
    case 'scan_window':
      if (target.runtime !== 'ort') return 'the Scan window form is measured on ORT only';
      if (a.pattern !== 'window' || a.window < 2) return 'the Scan window form covers the window pattern (window ≥ 2)';
      if (!noPast(node)) return 'the Scan window form is for prefill without past/present K/V';
      if (!staticShapes(node)) return 'needs a static batch, sequence length and hidden sizes';
      return null;
    case 'mha':
      if (a.pattern !== 'dense') return 'MultiHeadAttention is lowered for the dense pattern only';
      if (a.numHeads !== a.kvNumHeads) return 'MultiHeadAttention needs num_heads = kv_num_heads';
      if (!noPast(node)) return 'the MultiHeadAttention form is used without past/present K/V';
      return contribKernelProblem(target, 'MultiHeadAttention');
  }
}

/** The lowering of `form` with an optional chunk size (the table's forms use the measured defaults). */
function lowerAs(node: Node, ctx: LoweringContext, form: AttentionForm, chunkSize?: number): void {
  // GroupQueryAttention rotates q and k itself (do_rotary); every other form gets RoPE as standard ops first.
  if (form !== 'gqa') expandAttentionRope(node);
  switch (form) {
    case 'masked': decomposeAttention(node, { form: 'masked' }); break;
    case 'blocked': {
      const c = chunkSize ?? BLOCKED_CHUNK[ctx.targetName];
      decomposeAttention(node, { form: 'blocked', ...(c ? { chunkSize: c } : {}) });
      break;
    }
    case 'gqa': toGqa(node); break;
    case 'mha': toMha(node); break;
    case 'blocked_mha': toBlockedMha(node, chunkSize); break;
    case 'chunked_gqa': toChunkedGqa(node, chunkSize); break;
    case 'scan_window': toScanWindow(node, chunkSize); break;
    case 'reference': lowerWithForm(node, ctx, 'reference'); break;
  }
}

function formOf(name: Exclude<AttentionForm, 'reference'>, chunkSize?: number, extra?: (node: Node, ctx: LoweringContext) => string | null): LoweringForm {
  return {
    name,
    applies: (node, ctx) => attentionFormBlocker(node, ctx.target, name) ?? extra?.(node, ctx) ?? null,
    lower: (node, ctx) => lowerAs(node, ctx, name, chunkSize),
  };
}

const GQA = formOf('gqa');
/**
 * ORT CPU: GroupQueryAttention with `local_window_size` still visits every key block up to the causal
 * limit and masks (measured 0.8× the dense op at 8K), so on cpu GQA takes the dense pattern only and
 * windows go to the blocked decomposition at chunk 128: equal to the Scan form within noise at 2
 * threads and ahead of it with more (16-core host: 2.5× vs 1.7× over dense; 4 threads: 3.6× vs 2.6×),
 * since Scan runs its chunks one after another; Scan stays next (ahead at 1 thread). Chunked GQA and
 * blocked MHA measured slower (packages/attention/README.md), so no target lists them.
 */
const GQA_DENSE_CPU = formOf('gqa', undefined, (node) => (attentionAttrs(node).pattern === 'dense' ? null
  : 'on ORT cpu GroupQueryAttention\'s local_window_size computes the full QK product, then masks (measured 0.81× the dense op at 8K): windows take the blocked forms'));
const BLOCKED = formOf('blocked');
const SCAN_WINDOW = formOf('scan_window');

/**
 * Attention's entry in the capability table, first applicable wins: dense goes to GQA (the fastest dense
 * form we measured); CUDA/WebGPU keep GQA for windows (their kernels skip out-of-window blocks; not
 * measured here); TensorRT takes ONNX-domain ops only and tfjs has no contrib ops, so they take the
 * blocked decomposition where it applies; everything else ends in core's reference decomposition.
 */
export const ATTENTION_LOWERING: OnnxLowering = {
  domain: 'leanformer', op: 'Attention',
  forms: {
    'ort-cpu': [GQA_DENSE_CPU, BLOCKED, SCAN_WINDOW],
    'ort-cuda': [GQA, BLOCKED],
    'ort-webgpu': [GQA, BLOCKED],
    'ort-wasm': [BLOCKED],
    'ort-tensorrt': [BLOCKED],
    'tfjs-cpu': [BLOCKED], 'tfjs-wasm': [BLOCKED], 'tfjs-webgpu': [BLOCKED], 'tfjs-tensorflow': [BLOCKED],
  },
};

/**
 * Rewrites one leanformer.Attention node into the ONNX form for `target` (in place): the first form of
 * the capability table that applies, or `options.form` (LOWERING_FAILED naming why when it does not apply).
 *
 * @example
 * ```ts
 * for (const n of [...g.nodes]) if (n.domain === 'leanformer' && n.op === 'Attention') lowerAttention(n, { runtime: 'ort', ep: 'cpu' });
 * ```
 */
export function lowerAttention(node: Node, target: Target, options: AttentionLoweringOptions = {}): AttentionForm {
  const ctx = loweringContext(target);
  const f = options.form;
  return lowerWithForm(node, ctx, f === undefined || f === 'reference' ? f : formOf(f, options.chunkSize)) as AttentionForm;
}

function replaceOutputs(node: Node, news: readonly (Value | null)[]): void {
  node.outputs.forEach((o, i) => { if (o && news[i]) news[i]!.type = o.type; });
  node.graph.replaceNode(node, node.outputs.map((_, i) => news[i] ?? null));
}

function toGqa(node: Node): void {
  const a = attentionAttrs(node);
  const g = node.graph;
  const b = GraphBuilder.editing(g, node);
  g.opsets.set('com.microsoft', Math.max(1, g.opsets.get('com.microsoft') ?? 1));
  const q = node.input(0);
  const pk = node.inputs[3] ?? null, pv = node.inputs[4] ?? null;
  const rope = attentionHasRope(node);
  // total length = past + new; seqlens_k is the 0-based index of each batch row's last key (total − 1).
  const S = b.shape(q, 1, 2);
  const B = b.shape(q, 0, 1);
  const T = pk ? b.add(b.shape(pk, 2, 3), S) : S;
  // total_sequence_length is an int32 scalar. ReduceMax keeps ONNX shape inference from propagating
  // the int64 Shape data into the int32 input (ORT's GQA shape inference rejects that).
  const total = b.op('ReduceMax', [b.cast(T, DTypes.int32)], { keepdims: 0 });
  const seqlens = b.op('ReduceMax', [b.unsqueeze(b.cast(b.expand(b.sub(T, b.int64([1])), B), DTypes.int32), [1]), b.int64([1])], { keepdims: 0 }); // [B]
  const D = headSize(node, a.numHeads);
  const n = g.insertBefore(node, {
    op: 'GroupQueryAttention', domain: 'com.microsoft', name: node.name,
    inputs: [q, node.input(1), node.input(2), pk, pv, seqlens, total, ...(rope ? [node.input(5), node.input(6)] : [])],
    outputs: [g.uniqueName(`${node.output(0).name}_gqa`), g.uniqueName(`${node.output(0).name}_gqa_pk`), g.uniqueName(`${node.output(0).name}_gqa_pv`)],
    attrs: {
      num_heads: attr.int(a.numHeads), kv_num_heads: attr.int(a.kvNumHeads),
      scale: attr.float(a.scale > 0 ? a.scale : 1 / Math.sqrt(D)),
      // Checked on onnxruntime-node 1.30 CPU (`leanformer bench attention-gqa-check`): local_window_size = w
      // gives exactly our window (q − k < w, the query itself included).
      ...(a.pattern === 'window' ? { local_window_size: attr.int(a.window) } : {}),
      // Rotate-half RoPE at positions past + i, as leanformer.Attention's cos_cache/sin_cache say.
      ...(rope ? { do_rotary: attr.int(1), rotary_interleaved: attr.int(0) } : {}),
    },
  });
  n.output(0).type = node.output(0).type;
  replaceOutputs(node, [n.output(0), n.output(1), n.output(2)]);
  // present is past + S long. Said with its own symbol: ORT's shape inference otherwise gives present
  // past's shape, and its memory planner then reuses a computed past (a Cast of a float32 KV input, as
  // bf16 compute has) in place for present, failing at run time ("Shape mismatch attempting to re-use buffer").
  for (const o of [n.output(1), n.output(2)]) {
    const t = o.type;
    if (t?.kind === 'tensor' && t.shape && t.shape.length === 4 && typeof t.shape[2] !== 'number') o.type = { ...t, shape: [t.shape[0]!, t.shape[1]!, 'total_sequence_length', t.shape[3]!] };
  }
}

function toMha(node: Node): void {
  const a = attentionAttrs(node);
  const g = node.graph;
  g.opsets.set('com.microsoft', Math.max(1, g.opsets.get('com.microsoft') ?? 1));
  const D = headSize(node, a.numHeads);
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

/**
 * Window attention as GroupQueryAttention over query chunks. ORT 1.30 CPU refuses batch > 1 when
 * S > 1 with past ("batch_size must be 1 when sequence_length > 1 and past context is given"), so
 * the chunks become heads instead of batch rows: the sequence (padded to Sp = max(⌈S/C⌉, nb+1)·C,
 * nb = ⌈(W−1)/C⌉, P = nb·C) is split into
 *   - the first P queries: one plain causal GQA (first prompt, local_window_size = W);
 *   - every later chunk c of C queries: GQA's "subsequent prompt" with batch 1, where chunk c and
 *     head h are head c·H + h (kv head c·G + g, so GQA's head grouping still holds), its new keys
 *     are its own C keys and its past is the P keys just before it — all chunks have a full past,
 *     so one seqlens_k (P + C − 1) serves them all.
 * GQA's kernel then computes C × (P + C) scores per chunk and head instead of S × S.
 */
function toChunkedGqa(node: Node, chunkSize?: number): void {
  const a = attentionAttrs(node);
  const g = node.graph;
  const b = GraphBuilder.editing(g, node);
  g.opsets.set('com.microsoft', Math.max(1, g.opsets.get('com.microsoft') ?? 1));
  const i64 = DTypes.int64, i32 = DTypes.int32;
  const [Bn, Sn, hid] = node.input(0).shape!.map(Number) as [number, number, number];
  const kvHid = Number(node.input(1).shape![2]);
  const H = a.numHeads, G = a.kvNumHeads, D = hid / H, W = a.window;
  const C = chunkSize ?? CHUNKED_GQA_CHUNK;
  const nb = Math.max(1, Math.ceil((W - 1) / C));
  const P = nb * C;
  const nC = Math.max(Math.ceil(Sn / C), nb + 1), nR = nC - nb;
  const scale = attr.float(a.scale > 0 ? a.scale : 1 / Math.sqrt(D));
  const pads = b.int64([0, 0, 0, 0, nC * C - Sn, 0]);
  const [qp, kp, vp] = [0, 1, 2].map((i) => nC * C === Sn ? node.input(i) : b.op('Pad', [node.input(i), pads])) as [Value, Value, Value];
  const gqa = (inputs: (Value | null)[], heads: number, kvHeads: number, tag: string): Value => {
    const n = g.insertBefore(node, {
      op: 'GroupQueryAttention', domain: 'com.microsoft', name: g.uniqueName(`${node.name || 'attn'}_${tag}`),
      inputs,
      outputs: [g.uniqueName(`${node.output(0).name}_${tag}`), g.uniqueName(`${node.output(0).name}_${tag}_pk`), g.uniqueName(`${node.output(0).name}_${tag}_pv`)],
      attrs: { num_heads: attr.int(heads), kv_num_heads: attr.int(kvHeads), scale, local_window_size: attr.int(W) },
    });
    n.output(0).type = tensorType(node.input(0).dtype, inputs[0]!.shape);
    n.output(1).type = n.output(2).type = tensorType(node.input(0).dtype, null);
    return n.output(0);
  };
  // Head: the first P queries, causal over themselves.
  const head = (x: Value): Value => b.slice(x, b.int64([0]), b.int64([P]), [1]);
  const y0 = gqa([head(qp), head(kp), head(vp), null, null, b.constant(Array(Bn).fill(P - 1), i32, 'attn_seqlens'), b.constant(P, i32, 'attn_total')], H, G, 'cgqa0');
  // Rest: [B, nR·C, h] → [1, C, (B·nR)·h], chunk-major then head.
  const rest = (x: Value, h: number): Value => b.reshape(b.transpose(b.reshape(b.slice(x, b.int64([P]), b.int64([nC * C]), [1]), [Bn * nR, C, h]), [1, 0, 2]), [1, C, Bn * nR * h]);
  // Past of rest-chunk r of batch row bi: positions r·C … r·C + P − 1, i.e. chunks r … r + nb − 1, as [1, (B·nR)·G, P, D].
  const rows: number[] = [];
  for (let bi = 0; bi < Bn; bi++) for (let r = 0; r < nR; r++) for (let gi = 0; gi < G; gi++) for (let j = 0; j < nb; j++) rows.push((bi * nC + r + j) * G + gi);
  const rowIdx = b.constant(rows, i64, 'attn_past_rows');
  const past = (x: Value): Value => {
    const t = b.reshape(b.transpose(b.reshape(x, [Bn * nC, C, G, D]), [0, 2, 1, 3]), [Bn * nC * G, C * D]); // row (bi·nC + c)·G + g
    return b.reshape(b.gather(t, rowIdx, 0), [1, Bn * nR * G, P, D]);
  };
  const y1 = gqa([rest(qp, hid), rest(kp, kvHid), rest(vp, kvHid), past(kp), past(vp), b.constant([P + C - 1], i32, 'attn_seqlens'), b.constant(P + C, i32, 'attn_total')], Bn * nR * H, Bn * nR * G, 'cgqa1');
  const y1s = b.reshape(b.transpose(b.reshape(y1, [C, Bn * nR, hid]), [1, 0, 2]), [Bn, nR * C, hid]);
  let y = b.concat([y0, y1s], 1);
  if (nC * C !== Sn) y = b.slice(y, b.int64([0]), b.int64([Sn]), [1]);
  replaceOutputs(node, [y]);
}

/**
 * Window attention as an ONNX Scan over query chunks, so each step's scores ([B·G, r·C, P+C]) stay in
 * cache instead of one [.., S, P+C] tensor going through memory. The loop state is the previous
 * P = W − 1 keys (transposed) and values; each step appends its chunk's C keys/values, computes
 * scores against those P + C keys, adds the band mask (plus, for the first chunks, a mask on slots
 * before position 0), Softmax, MatMul with V, and keeps the last P keys for the next step.
 */
function toScanWindow(node: Node, chunkSize?: number): void {
  const a = attentionAttrs(node);
  const g = node.graph;
  const b = GraphBuilder.editing(g, node);
  const f32 = DTypes.float32;
  const [Bn, Sn, hid] = node.input(0).shape!.map(Number) as [number, number, number];
  const H = a.numHeads, G = a.kvNumHeads, r = H / G, D = hid / H, W = a.window;
  const C = chunkSize ?? SCAN_WINDOW_CHUNK;
  const P = W - 1;
  const nC = Math.ceil(Sn / C), Sp = nC * C, BG = Bn * G;
  const scale = a.scale > 0 ? a.scale : 1 / Math.sqrt(D);
  const pad = (x: Value): Value => Sp === Sn ? x : b.op('Pad', [x, b.int64([0, 0, 0, 0, Sp - Sn, 0])]);
  // Scan inputs, chunk-major: q [nC, B·G, r·C, D] (pre-scaled), kᵀ [nC, B·G, D, C], v [nC, B·G, C, D].
  const qs = b.reshape(b.transpose(b.reshape(b.mul(pad(node.input(0)), b.scalar(scale, f32)), [Bn, nC, C, G, r, D]), [1, 0, 3, 4, 2, 5]), [nC, BG, r * C, D]);
  const ks = b.reshape(b.transpose(b.reshape(pad(node.input(1)), [Bn, nC, C, G, D]), [1, 0, 3, 4, 2]), [nC, BG, D, C]);
  const vs = b.reshape(b.transpose(b.reshape(pad(node.input(2)), [Bn, nC, C, G, D]), [1, 0, 3, 2, 4]), [nC, BG, C, D]);
  // Per-chunk key-slot mask: slot t of chunk c holds position c·C − P + t; slots before 0 are masked.
  const kb = new Float32Array(nC * (P + C));
  for (let c = 0; c < nC; c++) for (let t = 0; t < P + C; t++) if (c * C - P + t < 0) kb[c * (P + C) + t] = -1e30;
  const kbs = b.constant(new Tensor('float32', [nC, 1, P + C], kb), f32, 'attn_scan_kb');
  // Band: query i (position c·C + i) sees slot t iff 0 ≤ i + P − t < W.
  const band = new Float32Array(C * (P + C));
  for (let i = 0; i < C; i++) for (let t = 0; t < P + C; t++) { const d = i + P - t; if (d < 0 || d >= W) band[i * (P + C) + t] = -1e30; }

  const body = new Graph(g.uniqueName('attn_scan_body'), g);
  const bb = new GraphBuilder(body.name, { graph: body });
  const kst = bb.input(g.uniqueName('attn_k_state'), f32, [BG, D, P]);
  const vst = bb.input(g.uniqueName('attn_v_state'), f32, [BG, P, D]);
  const q = bb.input(g.uniqueName('attn_q_chunk'), f32, [BG, r * C, D]);
  const k = bb.input(g.uniqueName('attn_k_chunk'), f32, [BG, D, C]);
  const v = bb.input(g.uniqueName('attn_v_chunk'), f32, [BG, C, D]);
  const kbc = bb.input(g.uniqueName('attn_kb_chunk'), f32, [1, P + C]);
  const kall = bb.concat([kst, k], 2);
  const vall = bb.concat([vst, v], 1);
  const bias = bb.add(bb.constant(new Tensor('float32', [C, P + C], band), f32, g.uniqueName('attn_scan_band')), kbc); // [C, P+C]
  const sc = bb.add(bb.reshape(bb.matmul(q, kall), [BG, r, C, P + C]), bias);
  const o = bb.matmul(bb.reshape(bb.softmax(sc, -1), [BG, r * C, P + C]), vall); // [BG, r·C, D]
  bb.output(bb.slice(kall, [C], [P + C], [2]), g.uniqueName('attn_k_state_out'));
  bb.output(bb.slice(vall, [C], [P + C], [1]), g.uniqueName('attn_v_state_out'));
  bb.output(o, g.uniqueName('attn_o_chunk'));

  const k0 = b.op('ConstantOfShape', [b.int64([BG, D, P])], { value: attr.tensor(new Tensor('float32', [1], new Float32Array(1))) });
  const v0 = b.op('ConstantOfShape', [b.int64([BG, P, D])], { value: attr.tensor(new Tensor('float32', [1], new Float32Array(1))) });
  const n = g.insertBefore(node, {
    op: 'Scan', domain: '', name: g.uniqueName(`${node.name || 'attn'}_scan`),
    inputs: [k0, v0, qs, ks, vs, kbs],
    outputs: [g.uniqueName('attn_k_final'), g.uniqueName('attn_v_final'), g.uniqueName('attn_scan_o')],
    attrs: { body: attr.graph(body), num_scan_inputs: attr.int(4) },
  });
  n.output(0).type = tensorType(f32, [BG, D, P]);
  n.output(1).type = tensorType(f32, [BG, P, D]);
  n.output(2).type = tensorType(f32, [nC, BG, r * C, D]);
  // [nC, B·G, r·C, D] → [B, nC, C, G, r, D] → [B, Sp, hid]
  let y = b.reshape(b.transpose(b.reshape(n.output(2), [nC, Bn, G, r, C, D]), [1, 0, 4, 2, 3, 5]), [Bn, Sp, hid]);
  if (Sp !== Sn) y = b.slice(y, b.int64([0]), b.int64([Sn]), [1]);
  replaceOutputs(node, [y]);
}
