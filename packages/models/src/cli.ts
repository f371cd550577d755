// `leanformer tokenize`, `convert` and `generate` as plain CommandSpec objects; the CLI registers them
// (packages/cli/src/commands/extensions.ts) and handles parsing, help and error reporting.
import { intFlag, LeanformerError, numberFlag, TARGET_NAMES, UsageError, type CommandSpec, type TargetName } from '@leanformer/core';
import { readFileSync } from 'node:fs';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import type { QuantMethod } from '@leanformer/quant';
import { KV_EVICTIONS, KV_FORMATS, type Sampling } from '@leanformer/kv-cache';
import { CONVERT_PRECISIONS, convertCheckpoint, loadPretrained, tokenizerIn } from './node.js';
import { generate } from './pretrained.js';

type Values = Readonly<Record<string, string | boolean | string[] | undefined>>;

function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** The sampling the generate flags ask for (greedy unless --temperature/--top-k/--top-p). */
function samplingOf(values: Values): Sampling {
  const t = numberFlag('temperature', values['temperature'], POSITIVE);
  const k = intFlag('top-k', values['top-k'], { min: 1 });
  const p = numberFlag('top-p', values['top-p'], { ...POSITIVE, max: 1 });
  if (values['greedy'] === true && (t !== undefined || k !== undefined || p !== undefined)) throw new UsageError('--greedy cannot be combined with --temperature, --top-k or --top-p', 'greedy');
  if (k !== undefined && p !== undefined) throw new UsageError('give --top-k or --top-p, not both', 'top-k');
  if (k !== undefined) return { kind: 'top-k', k, ...(t !== undefined ? { temperature: t } : {}) };
  if (p !== undefined) return { kind: 'top-p', p, ...(t !== undefined ? { temperature: t } : {}) };
  if (t !== undefined) return { kind: 'top-p', p: 1, temperature: t };
  return { kind: 'greedy' };
}

const GENERATE_BACKENDS = ['ort-cpu', 'ort-cuda', 'ort-webgpu', 'tfjs-cpu'] as const;
const POSITIVE = { min: 0, minExclusive: true } as const;

/**
 * The models package's CLI commands: `tokenize`, `convert`, `generate`.
 *
 * @example
 * ```ts
 * for (const c of modelsCommands()) registerCommand(c);
 * ```
 */
export function modelsCommands(): CommandSpec[] {
  const tokenize: CommandSpec = {
    name: 'tokenize',
    summary: "Encode text with a checkpoint's tokenizer.json (Hugging Face tokenizers.js)",
    positionals: ['<dir>'],
    options: {
      text: { type: 'string', arg: '<text>', description: 'the text to encode (required)' },
      json: { type: 'boolean', description: 'print { "ids": [...] }' },
    },
    async run({ positionals, values, io }) {
      const text = str(values, 'text');
      if (text === undefined) throw new UsageError('tokenize: --text <text> is required', 'text');
      const tokenizer = tokenizerIn(positionals[0]!);
      if (!tokenizer) throw new LeanformerError('INVALID_ARGUMENT', `tokenizer.json: missing in '${positionals[0]}'`, { details: { file: 'tokenizer.json' } });
      const ids = tokenizer.encode(text);
      io.out(values['json'] ? `${JSON.stringify({ ids })}\n` : `${ids.join(' ')}\n`);
      return 0;
    },
  };

  const convert: CommandSpec = {
    name: 'convert',
    summary: 'Convert a Hugging Face checkpoint folder to model.onnx with a KV cache (optionally quantized)',
    positionals: ['<hf-dir>'],
    options: {
      output: { type: 'string', short: 'o', arg: '<out-dir>', description: 'output folder (required; replaced only once everything is written)' },
      precision: { type: 'string', arg: '<p>', description: `${CONVERT_PRECISIONS.join('|')} (default fp32)` },
      method: { type: 'string', arg: '<m>', description: 'int4/int8 method: rtn, hqq, gptq, awq, smoothquant, qserve (default rtn)' },
      target: { type: 'string', arg: '<t>', description: `ort-cpu|ort-cuda|ort-webgpu|ort-wasm|ort-tensorrt (default ort-cpu)` },
      'calib-text': { type: 'string', arg: '<file>', description: "gptq/awq/smoothquant calibration text, tokenized by the checkpoint's tokenizer (default: a built-in English passage)" },
      json: { type: 'boolean', description: 'print { output, modelType, precision, method, target, files, parameters, seconds }' },
    },
    async run({ positionals, values, io }) {
      const out = str(values, 'output');
      if (!out) throw new UsageError('convert: -o <out-dir> is required', 'output');
      const target = str(values, 'target');
      if (target !== undefined && !(TARGET_NAMES as readonly string[]).includes(target)) throw new UsageError(`convert: --target '${target}' is not one of ${TARGET_NAMES.join(', ')}`, 'target');
      const calibFile = str(values, 'calib-text');
      let calibText: string | undefined;
      if (calibFile !== undefined) {
        try { calibText = readFileSync(calibFile, 'utf8'); } catch (e) {
          throw new LeanformerError('IO_ERROR', `convert: cannot read --calib-text '${calibFile}' (${(e as Error).message})`, { details: { path: calibFile } });
        }
      }
      const report = await convertCheckpoint(positionals[0]!, out, {
        ...(calibText !== undefined ? { calibration: { text: calibText } } : {}),
        ...(str(values, 'precision') ? { precision: str(values, 'precision') as (typeof CONVERT_PRECISIONS)[number] } : {}),
        ...(str(values, 'method') ? { method: str(values, 'method') as QuantMethod } : {}),
        ...(target ? { target: target as TargetName } : {}),
        // Progress lines only on an interactive stderr (never in pipes, logs or --json runs).
        ...(!values['json'] && (io as { stderrIsTTY?: boolean }).stderrIsTTY ? { onProgress: (m: string) => io.err(`${m}\n`) } : {}),
      });
      io.out(values['json'] ? `${JSON.stringify(report)}\n` : `wrote ${report.output} (${report.files.join(', ')}) in ${report.seconds.toFixed(1)} s\n`);
      return 0;
    },
  };

  const generateCmd: CommandSpec = {
    name: 'generate',
    summary: 'Generate text from a Hugging Face folder or a converted one (KV-cache decode loop)',
    positionals: ['<dir>'],
    options: {
      prompt: { type: 'string', arg: '<text>', description: 'text prompt (encoded with the folder tokenizer)' },
      'prompt-ids': { type: 'string', arg: '<1,2,3>', description: 'prompt as token ids' },
      'max-new-tokens': { type: 'string', arg: '<N>', description: 'tokens to generate at most (default 32)' },
      greedy: { type: 'boolean', description: 'argmax decoding (the default)' },
      temperature: { type: 'string', arg: '<T>', description: 'sampling temperature (> 0)' },
      'top-k': { type: 'string', arg: '<K>', description: 'sample among the K most likely tokens' },
      'top-p': { type: 'string', arg: '<P>', description: 'nucleus sampling mass in (0, 1]' },
      seed: { type: 'string', arg: '<S>', description: 'sampling seed (default 1)' },
      'repetition-penalty': { type: 'string', arg: '<X>', description: 'transformers-style repetition penalty over prompt and output (default 1, off)' },
      chat: { type: 'boolean', description: "wrap --prompt as one user message with the checkpoint's chat template" },
      backend: { type: 'string', arg: '<b>', description: `${GENERATE_BACKENDS.join('|')} (default ort-cpu; tfjs-cpu runs HF folders, not converted ones)` },
      kv: { type: 'string', arg: '<f>', description: `KV cache format: ${KV_FORMATS.join('|')} (default fp32; K/V rounded through it as stored)` },
      window: { type: 'string', arg: '<N>', description: 'keep at most N positions in the KV cache (the latest, unless --evict)' },
      evict: { type: 'string', arg: '<p>', description: `which positions survive beyond --window: ${KV_EVICTIONS.join('|')} (h2o/snapkv: HF folders only)` },
      json: { type: 'boolean', description: 'print { promptIds, newIds, text, prefillMs, decodeTokensPerSecond, kv: { format, window, evict, length } }' },
    },
    async run({ positionals, values, io }) {
      const prompt = str(values, 'prompt');
      const idsText = str(values, 'prompt-ids');
      if ((prompt === undefined) === (idsText === undefined)) throw new UsageError('generate: give exactly one of --prompt <text> and --prompt-ids <1,2,3>', 'prompt');
      let promptIds: number[] | undefined;
      if (idsText !== undefined) {
        if (!/^\d+(,\d+)*$/.test(idsText.replace(/\s/g, ''))) throw new UsageError(`--prompt-ids must be comma-separated token ids, got '${idsText}'`, 'prompt-ids');
        promptIds = idsText.replace(/\s/g, '').split(',').map(Number);
      }
      const maxNewTokens = intFlag('max-new-tokens', values['max-new-tokens'], { min: 1 }) ?? 32;
      const sampling = samplingOf(values);
      const seed = intFlag('seed', values['seed'], { min: 0 });
      const repetitionPenalty = numberFlag('repetition-penalty', values['repetition-penalty'], POSITIVE);
      if (values['chat'] === true && prompt === undefined) throw new UsageError('--chat needs --prompt <text>', 'chat');
      const kv = str(values, 'kv');
      if (kv !== undefined && !(KV_FORMATS as readonly string[]).includes(kv)) throw new UsageError(`generate: --kv '${kv}' is not one of ${KV_FORMATS.join(', ')}`, 'kv');
      const window = intFlag('window', values['window'], { min: 1 });
      const evict = str(values, 'evict');
      if (evict !== undefined && !(KV_EVICTIONS as readonly string[]).includes(evict)) throw new UsageError(`generate: --evict '${evict}' is not one of ${KV_EVICTIONS.join(', ')}`, 'evict');
      if (evict !== undefined && window === undefined) throw new UsageError(`generate: --evict ${evict} needs --window N (the positions kept)`, 'evict');
      if (evict === 'streaming' && window! <= 4) throw new UsageError(`generate: --evict streaming keeps 4 sink positions, so --window must be > 4, got ${window}`, 'window');
      const cacheOpts = { ...(kv ? { kv: kv as (typeof KV_FORMATS)[number] } : {}), ...(window !== undefined ? { window } : {}), ...(evict ? { evict: evict as (typeof KV_EVICTIONS)[number] } : {}) };
      const backendName = str(values, 'backend') ?? 'ort-cpu';
      if (!(GENERATE_BACKENDS as readonly string[]).includes(backendName)) throw new UsageError(`generate: --backend '${backendName}' is not one of ${GENERATE_BACKENDS.join(', ')}`, 'backend');
      const backend = backendName === 'tfjs-cpu'
        ? (await import('@leanformer/runtime-tfjs')).createTfjsBackend('cpu')
        : createOrtBackend({ eps: [backendName.slice(4) as 'cpu' | 'cuda' | 'webgpu'] });
      const model = await loadPretrained(positionals[0]!, { backend, ...(evict === 'h2o' || evict === 'snapkv' ? { queryOutputs: true } : {}) });
      try {
        if (promptIds) {
          const bad = promptIds.find((t) => t >= model.vocab);
          if (bad !== undefined) throw new LeanformerError('INVALID_ARGUMENT', `--prompt-ids: token ${bad} is outside the vocabulary (0..${model.vocab - 1})`, { details: { argument: '--prompt-ids' } });
        }
        if (!promptIds && !model.tokenizer) throw new LeanformerError('INVALID_ARGUMENT', `generate: --prompt needs tokenizer.json in '${positionals[0]}'; pass --prompt-ids`, { details: { argument: '--prompt' } });
        const text0 = values['chat'] === true ? model.tokenizer!.applyChatTemplate([{ role: 'user', content: prompt! }]) : prompt;
        const ids = promptIds ?? model.tokenizer!.encode(text0!);
        const newIds: number[] = [];
        let text = '', prefillMs = 0, decodeMs = 0, kvLength = 0;
        for await (const t of generate(model, model.tokenizer, { promptIds: ids, maxNewTokens, sampling, ...(seed !== undefined ? { seed } : {}), ...(repetitionPenalty !== undefined ? { repetitionPenalty } : {}), ...cacheOpts })) {
          if (newIds.length === 0) prefillMs = t.ms; else decodeMs += t.ms;
          kvLength = t.kvLength;
          newIds.push(t.id);
          text += t.text;
          if (!values['json']) io.out(model.tokenizer ? t.text : `${t.id} `);
        }
        const decodeTokensPerSecond = newIds.length > 1 ? (newIds.length - 1) / (decodeMs / 1000) : 0;
        if (values['json']) io.out(`${JSON.stringify({ promptIds: ids, newIds, text: model.tokenizer ? model.tokenizer.decode(newIds) : '', prefillMs, decodeTokensPerSecond, kv: { format: kv ?? 'fp32', window: window ?? null, evict: evict ?? (window !== undefined ? 'window' : null), length: kvLength } })}\n`);
        else io.out('\n');
        return 0;
      } finally {
        await model.dispose();
      }
    },
  };
  return [tokenize, convert, generateCmd];
}
