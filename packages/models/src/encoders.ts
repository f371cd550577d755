// Encoder families (BERT, RoBERTa, ViT, DeiT) as data, and the one encoder builder: bidirectional
// attention with a padding mask, LayerNorm with bias, GELU, learned absolute positions, and a Conv
// patch embedding for images. Weights keep their checkpoint names (linear ones stored [in, out]) so
// quantization and LoRA see the same MatMuls as in the decoders.
import { GraphBuilder, LeanformerError, Tensor, type Graph, type Value } from '@leanformer/core';
import { activation, Loader, type WeightSource } from './build.js';
import { ConfigReader, type DecoderSpec, type WeightRef } from './families.js';

/** A LayerNorm's scale and bias names. */
export interface NormRef { readonly weight: string; readonly bias: string }

/** Token embeddings of BERT/RoBERTa: word + token type + learned absolute position, then LayerNorm. */
export interface TextEmbeddings {
  readonly kind: 'text';
  readonly vocab: number;
  readonly word: string;
  readonly position: string;
  readonly maxPositions: number;
  readonly tokenType: string;
  /** Rows of the token-type table; above 1 the graph takes a `token_type_ids` input, else row 0 is added. */
  readonly typeVocab: number;
  readonly norm: NormRef;
  /**
   * RoBERTa: position ids count non-padding tokens from `padTokenId + 1` (padding keeps `padTokenId`),
   * as transformers' `create_position_ids_from_input_ids`. Absent: positions `0…seq-1` (BERT).
   */
  readonly paddingPositions?: { readonly padTokenId: number };
}

/** Image embeddings of ViT/DeiT: a Conv patch projection, class (and distillation) tokens, learned positions. */
export interface PatchEmbeddings {
  readonly kind: 'patch';
  readonly imageSize: number;
  readonly patchSize: number;
  readonly channels: number;
  readonly projection: NormRef;
  readonly clsToken: string;
  /** DeiT's distillation token, placed after the class token. */
  readonly distillationToken?: string;
  readonly position: string;
}

/** Checkpoint names of one encoder layer. */
export interface EncoderLayerWeights {
  readonly q: WeightRef;
  readonly k: WeightRef;
  readonly v: WeightRef;
  readonly o: WeightRef;
  /** Post-norm: after the attention residual (BERT's `attention.output.LayerNorm`); pre-norm: before attention (ViT's `layernorm_before`). */
  readonly attnNorm: NormRef;
  /** Post-norm: after the MLP residual (`output.LayerNorm`); pre-norm: before the MLP (`layernorm_after`). */
  readonly mlpNorm: NormRef;
  readonly fc: WeightRef;
  readonly proj: WeightRef;
}

/** Everything the encoder builder needs, read from config.json (and the checkpoint's tensor names) by a family. */
export interface EncoderSpec {
  readonly modelType: string;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly headDim: number;
  readonly ffn: number;
  readonly eps: number;
  readonly activation: DecoderSpec['activation'];
  /** 'post': `norm(x + f(x))` (BERT); 'pre': `x + f(norm(x))` (ViT). */
  readonly normPosition: 'post' | 'pre';
  readonly embeddings: TextEmbeddings | PatchEmbeddings;
  /** ViT/DeiT's final `layernorm`. */
  readonly finalNorm?: NormRef;
  /** `tanh(dense(first token))`, when the checkpoint has a pooler. */
  readonly pooler?: { readonly dense: WeightRef; readonly size: number };
  readonly layer: (i: number) => EncoderLayerWeights;
}

/** An encoder family: which config `model_type` it reads and how. */
export interface EncoderFamily {
  readonly modelType: string;
  /** Architectures (config `architectures[0]`) it is known for, for messages. */
  readonly architectures: readonly string[];
  /** Reads the config; `weights` tells the name prefix (`bert.` under a task head or none) and whether a pooler is present. */
  spec(config: Readonly<Record<string, unknown>>, file: string, weights: WeightSource): EncoderSpec;
}

const lin = (w: string, bias: boolean): WeightRef => ({ weight: `${w}.weight`, layout: 'linear', ...(bias ? { bias: `${w}.bias` } : {}) });
const ln = (w: string): NormRef => ({ weight: `${w}.weight`, bias: `${w}.bias` });

/** Fields every encoder config shares: sizes, heads, GELU flavour, LayerNorm epsilon. */
function common(c: ConfigReader): Pick<EncoderSpec, 'hidden' | 'layers' | 'heads' | 'headDim' | 'ffn' | 'eps' | 'activation'> {
  const hidden = c.int('hidden_size');
  const heads = c.int('num_attention_heads');
  if (hidden % heads !== 0) throw new LeanformerError('INVALID_ARGUMENT', `${c.file}: hidden_size (${hidden}) must be divisible by num_attention_heads (${heads})`, { details: { file: c.file, field: 'num_attention_heads' } });
  const act = String(c.config['hidden_act'] ?? 'gelu');
  const activation = act === 'gelu' ? 'gelu' : act === 'gelu_new' || act === 'gelu_pytorch_tanh' ? 'gelu_tanh' : act === 'silu' || act === 'swish' ? 'silu' : null;
  if (!activation) throw new LeanformerError('NOT_SUPPORTED', `${c.file}: hidden_act '${act}' is not supported; supported: gelu, gelu_new, gelu_pytorch_tanh, silu`, { details: { file: c.file, field: 'hidden_act' } });
  for (const f of ['is_decoder', 'add_cross_attention'] as const) {
    if (c.config[f] === true) throw new LeanformerError('NOT_SUPPORTED', `${c.file}: ${f}: true is not supported (encoders only)`, { details: { file: c.file, field: f } });
  }
  return { hidden, layers: c.int('num_hidden_layers'), heads, headDim: hidden / heads, ffn: c.int('intermediate_size'), eps: c.num('layer_norm_eps', 1e-12), activation };
}

/** `<modelType>.` when the checkpoint was saved under a task head (e.g. BertForMaskedLM), else ''. */
function prefixOf(weights: WeightSource, modelType: string, probe: string): string {
  return weights.info(`${modelType}.${probe}`) ? `${modelType}.` : '';
}

/** `{ pooler }` when the checkpoint has `pooler.dense` (BertModel, ViTModel save one; task heads often not). */
function withPooler(c: ConfigReader, weights: WeightSource, p: string, hidden: number): Pick<EncoderSpec, 'pooler'> {
  if (!weights.info(`${p}pooler.dense.weight`)) return {};
  const act = c.config['pooler_act'] ?? 'tanh';
  if (act !== 'tanh') throw new LeanformerError('NOT_SUPPORTED', `${c.file}: pooler_act ${JSON.stringify(act)} is not supported (only tanh)`, { details: { file: c.file, field: 'pooler_act' } });
  const size = c.config['pooler_output_size'] === undefined || c.config['pooler_output_size'] === null ? hidden : c.int('pooler_output_size');
  return { pooler: { dense: lin(`${p}pooler.dense`, true), size } };
}

/** BERT and RoBERTa: post-norm layers, word + type + position embeddings. */
function bertLike(modelType: string, architectures: string[], roberta: boolean): EncoderFamily {
  return {
    modelType, architectures,
    spec(config, file, weights) {
      const c = new ConfigReader(config, file);
      const base = common(c);
      const pet = config['position_embedding_type'] ?? 'absolute';
      if (pet !== 'absolute') throw new LeanformerError('NOT_SUPPORTED', `${file}: position_embedding_type ${JSON.stringify(pet)} is not supported (only absolute)`, { details: { file, field: 'position_embedding_type' } });
      const p = prefixOf(weights, modelType, 'embeddings.word_embeddings.weight');
      const pad = config['pad_token_id'];
      if (roberta && (typeof pad !== 'number' || !Number.isInteger(pad) || pad < 0)) throw new LeanformerError('INVALID_ARGUMENT', `${file}: field 'pad_token_id' must be a token id (RoBERTa counts positions from it), got ${JSON.stringify(pad)}`, { details: { file, field: 'pad_token_id' } });
      const L = (i: number) => `${p}encoder.layer.${i}`;
      return {
        modelType, ...base, normPosition: 'post',
        embeddings: {
          kind: 'text', vocab: c.int('vocab_size'), word: `${p}embeddings.word_embeddings.weight`, position: `${p}embeddings.position_embeddings.weight`,
          maxPositions: c.int('max_position_embeddings'), tokenType: `${p}embeddings.token_type_embeddings.weight`, typeVocab: c.int('type_vocab_size', 2),
          norm: ln(`${p}embeddings.LayerNorm`), ...(roberta ? { paddingPositions: { padTokenId: pad as number } } : {}),
        },
        ...withPooler(c, weights, p, base.hidden),
        layer: (i) => ({
          q: lin(`${L(i)}.attention.self.query`, true), k: lin(`${L(i)}.attention.self.key`, true), v: lin(`${L(i)}.attention.self.value`, true),
          o: lin(`${L(i)}.attention.output.dense`, true), attnNorm: ln(`${L(i)}.attention.output.LayerNorm`),
          fc: lin(`${L(i)}.intermediate.dense`, true), proj: lin(`${L(i)}.output.dense`, true), mlpNorm: ln(`${L(i)}.output.LayerNorm`),
        }),
      };
    },
  };
}

/** ViT and DeiT: pre-norm layers, Conv patch embedding, class (+ distillation) token, final LayerNorm. */
function vitLike(modelType: string, architectures: string[], distillation: boolean): EncoderFamily {
  return {
    modelType, architectures,
    spec(config, file, weights) {
      const c = new ConfigReader(config, file);
      const base = common(c);
      const p = prefixOf(weights, modelType, 'embeddings.cls_token');
      const qkvBias = c.bool('qkv_bias', true);
      const L = (i: number) => `${p}encoder.layer.${i}`;
      return {
        modelType, ...base, normPosition: 'pre',
        embeddings: {
          kind: 'patch', imageSize: c.int('image_size', 224), patchSize: c.int('patch_size', 16), channels: c.int('num_channels', 3),
          projection: ln(`${p}embeddings.patch_embeddings.projection`), clsToken: `${p}embeddings.cls_token`,
          ...(distillation ? { distillationToken: `${p}embeddings.distillation_token` } : {}), position: `${p}embeddings.position_embeddings`,
        },
        finalNorm: ln(`${p}layernorm`),
        ...withPooler(c, weights, p, base.hidden),
        layer: (i) => ({
          q: lin(`${L(i)}.attention.attention.query`, qkvBias), k: lin(`${L(i)}.attention.attention.key`, qkvBias), v: lin(`${L(i)}.attention.attention.value`, qkvBias),
          o: lin(`${L(i)}.attention.output.dense`, true), attnNorm: ln(`${L(i)}.layernorm_before`),
          fc: lin(`${L(i)}.intermediate.dense`, true), proj: lin(`${L(i)}.output.dense`, true), mlpNorm: ln(`${L(i)}.layernorm_after`),
        }),
      };
    },
  };
}

/** The supported encoder families, by config `model_type`. */
export const ENCODER_FAMILIES: readonly EncoderFamily[] = Object.freeze([
  bertLike('bert', ['BertModel', 'BertForMaskedLM', 'BertForSequenceClassification'], false),
  bertLike('roberta', ['RobertaModel', 'RobertaForMaskedLM', 'RobertaForSequenceClassification'], true),
  vitLike('vit', ['ViTModel', 'ViTForImageClassification'], false),
  vitLike('deit', ['DeiTModel', 'DeiTForImageClassificationWithTeacher'], true),
]);

/**
 * The encoder family of a config, or undefined when its `model_type` is not an encoder's.
 *
 * @example
 * ```ts
 * encoderFamilyOf({ model_type: 'bert' })?.modelType; // 'bert'
 * ```
 */
export function encoderFamilyOf(config: Readonly<Record<string, unknown>>): EncoderFamily | undefined {
  return ENCODER_FAMILIES.find((f) => f.modelType === config['model_type']);
}

/**
 * The graph inputs of an encoder: `input_ids`, `attention_mask` and (when the token-type table has
 * more than one row, as BERT's) `token_type_ids`, all int64 `[batch, seq]`; or `pixel_values`
 * float32 `[batch, channels, imageSize, imageSize]`.
 *
 * @example
 * ```ts
 * encoderInputs(spec); // ['input_ids', 'attention_mask', 'token_type_ids']
 * ```
 */
export function encoderInputs(spec: EncoderSpec): string[] {
  const e = spec.embeddings;
  if (e.kind === 'patch') return ['pixel_values'];
  return ['input_ids', 'attention_mask', ...(e.typeVocab > 1 ? ['token_type_ids'] : [])];
}

/**
 * The graph outputs of an encoder: `last_hidden_state` float32 `[batch, seq, hidden]` and, when the
 * checkpoint has a pooler, `pooler_output` `[batch, poolerSize]`.
 *
 * @example
 * ```ts
 * encoderOutputs(spec); // ['last_hidden_state', 'pooler_output']
 * ```
 */
export function encoderOutputs(spec: EncoderSpec): string[] {
  return ['last_hidden_state', ...(spec.pooler ? ['pooler_output'] : [])];
}

/** float32's lowest value: transformers' additive mask for padded keys (`(1 − mask) · finfo.min`). */
const F32_MIN = -3.4028234663852886e38;

/**
 * Builds an encoder graph from a family spec and checkpoint tensors (inputs and outputs as
 * {@link encoderInputs} / {@link encoderOutputs}). Attention is bidirectional scaled dot product from
 * standard ops (MatMul, Softmax) with padded keys masked by `attention_mask`; every tensor is checked
 * against the config as in {@link buildCausalLM} (missing: INVALID_ARGUMENT; wrong shape:
 * SHAPE_MISMATCH; dtype other than F32/F16/BF16: NOT_SUPPORTED).
 *
 * @example
 * ```ts
 * const ck = readEncoderCheckpoint(files);
 * const graph = buildEncoder(ck.spec, ck.weights);
 * ```
 */
export function buildEncoder(spec: EncoderSpec, weights: WeightSource, o: { readonly name?: string } = {}): Graph {
  const b = new GraphBuilder(o.name ?? spec.modelType);
  const L = new Loader(b, weights);
  const { hidden: Hd, heads: H, headDim: D, ffn: F } = spec;
  const e = spec.embeddings;
  const i64 = 'int64';
  const norm = (x: Value, n: NormRef): Value => b.layerNorm(x, L.vector(n.weight, Hd), L.vector(n.bias, Hd), { epsilon: spec.eps });
  let x: Value;
  let maskBias: Value | null = null; // [batch, 1, 1, seq]: 0 for real keys, float32 min for padding
  if (e.kind === 'text') {
    const ids = b.input('input_ids', i64, ['batch', 'seq']);
    const mask = b.input('attention_mask', i64, ['batch', 'seq']);
    const types = e.typeVocab > 1 ? b.input('token_type_ids', i64, ['batch', 'seq']) : null;
    x = b.gather(b.param(e.word, L.table(e.word, e.vocab, Hd)), ids, 0);
    const tt = b.param(e.tokenType, L.table(e.tokenType, e.typeVocab, Hd));
    x = b.add(x, types ? b.gather(tt, types, 0) : b.gather(tt, 0, 0));
    let pos: Value;
    if (e.paddingPositions) {
      const pad = e.paddingPositions.padTokenId;
      const real = b.cast(b.op('Not', [b.equal(ids, b.scalar(pad, i64))]), i64);
      pos = b.add(b.mul(b.op('CumSum', [real, b.scalar(1, 'int32')]), real), b.scalar(pad, i64));
    } else {
      pos = b.range(b.scalar(0, i64), b.squeeze(b.shape(ids, 1, 2), [0]), b.scalar(1, i64));
    }
    x = b.add(x, b.gather(b.param(e.position, L.table(e.position, e.maxPositions, Hd)), pos, 0));
    x = norm(x, e.norm);
    maskBias = b.unsqueeze(b.mul(b.sub(b.scalar(1), b.cast(mask, 'float32')), F32_MIN), [1, 2]);
  } else {
    const { imageSize: S, patchSize: P, channels: C } = e;
    const px = b.input('pixel_values', 'float32', ['batch', C, S, S]);
    const grid = Math.floor(S / P);
    const prefix = e.distillationToken ? 2 : 1;
    const w = b.param(e.projection.weight, L.weight(e.projection.weight, [Hd, C, P, P], 'Conv2d [hidden, channels, patch, patch]'));
    const patches = b.transpose(b.reshape(b.conv(px, w, L.vector(e.projection.bias, Hd), { kernelShape: [P, P], strides: [P, P] }), [0, Hd, -1]), [0, 2, 1]);
    const rows = b.concat([b.shape(px, 0, 1), b.int64([1, Hd])], 0);
    const token = (name: string) => b.expand(b.param(name, L.weight(name, [1, 1, Hd], 'token')), rows);
    x = b.concat([token(e.clsToken), ...(e.distillationToken ? [token(e.distillationToken)] : []), patches], 1);
    x = b.add(x, b.param(e.position, L.weight(e.position, [1, grid * grid + prefix, Hd], `positions: ${grid}×${grid} patches + ${prefix}`)));
  }
  for (let l = 0; l < spec.layers; l++) {
    const w = spec.layer(l);
    const h = spec.normPosition === 'pre' ? norm(x, w.attnNorm) : x;
    const heads = (t: Value, perm: number[]) => b.transpose(b.reshape(t, [0, 0, H, D]), perm);
    const q = heads(L.linear(h, w.q, Hd, H * D), [0, 2, 1, 3]); // [B, H, S, D]
    const k = heads(L.linear(h, w.k, Hd, H * D), [0, 2, 3, 1]); // [B, H, D, S]
    const v = heads(L.linear(h, w.v, Hd, H * D), [0, 2, 1, 3]);
    let scores = b.mul(b.matmul(q, k), 1 / Math.sqrt(D));
    if (maskBias) scores = b.add(scores, maskBias);
    const att = b.reshape(b.transpose(b.matmul(b.softmax(scores, -1), v), [0, 2, 1, 3]), [0, 0, H * D]);
    x = b.add(x, L.linear(att, w.o, H * D, Hd));
    if (spec.normPosition === 'post') x = norm(x, w.attnNorm);
    const h2 = spec.normPosition === 'pre' ? norm(x, w.mlpNorm) : x;
    x = b.add(x, L.linear(activation(b, L.linear(h2, w.fc, Hd, F), spec.activation), w.proj, F, Hd));
    if (spec.normPosition === 'post') x = norm(x, w.mlpNorm);
  }
  if (spec.finalNorm) x = norm(x, spec.finalNorm);
  b.output(x, 'last_hidden_state');
  if (spec.pooler) b.output(b.tanh(L.linear(b.gather(x, 0, 1), spec.pooler.dense, Hd, spec.pooler.size)), 'pooler_output');
  const g = b.build();
  g.model!.metadataProps.set('leanformer.model', `hf:${spec.modelType}`);
  return g;
}

/**
 * Seeded random inputs for an encoder (calibration of gptq/awq/smoothquant, smoke runs): token ids
 * over the vocabulary with a full attention mask and token type 0, or pixel values in [-1, 1).
 *
 * @example
 * ```ts
 * const feeds = encoderRandomFeeds(spec, { batches: 8, tokens: 32, seed: 0 });
 * ```
 */
export function encoderRandomFeeds(spec: EncoderSpec, o: { readonly batches: number; readonly tokens: number; readonly seed: number }): Record<string, Tensor>[] {
  let s = (o.seed * 2654435761 + 1) >>> 0;
  const next = (): number => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
  const e = spec.embeddings;
  return Array.from({ length: o.batches }, () => {
    if (e.kind === 'patch') {
      const n = e.channels * e.imageSize * e.imageSize;
      return { pixel_values: new Tensor('float32', [1, e.channels, e.imageSize, e.imageSize], Float32Array.from({ length: n }, () => next() / 2 ** 31 - 1)) };
    }
    const T = Math.min(o.tokens, e.maxPositions - (e.paddingPositions ? e.paddingPositions.padTokenId + 1 : 0));
    const f: Record<string, Tensor> = {
      input_ids: new Tensor('int64', [1, T], BigInt64Array.from({ length: T }, () => BigInt(next() % e.vocab))),
      attention_mask: new Tensor('int64', [1, T], new BigInt64Array(T).fill(1n)),
    };
    if (e.typeVocab > 1) f['token_type_ids'] = new Tensor('int64', [1, T], new BigInt64Array(T));
    return f;
  });
}
