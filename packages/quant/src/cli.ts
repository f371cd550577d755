// CLI command definitions for `leanformer quantize | sparsify | pack | unpack`. They are plain objects
// shaped like @leanformer/cli's `Command` (name, summary, positionals, options, details, run), so the
// CLI registers them without this package depending on it. Node-only: this entry imports the ONNX
// file I/O (@leanformer/onnx/node) and, for calibration, ORT CPU itself; the main entry stays free
// of both. Import from '@leanformer/quant/cli'.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  COMPUTE_PRECISIONS, computePrecisionPass, computePrecisionProblem, float32Ops, DTypes, intFlag, isLeanformerError, LeanformerError, parseTarget, QUANT_BLOCK_SIZES, TARGET_NAMES, UsageError, weightsAsInitializers, type CommandOption, type CommandSpec, type ComputePrecision, type ProgressCallback, type Tensor, type Backend, type Graph, type TargetName,
} from '@leanformer/core';
import { assertOutputsDistinct, checkOutputPath, commandProgressBar, readSource, writeFileAtomic, type ProgressBar } from '@leanformer/core/node';
import { decodeModel, encodeModel, lowerToOnnx } from '@leanformer/onnx';
import { importModel, loadModel, readTensorFile, saveModel } from '@leanformer/onnx/node';
import { isLfpack, lfpackStats, lfpackVersion, packModel, unpackModel, type ModelCodec } from './lfpack.js';
import { QUANT_METHOD_ENTRIES, QUANT_METHODS, quantMethod, quantizeModel, sparsifyModel, type QuantMethod } from './quantize-model.js';
import { randomCalibrationFeeds } from './calibration.js';
import { quantReportHtml } from './report.js';
import { quantizeModelStreaming, sparsifyModelStreaming, type StreamDeps, type StreamTarget } from './stream/quantize-stream.js';
import { packModelStreaming, unpackModelStreaming } from './stream/lfpack-stream.js';

export { randomCalibrationFeeds };

/** The ONNX side of the streaming passes (lazy loading, placed encoding, lowering). */
const STREAM_DEPS: StreamDeps = { loadModel: (p, o) => loadModel(p, o), encodeModel, lowerToOnnx };
const CODEC: ModelCodec = { encode: encodeModel, decode: decodeModel };

/** ORT CPU for calibration, loaded only when a command calibrates. */
async function calibrationBackend(): Promise<Backend> {
  return (await import('@leanformer/runtime-ort/node')).createOrtBackend({ eps: ['cpu'] });
}

/** An option of a quant command (core's CommandOption). */
export type QuantOptionSpec = CommandOption;
/** A quant command: core's CommandSpec, registered by @leanformer/cli as it is. */
export type QuantCommand = CommandSpec;
type QuantCommandIo = Parameters<QuantCommand['run']>[0]['io'];

function need(values: Readonly<Record<string, unknown>>, name: string, usage: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`missing -o/--${name}; usage: ${usage}`, name);
  return v;
}

/**
 * Checks a command's output before any work: its folder exists and is writable, and it is not
 * (through `..`, symlinks or hard links) one of `inputs` or their `.data` sidecars.
 */
function checkOutput(out: string, inputs: readonly string[]): void {
  checkOutputPath(out);
  assertOutputsDistinct({ inputs, outputs: [out] });
}

/**
 * Reads .onnx or .lfpack into the IR, reading the file once: its first 12 bytes tell the format, then
 * an .lfpack is read whole and unpacked, an .onnx is imported by @leanformer/onnx/node (external data
 * read beside it, confined to its folder). `onProgress` gets the bytes read (`phase: 'read'`, unit
 * 'bytes', over the model and its data files), then an .lfpack's unpack progress.
 */
export async function readAnyModel(path: string, onProgress?: ProgressCallback): Promise<Graph> {
  checkInputFile(path);
  const head = new Uint8Array(12);
  const fd = openSync(path, 'r');
  try { readSync(fd, head, 0, 12, 0); } finally { closeSync(fd); }
  const progress = onProgress ? { onProgress } : {};
  if (isLfpack(head)) return unpackModel(await readSource(path, progress), CODEC, progress);
  try {
    return await importModel(path, progress);
  } catch (e) {
    if (isLeanformerError(e, 'DECODE_ERROR')) throw new LeanformerError('DECODE_ERROR', `${path} is not a readable ONNX model: ${e.message}`, { cause: e });
    throw e;
  }
}

/** A missing path or a folder is an IO_ERROR naming the path. */
function checkInputFile(path: string): void {
  if (!existsSync(path)) throw new LeanformerError('IO_ERROR', `No such file: ${path}`, { details: { path } });
  if (statSync(path).isDirectory()) throw new LeanformerError('IO_ERROR', `${path} is a folder; expected a model file`, { details: { path } });
}

/** Reads every `test_data_set_*` folder (or the folder itself) of ONNX test data as calibration feeds. */
export function readCalibrationDir(dir: string, graph: Graph): Record<string, Tensor>[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new LeanformerError('IO_ERROR', `--calib: no such folder ${dir}`, { details: { path: dir } });
  const sets = readdirSync(dir).filter((f) => /^test_data_set/.test(f) && statSync(join(dir, f)).isDirectory()).sort().map((f) => join(dir, f));
  const folders = sets.length ? sets : [dir];
  const names = graph.inputs.filter((v) => !v.isInitializer).map((v) => v.name);
  const feeds: Record<string, Tensor>[] = [];
  for (const f of folders) {
    const files = readdirSync(f).map((x) => /^input_(\d+)\.pb$/.exec(x)).filter((m): m is RegExpExecArray => !!m).sort((a, b) => Number(a[1]) - Number(b[1]));
    if (!files.length) continue;
    const feed: Record<string, Tensor> = {};
    files.forEach((m, i) => {
      const { name, tensor } = readTensorFile(join(f, m[0]));
      feed[names.includes(name) ? name : names[i]!] = tensor;
    });
    feeds.push(feed);
  }
  if (!feeds.length) throw new LeanformerError('INVALID_ARGUMENT', `--calib: ${dir} holds no test_data_set folders with input_N.pb files`);
  return feeds;
}

// Method lists derive from the registry (./methods/registry.ts): a new method shows up here by itself.
const QUANTIZERS = QUANT_METHOD_ENTRIES.filter((e) => !e.cast).map((e) => e.name);
const CASTS = QUANT_METHOD_ENTRIES.filter((e) => e.cast).map((e) => e.name);
const CALIBRATED = QUANT_METHOD_ENTRIES.filter((e) => e.calibration !== 'none').map((e) => e.name);
const STREAMING = QUANT_METHOD_ENTRIES.filter((e) => e.streams).map((e) => e.name);
const QUANTIZE_USAGE = `leanformer quantize <in.onnx> -o <out.onnx> --method ${QUANTIZERS.join('|')} --bits 4|8 [--edge-bits 4|8] [--block-size N] [--symmetric] [--target ort-cpu|ort-cuda|ort-tensorrt|ort-webgpu|ort-wasm] [--calib <dir> | --calib-random N] [--exclude <regex>] [--stream] [--json]`;

/** Shows that an output is being written (encoding and writing report no counts of their own). */
function writing(bar: ProgressBar, out: string): void {
  bar.update({ phase: 'write', done: 0, total: null, unit: 'files', item: out });
}

/** `--exclude`, checked as a regular expression here so a bad pattern is a usage error naming it. */
function excludeOpt(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  try { new RegExp(raw as string); } catch (e) {
    throw new UsageError(`--exclude must be a JavaScript regular expression, got '${String(raw)}': ${e instanceof Error ? e.message : String(e)}`, 'exclude');
  }
  return raw as string;
}

/** quantize's weight options, parsed before any file is read (a bad value is a usage error, whatever the input). */
function weightOptions(values: Readonly<Record<string, unknown>>) {
  return {
    bits: (intFlag('bits', values.bits, { allowed: [4, 8] }) ?? 4) as 4 | 8,
    edgeBits: intFlag('edge-bits', values['edge-bits'], { allowed: [4, 8] }) as 4 | 8 | undefined,
    blockSize: intFlag('block-size', values['block-size'], { allowed: [0, ...QUANT_BLOCK_SIZES] }),
    symmetric: values.symmetric === true ? true : undefined,
    exclude: excludeOpt(values.exclude),
    accuracyLevel: intFlag('accuracy-level', values['accuracy-level'], { allowed: [0, 1, 2, 3, 4] }) as 0 | 1 | 2 | 3 | 4 | undefined,
  };
}

/** `quantize --stream`: any streaming registry method, layer by layer (see quantizeModelStreaming); prints the same report. */
async function quantizeStreamed(input: string, out: string, method: string, targetName: string, weights: ReturnType<typeof weightOptions>, values: Readonly<Record<string, unknown>>, io: QuantCommandIo): Promise<number> {
  const entry = quantMethod(method)!;
  if (!entry.streams) throw new UsageError(`quantize --stream supports --method ${STREAMING.join(', ')}, got '${method}'`, 'method');
  const streamTargets: readonly string[] = ['ort-cpu', 'ort-cuda', 'ort-wasm', 'ort-webgpu'];
  if (!streamTargets.includes(targetName)) throw new UsageError(`quantize --stream supports --target ${streamTargets.join(', ')}, got '${targetName}'`, 'target');
  if (values.calib !== undefined && values['calib-random'] !== undefined) throw new UsageError('pass either --calib or --calib-random, not both', 'calib');
  const calibRandom = intFlag('calib-random', values['calib-random'], { min: 1 });
  if ((values.calib !== undefined || calibRandom !== undefined) && entry.calibration === 'none') throw new UsageError(`--method ${method} takes no calibration data (calibrated methods: ${CALIBRATED.join(', ')})`, 'calib');
  const sd = STREAM_DEPS;
  let calibration;
  const calibNotes: string[] = []; // --calib-random: the range each integer input was drawn from
  if (values.calib !== undefined || calibRandom !== undefined) {
    const lazy = await sd.loadModel(input, { externalData: 'lazy' }); // graph and input names only; no weight is read
    calibration = { feeds: values.calib !== undefined ? readCalibrationDir(values.calib as string, lazy) : randomCalibrationFeeds(lazy, calibRandom!, 0, calibNotes) };
  }
  const bar = commandProgressBar(io, values);
  let r;
  try {
    r = await quantizeModelStreaming(input, out, { method: entry.name as QuantMethod, calibration, ...weights, target: targetName as StreamTarget, onProgress: bar.update }, sd);
  } finally { bar.done(); }
  const report = { method: r.method, bits: r.bits, blockSize: r.blockSize, target: r.target, layersQuantized: r.layersQuantized, bytesBefore: r.bytesBefore, bytesAfter: r.bytesAfter, seconds: r.seconds, ...(r.reason ? { reason: r.reason } : {}) };
  if (values.json) io.out(`${JSON.stringify(report)}\n`);
  else io.out(`${report.method} ${report.bits}-bit (streamed) for ${report.target}: ${report.layersQuantized} layers, ${mb(report.bytesBefore)} → ${mb(report.bytesAfter)}${ratio(report.bytesBefore, report.bytesAfter)} in ${report.seconds}s → ${out}\n`);
  for (const n of [...calibNotes, ...r.notes]) io.err(`note: ${n}\n`);
  return 0;
}

/**
 * The quant commands, ready for `registerCommand`.
 *
 * @example
 * ```ts
 * import { quantCommands } from '@leanformer/quant/cli';
 * for (const c of quantCommands()) registerCommand(c);
 * ```
 */
export function quantCommands(): QuantCommand[] {
  const quantize: QuantCommand = {
    name: 'quantize',
    summary: 'Quantize a model\'s weights (RTN, HQQ, GPTQ, AWQ, SmoothQuant+, QServe) and lower for a target.',
    positionals: ['<in.onnx>'],
    options: {
      output: { type: 'string', short: 'o', arg: '<out.onnx>', description: 'where to write the quantized model' },
      method: { type: 'string', arg: '<name>', description: `one of ${QUANTIZERS.join(', ')} (also ${CASTS.join(', ')}: cast weights)` },
      bits: { type: 'string', arg: '<4|8>', description: 'weight bits (default 4)' },
      'edge-bits': { type: 'string', arg: '<4|8>', description: 'bits of the embedding gathers and the LM head (default 8 with --bits 4, else --bits)' },
      'block-size': { type: 'string', arg: '<N>', description: 'weights per scale along K: 16, 32, 64, 128 or 256; 0 = per-channel (default 32; qserve 128)' },
      symmetric: { type: 'boolean', description: 'symmetric codes (no zero points); implied by --target ort-tensorrt' },
      target: { type: 'string', arg: '<target>', description: 'ort-cpu (default), ort-cuda, ort-tensorrt, ort-webgpu, ort-wasm' },
      calib: { type: 'string', arg: '<dir>', description: 'calibration inputs: a folder of test_data_set_* folders (input_N.pb)' },
      'calib-random': { type: 'string', arg: '<N>', description: 'calibrate on N random batches instead' },
      exclude: { type: 'string', arg: '<regex>', description: 'leave layers whose node or weight name matches in float' },
      'accuracy-level': { type: 'string', arg: '<0-4>', description: 'MatMulNBits accuracy_level: 0 float compute, 4 int8 activations (fastest on ORT CPU); default 0 for 4-bit, 4 for 8-bit layers on ort-cpu/ort-wasm' },
      compute: { type: 'string', arg: '<p>', description: 'activations after quantization: fp32 (default), fp16 or bf16 (bf16: ort-cuda); graph inputs and outputs stay float32 behind Casts' },
      stream: { type: 'boolean', description: `process the model tensor by tensor with external data in and out (${STREAMING.join(', ')}; ort-cpu/cuda/wasm/webgpu): memory bounded by the largest weight` },
      json: { type: 'boolean', description: 'print { method, bits, blockSize, target, layersQuantized, bytesBefore, bytesAfter, seconds }' },
      report: { type: 'string', arg: '<file.html>', description: 'also write a self-contained HTML report: per-layer weight error and bytes, bytes by dtype before/after, the options (not with --stream)' },
    },
    details: `Usage: ${QUANTIZE_USAGE}\nMethods:\n${QUANT_METHOD_ENTRIES.map((e) => `  ${e.name.padEnd(12)}${e.summary}${e.calibration !== 'none' ? ' (needs --calib or --calib-random)' : ''}`).join('\n')}\n${CALIBRATED.join(', ')} need --calib or --calib-random.\n--stream (${STREAMING.join(', ')}) writes <out.onnx> plus <out.onnx>.data and never holds the whole model.`,
    async run({ positionals, values, io }) {
      const out = need(values, 'output', QUANTIZE_USAGE);
      checkOutput(out, [positionals[0]!]);
      const method = values.method as string | undefined;
      if (!method || !quantMethod(method)) throw new UsageError(`--method must be one of ${QUANT_METHODS.join(', ')}, got '${method ?? ''}'`, 'method');
      const targetName = (values.target as string | undefined) ?? 'ort-cpu';
      if (!(TARGET_NAMES as readonly string[]).includes(targetName) || !targetName.startsWith('ort-')) throw new UsageError(`--target must be one of ort-cpu, ort-cuda, ort-tensorrt, ort-webgpu, ort-wasm, got '${targetName}'`, 'target');
      const weights = weightOptions(values);
      const reportFile = values.report as string | undefined;
      if (reportFile !== undefined) {
        if (values.stream) throw new UsageError('--report is not available with --stream (the streaming pass never holds the whole model); drop --stream to get the report', 'report');
        checkOutput(reportFile, [positionals[0]!, out]);
      }
      const compute = (values.compute as string | undefined) ?? 'fp32';
      if (!(COMPUTE_PRECISIONS as readonly string[]).includes(compute)) throw new UsageError(`--compute must be one of ${COMPUTE_PRECISIONS.join(', ')}, got '${compute}'`, 'compute');
      const computeProblem = computePrecisionProblem(parseTarget(targetName), compute as ComputePrecision);
      if (computeProblem) throw new UsageError(`--compute ${compute}: ${computeProblem}`, 'compute');
      if (values.stream && compute !== 'fp32') throw new UsageError('--compute fp16/bf16 needs the whole model in memory; drop --stream', 'compute');
      if (values.stream) return quantizeStreamed(positionals[0]!, out, method, targetName, weights, values, io);
      if (values.calib !== undefined && values['calib-random'] !== undefined) throw new UsageError('pass either --calib or --calib-random, not both', 'calib');
      const calibRandom = intFlag('calib-random', values['calib-random'], { min: 1 });
      const bar = commandProgressBar(io, values);
      let report, notes;
      const calibNotes: string[] = []; // --calib-random: the range each integer input was drawn from
      try {
        const graph = await readAnyModel(positionals[0]!, bar.update);
        let calibration;
        if (values.calib !== undefined || calibRandom !== undefined) {
          const feeds = values.calib !== undefined ? readCalibrationDir(values.calib as string, graph) : randomCalibrationFeeds(graph, calibRandom!, 0, calibNotes);
          calibration = { backend: await calibrationBackend(), feeds };
        }
        const r = await quantizeModel(graph, { method: method as QuantMethod, ...weights, target: targetName as TargetName, calibration, measureLayers: reportFile !== undefined, onProgress: bar.update });
        ({ report, notes } = r);
        writing(bar, out);
        // 16-bit compute after quantization (calibration saw fp32); the file's inputs/outputs keep their float32 type.
        const io32 = [...r.graph.inputs, ...r.graph.outputs].filter((v) => v.dtype === DTypes.float32).map((v) => v.name);
        const narrowed = compute === 'fp32' ? r.graph : computePrecisionPass({ precision: compute as ComputePrecision, keep: io32, float32Ops: float32Ops(parseTarget(targetName), compute as ComputePrecision) }).run(r.graph, {}).graph;
        await saveModel(lowerToOnnx(narrowed, parseTarget(targetName)), out);
        if (reportFile !== undefined) {
          const options = { ...weights, method, target: targetName, calibration: values.calib ?? (calibRandom !== undefined ? `${calibRandom} random batches` : undefined) };
          writeFileAtomic(reportFile, quantReportHtml({ report, layers: r.layers!, bytesByDtype: r.bytesByDtype!, options, notes: [...calibNotes, ...notes], input: positionals[0]!, output: out }));
        }
      } finally { bar.done(); }
      if (values.json) io.out(`${JSON.stringify(report)}\n`);
      else {
        io.out(`${report.method} ${report.bits}-bit block ${report.blockSize || 'per-channel'} for ${report.target}: ${report.layersQuantized} layers, ${mb(report.bytesBefore)} → ${mb(report.bytesAfter)}${ratio(report.bytesBefore, report.bytesAfter)} in ${report.seconds}s → ${out}\n`);
      }
      // Notes go to stderr in both modes (a run that changed nothing says why there too).
      for (const n of [...calibNotes, ...notes]) io.err(`note: ${n}\n`);
      return 0;
    },
  };

  const sparsify: QuantCommand = {
    name: 'sparsify',
    summary: '2:4 magnitude pruning of linear layers (two non-zeros in every four weights along K).',
    positionals: ['<in.onnx>'],
    options: {
      output: { type: 'string', short: 'o', arg: '<out.onnx>', description: 'where to write the pruned model' },
      pattern: { type: 'string', arg: '<2:4>', description: 'sparsity pattern: 2:4, the only one (default 2:4)' },
      stream: { type: 'boolean', description: 'tensor by tensor with external data (models larger than memory)' },
      json: { type: 'boolean', description: 'print { pattern, layersSparsified, sparsity, bytesBefore, bytesAfter, seconds, note }' },
    },
    async run({ positionals, values, io }) {
      const usage = 'leanformer sparsify <in.onnx> -o <out.onnx> [--pattern 2:4] [--json]';
      const out = need(values, 'output', usage);
      checkOutput(out, [positionals[0]!]);
      if (values.pattern !== undefined && values.pattern !== '2:4') throw new UsageError(`--pattern must be 2:4 (the only pattern), got '${String(values.pattern)}'`, 'pattern');
      const bar = commandProgressBar(io, values);
      if (values.stream) {
        let r;
        try { r = await sparsifyModelStreaming(positionals[0]!, out, { pattern: '2:4', onProgress: bar.update }, STREAM_DEPS); } finally { bar.done(); }
        if (values.json) io.out(`${JSON.stringify(r)}\n`);
        else io.out(`2:4 pruned ${r.layersSparsified} layers (streamed) → ${out}\n`);
        return 0;
      }
      let report;
      try {
        let graph;
        ({ graph, report } = sparsifyModel(await readAnyModel(positionals[0]!, bar.update), { pattern: '2:4', onProgress: bar.update }));
        writing(bar, out);
        await saveModel(graph, out);
      } finally { bar.done(); }
      if (values.json) io.out(`${JSON.stringify(report)}\n`);
      else io.out(`2:4 pruned ${report.layersSparsified} layers (${(report.sparsity * 100).toFixed(1)}% zeros) → ${out}\nnote: ${report.note}\n`);
      return 0;
    },
  };

  const pack: QuantCommand = {
    name: 'pack',
    summary: 'Lossless packing: entropy-code float weights (DFloat11-style) into an .lfpack file.',
    positionals: ['<in.onnx>'],
    options: {
      output: { type: 'string', short: 'o', arg: '<out.lfpack>', description: 'where to write the .lfpack file' },
      stream: { type: 'boolean', description: 'tensor by tensor with external data (models larger than memory)' },
      json: { type: 'boolean', description: 'print { tensors, rawBytes, packedBytes, ratio, fileBytes }' },
    },
    async run({ positionals, values, io }) {
      const out = need(values, 'output', 'leanformer pack <in.onnx> -o <out.lfpack>');
      checkOutput(out, [positionals[0]!]);
      const bar = commandProgressBar(io, values);
      if (values.stream) {
        let r;
        try { r = await packModelStreaming(positionals[0]!, out, { loadModel: STREAM_DEPS.loadModel, encodeModel }, { onProgress: bar.update }); } finally { bar.done(); }
        if (values.json) io.out(`${JSON.stringify(r)}\n`);
        else io.out(`packed ${r.tensors} tensors (streamed) → ${out}\n`);
        return 0;
      }
      let bytes;
      try {
        const graph = await readAnyModel(positionals[0]!, bar.update);
        weightsAsInitializers(graph); // Constant / Identity weights (e.g. paddle2onnx) are packed like initializers
        bytes = packModel(graph, CODEC, { onProgress: bar.update });
        writing(bar, out);
        writeFileAtomic(out, bytes);
      } finally { bar.done(); }
      const s = lfpackStats(bytes);
      if (values.json) io.out(`${JSON.stringify({ ...s, fileBytes: bytes.length })}\n`);
      else io.out(`packed ${s.tensors} tensors: ${mb(s.rawBytes)} → ${mb(s.packedBytes)}${ratio(s.rawBytes, s.packedBytes)}, file ${mb(bytes.length)} → ${out}\n`);
      return 0;
    },
  };

  const unpack: QuantCommand = {
    name: 'unpack',
    summary: 'Restore an .onnx model from an .lfpack file (bit-identical weights).',
    positionals: ['<in.lfpack>'],
    options: {
      output: { type: 'string', short: 'o', arg: '<out.onnx>', description: 'where to write the model' },
      stream: { type: 'boolean', description: 'write the weights to <out.onnx>.data tensor by tensor (models larger than memory)' },
    },
    async run({ positionals, values, io }) {
      const out = need(values, 'output', 'leanformer unpack <in.lfpack> -o <out.onnx>');
      checkOutput(out, [positionals[0]!]);
      const bar = commandProgressBar(io, values);
      if (values.stream) {
        let r;
        try { r = await unpackModelStreaming(positionals[0]!, out, { decodeModel, encodeModel }, { onProgress: bar.update }); } finally { bar.done(); }
        if (!r.verified) io.err(UNVERIFIED_NOTE(positionals[0]!));
        io.out(`unpacked ${r.tensors} tensors (streamed) → ${out}\n`);
        return 0;
      }
      checkInputFile(positionals[0]!);
      const bytes = readFileSync(positionals[0]!);
      try {
        const graph = unpackModel(bytes, CODEC, { onProgress: bar.update });
        writing(bar, out);
        await saveModel(graph, out);
      } finally { bar.done(); }
      if (lfpackVersion(bytes) < 2) io.err(UNVERIFIED_NOTE(positionals[0]!));
      io.out(`unpacked → ${out}\n`);
      return 0;
    },
  };
  return [quantize, sparsify, pack, unpack];
}

const UNVERIFIED_NOTE = (file: string): string => `note: ${file} is .lfpack version 1, which has no checksums, so its contents could not be verified; run \`leanformer pack\` on the unpacked model to get a checksummed file\n`;

function mb(n: number): string { return `${(n / 1e6).toFixed(2)} MB`; }

/** ` (0.160×)`, or nothing when the input had no bytes to compare (never NaN×). */
function ratio(before: number, after: number): string { return before > 0 ? ` (${(after / before).toFixed(3)}×)` : ''; }


