// CLI command definitions for `leanformer finetune` and `leanformer lora merge|unmerge|apply`,
// shaped like @leanformer/cli's `Command` (name, summary, positionals, options, details, run) so
// the CLI registers them without this package depending on it. Node-only (reads and writes
// files); import from '@leanformer/peft/cli'. `bench peft` is runPeftBench in the main entry.

import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { intFlag, LeanformerError, numberFlag, Tensor, UsageError, type CommandOption, type CommandSpec, type Graph } from '@leanformer/core';
import { assertOutputsDistinct, checkOutputPath, commandProgressBar, writeFileAtomic } from '@leanformer/core/node';
import { loadModel, saveModel } from '@leanformer/onnx/node';
import { FINETUNE_METHODS, finetune, type FinetuneMethod } from './finetune.js';
import { combineAdapters, injectLora, mergeLora, unmergeLora, type LoraAdapter } from './lora.js';
import { fromPeftFiles, toPeftFiles } from './peft-format.js';
import { syntheticInstructionTask, type InstructionBatch } from './task.js';

/** An option of a peft command (core's CommandOption). */
export type PeftOptionSpec = CommandOption;
/** A peft command: core's CommandSpec, registered by @leanformer/cli as it is. */
export type PeftCommand = CommandSpec;

/**
 * Writes an adapter as a PEFT folder (adapter_model.safetensors + adapter_config.json).
 *
 * @example
 * ```ts
 * writeAdapterDir('out/adapter', adapter);
 * ```
 */
export function writeAdapterDir(dir: string, adapter: LoraAdapter, naming?: 'llama' | 'bert'): void {
  mkdirSync(dir, { recursive: true });
  const f = toPeftFiles(adapter, { naming });
  writeFileAtomic(join(dir, 'adapter_model.safetensors'), f.safetensors);
  writeFileAtomic(join(dir, 'adapter_config.json'), f.config);
}

/**
 * Reads a PEFT adapter folder (adapter_model.safetensors + adapter_config.json).
 *
 * @example
 * ```ts
 * const adapter = readAdapterDir('my-adapter', { name: 'sql' });
 * ```
 */
export function readAdapterDir(dir: string, options: { name?: string; naming?: 'llama' | 'bert' } = {}): LoraAdapter {
  const st = join(dir, 'adapter_model.safetensors'), cf = join(dir, 'adapter_config.json');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new LeanformerError('IO_ERROR', `adapter folder ${dir} does not exist`, { details: { path: dir } });
  for (const p of [st, cf]) if (!existsSync(p)) throw new LeanformerError('IO_ERROR', `adapter folder ${dir} has no ${p.slice(dir.length + 1)} (PEFT writes adapter_model.safetensors and adapter_config.json)`, { details: { path: p } });
  const read = (p: string): Buffer => {
    try { return readFileSync(p); } catch (e) {
      throw new LeanformerError('IO_ERROR', `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e, details: { path: p } });
    }
  };
  return fromPeftFiles(read(st), read(cf).toString('utf8'), options);
}

function need(values: Readonly<Record<string, unknown>>, name: string, usage: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`missing --${name}; usage: ${usage}`, name);
  return v;
}

/** Positive real flags (learning rate, alpha). */
const POSITIVE = { min: 0, minExclusive: true } as const;

function namingOpt(values: Readonly<Record<string, unknown>>): 'llama' | 'bert' {
  const v = values.naming ?? 'llama';
  if (v !== 'llama' && v !== 'bert') throw new UsageError(`--naming must be llama or bert, got '${String(v)}'`, 'naming');
  return v;
}

/** The vocabulary size: rows of the token embedding, else the last dim of a `logits` output; undefined if neither is known. */
function vocabSize(graph: Graph): number | undefined {
  const emb = [...graph.initializers.values()].find((v) => /embed_tokens\.weight$|word_embeddings\.weight$/.test(v.name));
  if (emb?.const) return emb.const.shape[0];
  const d = graph.outputs.find((v) => v.name === 'logits')?.shape?.at(-1);
  return typeof d === 'number' ? d : undefined;
}

/** Label value that masks a position out of the loss (PyTorch's ignore_index). */
const IGNORE = -100;

/**
 * Reads JSONL data: one `{"input_ids": [...], "labels": [...]}` per line, all the same length.
 * Checked up front, naming the line: ids are integers in [0, vocab), labels are -100 or such ids, and
 * every line has at least one label that is not -100 (an all-masked line trains on nothing).
 * The last tenth of the lines (at least one) is held out for the loss before and after.
 */
function readJsonl(path: string, batch: number, vocab: number | undefined): { train: (step: number, micro: number) => InstructionBatch; held: (step: number, micro: number) => InstructionBatch } {
  if (!existsSync(path)) throw new LeanformerError('IO_ERROR', `--data: no such file ${path}`, { details: { path } });
  const range = vocab === undefined ? 'integers ≥ 0' : `integers in [0, ${vocab})`;
  const isId = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0 && (vocab === undefined || (x as number) < vocab);
  const rows = readFileSync(path, 'utf8').split('\n').map((l, i) => [l, i + 1] as const).filter(([l]) => l.trim()).map(([l, line]) => {
    let r: { input_ids?: unknown[]; labels?: unknown[] };
    try { r = JSON.parse(l); } catch { throw new LeanformerError('DECODE_ERROR', `--data ${path}: line ${line} is not JSON`, { details: { path, line } }); }
    if (!Array.isArray(r.input_ids) || !Array.isArray(r.labels) || r.input_ids.length !== r.labels.length) throw new LeanformerError('DECODE_ERROR', `--data ${path}: line ${line} needs input_ids and labels arrays of one length`, { details: { path, line } });
    const badId = r.input_ids.findIndex((x) => !isId(x));
    if (badId >= 0) throw new LeanformerError('INVALID_ARGUMENT', `--data ${path}: line ${line}: input_ids[${badId}] is ${JSON.stringify(r.input_ids[badId])}; token ids must be ${range}`, { details: { path, line } });
    const badLabel = r.labels.findIndex((x) => x !== IGNORE && !isId(x));
    if (badLabel >= 0) throw new LeanformerError('INVALID_ARGUMENT', `--data ${path}: line ${line}: labels[${badLabel}] is ${JSON.stringify(r.labels[badLabel])}; labels must be ${IGNORE} (ignored) or ${range}`, { details: { path, line } });
    if (r.labels.every((x) => x === IGNORE)) throw new LeanformerError('INVALID_ARGUMENT', `--data ${path}: line ${line}: every label is ${IGNORE}, so it trains on nothing; each line needs at least one label that is a token id`, { details: { path, line } });
    return r as { input_ids: number[]; labels: number[] };
  });
  if (!rows.length) throw new LeanformerError('INVALID_ARGUMENT', `--data ${path} is empty`);
  const len = rows[0]!.input_ids.length;
  if (rows.some((r) => r.input_ids.length !== len)) throw new LeanformerError('INVALID_ARGUMENT', `--data ${path}: every line must have ${len} tokens (pad and label padding -100)`);
  if (rows.length < 2) throw new LeanformerError('INVALID_ARGUMENT', `--data ${path}: needs at least 2 lines (one is held out)`);
  const nHeld = Math.max(1, Math.floor(rows.length / 10));
  const from = (set: typeof rows) => (step: number): InstructionBatch => {
    const pick = Array.from({ length: batch }, (_, i) => set[(step * batch + i) % set.length]!);
    return {
      input_ids: Tensor.from('int64', [batch, len], pick.flatMap((r) => r.input_ids.map(BigInt))),
      labels: Tensor.from('int64', [batch, len], pick.flatMap((r) => r.labels.map(BigInt))),
    };
  };
  return { train: from(rows.slice(0, rows.length - nHeld)), held: from(rows.slice(rows.length - nHeld)) };
}

/**
 * Checks every path finetune writes, before loading or training: -o and --checkpoint (folder exists
 * and is writable), and that neither they nor the --adapter-out files are the model or --data.
 * --resume may name the --checkpoint file: it is read whole before training and then replaced.
 */
function checkFinetuneOutputs(model: string, out: string, values: Readonly<Record<string, unknown>>): void {
  const outputs = [out];
  if (typeof values.checkpoint === 'string') outputs.push(values.checkpoint);
  for (const p of outputs) checkOutputPath(p);
  const adapterOut = values['adapter-out'];
  if (typeof adapterOut === 'string') {
    if (statSync(adapterOut, { throwIfNoEntry: false })?.isFile()) throw new LeanformerError('IO_ERROR', `--adapter-out '${adapterOut}' is a file; give a folder`, { details: { path: adapterOut } });
    outputs.push(join(adapterOut, 'adapter_model.safetensors'), join(adapterOut, 'adapter_config.json'));
  }
  assertOutputsDistinct({ inputs: typeof values.data === 'string' ? [model, values.data] : [model], outputs });
}

const FINETUNE_USAGE = 'leanformer finetune <model.onnx> --method lora|paca|welore|galore|full -o <out.onnx> [--steps N] [--lr X] [--data <file.jsonl>] [--targets a,b] [--r N --alpha X --rslora] [--ratio X] [--compression X] [--rank N] [--adapter-out <dir>] [--checkpoint <file>] [--resume <file>] [--json]';
const LORA_USAGE = 'leanformer lora merge|unmerge|apply <model.onnx> --adapter <dir> [--adapter <dir> … --weights w1,w2] -o <out.onnx> [--naming llama|bert]';

/**
 * The peft commands, ready for `registerCommand`.
 *
 * @example
 * ```ts
 * import { peftCommands } from '@leanformer/peft/cli';
 * for (const c of peftCommands()) registerCommand(c);
 * ```
 */
export function peftCommands(): PeftCommand[] {
  const finetuneCmd: PeftCommand = {
    name: 'finetune',
    summary: 'Fine-tune a causal LM (input_ids → logits) with LoRA, PaCA, WeLore, GaLore or full fine-tuning on tfjs',
    positionals: ['<model.onnx>'],
    options: {
      output: { type: 'string', short: 'o', arg: '<out.onnx>', description: 'the tuned model (LoRA merged, PaCA rows written back, WeLore compressed)' },
      method: { type: 'string', arg: '<name>', description: FINETUNE_METHODS.join(', ') },
      steps: { type: 'string', arg: '<N>', description: 'optimizer steps (default 100)' },
      lr: { type: 'string', arg: '<X>', description: 'learning rate (default 1e-2; full 3e-3)' },
      batch: { type: 'string', arg: '<N>', description: 'sequences per step (default 8)' },
      data: { type: 'string', arg: '<file.jsonl>', description: 'lines of {"input_ids": [...], "labels": [...]}: token ids in [0, vocab); labels -100 are ignored, and each line needs at least one that is not; default: the built-in synthetic instruction task' },
      'seq-len': { type: 'string', arg: '<N>', description: 'sequence length of the built-in task (default 16)' },
      targets: { type: 'string', arg: '<a,b,…>', description: "target modules, PEFT style (default all-linear)" },
      naming: { type: 'string', arg: '<llama|bert>', description: 'module naming for targets and adapter files (default llama)' },
      r: { type: 'string', arg: '<N>', description: 'LoRA rank, at most the smallest dimension of every target layer (default 8)' },
      alpha: { type: 'string', arg: '<X>', description: 'LoRA alpha (default 2r)' },
      rslora: { type: 'boolean', description: 'LoRA: scale by alpha/√r' },
      ratio: { type: 'string', arg: '<X>', description: 'PaCA: fraction of input connections trained (default 0.125)' },
      compression: { type: 'string', arg: '<X>', description: 'WeLore: fraction of target parameters removed (default 0.5)' },
      rank: { type: 'string', arg: '<N>', description: 'GaLore: projection rank (default 4)' },
      'adapter-out': { type: 'string', arg: '<dir>', description: 'LoRA: also write the adapter as PEFT files' },
      checkpoint: { type: 'string', arg: '<file>', description: 'write a resumable checkpoint here every --checkpoint-every steps and at the end' },
      'checkpoint-every': { type: 'string', arg: '<N>', description: 'steps between checkpoints (default 50)' },
      resume: { type: 'string', arg: '<file>', description: 'continue from a checkpoint of the same model and options' },
      json: { type: 'boolean', description: 'print { method, steps, trainableParams, lossFirst, lossLast, evalLossBefore, evalLossAfter, seconds }' },
    },
    details: `Usage: ${FINETUNE_USAGE}\nThe held-out loss is measured on the built-in task with another seed, or on the last tenth of the --data lines (not trained on).`,
    async run({ positionals, values, io }) {
      const out = need(values, 'output', FINETUNE_USAGE);
      const method = values.method as string | undefined;
      if (!method || !(FINETUNE_METHODS as readonly string[]).includes(method)) throw new UsageError(`--method must be one of ${FINETUNE_METHODS.join(', ')}, got '${method ?? ''}'`, 'method');
      const steps = intFlag('steps', values.steps, { min: 1 }) ?? 100;
      const batch = intFlag('batch', values.batch, { min: 1 }) ?? 8;
      const r = intFlag('r', values.r, { min: 1 }) ?? 8;
      const lr = numberFlag('lr', values.lr, POSITIVE);
      const alpha = numberFlag('alpha', values.alpha, POSITIVE) ?? 2 * r;
      const ratio = numberFlag('ratio', values.ratio, { ...POSITIVE, max: 1 }) ?? 0.125;
      const compression = numberFlag('compression', values.compression, { ...POSITIVE, max: 1 }) ?? 0.5;
      const rank = intFlag('rank', values.rank, { min: 1 }) ?? 4;
      const seqLen = intFlag('seq-len', values['seq-len'], { min: 7 }) ?? 16;
      const checkpointEvery = intFlag('checkpoint-every', values['checkpoint-every'], { min: 1 }) ?? 50;
      const naming = namingOpt(values);
      checkFinetuneOutputs(positionals[0]!, out, values);
      const graph = await loadModel(positionals[0]!);
      const emb = [...graph.initializers.values()].find((v) => /embed_tokens\.weight$|word_embeddings\.weight$/.test(v.name));
      let data: (s: number, m: number) => InstructionBatch;
      let held: (s: number, m: number) => InstructionBatch;
      if (typeof values.data === 'string') {
        ({ train: data, held } = readJsonl(values.data, batch, vocabSize(graph)));
      } else {
        if (!emb) throw new LeanformerError('INVALID_ARGUMENT', 'finetune: the built-in task needs the vocabulary size from an embed_tokens / word_embeddings weight; pass --data');
        const task = { vocab: emb.const!.shape[0]!, seqLen, batch };
        data = syntheticInstructionTask({ ...task, seed: 1 });
        held = syntheticInstructionTask({ ...task, seed: 1_000 });
      }
      const targets = typeof values.targets === 'string' ? values.targets.split(',').filter(Boolean) : 'all-linear';
      const ckPath = typeof values.checkpoint === 'string' ? values.checkpoint : undefined;
      const t0 = performance.now();
      const bar = commandProgressBar(io, values); // steps, rate, ETA and the last loss; only on a terminal, never with --json
      const res = await finetune(graph, {
        method: method as FinetuneMethod, data, steps, evalData: held, lr, targetModules: targets, naming,
        lora: { r, alpha, useRslora: values.rslora === true },
        paca: { ratio }, welore: { compression }, galore: { rank },
        resumeFrom: typeof values.resume === 'string' ? readFileSync(values.resume) : undefined,
        checkpointEvery: ckPath ? checkpointEvery : undefined,
        onCheckpoint: ckPath ? (bytes) => writeFileAtomic(ckPath, bytes) : undefined,
        onProgress: (p) => bar.update({ ...p, item: `loss ${p.loss.toFixed(4)}` }),
      }).finally(() => bar.done());
      await saveModel(res.graph, out); // atomic: saveModel writes a temporary and renames it
      if (ckPath) writeFileAtomic(ckPath, res.checkpoint);
      if (res.adapter && typeof values['adapter-out'] === 'string') writeAdapterDir(values['adapter-out'], res.adapter, naming);
      const summary = {
        method, steps: res.losses.length, trainableParams: res.trainableParams, lossFirst: res.losses[0], lossLast: res.losses[res.losses.length - 1],
        evalLossBefore: res.evalLossBefore, evalLossAfter: res.evalLossAfter, seconds: (performance.now() - t0) / 1000, output: out,
      };
      io.out(values.json ? JSON.stringify(summary) + '\n' : `${method}: held-out loss ${summary.evalLossBefore?.toFixed(4)} → ${summary.evalLossAfter?.toFixed(4)}; wrote ${out}\n`);
      return 0;
    },
  };

  const lora: PeftCommand = {
    name: 'lora',
    summary: 'Merge, unmerge or apply PEFT LoRA adapters to an ONNX model',
    positionals: ['<merge|unmerge|apply>', '<model.onnx>'],
    options: {
      adapter: { type: 'string', multiple: true, arg: '<dir>', description: 'a PEFT adapter folder (adapter_model.safetensors + adapter_config.json); repeat to combine' },
      weights: { type: 'string', arg: '<w1,w2,…>', description: 'weights of the adapters (default 1 each)' },
      output: { type: 'string', short: 'o', arg: '<out.onnx>', description: 'where to write the model' },
      naming: { type: 'string', arg: '<llama|bert>', description: 'module naming of the adapter files (default llama)' },
    },
    details: `Usage: ${LORA_USAGE}\nmerge folds the (weighted, combined) adapters into the weights; unmerge subtracts them again; apply adds them as separate ops (base weights untouched).`,
    async run({ positionals, values, io }) {
      const [action, modelPath] = positionals as [string, string];
      if (!['merge', 'unmerge', 'apply'].includes(action)) throw new UsageError(`lora: action must be merge, unmerge or apply, got '${action}'; usage: ${LORA_USAGE}`);
      const out = need(values, 'output', LORA_USAGE);
      const dirs = (values.adapter as string[] | undefined) ?? [];
      if (!dirs.length) throw new UsageError(`lora ${action}: give at least one --adapter <dir>; usage: ${LORA_USAGE}`, 'adapter');
      checkOutputPath(out);
      assertOutputsDistinct({ inputs: [modelPath, ...dirs.flatMap((d) => [join(d, 'adapter_model.safetensors'), join(d, 'adapter_config.json')])], outputs: [out] });
      const naming = namingOpt(values);
      const weights = typeof values.weights === 'string' ? values.weights.split(',').map((w) => numberFlag('weights', w)!) : dirs.map(() => 1);
      if (weights.length !== dirs.length) throw new UsageError(`--weights must list ${dirs.length} numbers, got '${String(values.weights)}'`, 'weights');
      const adapters = dirs.map((d, i) => readAdapterDir(d, { name: `adapter${i}`, naming }));
      const one = adapters.length === 1 && weights[0] === 1 ? adapters[0]! : combineAdapters(adapters, weights, 'combined');
      const graph = await loadModel(modelPath);
      const result = action === 'merge' ? mergeLora(graph, one) : action === 'unmerge' ? unmergeLora(graph, one) : injectLora(graph, one).graph;
      await saveModel(result, out);
      io.out(`lora ${action}: ${one.modules.size} layers from ${dirs.length} adapter(s); wrote ${out}\n`);
      return 0;
    },
  };
  return [finetuneCmd, lora];
}

