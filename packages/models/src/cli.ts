// `leanformer tokenize`, `convert` and `generate` as plain CommandSpec objects; the CLI registers them
// (packages/cli/src/commands/extensions.ts) and handles parsing, help and error reporting.
import { COMPUTE_PRECISIONS, intFlag, QUANT_BLOCK_SIZES, LeanformerError, numberFlag, TARGET_NAMES, UsageError, type CommandSpec, type ComputePrecision, type TargetName } from '@leanformer/core';
import { commandProgressBar } from '@leanformer/core/node';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import type { QuantMethod } from '@leanformer/quant';
import { generateInGraph, greedyLoopGraph, KV_EVICTIONS, KV_FORMATS, type Sampling } from '@leanformer/kv-cache';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '@leanformer/onnx/node';
import { CONVERT_PRECISIONS, convertCheckpoint, loadPretrained, tokenizerIn, type ConvertedModelInfo } from './node.js';
import { parseConvertedInfo } from './load.js';
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

/** --prompt-ids must name tokens of the vocabulary (0..vocab-1). */
function checkPromptIds(ids: readonly number[], vocab: number): void {
  const bad = ids.find((t) => t >= vocab);
  if (bad !== undefined) throw new LeanformerError('INVALID_ARGUMENT', `--prompt-ids: token ${bad} is outside the vocabulary (0..${vocab - 1})`, { details: { argument: '--prompt-ids' } });
}

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
      if (text === undefined) throw new UsageError('--text <text> is required', 'text');
      const tokenizer = tokenizerIn(positionals[0]!);
      if (!tokenizer) throw new LeanformerError('INVALID_ARGUMENT', `tokenizer.json: missing in '${positionals[0]}'`, { details: { file: 'tokenizer.json' } });
      const ids = tokenizer.encode(text);
      io.out(values['json'] ? `${JSON.stringify({ ids })}\n` : `${ids.join(' ')}\n`);
      return 0;
    },
  };

  const convert: CommandSpec = {
    name: 'convert',
    summary: 'Convert a Hugging Face checkpoint folder to model.onnx (decoders with a KV cache, encoders; optionally quantized)',
    positionals: ['<hf-dir>'],
    options: {
      output: { type: 'string', short: 'o', arg: '<out-dir>', description: 'output folder (required; replaced only once everything is written)' },
      precision: { type: 'string', arg: '<p>', description: `weights: ${CONVERT_PRECISIONS.join('|')} (default fp32; bf16 also computes in bf16 on ort-cuda)` },
      method: { type: 'string', arg: '<m>', description: 'int4/int8 method: rtn, hqq, gptq, awq, smoothquant, qserve (default rtn)' },
      target: { type: 'string', arg: '<t>', description: `ort-cpu|ort-cuda|ort-webgpu|ort-wasm|ort-tensorrt (default ort-cpu)` },
      compute: { type: 'string', arg: '<p>', description: `activations and KV cache: ${COMPUTE_PRECISIONS.join('|')} (default fp16 for ort-cuda/ort-webgpu, bf16 with --precision bf16 on ort-cuda, else fp32)` },
      'block-size': { type: 'string', arg: '<N>', description: 'int4/int8 weights per scale along K: 16, 32, 64, 128 or 256; 0 = per-channel (default: the method\'s, 32 for most)' },
      'calib-text': { type: 'string', arg: '<file>', description: "gptq/awq/smoothquant calibration text, tokenized by the checkpoint's tokenizer: up to 128 sequences of 64 tokens spread over it (default: a built-in English passage of ~1,500 characters; text like the model's own use calibrates best)" },
      'calib-self': { type: 'boolean', description: 'gptq/awq/smoothquant: calibrate on 64 sequences of 64 tokens sampled from the model itself (self-calibration; decoders, not with --calib-text)' },
      json: { type: 'boolean', description: 'print { output, modelType, precision, method, target, compute, files, parameters, seconds }' },
    },
    async run({ positionals, values, io }) {
      const out = str(values, 'output');
      if (!out) throw new UsageError('-o <out-dir> is required', 'output');
      if (values['calib-self'] === true && values['calib-text'] !== undefined) throw new UsageError('give --calib-text or --calib-self, not both', 'calib-self');
      const target = str(values, 'target');
      if (target !== undefined && !(TARGET_NAMES as readonly string[]).includes(target)) throw new UsageError(`--target '${target}' is not one of ${TARGET_NAMES.join(', ')}`, 'target');
      const calibFile = str(values, 'calib-text');
      let calibText: string | undefined;
      if (calibFile !== undefined) {
        try { calibText = readFileSync(calibFile, 'utf8'); } catch (e) {
          throw new LeanformerError('IO_ERROR', `convert: cannot read --calib-text '${calibFile}' (${(e as Error).message})`, { details: { path: calibFile } });
        }
      }
      const compute = str(values, 'compute');
      if (compute !== undefined && !(COMPUTE_PRECISIONS as readonly string[]).includes(compute)) throw new UsageError(`--compute '${compute}' is not one of ${COMPUTE_PRECISIONS.join(', ')}`, 'compute');
      const blockSize = intFlag('block-size', values['block-size'], { allowed: [0, ...QUANT_BLOCK_SIZES] });
      const bar = commandProgressBar(io, values); // drawn only on a terminal, never with --json
      let report;
      try {
        report = await convertCheckpoint(positionals[0]!, out, {
          ...(blockSize !== undefined ? { blockSize } : {}),
          ...(calibText !== undefined ? { calibration: { text: calibText } } : values['calib-self'] === true ? { calibration: { self: true } } : {}),
          ...(compute ? { compute: compute as ComputePrecision } : {}),
          ...(str(values, 'precision') ? { precision: str(values, 'precision') as (typeof CONVERT_PRECISIONS)[number] } : {}),
          ...(str(values, 'method') ? { method: str(values, 'method') as QuantMethod } : {}),
          ...(target ? { target: target as TargetName } : {}),
          onProgress: bar.update,
        });
      } finally { bar.done(); }
      io.out(values['json'] ? `${JSON.stringify(report)}\n` : `wrote ${report.output} (${report.files.join(', ')}) in ${report.seconds.toFixed(1)} s\n`);
      return 0;
    },
  };

  /** `generate --in-graph`: kv-cache's greedyLoopGraph over a converted folder's model, one run. */
  async function inGraph(dir: string, backendName: string, promptIds: number[] | undefined, prompt: string | undefined, maxNewTokens: number, values: Values, io: { out(t: string): void }): Promise<number> {
    if (backendName === 'tfjs-cpu') throw new UsageError('generate --in-graph runs on ONNX Runtime (ort-cpu, ort-cuda, ort-webgpu)', 'in-graph');
    if (samplingOf(values).kind !== 'greedy' || values['repetition-penalty'] !== undefined || values['chat'] === true) throw new UsageError('generate --in-graph is greedy only: drop --temperature/--top-k/--top-p/--repetition-penalty/--chat', 'in-graph');
    const infoPath = join(dir, 'leanformer.json');
    if (!existsSync(infoPath)) throw new LeanformerError('INVALID_ARGUMENT', `generate --in-graph needs a folder written by convert (leanformer.json); '${dir}' has none`, { details: { argument: '--in-graph' } });
    // Checked as loadPretrained checks it (format; a decoder, not an encoder folder).
    const info = parseConvertedInfo(readFileSync(infoPath, 'utf8'), `'${dir}'`, { kind: 'decoder' }) as ConvertedModelInfo;
    const tokenizer = tokenizerIn(dir);
    if (!promptIds && !tokenizer) throw new LeanformerError('INVALID_ARGUMENT', `generate: --prompt needs tokenizer.json in '${dir}'; pass --prompt-ids`, { details: { argument: '--prompt' } });
    const ids = promptIds ?? tokenizer!.encode(prompt!);
    checkPromptIds(ids, info.vocab);
    if (ids.length + maxNewTokens > info.maxPositions) throw new LeanformerError('SIZE_LIMIT', `generate: prompt (${ids.length}) + maxNewTokens (${maxNewTokens}) exceeds the model's ${info.maxPositions} positions`);
    const backend = createOrtBackend({ eps: [backendName.slice(4) as 'cpu' | 'cuda' | 'webgpu'] });
    const exe = await backend.compile(greedyLoopGraph(await loadModel(join(dir, 'model.onnx')), info));
    try {
      const t0 = performance.now();
      let newIds = await generateInGraph(exe, ids, maxNewTokens);
      const ms = performance.now() - t0;
      const eos = newIds.findIndex((t) => info.eosTokenIds.includes(t));
      if (eos >= 0) newIds = newIds.slice(0, eos + 1); // the loop runs all steps; stop at EOS as the host loop does
      const text = tokenizer ? tokenizer.decode(newIds) : '';
      io.out(values['json'] ? `${JSON.stringify({ promptIds: ids, newIds, text, ms, epUsed: exe.info.device })}\n` : `${tokenizer ? text : newIds.join(' ')}\n`);
      return 0;
    } finally { await exe.dispose(); }
  }

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
      backend: { type: 'string', arg: '<b>', description: `${GENERATE_BACKENDS.join('|')} (default ort-cpu; tfjs-cpu runs HF and converted folders)` },
      'in-graph': { type: 'boolean', description: 'greedy decode inside the graph (ONNX Loop, KV cache stays on the device: one run for all tokens); converted folders, ORT backends' },
      kv: { type: 'string', arg: '<f>', description: `KV cache format: ${KV_FORMATS.join('|')} (default fp32; K/V rounded through it as stored)` },
      window: { type: 'string', arg: '<N>', description: 'keep at most N positions in the KV cache (the latest, unless --evict)' },
      evict: { type: 'string', arg: '<p>', description: `which positions survive beyond --window: ${KV_EVICTIONS.join('|')} (h2o/snapkv: HF folders only)` },
      json: { type: 'boolean', description: 'print { promptIds, newIds, text, prefillMs, decodeTokensPerSecond, kv: { format, window, evict, length } }' },
    },
    async run({ positionals, values, io }) {
      const prompt = str(values, 'prompt');
      const idsText = str(values, 'prompt-ids');
      if ((prompt === undefined) === (idsText === undefined)) throw new UsageError('give exactly one of --prompt <text> and --prompt-ids <1,2,3>', 'prompt');
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
      if (kv !== undefined && !(KV_FORMATS as readonly string[]).includes(kv)) throw new UsageError(`--kv '${kv}' is not one of ${KV_FORMATS.join(', ')}`, 'kv');
      const window = intFlag('window', values['window'], { min: 1 });
      const evict = str(values, 'evict');
      if (evict !== undefined && !(KV_EVICTIONS as readonly string[]).includes(evict)) throw new UsageError(`--evict '${evict}' is not one of ${KV_EVICTIONS.join(', ')}`, 'evict');
      if (evict !== undefined && window === undefined) throw new UsageError(`--evict ${evict} needs --window N (the positions kept)`, 'evict');
      if (evict === 'streaming' && window! <= 4) throw new UsageError(`--evict streaming keeps 4 sink positions, so --window must be > 4, got ${window}`, 'window');
      const cacheOpts = { ...(kv ? { kv: kv as (typeof KV_FORMATS)[number] } : {}), ...(window !== undefined ? { window } : {}), ...(evict ? { evict: evict as (typeof KV_EVICTIONS)[number] } : {}) };
      const backendName = str(values, 'backend') ?? 'ort-cpu';
      if (!(GENERATE_BACKENDS as readonly string[]).includes(backendName)) throw new UsageError(`--backend '${backendName}' is not one of ${GENERATE_BACKENDS.join(', ')}`, 'backend');
      if (values['in-graph'] === true && Object.keys(cacheOpts).length > 0) throw new UsageError('--in-graph keeps the whole KV cache on the device (greedy, no --kv/--window/--evict)', 'in-graph');
      if (values['in-graph'] === true) return inGraph(positionals[0]!, backendName, promptIds, prompt, maxNewTokens, values, io);
      const backend = backendName === 'tfjs-cpu'
        ? (await import('@leanformer/runtime-tfjs')).createTfjsBackend('cpu')
        : createOrtBackend({ eps: [backendName.slice(4) as 'cpu' | 'cuda' | 'webgpu'] });
      const model = await loadPretrained(positionals[0]!, { backend, ...(evict === 'h2o' || evict === 'snapkv' ? { queryOutputs: true } : {}) });
      try {
        if (promptIds) checkPromptIds(promptIds, model.vocab);
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
