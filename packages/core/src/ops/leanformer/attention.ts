// leanformer.Attention: causal scaled-dot-product attention (MHA / GQA / MQA) with a sparsity pattern.
//
// Semantics (normative):
//   query  T [B, S, H·D]      key, value  T [B, S, G·D]      (QK-norm is applied before, as standard ops)
//   past_key, past_value (optional) T [B, G, P, D]; present_* = concat(past, new) [B, G, T=P+S, D]
//   cos_cache, sin_cache (optional, together) T [M, D/2]: RoPE (rotate-half) on query and key first, row
//     P+i for the i-th query/key of this call; present_key holds the rotated keys. Without them q and k
//     are used as given (RoPE, if any, applied before as standard ops).
//   query i sits at absolute position P+i, key j at j; query head h reads kv head ⌊h / (H/G)⌋.
//   score = (q·k)·scale (scale default 1/√D); a key is visible iff k ≤ q and the pattern allows it:
//     dense         —
//     window        q − k < window
//     sinks_window  k < sinks  or  q − k < window                     (StreamingLLM)
//     block_sparse  with bi=⌊q/block_size⌋, bj=⌊k/block_size⌋: bi − bj < local_blocks or
//                   (bj + 1 + off_h) mod vertical_stride = 0, off_h = strided ? h mod vertical_stride : 0
//     moa           q − k < max(1, floor(moa_alpha[h] + moa_beta[h]·(q+1)))   (MoA elastic spans)
//     topk          q − k < window, or among the other visible keys one of the top_k scores (ALISA-style)
//   output = softmax over visible keys · V, as [B, S, H·D].
// Attributes: num_heads, kv_num_heads, scale, pattern, window, sinks, block_size, local_blocks,
// vertical_stride, strided, moa_alpha, moa_beta, top_k.
import { LeanformerError } from '../../errors.js';
import { DTypes } from '../../dtype.js';
import { GraphBuilder } from '../../builder/builder.js';
import type { Node, Value } from '../../ir/graph.js';
import { tensorType, type Dim } from '../../ir/types.js';
import { getSchema, registerSchema, type OpSchema } from '../schema.js';
import { getDecomposition, registerDecomposition } from '../../passes/decompose.js';

const DOMAIN = 'leanformer';

/** Pattern names of leanformer.Attention's `pattern` attribute. */
export const ATTENTION_PATTERNS = ['dense', 'window', 'sinks_window', 'block_sparse', 'moa', 'topk'] as const;
/** Names of the attention patterns leanformer.Attention takes (its `pattern` attribute). */
export type AttentionPatternName = (typeof ATTENTION_PATTERNS)[number];

/** The attributes of a leanformer.Attention node, read and checked. */
export interface AttentionAttrs {
  numHeads: number;
  kvNumHeads: number;
  scale: number;
  pattern: AttentionPatternName;
  window: number;
  sinks: number;
  blockSize: number;
  localBlocks: number;
  verticalStride: number;
  strided: boolean;
  moaAlpha: number[];
  moaBeta: number[];
  topK: number;
}

/** Schema of `leanformer::Attention` version 1. */
export const ATTENTION_SCHEMA: OpSchema = {
  domain: DOMAIN,
  name: 'Attention',
  since: 1,
  inputs: [
    { name: 'query', typeStr: 'T' },
    { name: 'key', typeStr: 'T' },
    { name: 'value', typeStr: 'T' },
    { name: 'past_key', option: 'optional', typeStr: 'T' },
    { name: 'past_value', option: 'optional', typeStr: 'T' },
    { name: 'cos_cache', option: 'optional', typeStr: 'T' },
    { name: 'sin_cache', option: 'optional', typeStr: 'T' },
  ],
  outputs: [
    { name: 'output', typeStr: 'T' },
    { name: 'present_key', option: 'optional', typeStr: 'T' },
    { name: 'present_value', option: 'optional', typeStr: 'T' },
  ],
  attributes: {
    num_heads: { type: 'int', required: true },
    kv_num_heads: { type: 'int', default: 0 },
    scale: { type: 'float', default: 0 },
    pattern: { type: 'string', default: 'dense' },
    window: { type: 'int', default: 0 },
    sinks: { type: 'int', default: 0 },
    block_size: { type: 'int', default: 0 },
    local_blocks: { type: 'int', default: 0 },
    vertical_stride: { type: 'int', default: 0 },
    strided: { type: 'int', default: 0 },
    moa_alpha: { type: 'floats', default: [] },
    moa_beta: { type: 'floats', default: [] },
    top_k: { type: 'int', default: 0 },
  },
  typeConstraints: { T: ['float32', 'float16'] },
  doc: 'Causal attention (MHA/GQA/MQA) with a sparsity pattern: dense, window, sinks_window, block_sparse, moa, topk.',
  infer(ctx) {
    const H = Number(ctx.attr('num_heads'));
    const G = Number(ctx.attr('kv_num_heads', 0)) || H;
    if (!(H > 0) || H % G !== 0) ctx.fail(`num_heads (${H}) must be a positive multiple of kv_num_heads (${G})`);
    const q = ctx.inputTypes[0];
    const k = ctx.inputTypes[1];
    if (q?.kind !== 'tensor' || !q.shape) return [q ?? null, null, null];
    if (q.shape.length !== 3) ctx.fail(`query must be [batch, seq, num_heads·head_size], got rank ${q.shape.length}`);
    const hid = q.shape[2];
    const D = typeof hid === 'number' ? hid / H : null;
    if (D !== null && !Number.isInteger(D)) ctx.fail(`query hidden size ${String(hid)} is not divisible by num_heads ${H}`);
    if (k?.kind === 'tensor' && k.shape && typeof k.shape[2] === 'number' && D !== null && k.shape[2] !== G * D) ctx.fail(`key hidden size ${k.shape[2]} must be kv_num_heads·head_size = ${G * D}`);
    if ((ctx.node.inputs[5] != null) !== (ctx.node.inputs[6] != null)) ctx.fail('cos_cache and sin_cache come together');
    const cache = ctx.inputTypes[5];
    if (cache?.kind === 'tensor' && cache.shape && D !== null && typeof cache.shape[1] === 'number' && cache.shape[1] * 2 !== D) ctx.fail(`cos_cache must be [max_positions, head_size/2 = ${D / 2}], got ${cache.shape[1]} columns`);
    const hasPast = ctx.node.inputs[3] != null;
    const past = ctx.inputTypes[3];
    const P: Dim = hasPast ? (past?.kind === 'tensor' && past.shape ? past.shape[2] ?? null : null) : 0;
    const S = q.shape[1] ?? null;
    const total: Dim = typeof P === 'number' && typeof S === 'number' ? P + S : P === 0 ? S : null;
    const kvType = tensorType(q.dtype, [q.shape[0] ?? null, G, total, D]);
    return [tensorType(q.dtype, q.shape), kvType, kvType];
  },
};

/**
 * Registers the Attention schema and its reference decomposition (for core's `decompose` pass) once
 * (idempotent). The registered decomposition picks the blocked form where it applies, else masked.
 */
export function ensureAttentionSchema(): void {
  if (!getSchema(DOMAIN, 'Attention')) registerSchema(ATTENTION_SCHEMA);
  if (!getDecomposition(DOMAIN, 'Attention')) {
    registerDecomposition(DOMAIN, 'Attention', (node, b) => {
      const r = canBlockAttention(node) ? buildBlocked(b, node) : buildMasked(b, node);
      return [r.y, node.outputs[1] ? r.presentK : null, node.outputs[2] ? r.presentV : null].slice(0, Math.max(1, node.outputs.length));
    });
  }
}

function bad(node: Node, msg: string): never {
  throw new LeanformerError('INVALID_GRAPH', `${node.describe()}: ${msg}`, { details: { op: 'leanformer::Attention' } });
}

/** Reads a leanformer.Attention node's attributes and checks them against its pattern. */
export function attentionAttrs(node: Node): AttentionAttrs {
  const numHeads = Number(node.attr('num_heads', 0));
  const kvNumHeads = Number(node.attr('kv_num_heads', 0)) || numHeads;
  if (!(numHeads > 0) || numHeads % kvNumHeads !== 0) bad(node, `num_heads (${numHeads}) must be a positive multiple of kv_num_heads (${kvNumHeads})`);
  const pattern = String(node.attr('pattern', 'dense')) as AttentionPatternName;
  if (!ATTENTION_PATTERNS.includes(pattern)) bad(node, `unknown pattern '${pattern}'; allowed: ${ATTENTION_PATTERNS.join(', ')}`);
  const a: AttentionAttrs = {
    numHeads, kvNumHeads, pattern,
    scale: Number(node.attr('scale', 0)),
    window: Number(node.attr('window', 0)),
    sinks: Number(node.attr('sinks', 0)),
    blockSize: Number(node.attr('block_size', 0)),
    localBlocks: Number(node.attr('local_blocks', 0)),
    verticalStride: Number(node.attr('vertical_stride', 0)),
    strided: Number(node.attr('strided', 0)) !== 0,
    moaAlpha: [...node.attr<readonly number[]>('moa_alpha', [])],
    moaBeta: [...node.attr<readonly number[]>('moa_beta', [])],
    topK: Number(node.attr('top_k', 0)),
  };
  if ((pattern === 'window' || pattern === 'sinks_window' || pattern === 'topk') && !(a.window >= 1)) bad(node, `pattern '${pattern}' needs window ≥ 1, got ${a.window}`);
  if (pattern === 'block_sparse' && !(a.blockSize >= 1 && a.localBlocks >= 1 && a.verticalStride >= 1)) bad(node, `pattern 'block_sparse' needs block_size, local_blocks and vertical_stride ≥ 1`);
  if (pattern === 'moa' && (a.moaAlpha.length !== numHeads || a.moaBeta.length !== numHeads)) bad(node, `pattern 'moa' needs moa_alpha and moa_beta with one entry per head (${numHeads}), got ${a.moaAlpha.length} and ${a.moaBeta.length}`);
  return a;
}

function headDimOf(node: Node, H: number): number {
  const hid = node.input(0).shape?.[2];
  if (typeof hid !== 'number') bad(node, 'the decomposition needs a static query hidden size (last dim)');
  return hid / H;
}

/** Forms of {@link decomposeAttention}: `masked` computes every score then masks; `blocked` never computes skipped scores. */
export type AttentionDecomposition = 'masked' | 'blocked';

/** Whether the blocked form applies to this node (window-like pattern, no past). */
export function canBlockAttention(node: Node): boolean {
  const a = attentionAttrs(node);
  if (node.inputs[3] || node.inputs[4]) return false;
  if (a.pattern === 'window' || a.pattern === 'sinks_window') return true;
  if (a.pattern === 'moa') return typeof node.input(0).shape?.[1] === 'number';
  return false;
}

/**
 * Replaces a leanformer.Attention node by standard ONNX ops computing exactly its semantics.
 * `masked` (any pattern, with or without past): full score matrix, boolean mask, Softmax.
 * `blocked` (window, sinks_window, and moa with a static sequence length; no past): queries in chunks
 * of `chunkSize`, each against only the keys its window can reach (plus the sinks), so the cost is
 * O(S · (window + chunk)) instead of O(S²). Returns the value that replaced `output`.
 *
 * @example
 * ```ts
 * for (const n of [...g.nodes]) if (n.domain === 'leanformer' && n.op === 'Attention') decomposeAttention(n, { form: 'blocked' });
 * ```
 */
export function decomposeAttention(node: Node, o: { form?: AttentionDecomposition; chunkSize?: number } = {}): Value {
  if (node.domain !== DOMAIN || node.op !== 'Attention') throw new LeanformerError('INVALID_ARGUMENT', `decomposeAttention: expected a leanformer::Attention node, got ${node.describe()}`);
  const form = o.form ?? 'masked';
  if (form === 'blocked' && !canBlockAttention(node)) bad(node, `the blocked form needs pattern window, sinks_window or moa (static sequence length) and no past; use form 'masked'`);
  const g = node.graph;
  const b = GraphBuilder.editing(g, node);
  const { y, presentK, presentV } = form === 'blocked' ? buildBlocked(b, node, o.chunkSize) : buildMasked(b, node);
  g.replaceNode(node, [y, presentK, presentV].slice(0, node.outputs.length));
  return y;
}

interface Heads { q5: Value; k4: Value; v4: Value; H: number; G: number; r: number; D: number; scale: number; dt: typeof DTypes.float32 }

/** Whether a leanformer.Attention node applies RoPE itself (cos_cache/sin_cache inputs). */
export function attentionHasRope(node: Node): boolean { return node.inputs[5] != null; }

/**
 * Rotary embedding (rotate-half) with standard ops on `x [B,S,heads·D]`: row `offset + i` of the
 * `cos`/`sin` tables `[maxLen, D/2]` for the i-th position, `offset` an int64 `[1]` value or null (0).
 * The one RoPE decomposition: leanformer.Attention's own RoPE and @leanformer/attention's `ropeOp` use it.
 *
 * @example
 * ```ts
 * const q = rotaryHalf(b, qProj, 8, 64, cosTable, sinTable, b.shape(pastKey, 2, 3));
 * ```
 */
export function rotaryHalf(b: GraphBuilder, x: Value, heads: number, D: number, cos: Value, sin: Value, offset: Value | null): Value {
  const i64 = DTypes.int64;
  const S = b.squeeze(b.shape(x, 1, 2), [0]);
  let pos = b.range(b.scalar(0, i64), S, b.scalar(1, i64));
  if (offset) pos = b.add(pos, offset);
  const c = b.unsqueeze(b.gather(cos, pos, 0), [1]); // [S,1,D/2]
  const s = b.unsqueeze(b.gather(sin, pos, 0), [1]);
  const [x1, x2] = b.split(b.reshape(x, [0, 0, heads, D]), { axis: 3, sizes: [D / 2, D / 2] }) as [Value, Value];
  const y = b.concat([b.sub(b.mul(x1, c), b.mul(x2, s)), b.add(b.mul(x1, s), b.mul(x2, c))], 3);
  return b.reshape(y, [0, 0, heads * D]);
}

/** The node's RoPE on x: positions continue after the past (its length, 0 without past). */
function rotate(b: GraphBuilder, node: Node, x: Value, heads: number, D: number): Value {
  return rotaryHalf(b, x, heads, D, node.inputs[5]!, node.inputs[6]!, node.inputs[3] ? b.shape(node.inputs[3], 2, 3) : null);
}

/** The node's query and key with its RoPE applied (as given when it has none). */
function ropedQK(b: GraphBuilder, node: Node, H: number, G: number, D: number): [Value, Value] {
  if (!attentionHasRope(node)) return [node.input(0), node.input(1)];
  return [rotate(b, node, node.input(0), H, D), rotate(b, node, node.input(1), G, D)];
}

/**
 * Moves a leanformer.Attention node's RoPE out of it: standard ops rotate query and key before the
 * node, whose cos_cache/sin_cache inputs are dropped (for forms that have no rotary of their own).
 * Nothing changes when the node has no RoPE.
 */
export function expandAttentionRope(node: Node): void {
  if (!attentionHasRope(node)) return;
  const a = attentionAttrs(node);
  const D = headDimOf(node, a.numHeads);
  const [q, k] = ropedQK(GraphBuilder.editing(node.graph, node), node, a.numHeads, a.kvNumHeads, D);
  node.setInput(0, q);
  node.setInput(1, k);
  node.truncateInputs(5);
}

function splitHeads(b: GraphBuilder, node: Node): Heads & { a: AttentionAttrs } {
  const a = attentionAttrs(node);
  const H = a.numHeads, G = a.kvNumHeads, r = H / G;
  const D = headDimOf(node, H);
  const dt = (node.input(0).dtype ?? DTypes.float32) as typeof DTypes.float32;
  const [qIn, kIn] = ropedQK(b, node, H, G, D);
  const q4 = b.transpose(b.reshape(qIn, [0, 0, H, D]), [0, 2, 1, 3]); // [B,H,S,D]
  const q5 = b.reshape(q4, [0, G, r, -1, D]); // [B,G,r,S,D]
  let k4 = b.transpose(b.reshape(kIn, [0, 0, G, D]), [0, 2, 1, 3]); // [B,G,S,D]
  let v4 = b.transpose(b.reshape(node.input(2), [0, 0, G, D]), [0, 2, 1, 3]);
  const pk = node.inputs[3] ?? null, pv = node.inputs[4] ?? null;
  if (pk) k4 = b.concat([pk, k4], 2);
  if (pv) v4 = b.concat([pv, v4], 2);
  return { a, q5, k4, v4, H, G, r, D, dt, scale: a.scale > 0 ? a.scale : 1 / Math.sqrt(D) };
}

function mergeHeads(b: GraphBuilder, o5: Value, H: number, D: number): Value {
  return b.reshape(b.transpose(b.reshape(o5, [0, H, -1, D]), [0, 2, 1, 3]), [0, 0, H * D]);
}

/** Per-head constant `[G, r, 1, 1]` (or with `extra` trailing 1-dims) of float values. */
function perHead(b: GraphBuilder, vals: readonly number[], G: number, r: number, trailing: number, dt: typeof DTypes.float32): Value {
  return b.reshape(b.constant(vals, dt, 'attn_head'), [G, r, ...Array(trailing).fill(1)]);
}

function buildMasked(b: GraphBuilder, node: Node): { y: Value; presentK: Value; presentV: Value } {
  const { a, q5, k4, v4, H, G, r, D, dt, scale } = splitHeads(b, node);
  const kT = b.unsqueeze(b.transpose(k4, [0, 1, 3, 2]), [2]); // [B,G,1,D,T]
  const scores = b.mul(b.matmul(q5, kT), b.scalar(scale, dt)); // [B,G,r,S,T]
  const i64 = DTypes.int64;
  const T = b.shape(k4, 2, 3); // [1]
  const S = b.shape(node.input(0), 1, 2);
  const P = b.sub(T, S);
  const qpos = b.range(b.squeeze(P, [0]), b.squeeze(T, [0]), b.scalar(1, i64)); // [S]
  const kpos = b.range(b.scalar(0, i64), b.squeeze(T, [0]), b.scalar(1, i64)); // [T]
  const qcol = b.unsqueeze(qpos, [1]); // [S,1]
  const krow = b.unsqueeze(kpos, [0]); // [1,T]
  const delta = b.sub(qcol, krow); // [S,T]
  const causal = b.op('GreaterOrEqual', [delta, b.scalar(0, i64)]);
  const and = (x: Value, y: Value): Value => b.op('And', [x, y]);
  const or = (x: Value, y: Value): Value => b.op('Or', [x, y]);
  let keep: Value;
  switch (a.pattern) {
    case 'dense': keep = causal; break;
    case 'window': keep = and(causal, b.less(delta, b.scalar(a.window, i64))); break;
    case 'sinks_window': keep = and(causal, or(b.less(delta, b.scalar(a.window, i64)), b.less(krow, b.scalar(a.sinks, i64)))); break;
    case 'block_sparse': {
      const bi = b.div(qcol, b.scalar(a.blockSize, i64));
      const bj = b.div(krow, b.scalar(a.blockSize, i64));
      const local = b.less(b.sub(bi, bj), b.scalar(a.localBlocks, i64));
      const offs = Array.from({ length: H }, (_, h) => (a.strided ? h % a.verticalStride : 0));
      const off = b.reshape(b.constant(offs, i64, 'attn_off'), [G, r, 1, 1]);
      const col = b.equal(b.op('Mod', [b.add(b.add(bj, b.scalar(1, i64)), off), b.scalar(a.verticalStride, i64)]), b.scalar(0, i64)); // [G,r,1,T]
      keep = and(causal, or(local, col)); // [G,r,S,T]
      break;
    }
    case 'moa': {
      const len = b.cast(b.add(qcol, b.scalar(1, i64)), dt); // [S,1]
      const span = b.op('Max', [b.op('Floor', [b.add(perHead(b, a.moaAlpha, G, r, 2, dt), b.mul(perHead(b, a.moaBeta, G, r, 2, dt), len))]), b.scalar(1, dt)]); // [G,r,S,1]
      keep = and(causal, b.less(b.cast(delta, dt), span));
      break;
    }
    case 'topk': {
      const win = and(causal, b.less(delta, b.scalar(a.window, i64)));
      if (a.topK <= 0) { keep = win; break; }
      const cand = and(causal, b.op('Not', [win]));
      const ninf = b.scalar(-Infinity, dt);
      const candScores = b.where(cand, scores, ninf);
      const kk = b.op('Min', [T, b.int64([a.topK])]);
      const [vals] = b.op('TopK', [candScores, kk], { axis: -1, largest: 1, sorted: 1 }, { outputs: 2 }) as Value[];
      const thr = b.slice(vals!, [-1], [Number.MAX_SAFE_INTEGER], [-1]);
      keep = or(win, and(cand, b.op('GreaterOrEqual', [candScores, thr])));
      break;
    }
  }
  const masked = b.where(keep, scores, b.scalar(-Infinity, dt));
  const probs = b.softmax(masked, -1);
  const o5 = b.matmul(probs, b.unsqueeze(v4, [2])); // [B,G,r,S,D]
  return { y: mergeHeads(b, o5, H, D), presentK: k4, presentV: v4 };
}

function buildBlocked(b: GraphBuilder, node: Node, chunkSize?: number): { y: Value; presentK: Value; presentV: Value } {
  const { a, q5, k4, v4, H, G, r, D, dt, scale } = splitHeads(b, node);
  const i64 = DTypes.int64;
  // Widest span any head needs; for MoA that is at the static sequence length.
  let W = a.window;
  if (a.pattern === 'moa') {
    const S = node.input(0).shape![1] as number;
    W = Math.max(...a.moaAlpha.map((al, h) => Math.max(1, Math.floor(al + a.moaBeta[h]! * S))));
  }
  const C = chunkSize ?? Math.max(16, Math.min(128, W));
  if (!Number.isInteger(C) || C < 1) bad(node, `chunkSize must be a positive integer, got ${C}`);
  const nb = Math.ceil((W - 1) / C); // earlier chunks a query chunk can reach
  const KW = (nb + 1) * C;
  const S = b.shape(node.input(0), 1, 2); // [1]
  const cC = b.int64([C]);
  const pad = b.op('Mod', [b.sub(cC, b.op('Mod', [S, cC])), cC]); // [1]
  const Sp = b.add(S, pad);
  const z3 = b.int64([0, 0, 0]);
  const z1 = b.int64([0]);
  const nC = b.div(Sp, cC); // [1]
  // q (scaled once here, not on the much larger score tensor): [B,G,r,S,D] → pad S → [B,G,r,nC,C,D]
  const qp = b.op('Pad', [b.mul(q5, b.scalar(scale, dt)), b.concat([b.int64([0, 0, 0, 0, 0]), z3, pad, z1], 0)]);
  const qc = b.reshape(qp, [0, G, r, -1, C, D]);
  // Chunk index c [nC,1,1] and key index j within a window [1,1,KW].
  const cIdx = b.reshape(b.range(b.scalar(0, i64), b.squeeze(nC, [0]), b.scalar(1, i64)), [-1, 1, 1]);
  const jIdx = b.reshape(b.constant(Array.from({ length: KW }, (_, j) => j), i64, 'attn_j'), [1, 1, KW]);
  // k/v: [B,G,S,D] → pad nb·C in front and `pad` behind; the window of chunk c is padded rows
  // c·C … c·C+KW−1 (one Gather with [nC, KW] indices; no per-offset slices and concat).
  const kvPads = b.concat([b.int64([0, 0, nb * C, 0, 0, 0]), pad, z1], 0);
  const widx = b.reshape(b.add(b.mul(cIdx, b.scalar(C, i64)), jIdx), [-1, KW]); // [nC,KW]
  const windows = (x: Value): Value => b.gather(b.op('Pad', [x, kvPads]), widx, 2); // [B,G,nC,KW,D]
  let kw = windows(k4), vw = windows(v4);
  const iIdx = b.constant(Array.from({ length: C }, (_, i) => i), i64, 'attn_i');
  const qposc = b.add(b.mul(cIdx, b.scalar(C, i64)), b.reshape(iIdx, [1, C, 1])); // [nC,C,1]
  // Window keys: key j of chunk c sits at (c − nb)·C + j; Δ = nb·C + i − j.
  const delta = b.sub(b.add(b.reshape(iIdx, [1, C, 1]), b.scalar(nb * C, i64)), jIdx); // [1,C,KW]
  const kposw = b.add(b.mul(cIdx, b.scalar(C, i64)), b.sub(jIdx, b.scalar(nb * C, i64))); // [nC,1,KW]
  const and = (x: Value, y: Value): Value => b.op('And', [x, y]);
  let keepW = and(b.op('GreaterOrEqual', [delta, b.scalar(0, i64)]), b.op('GreaterOrEqual', [kposw, b.scalar(0, i64)])); // [nC,C,KW]
  if (a.pattern === 'moa') {
    const len = b.cast(b.add(qposc, b.scalar(1, i64)), dt); // [nC,C,1]
    const span = b.op('Max', [b.op('Floor', [b.add(perHead(b, a.moaAlpha, G, r, 3, dt), b.mul(perHead(b, a.moaBeta, G, r, 3, dt), len))]), b.scalar(1, dt)]); // [G,r,nC,C,1]
    keepW = and(keepW, b.less(b.cast(delta, dt), span)); // [G,r,nC,C,KW]
  } else {
    keepW = and(keepW, b.less(delta, b.scalar(a.window, i64)));
  }
  let keep = keepW;
  if (a.pattern === 'sinks_window' && a.sinks > 0) {
    // Sink keys 0…sinks-1 join every chunk; visible when causal and outside the window (no double count).
    const sk = b.slice(k4, [0], [a.sinks], [2]);
    const sv = b.slice(v4, [0], [a.sinks], [2]);
    const rep = b.concat([b.int64([1, 1]), nC, b.int64([1, 1])], 0);
    kw = b.concat([b.expand(b.unsqueeze(sk, [2]), rep), kw], 3);
    vw = b.concat([b.expand(b.unsqueeze(sv, [2]), rep), vw], 3);
    const sIdx = b.reshape(b.constant(Array.from({ length: a.sinks }, (_, j) => j), i64, 'attn_sink'), [1, 1, a.sinks]);
    const dS = b.sub(qposc, sIdx); // [nC,C,sinks]
    const keepS = and(b.op('GreaterOrEqual', [dS, b.scalar(a.window, i64)]), b.op('GreaterOrEqual', [dS, b.scalar(0, i64)]));
    keep = b.concat([keepS, keepW], 2);
  }
  // Additive bias (0 / −inf) on the small mask, then one broadcast Add on the scores: much cheaper than
  // a broadcast Where over the score tensor.
  const bias = b.where(keep, b.scalar(0, dt), b.scalar(-Infinity, dt));
  // Unsqueeze before the Transpose of the last two axes, so ORT fuses Transpose + MatMul (transB).
  const kT = b.transpose(b.unsqueeze(kw, [2]), [0, 1, 2, 3, 5, 4]); // [B,G,1,nC,D,KW']
  const scores = b.add(b.matmul(qc, kT), bias); // [B,G,r,nC,C,KW']
  const probs = b.softmax(scores, -1);
  const o6 = b.matmul(probs, b.unsqueeze(vw, [2])); // [B,G,r,nC,C,D]
  const o4 = b.slice(b.reshape(o6, [0, H, -1, D]), z1, S, [2]); // [B,H,S,D]
  const y = b.reshape(b.transpose(o4, [0, 2, 1, 3]), [0, 0, H * D]);
  return { y, presentK: k4, presentV: v4 };
}
