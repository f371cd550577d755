// CLI command definitions for `leanformer finetune` and `leanformer lora merge|unmerge|apply`,
// shaped like @leanformer/cli's `Command` (name, summary, positionals, options, details, run) so
// the CLI registers them without this package depending on it. Node-only (reads and writes
// files); import from '@leanformer/peft/cli'. `bench peft` is runPeftBench in the main entry.

import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LeanformerError, Tensor, type CommandOption, type CommandSpec, type Graph } from '@leanformer/core';
import { loadModel, saveModel } from '@leanformer/onnx/node';
import { FINETUNE_METHODS, finetune, type FinetuneMethod } from './finetune.js';
import { combineAdapters, injectLora, mergeLora, unmergeLora, type LoraAdapter } from './lora.js';
import { fromPeftFiles, toPeftFiles } from './peft-format.js';
import { syntheticInstructionTask, type InstructionBatch } from './task.js';

/** An option of a peft command (core's CommandOption). */
export type PeftOptionSpec = CommandOption;
/** A peft command: core's CommandSpec, registered by @leanformer/cli as it is. */
export type PeftCommand = CommandSpec;

/** Writes through a temporary file and a rename, so readers never see half a file. */
function writeAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/** Saves a model through a temporary file and a rename. */
async function saveAtomic(graph: Graph, path: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}.onnx`;
  await saveModel(graph, tmp);
  renameSync(tmp, path);
}

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
  writeAtomic(join(dir, 'adapter_model.safetensors'), f.safetensors);
  writeAtomic(join(dir, 'adapter_config.json'), f.config);
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
  if (typeof v !== 'string' || v === '') throw new LeanformerError('INVALID_ARGUMENT', `missing --${name}; usage: ${usage}`, { details: { argument: name } });
  return v;
}

function num(values: Readonly<Record<string, unknown>>, name: string, fallback?: number, integer = false): number | undefined {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new LeanformerError('INVALID_ARGUMENT', `--${name} must be ${integer ? 'an integer' : 'a number'}, got '${String(raw)}'`, { details: { argument: name } });
  return n;
}

function namingOpt(values: Readonly<Record<string, unknown>>): 'llama' | 'bert' {
  const v = values.naming ?? 'llama';
  if (v !== 'llama' && v !== 'bert') throw new LeanformerError('INVALID_ARGUMENT', `--naming must be llama or bert, got '${String(v)}'`, { details: { argument: 'naming' } });
  return v;
}

/**
 * Reads JSONL data: one `{"input_ids": [...], "labels": [...]}` per line, all the same length.
 * The last tenth of the lines (at least one) is held out for the loss before and after.
 */
function readJsonl(path: string, batch: number): { train: (step: number, micro: number) => InstructionBatch; held: (step: number, micro: number) => InstructionBatch } {
  if (!existsSync(path)) throw new LeanformerError('IO_ERROR', `--data: no such file ${path}`, { details: { path } });
  const rows = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
    let r: { input_ids?: number[]; labels?: number[] };
    try { r = JSON.parse(l); } catch { throw new LeanformerError('DECODE_ERROR', `--data ${path}: line ${i + 1} is not JSON`); }
    if (!Array.isArray(r.input_ids) || !Array.isArray(r.labels) || r.input_ids.length !== r.labels.length) throw new LeanformerError('DECODE_ERROR', `--data ${path}: line ${i + 1} needs input_ids and labels arrays of one length`);
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
      data: { type: 'string', arg: '<file.jsonl>', description: 'lines of {"input_ids": [...], "labels": [...]} (labels -100 are ignored); default: the built-in synthetic instruction task' },
      'seq-len': { type: 'string', arg: '<N>', description: 'sequence length of the built-in task (default 16)' },
      targets: { type: 'string', arg: '<a,b,…>', description: "target modules, PEFT style (default all-linear)" },
      naming: { type: 'string', arg: '<llama|bert>', description: 'module naming for targets and adapter files (default llama)' },
      r: { type: 'string', arg: '<N>', description: 'LoRA rank (default 8)' },
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
      if (!method || !(FINETUNE_METHODS as readonly string[]).includes(method)) throw new LeanformerError('INVALID_ARGUMENT', `--method must be one of ${FINETUNE_METHODS.join(', ')}, got '${method ?? ''}'`, { details: { argument: 'method' } });
      const graph = await loadModel(positionals[0]!);
      const emb = [...graph.initializers.values()].find((v) => /embed_tokens\.weight$|word_embeddings\.weight$/.test(v.name));
      const steps = num(values, 'steps', 100, true)!;
      const batch = num(values, 'batch', 8, true)!;
      let data: (s: number, m: number) => InstructionBatch;
      let held: (s: number, m: number) => InstructionBatch;
      if (typeof values.data === 'string') {
        ({ train: data, held } = readJsonl(values.data, batch));
      } else {
        if (!emb) throw new LeanformerError('INVALID_ARGUMENT', 'finetune: the built-in task needs the vocabulary size from an embed_tokens / word_embeddings weight; pass --data');
        const task = { vocab: emb.const!.shape[0]!, seqLen: num(values, 'seq-len', 16, true)!, batch };
        data = syntheticInstructionTask({ ...task, seed: 1 });
        held = syntheticInstructionTask({ ...task, seed: 1_000 });
      }
      const naming = namingOpt(values);
      const targets = typeof values.targets === 'string' ? values.targets.split(',').filter(Boolean) : 'all-linear';
      const r = num(values, 'r', 8, true)!;
      const ckPath = typeof values.checkpoint === 'string' ? values.checkpoint : undefined;
      const t0 = performance.now();
      const res = await finetune(graph, {
        method: method as FinetuneMethod, data, steps, evalData: held, lr: num(values, 'lr'), targetModules: targets, naming,
        lora: { r, alpha: num(values, 'alpha', 2 * r), useRslora: values.rslora === true },
        paca: { ratio: num(values, 'ratio', 0.125) }, welore: { compression: num(values, 'compression', 0.5) }, galore: { rank: num(values, 'rank', 4, true) },
        resumeFrom: typeof values.resume === 'string' ? readFileSync(values.resume) : undefined,
        checkpointEvery: ckPath ? num(values, 'checkpoint-every', 50, true) : undefined,
        onCheckpoint: ckPath ? (bytes) => writeAtomic(ckPath, bytes) : undefined,
        onProgress: values.json ? undefined : (p) => { if (p.step === 1 || p.step % 10 === 0 || p.step === p.steps) io.err(`step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)}`); },
      });
      await saveAtomic(res.graph, out);
      if (ckPath) writeAtomic(ckPath, res.checkpoint);
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
      if (!['merge', 'unmerge', 'apply'].includes(action)) throw new LeanformerError('INVALID_ARGUMENT', `lora: action must be merge, unmerge or apply, got '${action}'; usage: ${LORA_USAGE}`);
      const out = need(values, 'output', LORA_USAGE);
      const dirs = (values.adapter as string[] | undefined) ?? [];
      if (!dirs.length) throw new LeanformerError('INVALID_ARGUMENT', `lora ${action}: give at least one --adapter <dir>; usage: ${LORA_USAGE}`, { details: { argument: 'adapter' } });
      const naming = namingOpt(values);
      const adapters = dirs.map((d, i) => readAdapterDir(d, { name: `adapter${i}`, naming }));
      const weights = typeof values.weights === 'string' ? values.weights.split(',').map(Number) : adapters.map(() => 1);
      if (weights.length !== adapters.length || weights.some((w) => !Number.isFinite(w))) throw new LeanformerError('INVALID_ARGUMENT', `--weights must list ${adapters.length} numbers, got '${String(values.weights)}'`, { details: { argument: 'weights' } });
      const one = adapters.length === 1 && weights[0] === 1 ? adapters[0]! : combineAdapters(adapters, weights, 'combined');
      const graph = await loadModel(modelPath);
      const result = action === 'merge' ? mergeLora(graph, one) : action === 'unmerge' ? unmergeLora(graph, one) : injectLora(graph, one).graph;
      await saveAtomic(result, out);
      io.out(`lora ${action}: ${one.modules.size} layers from ${dirs.length} adapter(s); wrote ${out}\n`);
      return 0;
    },
  };
  return [finetuneCmd, lora];
}

