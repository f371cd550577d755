// A checkpoint folder as data (config, spec, weights, tokenizer, generation settings), read through a
// CheckpointFiles accessor so the same code serves Node folders and browser File lists.
import { LeanformerError, type Executor } from '@leanformer/core';
import { checkCachePolicy, decodeStream, type CachePolicy, type KV_EVICTIONS, type KV_FORMATS, type Sampling } from '@leanformer/kv-cache';
import type { WeightSource } from './build.js';
import { parseJsonFile, safetensorsWeights, shardNames, type ByteReader } from './checkpoint.js';
import { encoderFamilyOf, type EncoderSpec } from './encoders.js';
import { familyOf, type DecoderSpec } from './families.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';

/** Access to a checkpoint folder's files by name (undefined when a file is absent). */
export interface CheckpointFiles {
  text(name: string): string | undefined;
  bytes(name: string): ByteReader | undefined;
}

/** What {@link readCheckpoint} returns. */
export interface Checkpoint {
  readonly config: Readonly<Record<string, unknown>>;
  readonly spec: DecoderSpec;
  readonly weights: WeightSource;
  /** Undefined when the folder has no tokenizer.json. */
  readonly tokenizer?: TextTokenizer;
  /** End-of-sequence ids: generation_config.json's, else config.json's. */
  readonly eosTokenIds: readonly number[];
}

/** Tokenizer files copied by `convert` and read by {@link readCheckpoint}. */
export const TOKENIZER_FILES: readonly string[] = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'generation_config.json'];

/**
 * Reads a Hugging Face folder: config.json → family → spec (errors name the file and field), the
 * safetensors headers (sharded or not; validated, tensors read later), the tokenizer and the EOS ids.
 *
 * @example
 * ```ts
 * const ckpt = readCheckpoint(folderFiles('tiny-llama'));
 * const graph = buildCausalLM(ckpt.spec, ckpt.weights);
 * ```
 */
export function readCheckpoint(files: CheckpointFiles): Checkpoint {
  const config = readConfig(files);
  const spec = familyOf(config, 'config.json').spec(config, 'config.json');
  const weights = readWeights(files);
  const tokenizer = readTokenizer(files);
  let eosTokenIds = spec.eosTokenIds;
  const gen = files.text('generation_config.json');
  if (gen !== undefined) {
    const g = parseJsonFile(gen, 'generation_config.json');
    const e = g['eos_token_id'];
    if (e !== undefined && e !== null) {
      const list = Array.isArray(e) ? e : [e];
      if (!list.every((t) => Number.isInteger(t) && (t as number) >= 0)) throw new LeanformerError('INVALID_ARGUMENT', `generation_config.json: field 'eos_token_id' must be a token id or a list of them, got ${JSON.stringify(e)}`, { details: { file: 'generation_config.json', field: 'eos_token_id' } });
      eosTokenIds = list as number[];
    }
  }
  return { config, spec, weights, ...(tokenizer ? { tokenizer } : {}), eosTokenIds };
}

function readConfig(files: CheckpointFiles): Record<string, unknown> {
  const cfgText = files.text('config.json');
  if (cfgText === undefined) throw new LeanformerError('INVALID_ARGUMENT', 'config.json: missing; a Hugging Face checkpoint folder needs config.json', { details: { file: 'config.json' } });
  return parseJsonFile(cfgText, 'config.json');
}

/** The safetensors files (sharded or not), every header validated; tensors read later. */
function readWeights(files: CheckpointFiles): WeightSource {
  const indexText = files.text('model.safetensors.index.json');
  const { files: shards, map } = shardNames(indexText !== undefined ? parseJsonFile(indexText, 'model.safetensors.index.json') : undefined);
  const readers = shards.map((file) => {
    const reader = files.bytes(file);
    if (!reader) throw new LeanformerError('INVALID_ARGUMENT', `${file}: missing (${indexText !== undefined ? 'named by model.safetensors.index.json' : 'no model.safetensors.index.json either'})`, { details: { file } });
    return { file, reader };
  });
  return safetensorsWeights(readers, map);
}

function readTokenizer(files: CheckpointFiles): TextTokenizer | undefined {
  const tj = files.text('tokenizer.json');
  const tc = files.text('tokenizer_config.json');
  const ct = files.text('chat_template.jinja');
  return tj !== undefined ? loadTokenizer({ tokenizerJson: tj, ...(tc !== undefined ? { tokenizerConfig: tc } : {}), ...(ct !== undefined ? { chatTemplate: ct } : {}) }) : undefined;
}

/**
 * Whether a checkpoint folder holds a decoder (read with {@link readCheckpoint}) or an encoder
 * (BERT, RoBERTa, ViT, DeiT: {@link readEncoderCheckpoint}), by config.json's `model_type`.
 *
 * @example
 * ```ts
 * const ck = checkpointKind(files) === 'encoder' ? readEncoderCheckpoint(files) : readCheckpoint(files);
 * ```
 */
export function checkpointKind(files: CheckpointFiles): 'decoder' | 'encoder' {
  return encoderFamilyOf(readConfig(files)) ? 'encoder' : 'decoder';
}

/** What {@link readEncoderCheckpoint} returns. */
export interface EncoderCheckpoint {
  readonly config: Readonly<Record<string, unknown>>;
  readonly spec: EncoderSpec;
  readonly weights: WeightSource;
  /** Undefined when the folder has no tokenizer.json (ViT/DeiT take pixels). */
  readonly tokenizer?: TextTokenizer;
}

/**
 * Reads an encoder checkpoint folder (BERT, RoBERTa, ViT, DeiT): config.json → encoder family →
 * spec, the safetensors headers (validated, tensors read later) and the tokenizer when present.
 * Another `model_type` throws NOT_SUPPORTED naming it and every supported one.
 *
 * @example
 * ```ts
 * const ck = readEncoderCheckpoint(folderFiles('tiny-bert'));
 * const graph = buildEncoder(ck.spec, ck.weights);
 * ```
 */
export function readEncoderCheckpoint(files: CheckpointFiles): EncoderCheckpoint {
  const config = readConfig(files);
  const family = encoderFamilyOf(config);
  if (!family) familyOf(config, 'config.json'); // throws for an unknown type, listing the supported ones
  if (!family) throw new LeanformerError('NOT_SUPPORTED', `config.json: model_type ${JSON.stringify(config['model_type'])} is a decoder: read it with readCheckpoint`, { details: { file: 'config.json', field: 'model_type' } });
  const weights = readWeights(files);
  const spec = family.spec(config, 'config.json', weights);
  const tokenizer = readTokenizer(files);
  return { config, spec, weights, ...(tokenizer ? { tokenizer } : {}) };
}

/** A compiled decoder ready for {@link generate}. */
export interface RunnableModel {
  readonly executor: Executor;
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Element type of the KV cache tensors (default float32; float16 for fp16-compute conversions). */
  readonly kvDtype?: 'float32' | 'float16';
  /** Longest prompt + generation (the position tables' size). */
  readonly maxPositions: number;
  readonly eosTokenIds: readonly number[];
  /** RoPE inverse frequencies (absent for learned positions): eviction re-rotates kept keys with them. */
  readonly ropeInvFreq?: ArrayLike<number>;
  /** Whether the executor outputs `query_<l>` (needed by `evict: 'h2o' | 'snapkv'`). */
  readonly queryOutputs?: boolean;
}

/** Options of {@link generate}. */
export interface GenerateTextOptions {
  /** Text prompt (encoded with the tokenizer) or token ids; exactly one. */
  readonly prompt?: string;
  readonly promptIds?: readonly number[];
  /** Default 32. */
  readonly maxNewTokens?: number;
  /** Default greedy. */
  readonly sampling?: Sampling;
  readonly seed?: number;
  /** Stop at the model's EOS ids (default true). */
  readonly stopAtEos?: boolean;
  /** transformers' repetition penalty over prompt and generated tokens (default 1, off). */
  readonly repetitionPenalty?: number;
  /** Stored KV format (default fp32): K/V are rounded through it as they enter the cache. */
  readonly kv?: (typeof KV_FORMATS)[number];
  /** Positions the KV cache keeps between steps (default all); the latest ones unless `evict` says otherwise. */
  readonly window?: number;
  /** Which positions survive beyond `window` (needs `window`); `h2o`/`snapkv` need a model with `queryOutputs`. */
  readonly evict?: (typeof KV_EVICTIONS)[number];
}

/** One generated token and the text it adds. */
export interface GeneratedToken {
  readonly id: number;
  /** Text added by this token (the decoded sequence's growth; may be empty mid-character). */
  readonly text: string;
  /** Milliseconds of the run that produced it (the prefill for the first). */
  readonly ms: number;
  /** Positions in the KV cache after this token's run (≤ `window` when set). */
  readonly kvLength: number;
}

/**
 * Generates tokens as an async iterator, through @leanformer/kv-cache's decode loop (KV buffers
 * preallocated once, one run per token).
 *
 * @example
 * ```ts
 * for await (const t of generate(model, tokenizer, { prompt: 'Once upon a time', maxNewTokens: 16 })) process.stdout.write(t.text);
 * ```
 */
export async function* generate(model: RunnableModel, tokenizer: TextTokenizer | undefined, o: GenerateTextOptions): AsyncGenerator<GeneratedToken> {
  if ((o.prompt === undefined) === (o.promptIds === undefined)) throw new LeanformerError('INVALID_ARGUMENT', 'generate: give exactly one of prompt (text) and promptIds');
  if (o.prompt !== undefined && !tokenizer) throw new LeanformerError('INVALID_ARGUMENT', 'generate: a text prompt needs a tokenizer (the folder has no tokenizer.json); pass promptIds');
  const ids = o.promptIds ? [...o.promptIds] : tokenizer!.encode(o.prompt!);
  if (ids.length === 0) throw new LeanformerError('INVALID_ARGUMENT', 'generate: the prompt encodes to no tokens');
  const maxNewTokens = o.maxNewTokens ?? 32;
  if (ids.length + maxNewTokens > model.maxPositions) throw new LeanformerError('SIZE_LIMIT', `generate: prompt (${ids.length}) + maxNewTokens (${maxNewTokens}) exceeds the model's ${model.maxPositions} positions`);
  const cache: CachePolicy | undefined = o.kv !== undefined || o.window !== undefined || o.evict !== undefined
    ? { ...(o.kv ? { format: o.kv } : {}), ...(o.window !== undefined ? { budget: o.window } : {}), ...(o.evict ? { evict: o.evict } : {}), ...(model.ropeInvFreq ? { ropeInvFreq: model.ropeInvFreq } : {}) }
    : undefined;
  if (cache) checkCachePolicy(cache);
  if ((o.evict === 'h2o' || o.evict === 'snapkv') && !model.queryOutputs) throw new LeanformerError('NOT_SUPPORTED', `generate: evict '${o.evict}' scores positions with the model's queries; load the model with queryOutputs (an HF folder: loadPretrained(dir, { queryOutputs: true })), or use evict 'streaming' or a plain window`, { details: { field: 'evict' } });
  const eosSet = (o.stopAtEos ?? true) ? new Set(model.eosTokenIds) : new Set<number>();
  const out: number[] = [];
  let shown = '';
  for await (const t of decodeStream(model.executor, ids, model, { maxNewTokens, ...(o.sampling ? { sampling: o.sampling } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}), ...(o.repetitionPenalty !== undefined ? { repetitionPenalty: o.repetitionPenalty } : {}), ...(cache ? { cache } : {}), eosSet })) {
    out.push(t.token);
    let text = '';
    if (tokenizer) {
      const all = tokenizer.decode(out);
      // Hold back a trailing U+FFFD: the token may end mid-character.
      if (!all.endsWith('\uFFFD')) { text = all.startsWith(shown) ? all.slice(shown.length) : all; shown = all; }
    }
    yield { id: t.token, text, ms: t.ms, kvLength: t.kvLength };
  }
}

/**
 * {@link CheckpointFiles} over contents already in memory (browser: `await file.arrayBuffer()` for each
 * file of a folder picker, or fetched URLs). Texts may be given as strings or bytes (UTF-8).
 *
 * @example
 * ```ts
 * const files = memoryFiles(Object.fromEntries(await Promise.all([...picker.files].map(async (f) => [f.name, new Uint8Array(await f.arrayBuffer())]))));
 * const graph = buildCausalLM(readCheckpoint(files).spec, readCheckpoint(files).weights);
 * ```
 */
export function memoryFiles(contents: Readonly<Record<string, Uint8Array | string>>): CheckpointFiles {
  const utf8 = new TextDecoder('utf-8');
  return {
    text(name) { const c = contents[name]; return c === undefined ? undefined : typeof c === 'string' ? c : utf8.decode(c); },
    bytes(name) {
      const c = contents[name];
      if (c === undefined) return undefined;
      const b = typeof c === 'string' ? new TextEncoder().encode(c) : c;
      return { size: b.byteLength, read: (start, end) => b.subarray(start, end) };
    },
  };
}
