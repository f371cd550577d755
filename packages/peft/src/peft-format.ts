// Hugging Face PEFT adapter files: adapter_model.safetensors with
// `base_model.model.<hf module>.lora_A.weight` [r, in] and `.lora_B.weight` [out, r]
// (torch Linear layout, the transpose of ours), and adapter_config.json.

import { LeanformerError, readSafetensors, Tensor, writeSafetensors } from '@leanformer/core';
import { loraScaling, type LoraAdapter, type LoraModuleWeights } from './lora.js';
import { resolveNaming, type ModuleNaming } from './naming.js';

/** PEFT's key prefix for a model wrapped by get_peft_model. */
export const PEFT_PREFIX = 'base_model.model.';

/** The two files of a PEFT adapter. */
export interface PeftAdapterFiles {
  /** adapter_model.safetensors bytes. */
  readonly safetensors: Uint8Array;
  /** adapter_config.json text. */
  readonly config: string;
}

/** Options of {@link toPeftFiles} and {@link fromPeftFiles}. */
export interface PeftFormatOptions {
  /** Module naming (default: the adapter config's, else LLaMA). */
  readonly naming?: ModuleNaming | 'llama' | 'bert';
  /** base_model_name_or_path written into the config (default null). */
  readonly baseModel?: string;
  /** PEFT task_type (default 'CAUSAL_LM' for LLaMA naming, 'FEATURE_EXTRACTION' otherwise). */
  readonly taskType?: string;
}

function transpose(t: Tensor): Tensor {
  const [n, m] = t.shape as [number, number];
  const src = t.toFloat32();
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[j * n + i] = src[i * m + j]!;
  return new Tensor('float32', [m, n], out);
}

/**
 * Writes an adapter as PEFT's adapter_model.safetensors + adapter_config.json. The per-module
 * scaling must equal the config's α/r (or α/√r); a combined adapter (scaling 1) is written with
 * lora_alpha = r.
 *
 * @example
 * ```ts
 * const { safetensors, config } = toPeftFiles(adapter);
 * ```
 */
export function toPeftFiles(adapter: LoraAdapter, options: PeftFormatOptions = {}): PeftAdapterFiles {
  const naming = resolveNaming(options.naming ?? adapter.config.naming);
  const tensors = new Map<string, Tensor>();
  const ranks = new Set<number>();
  const alphaPattern: Record<string, number> = {};
  const rankPattern: Record<string, number> = {};
  const r = adapter.config.r;
  const alpha = adapter.config.alpha ?? 8;
  const rs = adapter.config.useRslora ?? false;
  for (const [module, w] of adapter.modules) {
    const hf = naming.toHf(module);
    const rm = w.A.shape[1]!;
    ranks.add(rm);
    if (rm !== r) rankPattern[hf] = rm;
    const want = loraScaling(rm, alpha, rs);
    if (Math.abs(want - w.scaling) > 1e-6 * Math.abs(want)) alphaPattern[hf] = rs ? w.scaling * Math.sqrt(rm) : w.scaling * rm;
    tensors.set(`${PEFT_PREFIX}${hf}.lora_A.weight`, transpose(w.A));
    tensors.set(`${PEFT_PREFIX}${hf}.lora_B.weight`, transpose(w.B));
  }
  const targets = adapter.config.targetModules;
  const config = {
    peft_type: 'LORA',
    task_type: options.taskType ?? (naming.name === 'llama' ? 'CAUSAL_LM' : 'FEATURE_EXTRACTION'),
    base_model_name_or_path: options.baseModel ?? null,
    r,
    lora_alpha: alpha,
    lora_dropout: adapter.config.dropout ?? 0,
    use_rslora: rs,
    target_modules: targets instanceof RegExp ? targets.source : typeof targets === 'string' ? targets : [...targets],
    rank_pattern: rankPattern,
    alpha_pattern: alphaPattern,
    bias: 'none',
    fan_in_fan_out: false,
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
  };
  return { safetensors: writeSafetensors(tensors, { format: 'pt' }), config: JSON.stringify(config, null, 2) };
}

interface PeftConfigJson {
  peft_type?: string;
  r: number;
  lora_alpha?: number;
  lora_dropout?: number;
  use_rslora?: boolean;
  target_modules: string[] | string;
  alpha_pattern?: Record<string, number>;
  rank_pattern?: Record<string, number>;
  fan_in_fan_out?: boolean;
  use_dora?: boolean;
}

function patternValue(pattern: Record<string, number> | undefined, hf: string): number | undefined {
  if (!pattern) return undefined;
  for (const [k, v] of Object.entries(pattern)) if (hf === k || hf.endsWith(`.${k}`)) return v;
  return undefined;
}

function badConfig(message: string): never {
  throw new LeanformerError('DECODE_ERROR', `adapter_config.json: ${message}`);
}

/**
 * Parses adapter_config.json and checks every field leanformer uses has the type PEFT writes:
 * a file that would otherwise turn into NaN scalings or a crash deep in injection is refused
 * here, naming the field and what is allowed. Unknown fields are ignored (PEFT adds new ones).
 */
function parsePeftConfig(text: string): PeftConfigJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new LeanformerError('DECODE_ERROR', `adapter_config.json is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) badConfig(`must be a JSON object, got ${JSON.stringify(raw)?.slice(0, 40)}`);
  const c = raw as Record<string, unknown>;
  const show = (v: unknown): string => JSON.stringify(v)?.slice(0, 60) ?? String(v);
  const absent = (v: unknown): boolean => v === undefined || v === null;
  if (!absent(c.peft_type) && typeof c.peft_type !== 'string') badConfig(`peft_type must be a string, got ${show(c.peft_type)}`);
  if (!absent(c.peft_type) && c.peft_type !== 'LORA') throw new LeanformerError('NOT_SUPPORTED', `adapter_config.json: peft_type '${String(c.peft_type)}' is not supported; allowed: LORA`);
  for (const f of ['use_rslora', 'use_dora', 'fan_in_fan_out'] as const) if (!absent(c[f]) && typeof c[f] !== 'boolean') badConfig(`${f} must be true or false, got ${show(c[f])}`);
  if (c.use_dora) throw new LeanformerError('NOT_SUPPORTED', 'adapter_config.json: use_dora is set; DoRA adapters are not supported');
  if (c.fan_in_fan_out) throw new LeanformerError('NOT_SUPPORTED', 'adapter_config.json: fan_in_fan_out (GPT-2 Conv1D layout) is not supported');
  if (!Number.isSafeInteger(c.r) || (c.r as number) < 1) badConfig(`r must be a positive integer, got ${show(c.r)}`);
  if (!absent(c.lora_alpha) && !(typeof c.lora_alpha === 'number' && Number.isFinite(c.lora_alpha))) badConfig(`lora_alpha must be a finite number, got ${show(c.lora_alpha)}`);
  if (!absent(c.lora_dropout) && !(typeof c.lora_dropout === 'number' && c.lora_dropout >= 0 && c.lora_dropout < 1)) badConfig(`lora_dropout must be a number in [0, 1), got ${show(c.lora_dropout)}`);
  const t = c.target_modules;
  const okTargets = (typeof t === 'string' && t !== '') || (Array.isArray(t) && t.length > 0 && t.every((m) => typeof m === 'string' && m !== ''));
  if (!okTargets) badConfig(`target_modules must be a non-empty list of module names or a regex string, got ${show(t)}`);
  for (const [f, integer] of [['alpha_pattern', false], ['rank_pattern', true]] as const) {
    const p = c[f];
    if (absent(p)) continue;
    if (typeof p !== 'object' || Array.isArray(p)) badConfig(`${f} must be an object of module name → number, got ${show(p)}`);
    for (const [k, v] of Object.entries(p as object)) {
      if (!(typeof v === 'number' && Number.isFinite(v) && (!integer || (Number.isSafeInteger(v) && v >= 1)))) badConfig(`${f}['${k}'] must be ${integer ? 'a positive integer' : 'a finite number'}, got ${show(v)}`);
    }
  }
  return {
    r: c.r as number,
    target_modules: t as string[] | string,
    ...(absent(c.lora_alpha) ? {} : { lora_alpha: c.lora_alpha as number }),
    ...(absent(c.lora_dropout) ? {} : { lora_dropout: c.lora_dropout as number }),
    ...(absent(c.use_rslora) ? {} : { use_rslora: c.use_rslora as boolean }),
    ...(absent(c.alpha_pattern) ? {} : { alpha_pattern: c.alpha_pattern as Record<string, number> }),
    ...(absent(c.rank_pattern) ? {} : { rank_pattern: c.rank_pattern as Record<string, number> }),
  };
}

const FLOAT_DTYPES = new Set(['float32', 'float16', 'bfloat16', 'float64']);

/**
 * Reads PEFT's adapter_model.safetensors + adapter_config.json into an adapter in our layout.
 * Each module's rank (from its tensors) must equal the config's r, or its rank_pattern entry;
 * scaling follows lora_alpha / alpha_pattern and use_rslora. A malformed config or tensor file is
 * a LeanformerError naming the field or tensor.
 *
 * @example
 * ```ts
 * const adapter = fromPeftFiles(readFileSync('adapter_model.safetensors'), readFileSync('adapter_config.json', 'utf8'), { name: 'sql' });
 * ```
 */
export function fromPeftFiles(safetensors: Uint8Array, configJson: string, options: PeftFormatOptions & { name?: string } = {}): LoraAdapter {
  const cfg = parsePeftConfig(configJson);
  const naming = resolveNaming(options.naming);
  const alpha = cfg.lora_alpha ?? 8;
  const rs = cfg.use_rslora ?? false;
  const { tensors } = readSafetensors(safetensors);
  const parts = new Map<string, { A?: Tensor; B?: Tensor }>();
  for (const [key, t] of tensors) {
    const m = /^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[A-Za-z0-9_-]+)?\.weight$/.exec(key);
    if (!m) {
      if (/lora_(embedding|magnitude)/.test(key)) throw new LeanformerError('NOT_SUPPORTED', `adapter file: '${key}' is an embedding/DoRA adapter tensor; only linear LoRA layers are supported`);
      throw new LeanformerError('DECODE_ERROR', `adapter file: unexpected tensor '${key}' (expected base_model.model.<module>.lora_A.weight / lora_B.weight)`);
    }
    if (t.shape.length !== 2 || t.shape.includes(0)) throw new LeanformerError('SHAPE_MISMATCH', `adapter file: '${key}' is [${t.shape.join(', ')}], expected 2-D with no empty dimension`);
    if (!FLOAT_DTYPES.has(t.dtype.name)) throw new LeanformerError('INVALID_DTYPE', `adapter file: '${key}' is ${t.dtype.name}; LoRA weights must be ${[...FLOAT_DTYPES].join(', ')}`);
    const e = parts.get(m[1]!) ?? {};
    if (e[m[2] as 'A' | 'B']) throw new LeanformerError('DECODE_ERROR', `adapter file: module '${m[1]}' has two lora_${m[2]} tensors (the second is '${key}')`);
    e[m[2] as 'A' | 'B'] = t.dtype.name === 'float32' ? t : new Tensor('float32', t.shape, t.toFloat32());
    parts.set(m[1]!, e);
  }
  const modules = new Map<string, LoraModuleWeights>();
  for (const [hf, { A, B }] of parts) {
    if (!A || !B) throw new LeanformerError('DECODE_ERROR', `adapter file: module '${hf}' has lora_${A ? 'A' : 'B'} but not lora_${A ? 'B' : 'A'}`);
    const r = A.shape[0]!;
    if (B.shape[1] !== r) throw new LeanformerError('SHAPE_MISMATCH', `adapter file: '${hf}' lora_A is [${A.shape.join(', ')}] but lora_B is [${B.shape.join(', ')}]; ranks differ`);
    const configured = patternValue(cfg.rank_pattern, hf) ?? cfg.r;
    if (r !== configured) throw new LeanformerError('SHAPE_MISMATCH', `adapter file: '${hf}' has rank ${r} (lora_A [${A.shape.join(', ')}]) but adapter_config.json says r = ${configured}${cfg.rank_pattern && patternValue(cfg.rank_pattern, hf) !== undefined ? ' (rank_pattern)' : ''}`);
    const a = patternValue(cfg.alpha_pattern, hf) ?? alpha;
    modules.set(naming.fromHf(hf), { A: transpose(A), B: transpose(B), scaling: loraScaling(r, a, rs) });
  }
  if (!modules.size) throw new LeanformerError('DECODE_ERROR', 'adapter file holds no LoRA tensors');
  const targets = cfg.target_modules;
  return {
    name: options.name ?? 'default',
    config: { r: cfg.r, alpha, dropout: cfg.lora_dropout ?? 0, useRslora: rs, targetModules: typeof targets === 'string' ? targets : [...targets], naming },
    modules,
  };
}
