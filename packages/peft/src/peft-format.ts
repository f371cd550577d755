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
  r?: number;
  lora_alpha?: number;
  lora_dropout?: number;
  use_rslora?: boolean;
  target_modules?: string[] | string | null;
  alpha_pattern?: Record<string, number>;
  fan_in_fan_out?: boolean;
  use_dora?: boolean;
}

function patternValue(pattern: Record<string, number> | undefined, hf: string): number | undefined {
  if (!pattern) return undefined;
  for (const [k, v] of Object.entries(pattern)) if (hf === k || hf.endsWith(`.${k}`)) return v;
  return undefined;
}

/**
 * Reads PEFT's adapter_model.safetensors + adapter_config.json into an adapter in our layout.
 * Per-module ranks come from the tensors (so rank_pattern needs no special handling); scaling
 * follows lora_alpha / alpha_pattern and use_rslora.
 *
 * @example
 * ```ts
 * const adapter = fromPeftFiles(readFileSync('adapter_model.safetensors'), readFileSync('adapter_config.json', 'utf8'), { name: 'sql' });
 * ```
 */
export function fromPeftFiles(safetensors: Uint8Array, configJson: string, options: PeftFormatOptions & { name?: string } = {}): LoraAdapter {
  let cfg: PeftConfigJson;
  try {
    cfg = JSON.parse(configJson) as PeftConfigJson;
  } catch (e) {
    throw new LeanformerError('DECODE_ERROR', `adapter_config.json is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (cfg.peft_type !== undefined && cfg.peft_type !== 'LORA') throw new LeanformerError('NOT_SUPPORTED', `adapter_config.json: peft_type '${cfg.peft_type}' is not supported; allowed: LORA`);
  if (cfg.use_dora) throw new LeanformerError('NOT_SUPPORTED', 'adapter_config.json: use_dora is set; DoRA adapters are not supported');
  if (cfg.fan_in_fan_out) throw new LeanformerError('NOT_SUPPORTED', 'adapter_config.json: fan_in_fan_out (GPT-2 Conv1D layout) is not supported');
  if (!Number.isInteger(cfg.r) || cfg.r! < 1) throw new LeanformerError('DECODE_ERROR', `adapter_config.json: r must be a positive integer, got ${String(cfg.r)}`);
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
    if (t.shape.length !== 2) throw new LeanformerError('SHAPE_MISMATCH', `adapter file: '${key}' is [${t.shape.join(', ')}], expected 2-D`);
    const e = parts.get(m[1]!) ?? {};
    e[m[2] as 'A' | 'B'] = t.dtype.name === 'float32' ? t : new Tensor('float32', t.shape, t.toFloat32());
    parts.set(m[1]!, e);
  }
  const modules = new Map<string, LoraModuleWeights>();
  for (const [hf, { A, B }] of parts) {
    if (!A || !B) throw new LeanformerError('DECODE_ERROR', `adapter file: module '${hf}' has lora_${A ? 'A' : 'B'} but not lora_${A ? 'B' : 'A'}`);
    const r = A.shape[0]!;
    if (B.shape[1] !== r) throw new LeanformerError('SHAPE_MISMATCH', `adapter file: '${hf}' lora_A is [${A.shape.join(', ')}] but lora_B is [${B.shape.join(', ')}]; ranks differ`);
    const a = patternValue(cfg.alpha_pattern, hf) ?? alpha;
    modules.set(naming.fromHf(hf), { A: transpose(A), B: transpose(B), scaling: loraScaling(r, a, rs) });
  }
  if (!modules.size) throw new LeanformerError('DECODE_ERROR', 'adapter file holds no LoRA tensors');
  const targets = cfg.target_modules ?? [...parts.keys()];
  return {
    name: options.name ?? 'default',
    config: { r: cfg.r!, alpha, dropout: cfg.lora_dropout ?? 0, useRslora: rs, targetModules: typeof targets === 'string' ? targets : [...targets], naming },
    modules,
  };
}
