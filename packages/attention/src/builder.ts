import {
  GraphBuilder, LeanformerError, Tensor, decomposeAttention, ensureAttentionSchema, rng, rotaryHalf, type AttrsInput, type Graph, type Value,
} from '@leanformer/core';
import { validatePattern, type AttentionPattern } from './pattern.js';
import { ropeCache } from './rope.js';
import type { TinyDecoder } from './retrieval.js';

/**
 * The leanformer.Attention attributes for a pattern (see the op's semantics in core).
 *
 * @example
 * ```ts
 * patternAttrs({ kind: 'window', window: 512 }); // { pattern: 'window', window: 512 }
 * ```
 */
export function patternAttrs(p: AttentionPattern, numHeads?: number): Record<string, number | string | number[]> {
  validatePattern(p, p.kind === 'moa' ? numHeads : undefined);
  switch (p.kind) {
    case 'dense': return { pattern: 'dense' };
    case 'window': return { pattern: 'window', window: p.window };
    case 'sinks-window': return { pattern: 'sinks_window', window: p.window, sinks: p.sinks };
    case 'block-sparse': return { pattern: 'block_sparse', block_size: p.blockSize, local_blocks: p.localBlocks, vertical_stride: p.verticalStride, strided: p.strided ? 1 : 0 };
    case 'moa': return { pattern: 'moa', moa_alpha: p.spans.map((s) => s.alpha), moa_beta: p.spans.map((s) => s.beta) };
    case 'topk': return { pattern: 'topk', window: p.window, top_k: p.topK };
  }
}

/** Options of {@link attentionOp}. */
export interface AttentionOpOptions {
  readonly numHeads: number;
  /** KV heads (GQA; 1 = MQA). Default `numHeads`. */
  readonly kvHeads?: number;
  readonly pattern?: AttentionPattern;
  readonly scale?: number;
  /** Past K/V `[B, kvHeads, P, D]`; with them the node also returns present K/V. */
  readonly pastKey?: Value;
  readonly pastValue?: Value;
  readonly name?: string;
  /**
   * RoPE applied by the node itself (its cos_cache/sin_cache inputs, {@link ropeTables}): q and k are
   * rotated at positions past + i, and lowerings with a fused rotary (GroupQueryAttention's do_rotary)
   * use it. Without it, q and k are taken as given (apply {@link ropeOp} before).
   */
  readonly rope?: RopeTables;
}

/**
 * Emits one `leanformer.Attention` node over projected `q [B,S,H·D]`, `k`/`v [B,S,G·D]`
 * (RoPE applied before, or by the node with `rope`). Returns the output and, with past K/V, the present K/V.
 */
export function attentionOp(b: GraphBuilder, q: Value, k: Value, v: Value, o: AttentionOpOptions): { output: Value; presentKey?: Value; presentValue?: Value } {
  ensureAttentionSchema();
  const attrs: AttrsInput = {
    num_heads: o.numHeads,
    kv_num_heads: o.kvHeads ?? o.numHeads,
    ...(o.scale !== undefined ? { scale: o.scale } : {}),
    ...patternAttrs(o.pattern ?? { kind: 'dense' }, o.numHeads),
  } as AttrsInput;
  const withPast = !!(o.pastKey && o.pastValue);
  const outs = b.op('Attention', [q, k, v, o.pastKey ?? null, o.pastValue ?? null, ...(o.rope ? [o.rope.cos, o.rope.sin] : [])], attrs, { domain: 'leanformer', outputs: withPast ? 3 : 1, ...(o.name ? { name: o.name } : {}) });
  return withPast ? { output: outs[0]!, presentKey: outs[1]!, presentValue: outs[2]! } : { output: outs[0]! };
}

/** The `cos`/`sin` initializers `[maxLen, D/2]` of {@link ropeOp}. */
export interface RopeTables { readonly cos: Value; readonly sin: Value }

/**
 * Adds RoPE `cos`/`sin` tables `[maxLen, invFreq.length]` as initializers, to share across the layers
 * (and q/k) of a model through {@link ropeOp}'s `tables` (long contexts make them large).
 *
 * @example
 * ```ts
 * const tables = ropeTables(b, ropeInvFreq(64), 4096, 'model.rope');
 * const q = ropeOp(b, qProj, 8, 64, ropeInvFreq(64), 4096, null, 'l0', tables);
 * ```
 */
export function ropeTables(b: GraphBuilder, invFreq: ArrayLike<number>, maxLen: number, prefix: string): RopeTables {
  const half = invFreq.length;
  const { cos, sin } = ropeCache(invFreq, maxLen);
  return {
    cos: b.param(b.graph.uniqueName(`${prefix}.rope_cos`), new Tensor('float32', [maxLen, half], cos)),
    sin: b.param(b.graph.uniqueName(`${prefix}.rope_sin`), new Tensor('float32', [maxLen, half], sin)),
  };
}

/**
 * Rotary embedding with standard ops (rotate-half convention) on `x [B,S,heads·D]`, rows at positions
 * `offset + 0…S-1` where `offset` is an int64 `[1]` value (e.g. the past length). The `cos`/`sin`
 * tables `[maxLen, D/2]` are initializers: new ones per call, or `tables` from {@link ropeTables}.
 */
export function ropeOp(b: GraphBuilder, x: Value, heads: number, headDim: number, invFreq: ArrayLike<number>, maxLen: number, offset: Value | null, prefix: string, tables?: RopeTables): Value {
  const { cos, sin } = tables ?? ropeTables(b, invFreq, maxLen, prefix);
  return rotaryHalf(b, x, heads, headDim, cos, sin, offset);
}

/** Options of {@link attentionBlock}. */
export interface AttentionBlockConfig {
  /** Name prefix of the weights (`<prefix>.q_proj` …). */
  readonly prefix: string;
  readonly hidden: number;
  readonly numHeads: number;
  readonly kvHeads?: number;
  readonly headDim?: number;
  readonly pattern?: AttentionPattern;
  /** RoPE: `true` (base 10000) or explicit inverse frequencies; `maxLen` rows of cos/sin. */
  readonly rope?: boolean | { readonly invFreq: ArrayLike<number> };
  readonly maxLen?: number;
  /** RMS-normalize q and k per head before RoPE (QK-norm). */
  readonly qkNorm?: boolean;
  /** Weights `[hidden, out]` (row-major, `x·W`); random N(0, 0.02) when omitted (seeded by `seed`). */
  readonly weights?: { readonly wq: Float32Array; readonly wk: Float32Array; readonly wv: Float32Array; readonly wo: Float32Array };
  readonly seed?: number;
  /** Past K/V graph values; the block then also returns present K/V. */
  readonly pastKey?: Value;
  readonly pastValue?: Value;
}

function seeded(n: number, seed: number, std: number): Float32Array {
  return rng(seed).normalTensor([n], std).data as Float32Array;
}

/**
 * An attention block (MHA, GQA or MQA by `kvHeads`) on `x [B,S,hidden]`: q/k/v projections, optional
 * QK-norm, RoPE (standard ops), one `leanformer.Attention` node with the pattern, output projection.
 *
 * @example
 * ```ts
 * const b = new GraphBuilder('block');
 * const x = b.input('x', 'float32', [1, 'seq', 256]);
 * const { output } = attentionBlock(b, x, { prefix: 'l0.attn', hidden: 256, numHeads: 8, kvHeads: 2, rope: true,
 *   pattern: { kind: 'window', window: 512 } });
 * ```
 */
export function attentionBlock(b: GraphBuilder, x: Value, cfg: AttentionBlockConfig): { output: Value; presentKey?: Value; presentValue?: Value } {
  const H = cfg.numHeads, G = cfg.kvHeads ?? H;
  const D = cfg.headDim ?? cfg.hidden / H;
  if (!Number.isInteger(D) || D < 1 || H % G !== 0) throw new LeanformerError('INVALID_ARGUMENT', `attentionBlock(${cfg.prefix}): need integer headDim and numHeads (${H}) a multiple of kvHeads (${G}); got headDim ${D}`);
  const w = cfg.weights ?? {
    wq: seeded(cfg.hidden * H * D, (cfg.seed ?? 0) * 4 + 1, 0.02), wk: seeded(cfg.hidden * G * D, (cfg.seed ?? 0) * 4 + 2, 0.02),
    wv: seeded(cfg.hidden * G * D, (cfg.seed ?? 0) * 4 + 3, 0.02), wo: seeded(H * D * cfg.hidden, (cfg.seed ?? 0) * 4 + 4, 0.02),
  };
  const p = (name: string, data: Float32Array, shape: number[]): Value => b.param(b.graph.uniqueName(`${cfg.prefix}.${name}`), new Tensor('float32', shape, data));
  let q = b.matmul(x, p('q_proj.weight', w.wq, [cfg.hidden, H * D]));
  let k = b.matmul(x, p('k_proj.weight', w.wk, [cfg.hidden, G * D]));
  const v = b.matmul(x, p('v_proj.weight', w.wv, [cfg.hidden, G * D]));
  if (cfg.qkNorm) {
    const norm = (t: Value, heads: number, name: string): Value => {
      const t4 = b.reshape(t, [0, 0, heads, D]);
      return b.reshape(b.rmsNorm(t4, p(name, new Float32Array(D).fill(1), [D])), [0, 0, heads * D]);
    };
    q = norm(q, H, 'q_norm.weight');
    k = norm(k, G, 'k_norm.weight');
  }
  if (cfg.rope) {
    const inv = cfg.rope === true ? Array.from({ length: D / 2 }, (_, i) => 10000 ** (-(2 * i) / D)) : cfg.rope.invFreq;
    const maxLen = cfg.maxLen ?? 4096;
    const offset = cfg.pastKey ? b.shape(cfg.pastKey, 2, 3) : null;
    q = ropeOp(b, q, H, D, inv, maxLen, offset, cfg.prefix);
    k = ropeOp(b, k, G, D, inv, maxLen, offset, cfg.prefix);
  }
  const att = attentionOp(b, q, k, v, { numHeads: H, kvHeads: G, scale: 1 / Math.sqrt(D), ...(cfg.pattern ? { pattern: cfg.pattern } : {}), ...(cfg.pastKey && cfg.pastValue ? { pastKey: cfg.pastKey, pastValue: cfg.pastValue } : {}) });
  const output = b.matmul(att.output, p('o_proj.weight', w.wo, [H * D, cfg.hidden]));
  return { ...att, output };
}

/** Options of {@link buildDecoderGraph}. */
export interface DecoderGraphOptions {
  /** Per-layer patterns (default dense). */
  readonly patterns?: readonly (AttentionPattern | undefined)[];
  /** Static sequence length of `tokens`, or a symbolic name (default 'seq'). */
  readonly seqLen?: number | string;
  /** With a KV cache: inputs `past_key_<l>`/`past_value_<l>` `[1, G, 'past', D]`, outputs `present_key_<l>`/`present_value_<l>`. */
  readonly kvCache?: boolean;
  /** Rows of the RoPE tables (maximum position + 1). Default 4096. */
  readonly maxLen?: number;
  /** Batch dim of `tokens` (default 1; a symbolic name or a number). */
  readonly batch?: number | string;
}

/**
 * The graph of a {@link TinyDecoder}: input `tokens` int64 `[B, S]`, output `logits` `[B, S, vocab]`,
 * one {@link attentionBlock} per layer with the model's weights — so the constructed retrieval model
 * runs on any Backend (ORT, tfjs) and its attention can be lowered per target.
 *
 * @example
 * ```ts
 * const graph = buildDecoderGraph(buildRetrievalDecoder(), { kvCache: true });
 * ```
 */
export function buildDecoderGraph(m: TinyDecoder, o: DecoderGraphOptions = {}): Graph {
  const b = new GraphBuilder('tiny_decoder');
  const batch = o.batch ?? 1;
  const tokens = b.input('tokens', 'int64', [batch, o.seqLen ?? 'seq']);
  const emb = b.param('embed', new Tensor('float32', [m.vocab, m.dModel], m.embed));
  let x = b.gather(emb, tokens, 0); // [1,S,dModel]
  m.layers.forEach((L, li) => {
    const past = o.kvCache
      ? { pastKey: b.input(`past_key_${li}`, 'float32', [batch, L.kvHeads, 'past', L.headDim]), pastValue: b.input(`past_value_${li}`, 'float32', [batch, L.kvHeads, 'past', L.headDim]) }
      : {};
    const pattern = o.patterns?.[li];
    const r = attentionBlock(b, x, {
      prefix: `layers.${li}.attn`, hidden: m.dModel, numHeads: L.numHeads, kvHeads: L.kvHeads, headDim: L.headDim,
      weights: { wq: L.wq, wk: L.wk, wv: L.wv, wo: L.wo },
      ...(L.ropeInvFreq ? { rope: { invFreq: L.ropeInvFreq } } : {}),
      maxLen: o.maxLen ?? 4096,
      ...(pattern ? { pattern } : {}),
      ...past,
    });
    x = b.add(x, r.output);
    if (o.kvCache) { b.output(r.presentKey!, `present_key_${li}`); b.output(r.presentValue!, `present_value_${li}`); }
  });
  b.output(b.matmul(x, b.param('unembed', new Tensor('float32', [m.dModel, m.vocab], m.unembed))), 'logits');
  return b.build();
}

/** One attention layer graph: inputs `q [1,N,H·D]`, `k`/`v [1,N,G·D]`, output `y`. */
export function attentionLayerGraph(o: { seq: number; heads: number; kvHeads?: number; headDim: number; pattern: AttentionPattern; form?: 'op' | 'masked' | 'blocked'; chunkSize?: number }): Graph {
  const G = o.kvHeads ?? o.heads;
  const b = new GraphBuilder('attention_layer');
  const q = b.input('q', 'float32', [1, o.seq, o.heads * o.headDim]);
  const k = b.input('k', 'float32', [1, o.seq, G * o.headDim]);
  const v = b.input('v', 'float32', [1, o.seq, G * o.headDim]);
  const r = attentionOp(b, q, k, v, { numHeads: o.heads, kvHeads: G, pattern: o.pattern });
  b.output(r.output, 'y');
  const g = b.build();
  if (o.form && o.form !== 'op') decomposeAttention(g.nodes.find((n) => n.op === 'Attention')!, { form: o.form, ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}) });
  return g;
}
