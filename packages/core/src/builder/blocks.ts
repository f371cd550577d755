import { LeanformerError } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { Graph, Value } from '../ir/graph.js';
import { GraphBuilder } from './builder.js';
import { rng, type Rng } from './rng.js';

/**
 * Values computed once per model from the sequence length and shared by every attention
 * layer (so N layers do not build N copies). Blocks fill the fields they need on first use.
 */
export interface SharedAttentionValues {
  /** bool `[seq, seq]`, true where a key lies after the query (masked). */
  causalMask?: Value;
  /** RoPE tables `[seq, headDim / 2]`, keyed by `headDim:theta`. */
  rope?: Map<string, { cos: Value; sin: Value }>;
}

/** What every block needs to create its weights. */
export interface BlockInit {
  /** Parameter-name prefix, e.g. `model.layers.0.self_attn`. */
  readonly prefix: string;
  /** Seeded source for weight init (normal with `initStd`). */
  readonly rng: Rng;
  /** Std of the normal init of linear and embedding weights (default 0.02). Biases start at 0, norm scales at 1. */
  readonly initStd?: number;
}

/** Configuration of {@link multiHeadAttention}. */
export interface AttentionConfig extends BlockInit {
  /** Model width (last dim of the input). */
  readonly hidden: number;
  /** Query heads. */
  readonly heads: number;
  /** Key/value heads (GQA when fewer than `heads`; must divide it). Default `heads`. */
  readonly kvHeads?: number;
  /** Per-head width (default `hidden / heads`). */
  readonly headDim?: number;
  /** Mask keys after each query (default true). */
  readonly causal?: boolean;
  /** Rotary position embedding on queries and keys (rotate-half form). Default false. */
  readonly rope?: boolean;
  /** RoPE base (default 10000). */
  readonly ropeTheta?: number;
  /** Biases on the q/k/v/o projections (default false). */
  readonly bias?: boolean;
  /** Per-model shared values (mask, RoPE tables); pass the same object to every layer. */
  readonly shared?: SharedAttentionValues;
}

/** Configuration of {@link mlp}. */
export interface MlpConfig extends BlockInit {
  readonly hidden: number;
  /** Inner width. */
  readonly ffn: number;
  /** 'gelu' (fc1 → GELU → fc2, with biases by default) or 'swiglu' (down(silu(gate(x)) · up(x)), no biases by default). */
  readonly activation: 'gelu' | 'swiglu';
  /** Biases on the projections (default: true for gelu, false for swiglu). */
  readonly bias?: boolean;
}

/** Configuration of {@link decoderLayer}. */
export interface DecoderLayerConfig extends Omit<AttentionConfig, 'bias'> {
  readonly ffn: number;
  /** 'rms' (RMSNorm, scale only) or 'layer' (LayerNorm, scale and bias). */
  readonly norm: 'rms' | 'layer';
  readonly mlp: 'gelu' | 'swiglu';
  /** Norm epsilon (default 1e-6 for rms, 1e-5 for layer). */
  readonly eps?: number;
  /** 'pre' (x + f(norm(x)), LLaMA/ViT; default) or 'post' (norm(x + f(x)), BERT). */
  readonly normPosition?: 'pre' | 'post';
  /** Biases on attention and MLP projections (default: true with LayerNorm, false with RMSNorm). */
  readonly bias?: boolean;
}

function linearParams(b: GraphBuilder, cfg: BlockInit, name: string, inDim: number, outDim: number, bias: boolean): { w: Value; b?: Value } {
  const w = b.param(`${cfg.prefix}.${name}.weight`, cfg.rng.normalTensor([inDim, outDim], cfg.initStd ?? 0.02));
  return bias ? { w, b: b.param(`${cfg.prefix}.${name}.bias`, Tensor.zeros('float32', [outDim])) } : { w };
}

function proj(b: GraphBuilder, x: Value, cfg: BlockInit, name: string, inDim: number, outDim: number, bias: boolean): Value {
  const p = linearParams(b, cfg, name, inDim, outDim, bias);
  return b.linear(x, p.w, p.b);
}

function positive(name: string, v: number | undefined, where: string): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new LeanformerError('INVALID_ARGUMENT', `${where}: ${name} must be a positive integer, got ${v}`);
}

/** Sequence length of `x` (axis 1) as a 1-D int64 `[1]`. */
function seqLen1d(b: GraphBuilder, x: Value): Value {
  return b.opset >= 15 ? b.shape(x, 1, 2) : b.slice(b.shape(x), [1], [2]);
}

/** int64 `[seq]`: 0, 1, …, seq − 1 for the sequence axis (1) of `x`. */
function positions(b: GraphBuilder, x: Value): Value {
  return b.refine(b.range(0, b.squeeze(seqLen1d(b, x), [0]), 1), [x.shape?.[1] ?? null]);
}

/** bool `[seq, seq]`: true where key index > query index. */
function causalMask(b: GraphBuilder, x: Value, shared?: SharedAttentionValues): Value {
  if (shared?.causalMask) return shared.causalMask;
  const idx = positions(b, x);
  const mask = b.greater(b.unsqueeze(idx, [0]), b.unsqueeze(idx, [1]));
  if (shared) shared.causalMask = mask;
  return mask;
}

function ropeTables(b: GraphBuilder, x: Value, headDim: number, theta: number, shared?: SharedAttentionValues): { cos: Value; sin: Value } {
  const key = `${headDim}:${theta}`;
  const hit = shared?.rope?.get(key);
  if (hit) return hit;
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = theta ** (-(2 * i) / headDim);
  const pos = b.cast(positions(b, x), 'float32');
  const angles = b.mul(b.unsqueeze(pos, [1]), b.constant(new Tensor('float32', [half], invFreq)));
  const tables = { cos: b.cos(angles), sin: b.sin(angles) };
  if (shared) (shared.rope ??= new Map()).set(key, tables);
  return tables;
}

/** Rotate-half RoPE on the last axis: `[x1, x2] → [x1·cos − x2·sin, x2·cos + x1·sin]`. */
function applyRope(b: GraphBuilder, x: Value, t: { cos: Value; sin: Value }, headDim: number): Value {
  const [x1, x2] = b.split(x, { axis: -1, sizes: [headDim / 2, headDim / 2] }) as [Value, Value];
  return b.concat([
    b.sub(b.mul(x1, t.cos), b.mul(x2, t.sin)),
    b.add(b.mul(x2, t.cos), b.mul(x1, t.sin)),
  ], -1);
}

/**
 * Multi-head self-attention (MHA, or GQA when `kvHeads < heads`) from standard ONNX ops:
 * projections, optional RoPE, scaled dot product, causal mask by `Where`, softmax, output
 * projection. Input and output are `[batch, seq, hidden]`.
 *
 * Layout: query head `h` uses key/value head `floor(h / (heads / kvHeads))`. Queries are
 * reshaped to `[batch, kvHeads, group, seq, headDim]` and keys/values to
 * `[batch, kvHeads, 1, seq, headDim]`, so MatMul broadcasting shares each KV head across its
 * group without copying. Weights are `[in, out]`: `q_proj`, `k_proj`, `v_proj`, `o_proj`.
 *
 * @example
 * ```ts
 * const b = new GraphBuilder('attn');
 * const x = b.input('x', 'float32', ['batch', 'seq', 64]);
 * const y = multiHeadAttention(b, x, { prefix: 'attn', rng: rng(0), hidden: 64, heads: 8, kvHeads: 2, rope: true });
 * ```
 */
export function multiHeadAttention(b: GraphBuilder, x: Value, cfg: AttentionConfig): Value {
  const where = `multiHeadAttention(${cfg.prefix})`;
  positive('hidden', cfg.hidden, where);
  positive('heads', cfg.heads, where);
  positive('kvHeads', cfg.kvHeads, where);
  positive('headDim', cfg.headDim, where);
  const H = cfg.heads;
  const K = cfg.kvHeads ?? H;
  if (H % K !== 0) throw new LeanformerError('INVALID_ARGUMENT', `${where}: heads (${H}) must be a multiple of kvHeads (${K})`);
  if (cfg.headDim === undefined && cfg.hidden % H !== 0) throw new LeanformerError('INVALID_ARGUMENT', `${where}: hidden (${cfg.hidden}) is not divisible by heads (${H}); set headDim`);
  const hd = cfg.headDim ?? cfg.hidden / H;
  if (cfg.rope && hd % 2 !== 0) throw new LeanformerError('INVALID_ARGUMENT', `${where}: RoPE needs an even headDim, got ${hd}`);
  const R = H / K;
  const bias = cfg.bias ?? false;

  const q = proj(b, x, cfg, 'q_proj', cfg.hidden, H * hd, bias);
  const k = proj(b, x, cfg, 'k_proj', cfg.hidden, K * hd, bias);
  const v = proj(b, x, cfg, 'v_proj', cfg.hidden, K * hd, bias);
  // [b, s, K·R·hd] → [b, K, R, s, hd]; keys and values get R = 1 and broadcast in MatMul.
  let q5 = b.transpose(b.reshape(q, [0, 0, K, R, hd]), [0, 2, 3, 1, 4]);
  let k5 = b.transpose(b.reshape(k, [0, 0, K, 1, hd]), [0, 2, 3, 1, 4]);
  const v5 = b.transpose(b.reshape(v, [0, 0, K, 1, hd]), [0, 2, 3, 1, 4]);
  if (cfg.rope) {
    const t = ropeTables(b, x, hd, cfg.ropeTheta ?? 10000, cfg.shared);
    q5 = applyRope(b, q5, t, hd);
    k5 = applyRope(b, k5, t, hd);
  }
  let scores = b.matmul(b.mul(q5, 1 / Math.sqrt(hd)), b.transpose(k5, [0, 1, 2, 4, 3]));
  if (cfg.causal ?? true) scores = b.where(causalMask(b, x, cfg.shared), -Infinity, scores);
  const o5 = b.matmul(b.softmax(scores, -1), v5);
  const o = b.reshape(b.transpose(o5, [0, 3, 1, 2, 4]), [0, 0, H * hd]);
  return proj(b, o, cfg, 'o_proj', H * hd, cfg.hidden, bias);
}

/**
 * Feed-forward block: `fc2(gelu(fc1(x)))` or SwiGLU `down_proj(silu(gate_proj(x)) · up_proj(x))`.
 *
 * @example
 * ```ts
 * const y = mlp(b, x, { prefix: 'mlp', rng: rng(0), hidden: 64, ffn: 256, activation: 'swiglu' });
 * ```
 */
export function mlp(b: GraphBuilder, x: Value, cfg: MlpConfig): Value {
  positive('hidden', cfg.hidden, `mlp(${cfg.prefix})`);
  positive('ffn', cfg.ffn, `mlp(${cfg.prefix})`);
  if (cfg.activation === 'gelu') {
    const bias = cfg.bias ?? true;
    return proj(b, b.gelu(proj(b, x, cfg, 'fc1', cfg.hidden, cfg.ffn, bias)), cfg, 'fc2', cfg.ffn, cfg.hidden, bias);
  }
  if (cfg.activation === 'swiglu') {
    const bias = cfg.bias ?? false;
    const gate = b.silu(proj(b, x, cfg, 'gate_proj', cfg.hidden, cfg.ffn, bias));
    const up = proj(b, x, cfg, 'up_proj', cfg.hidden, cfg.ffn, bias);
    return proj(b, b.mul(gate, up), cfg, 'down_proj', cfg.ffn, cfg.hidden, bias);
  }
  throw new LeanformerError('INVALID_ARGUMENT', `mlp(${cfg.prefix}): activation must be 'gelu' or 'swiglu', got '${String(cfg.activation)}'`);
}

/** A norm with its own parameters (`<prefix>.weight`, and `.bias` for LayerNorm). */
function norm(b: GraphBuilder, x: Value, kind: 'rms' | 'layer', prefix: string, hidden: number, eps: number | undefined): Value {
  const scale = b.param(`${prefix}.weight`, Tensor.from('float32', [hidden], new Float32Array(hidden).fill(1)));
  if (kind === 'rms') return b.rmsNorm(x, scale, { epsilon: eps ?? 1e-6 });
  if (kind === 'layer') return b.layerNorm(x, scale, b.param(`${prefix}.bias`, Tensor.zeros('float32', [hidden])), { epsilon: eps ?? 1e-5 });
  throw new LeanformerError('INVALID_ARGUMENT', `norm '${prefix}': kind must be 'rms' or 'layer', got '${String(kind)}'`);
}

/**
 * One transformer layer: attention and MLP, each with a residual, normalized before
 * (`normPosition: 'pre'`, default) or after (`'post'`, BERT). Parameter names follow
 * `<prefix>.input_layernorm`, `<prefix>.self_attn.*`, `<prefix>.post_attention_layernorm`, `<prefix>.mlp.*`.
 *
 * @example
 * ```ts
 * const h = decoderLayer(b, x, { prefix: 'layers.0', rng: r, hidden: 64, heads: 4, ffn: 128, norm: 'rms', mlp: 'swiglu', rope: true });
 * ```
 */
export function decoderLayer(b: GraphBuilder, x: Value, cfg: DecoderLayerConfig): Value {
  const bias = cfg.bias ?? cfg.norm === 'layer';
  const attnCfg: AttentionConfig = { ...cfg, prefix: `${cfg.prefix}.self_attn`, bias };
  const mlpCfg: MlpConfig = { prefix: `${cfg.prefix}.mlp`, rng: cfg.rng, initStd: cfg.initStd, hidden: cfg.hidden, ffn: cfg.ffn, activation: cfg.mlp, bias };
  const n1 = `${cfg.prefix}.input_layernorm`;
  const n2 = `${cfg.prefix}.post_attention_layernorm`;
  if ((cfg.normPosition ?? 'pre') === 'pre') {
    const h = b.add(x, multiHeadAttention(b, norm(b, x, cfg.norm, n1, cfg.hidden, cfg.eps), attnCfg));
    return b.add(h, mlp(b, norm(b, h, cfg.norm, n2, cfg.hidden, cfg.eps), mlpCfg));
  }
  if (cfg.normPosition !== 'post') throw new LeanformerError('INVALID_ARGUMENT', `decoderLayer(${cfg.prefix}): normPosition must be 'pre' or 'post', got '${String(cfg.normPosition)}'`);
  const h = norm(b, b.add(x, multiHeadAttention(b, x, attnCfg)), cfg.norm, n1, cfg.hidden, cfg.eps);
  return norm(b, b.add(h, mlp(b, h, mlpCfg)), cfg.norm, n2, cfg.hidden, cfg.eps);
}

/** Configuration of {@link transformerDecoder} (a LLaMA-style causal LM by default). */
export interface TransformerDecoderConfig {
  readonly vocabSize: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  /** KV heads for GQA (default `heads`). */
  readonly kvHeads?: number;
  /** MLP inner width. */
  readonly ffn: number;
  /** Longest sequence; sizes the learned position table when `rope` is false (default 2048). */
  readonly maxSeq?: number;
  /** Seed of the weight init. */
  readonly seed: number;
  /** Default 'rms'. */
  readonly norm?: 'rms' | 'layer';
  /** Default 'swiglu'. */
  readonly mlp?: 'gelu' | 'swiglu';
  /** RoPE (default true); when false, learned absolute positions are added to the embeddings. */
  readonly rope?: boolean;
  readonly ropeTheta?: number;
  readonly eps?: number;
  readonly initStd?: number;
  /** ai.onnx opset (default 21). */
  readonly opset?: number;
  /** Graph name (default 'transformer_decoder'). */
  readonly name?: string;
}

/** Configuration of {@link transformerEncoder} (BERT-like). */
export interface TransformerEncoderConfig {
  readonly vocabSize: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly ffn: number;
  /** Size of the learned position table (default 512). */
  readonly maxSeq?: number;
  readonly seed: number;
  /** LayerNorm epsilon (default 1e-12, as BERT). */
  readonly eps?: number;
  readonly initStd?: number;
  readonly opset?: number;
  readonly name?: string;
}

/** Configuration of {@link vit}. */
export interface VitConfig {
  /** Square input side in pixels; must be a multiple of `patch`. */
  readonly imageSize: number;
  readonly patch: number;
  /** Input channels (default 3). */
  readonly channels?: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  /** MLP width (default 4 · hidden). */
  readonly ffn?: number;
  readonly numClasses: number;
  readonly seed: number;
  /** LayerNorm epsilon (default 1e-6). */
  readonly eps?: number;
  readonly initStd?: number;
  readonly opset?: number;
  readonly name?: string;
}

function checkModel(where: string, fields: Record<string, number | undefined>): void {
  for (const [k, v] of Object.entries(fields)) positive(k, v, where);
}

function finish(b: GraphBuilder, kind: string, cfg: object): Graph {
  const g = b.build();
  g.model!.metadataProps.set('leanformer.model', kind);
  g.model!.metadataProps.set('leanformer.config', JSON.stringify(cfg));
  return g;
}

/**
 * A causal language model: token embedding → `layers` × {@link decoderLayer} → final norm →
 * LM head. Input `input_ids` int64 `[batch, seq]`, output `logits` float32 `[batch, seq, vocabSize]`.
 * Defaults follow LLaMA (RMSNorm, SwiGLU, RoPE, no biases). Weights are seeded normal(0, 0.02),
 * so the same config and seed always give the same model. The config is kept in the model's
 * metadata as `leanformer.config`.
 *
 * @example
 * ```ts
 * const g = transformerDecoder({ vocabSize: 256, hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128, seed: 1 });
 * ```
 */
export function transformerDecoder(cfg: TransformerDecoderConfig): Graph {
  checkModel('transformerDecoder', { vocabSize: cfg.vocabSize, hidden: cfg.hidden, layers: cfg.layers, heads: cfg.heads, kvHeads: cfg.kvHeads, ffn: cfg.ffn, maxSeq: cfg.maxSeq });
  const b = new GraphBuilder(cfg.name ?? 'transformer_decoder', { opset: cfg.opset });
  const r = rng(cfg.seed);
  const std = cfg.initStd ?? 0.02;
  const ids = b.input('input_ids', 'int64', ['batch', 'seq']);
  let h = b.gather(b.param('model.embed_tokens.weight', r.normalTensor([cfg.vocabSize, cfg.hidden], std)), ids, 0);
  const rope = cfg.rope ?? true;
  if (!rope) {
    const pos = b.param('model.embed_positions.weight', r.normalTensor([cfg.maxSeq ?? 2048, cfg.hidden], std));
    h = b.add(h, b.refine(b.slice(pos, [0], seqLen1d(b, ids), [0]), [ids.shape![1]!, cfg.hidden]));
  }
  const shared: SharedAttentionValues = {};
  const normKind = cfg.norm ?? 'rms';
  for (let i = 0; i < cfg.layers; i++) {
    h = decoderLayer(b, h, {
      prefix: `model.layers.${i}`, rng: r, initStd: std, hidden: cfg.hidden, heads: cfg.heads, kvHeads: cfg.kvHeads,
      ffn: cfg.ffn, norm: normKind, mlp: cfg.mlp ?? 'swiglu', eps: cfg.eps, rope, ropeTheta: cfg.ropeTheta, causal: true, shared,
    });
  }
  h = norm(b, h, normKind, 'model.norm', cfg.hidden, cfg.eps);
  b.output(b.matmul(h, b.param('lm_head.weight', r.normalTensor([cfg.hidden, cfg.vocabSize], std))), 'logits');
  return finish(b, 'transformerDecoder', cfg);
}

/**
 * A BERT-like encoder: token + learned position embeddings → LayerNorm → `layers` post-norm
 * layers (bidirectional attention over all tokens, GELU MLP, biases). Input `input_ids` int64
 * `[batch, seq]` (seq ≤ maxSeq), output `last_hidden_state` float32 `[batch, seq, hidden]`.
 *
 * @example
 * ```ts
 * const g = transformerEncoder({ vocabSize: 1000, hidden: 64, layers: 2, heads: 4, ffn: 256, seed: 0 });
 * ```
 */
export function transformerEncoder(cfg: TransformerEncoderConfig): Graph {
  checkModel('transformerEncoder', { vocabSize: cfg.vocabSize, hidden: cfg.hidden, layers: cfg.layers, heads: cfg.heads, ffn: cfg.ffn, maxSeq: cfg.maxSeq });
  const b = new GraphBuilder(cfg.name ?? 'transformer_encoder', { opset: cfg.opset });
  const r = rng(cfg.seed);
  const std = cfg.initStd ?? 0.02;
  const eps = cfg.eps ?? 1e-12;
  const ids = b.input('input_ids', 'int64', ['batch', 'seq']);
  const tok = b.gather(b.param('embeddings.word_embeddings.weight', r.normalTensor([cfg.vocabSize, cfg.hidden], std)), ids, 0);
  const posTable = b.param('embeddings.position_embeddings.weight', r.normalTensor([cfg.maxSeq ?? 512, cfg.hidden], std));
  const pos = b.refine(b.slice(posTable, [0], seqLen1d(b, ids), [0]), [ids.shape![1]!, cfg.hidden]);
  let h = norm(b, b.add(tok, pos), 'layer', 'embeddings.LayerNorm', cfg.hidden, eps);
  for (let i = 0; i < cfg.layers; i++) {
    h = decoderLayer(b, h, {
      prefix: `encoder.layer.${i}`, rng: r, initStd: std, hidden: cfg.hidden, heads: cfg.heads, ffn: cfg.ffn,
      norm: 'layer', mlp: 'gelu', eps, causal: false, normPosition: 'post', bias: true,
    });
  }
  b.output(h, 'last_hidden_state');
  return finish(b, 'transformerEncoder', cfg);
}

/**
 * A Vision Transformer classifier: Conv patch embedding (kernel = stride = patch) → prepend a
 * CLS token → add learned position embeddings → `layers` pre-norm encoder layers (LayerNorm,
 * GELU) → LayerNorm → linear head on the CLS token. Input `pixel_values` float32
 * `[batch, channels, imageSize, imageSize]`, output `logits` float32 `[batch, numClasses]`.
 *
 * @example
 * ```ts
 * const g = vit({ imageSize: 32, patch: 8, hidden: 64, layers: 2, heads: 4, numClasses: 10, seed: 0 });
 * ```
 */
export function vit(cfg: VitConfig): Graph {
  checkModel('vit', { imageSize: cfg.imageSize, patch: cfg.patch, channels: cfg.channels, hidden: cfg.hidden, layers: cfg.layers, heads: cfg.heads, ffn: cfg.ffn, numClasses: cfg.numClasses });
  if (cfg.imageSize % cfg.patch !== 0) throw new LeanformerError('INVALID_ARGUMENT', `vit: imageSize (${cfg.imageSize}) must be a multiple of patch (${cfg.patch})`);
  const b = new GraphBuilder(cfg.name ?? 'vit', { opset: cfg.opset });
  const r = rng(cfg.seed);
  const std = cfg.initStd ?? 0.02;
  const eps = cfg.eps ?? 1e-6;
  const C = cfg.channels ?? 3;
  const P = cfg.patch;
  const n = (cfg.imageSize / P) ** 2;
  const px = b.input('pixel_values', 'float32', ['batch', C, cfg.imageSize, cfg.imageSize]);
  const patches = b.conv(
    px,
    b.param('embeddings.patch_embeddings.projection.weight', r.normalTensor([cfg.hidden, C, P, P], std)),
    b.param('embeddings.patch_embeddings.projection.bias', Tensor.zeros('float32', [cfg.hidden])),
    { kernelShape: [P, P], strides: [P, P] },
  );
  // [b, hidden, H/P, W/P] → [b, n, hidden]
  const tokens = b.transpose(b.reshape(patches, [0, 0, -1]), [0, 2, 1]);
  const cls = b.param('embeddings.cls_token', r.normalTensor([1, 1, cfg.hidden], std));
  const clsShape = b.concat([b.opset >= 15 ? b.shape(px, 0, 1) : b.slice(b.shape(px), [0], [1]), b.int64([1, cfg.hidden])], 0);
  const clsB = b.refine(b.expand(cls, clsShape), [px.shape![0]!, 1, cfg.hidden]);
  let h = b.add(b.concat([clsB, tokens], 1), b.param('embeddings.position_embeddings', r.normalTensor([1, n + 1, cfg.hidden], std)));
  for (let i = 0; i < cfg.layers; i++) {
    h = decoderLayer(b, h, {
      prefix: `encoder.layer.${i}`, rng: r, initStd: std, hidden: cfg.hidden, heads: cfg.heads, ffn: cfg.ffn ?? 4 * cfg.hidden,
      norm: 'layer', mlp: 'gelu', eps, causal: false, normPosition: 'pre', bias: true,
    });
  }
  h = norm(b, h, 'layer', 'layernorm', cfg.hidden, eps);
  const headW = b.param('classifier.weight', r.normalTensor([cfg.hidden, cfg.numClasses], std));
  const headB = b.param('classifier.bias', Tensor.zeros('float32', [cfg.numClasses]));
  b.output(b.linear(b.gather(h, 0, 1), headW, headB), 'logits');
  return finish(b, 'vit', cfg);
}
