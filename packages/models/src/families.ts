// Model families as data: each entry turns a Hugging Face config.json into one DecoderSpec (the
// options of the one decoder builder in build.ts) and says where each weight lives in the checkpoint.
// Adding a family is one entry here.
import { LeanformerError } from '@leanformer/core';
import { ENCODER_FAMILIES, encoderFamilyOf } from './encoders.js';

/** How a checkpoint tensor is laid out: `linear` is torch `[out, in]` (transposed on load), `conv1d` is GPT-2's `[in, out]`. */
export type WeightLayout = 'linear' | 'conv1d' | 'vector' | 'table';

/** Where one projection's weight (and optional bias) lives. */
export interface WeightRef {
  readonly weight: string;
  readonly bias?: string;
  readonly layout: 'linear' | 'conv1d';
}

/** Checkpoint tensor names of one decoder layer. */
export interface LayerWeights {
  readonly norm1: { readonly weight: string; readonly bias?: string };
  readonly norm2: { readonly weight: string; readonly bias?: string };
  /** Separate projections, or one fused `[q; k; v]` projection. */
  readonly attn: { readonly q: WeightRef; readonly k: WeightRef; readonly v: WeightRef } | { readonly qkv: WeightRef };
  readonly o: WeightRef;
  /** Gated MLP (`down(act(gate(x)) · up(x))`, gate/up separate or fused `[gate; up]`) or plain (`proj(act(fc(x)))`). */
  readonly mlp:
    | { readonly kind: 'gated'; readonly gate: WeightRef; readonly up: WeightRef; readonly down: WeightRef }
    | { readonly kind: 'gated-fused'; readonly gateUp: WeightRef; readonly down: WeightRef }
    | { readonly kind: 'plain'; readonly fc: WeightRef; readonly proj: WeightRef };
}

/** RoPE frequencies: `rope_type` and its parameters from the config. */
export type RopeScaling =
  | { readonly type: 'default' }
  | { readonly type: 'linear'; readonly factor: number }
  | { readonly type: 'dynamic'; readonly factor: number }
  | { readonly type: 'llama3'; readonly factor: number; readonly lowFreqFactor: number; readonly highFreqFactor: number; readonly originalMaxPositions: number };

/** Everything the decoder builder needs, read from config.json by a family. */
export interface DecoderSpec {
  readonly modelType: string;
  readonly vocab: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly ffn: number;
  /** Position capacity of the graph (RoPE table rows, or the learned position table). */
  readonly maxPositions: number;
  readonly norm: 'rms' | 'layer';
  readonly eps: number;
  /** Added to RMSNorm scales on load (Gemma stores `scale − 1`). */
  readonly normOffset: number;
  readonly activation: 'silu' | 'gelu' | 'gelu_tanh';
  /** RoPE (`theta`, scaling) or learned absolute positions (GPT-2). */
  readonly positions: { readonly kind: 'rope'; readonly theta: number; readonly scaling: RopeScaling } | { readonly kind: 'learned'; readonly table: string };
  /** Sliding-window attention: each query sees the last `window` keys (itself included). */
  readonly window?: number;
  /** Embeddings are multiplied by this (Gemma: √hidden). */
  readonly embedScale?: number;
  readonly embed: string;
  readonly finalNorm: { readonly weight: string; readonly bias?: string };
  /** The LM head's weight (`[vocab, hidden]`), or the embedding table when tied. */
  readonly lmHead: string;
  readonly layer: (i: number) => LayerWeights;
  readonly bosTokenId?: number;
  readonly eosTokenIds: readonly number[];
}

/** A model family: which config `model_type` it reads and how. */
export interface ModelFamily {
  readonly modelType: string;
  /** Architectures (config `architectures[0]`) it is known for, for messages. */
  readonly architectures: readonly string[];
  spec(config: Readonly<Record<string, unknown>>, file: string): DecoderSpec;
}

/**
 * Reads typed fields of a config, naming the file and the field in every error.
 *
 * @example
 * ```ts
 * new ConfigReader({ hidden_size: 64 }, 'config.json').int('hidden_size'); // 64
 * ```
 */
export class ConfigReader {
  constructor(readonly config: Readonly<Record<string, unknown>>, readonly file: string) {}

  /** A required positive integer. */
  int(field: string, fallback?: number): number {
    const v = this.config[field] ?? fallback;
    if (v === undefined || v === null) throw new LeanformerError('INVALID_ARGUMENT', `${this.file}: field '${field}' is missing; it must be a positive integer`, { details: { file: this.file, field } });
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new LeanformerError('INVALID_ARGUMENT', `${this.file}: field '${field}' must be a positive integer, got ${JSON.stringify(v)}`, { details: { file: this.file, field } });
    return v;
  }

  /** A required positive finite number. */
  num(field: string, fallback?: number, obj: Readonly<Record<string, unknown>> = this.config, where = field): number {
    const v = obj[field] ?? fallback;
    if (v === undefined || v === null) throw new LeanformerError('INVALID_ARGUMENT', `${this.file}: field '${where}' is missing; it must be a positive number`, { details: { file: this.file, field: where } });
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new LeanformerError('INVALID_ARGUMENT', `${this.file}: field '${where}' must be a positive number, got ${JSON.stringify(v)}`, { details: { file: this.file, field: where } });
    return v;
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.config[field] ?? fallback;
    if (typeof v !== 'boolean') throw new LeanformerError('INVALID_ARGUMENT', `${this.file}: field '${field}' must be true or false, got ${JSON.stringify(v)}`, { details: { file: this.file, field } });
    return v;
  }

  /** `eos_token_id` (a number or a list), `bos_token_id`. */
  tokens(): { bosTokenId?: number; eosTokenIds: number[] } {
    const eos = this.config['eos_token_id'];
    const list = eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos];
    if (!list.every((t) => Number.isInteger(t) && (t as number) >= 0)) throw new LeanformerError('INVALID_ARGUMENT', `${this.file}: field 'eos_token_id' must be a token id or a list of them, got ${JSON.stringify(eos)}`, { details: { file: this.file, field: 'eos_token_id' } });
    const bos = this.config['bos_token_id'];
    return { ...(Number.isInteger(bos) ? { bosTokenId: bos as number } : {}), eosTokenIds: list as number[] };
  }

  /** RoPE base and scaling from `rope_parameters` (transformers ≥ 5) or `rope_theta` + `rope_scaling`. */
  rope(defaultTheta = 10000): { theta: number; scaling: RopeScaling } {
    const params = this.config['rope_parameters'] as Record<string, unknown> | undefined;
    const scalingRaw = (params ?? this.config['rope_scaling']) as Record<string, unknown> | null | undefined;
    const theta = this.num('rope_theta', params?.['rope_theta'] as number | undefined ?? defaultTheta);
    if (!scalingRaw) return { theta, scaling: { type: 'default' } };
    const where = params ? 'rope_parameters' : 'rope_scaling';
    const type = scalingRaw['rope_type'] ?? scalingRaw['type'] ?? 'default';
    const f = (k: string): number => this.num(k, undefined, scalingRaw, `${where}.${k}`);
    switch (type) {
      case 'default': return { theta, scaling: { type: 'default' } };
      case 'linear': return { theta, scaling: { type: 'linear', factor: f('factor') } };
      case 'dynamic': return { theta, scaling: { type: 'dynamic', factor: f('factor') } };
      case 'llama3': return { theta, scaling: { type: 'llama3', factor: f('factor'), lowFreqFactor: f('low_freq_factor'), highFreqFactor: f('high_freq_factor'), originalMaxPositions: f('original_max_position_embeddings') } };
      default: throw new LeanformerError('NOT_SUPPORTED', `${this.file}: ${where}.rope_type '${String(type)}' is not supported; supported: default, linear, dynamic, llama3`, { details: { file: this.file, field: `${where}.rope_type` } });
    }
  }
}

const lin = (weight: string, bias = false): WeightRef => ({ weight, layout: 'linear', ...(bias ? { bias: weight.replace(/weight$/, 'bias') } : {}) });

/** Llama-shaped families (Llama, Mistral, Qwen2, Gemma, Phi-3) share one reader; `opts` holds what differs. */
function llamaLike(modelType: string, architectures: string[], opts: {
  qkvBias?: (c: ConfigReader) => boolean;
  window?: (c: ConfigReader) => number | undefined;
  gemma?: boolean;
  fused?: boolean;
  tiedDefault: boolean;
}): ModelFamily {
  return {
    modelType, architectures,
    spec(config, file) {
      const c = new ConfigReader(config, file);
      const hidden = c.int('hidden_size');
      const heads = c.int('num_attention_heads');
      const headDim = config['head_dim'] !== undefined && config['head_dim'] !== null ? c.int('head_dim') : hidden / heads;
      if (!Number.isInteger(headDim)) throw new LeanformerError('INVALID_ARGUMENT', `${file}: hidden_size (${hidden}) is not divisible by num_attention_heads (${heads}) and no head_dim is given`, { details: { file, field: 'head_dim' } });
      const kvHeads = c.int('num_key_value_heads', heads);
      if (heads % kvHeads !== 0) throw new LeanformerError('INVALID_ARGUMENT', `${file}: num_attention_heads (${heads}) must be a multiple of num_key_value_heads (${kvHeads})`, { details: { file, field: 'num_key_value_heads' } });
      const partial = config['partial_rotary_factor'];
      if (partial !== undefined && partial !== null && partial !== 1) throw new LeanformerError('NOT_SUPPORTED', `${file}: partial_rotary_factor ${JSON.stringify(partial)} is not supported (only 1)`, { details: { file, field: 'partial_rotary_factor' } });
      const act = String(config['hidden_activation'] ?? config['hidden_act'] ?? 'silu');
      const activation = act === 'silu' ? 'silu' : act === 'gelu_pytorch_tanh' || act === 'gelu_new' ? 'gelu_tanh' : act === 'gelu' ? 'gelu' : null;
      if (!activation) throw new LeanformerError('NOT_SUPPORTED', `${file}: hidden_act '${act}' is not supported; supported: silu, gelu, gelu_pytorch_tanh, gelu_new`, { details: { file, field: 'hidden_act' } });
      const tied = c.bool('tie_word_embeddings', opts.tiedDefault);
      const qkvBias = opts.qkvBias?.(c) ?? false;
      const window = opts.window?.(c);
      const p = (i: number) => `model.layers.${i}`;
      return {
        modelType, vocab: c.int('vocab_size'), hidden, layers: c.int('num_hidden_layers'), heads, kvHeads, headDim, ffn: c.int('intermediate_size'),
        maxPositions: c.int('max_position_embeddings'), norm: 'rms', eps: c.num('rms_norm_eps', 1e-6), normOffset: opts.gemma ? 1 : 0, activation,
        positions: { kind: 'rope', ...c.rope() },
        ...(window !== undefined ? { window } : {}),
        ...(opts.gemma ? { embedScale: Math.sqrt(hidden) } : {}),
        embed: 'model.embed_tokens.weight', finalNorm: { weight: 'model.norm.weight' }, lmHead: tied ? 'model.embed_tokens.weight' : 'lm_head.weight',
        layer: (i) => ({
          norm1: { weight: `${p(i)}.input_layernorm.weight` }, norm2: { weight: `${p(i)}.post_attention_layernorm.weight` },
          attn: opts.fused ? { qkv: lin(`${p(i)}.self_attn.qkv_proj.weight`) } : { q: lin(`${p(i)}.self_attn.q_proj.weight`, qkvBias), k: lin(`${p(i)}.self_attn.k_proj.weight`, qkvBias), v: lin(`${p(i)}.self_attn.v_proj.weight`, qkvBias) },
          o: lin(`${p(i)}.self_attn.o_proj.weight`),
          mlp: opts.fused
            ? { kind: 'gated-fused', gateUp: lin(`${p(i)}.mlp.gate_up_proj.weight`), down: lin(`${p(i)}.mlp.down_proj.weight`) }
            : { kind: 'gated', gate: lin(`${p(i)}.mlp.gate_proj.weight`), up: lin(`${p(i)}.mlp.up_proj.weight`), down: lin(`${p(i)}.mlp.down_proj.weight`) },
        }),
        ...c.tokens(),
      };
    },
  };
}

const gpt2: ModelFamily = {
  modelType: 'gpt2', architectures: ['GPT2LMHeadModel'],
  spec(config, file) {
    const c = new ConfigReader(config, file);
    const hidden = c.int('n_embd');
    const heads = c.int('n_head');
    if (hidden % heads !== 0) throw new LeanformerError('INVALID_ARGUMENT', `${file}: n_embd (${hidden}) must be divisible by n_head (${heads})`, { details: { file, field: 'n_head' } });
    const act = String(config['activation_function'] ?? 'gelu_new');
    const activation = act === 'gelu_new' || act === 'gelu_pytorch_tanh' ? 'gelu_tanh' : act === 'gelu' ? 'gelu' : null;
    if (!activation) throw new LeanformerError('NOT_SUPPORTED', `${file}: activation_function '${act}' is not supported; supported: gelu_new, gelu_pytorch_tanh, gelu`, { details: { file, field: 'activation_function' } });
    for (const f of ['scale_attn_by_inverse_layer_idx', 'reorder_and_upcast_attn'] as const) {
      if (config[f] === true) throw new LeanformerError('NOT_SUPPORTED', `${file}: ${f}: true is not supported`, { details: { file, field: f } });
    }
    const conv = (w: string): WeightRef => ({ weight: `${w}.weight`, bias: `${w}.bias`, layout: 'conv1d' });
    const p = (i: number) => `transformer.h.${i}`;
    return {
      modelType: 'gpt2', vocab: c.int('vocab_size'), hidden, layers: c.int('n_layer'), heads, kvHeads: heads, headDim: hidden / heads,
      ffn: config['n_inner'] ? c.int('n_inner') : 4 * hidden, maxPositions: c.int('n_positions'), norm: 'layer', eps: c.num('layer_norm_epsilon', 1e-5),
      normOffset: 0, activation, positions: { kind: 'learned', table: 'transformer.wpe.weight' },
      embed: 'transformer.wte.weight', finalNorm: { weight: 'transformer.ln_f.weight', bias: 'transformer.ln_f.bias' },
      // GPT-2 always ties its head to the token embeddings (checkpoints omit lm_head.weight).
      lmHead: 'transformer.wte.weight',
      layer: (i) => ({
        norm1: { weight: `${p(i)}.ln_1.weight`, bias: `${p(i)}.ln_1.bias` }, norm2: { weight: `${p(i)}.ln_2.weight`, bias: `${p(i)}.ln_2.bias` },
        attn: { qkv: conv(`${p(i)}.attn.c_attn`) }, o: conv(`${p(i)}.attn.c_proj`),
        mlp: { kind: 'plain', fc: conv(`${p(i)}.mlp.c_fc`), proj: conv(`${p(i)}.mlp.c_proj`) },
      }),
      ...c.tokens(),
    };
  },
};

/** The supported families, by config `model_type`. */
export const MODEL_FAMILIES: readonly ModelFamily[] = Object.freeze([
  llamaLike('llama', ['LlamaForCausalLM'], { tiedDefault: false, qkvBias: (c) => c.bool('attention_bias', false) }),
  llamaLike('mistral', ['MistralForCausalLM'], {
    tiedDefault: false,
    window: (c) => (c.config['sliding_window'] === null || c.config['sliding_window'] === undefined ? undefined : c.int('sliding_window')),
  }),
  llamaLike('qwen2', ['Qwen2ForCausalLM'], {
    tiedDefault: false, qkvBias: () => true,
    window: (c) => {
      if (c.config['use_sliding_window'] === true) throw new LeanformerError('NOT_SUPPORTED', `${c.file}: use_sliding_window: true (a window on some layers only) is not supported`, { details: { file: c.file, field: 'use_sliding_window' } });
      return undefined;
    },
  }),
  llamaLike('phi3', ['Phi3ForCausalLM'], {
    tiedDefault: false, fused: true,
    window: (c) => {
      if (c.config['rope_scaling'] && (c.config['rope_scaling'] as Record<string, unknown>)['type'] === 'longrope') throw new LeanformerError('NOT_SUPPORTED', `${c.file}: rope_scaling 'longrope' is not supported`, { details: { file: c.file, field: 'rope_scaling' } });
      return c.config['sliding_window'] === null || c.config['sliding_window'] === undefined ? undefined : c.int('sliding_window');
    },
  }),
  llamaLike('gemma', ['GemmaForCausalLM'], { tiedDefault: true, gemma: true, qkvBias: (c) => c.bool('attention_bias', false) }),
  gpt2,
]);

/**
 * The decoder family of a config, by `model_type`. Unknown types throw NOT_SUPPORTED naming the type
 * and the supported ones (decoders and encoders); an encoder's type throws NOT_SUPPORTED pointing to
 * readEncoderCheckpoint.
 *
 * @example
 * ```ts
 * const spec = familyOf(config, 'config.json').spec(config, 'config.json');
 * ```
 */
export function familyOf(config: Readonly<Record<string, unknown>>, file: string): ModelFamily {
  const t = config['model_type'];
  const fam = MODEL_FAMILIES.find((f) => f.modelType === t);
  if (!fam && encoderFamilyOf(config)) throw new LeanformerError('NOT_SUPPORTED', `${file}: model_type ${JSON.stringify(t)} is an encoder (no LM head, no KV cache): read it with readEncoderCheckpoint (or loadPretrained with { kind: 'encoder' }; convert takes either kind)`, { details: { file, field: 'model_type' } });
  if (!fam) {
    const arch = Array.isArray(config['architectures']) ? ` (architectures: ${(config['architectures'] as unknown[]).join(', ')})` : '';
    throw new LeanformerError('NOT_SUPPORTED', `${file}: model_type ${JSON.stringify(t)}${arch} is not supported; supported: ${[...MODEL_FAMILIES, ...ENCODER_FAMILIES].map((f) => f.modelType).join(', ')}`, { details: { file, field: 'model_type' } });
  }
  return fam;
}
