import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LeanformerError, rng, Tensor, type DType, type Dim, type Executor, type Graph, type ProgressCallback, type Tensor as T } from '@leanformer/core';
import { readTensorFile } from '@leanformer/onnx/node';

/** A missing path or a folder is an IO_ERROR naming the path (checked without reading the file). */
export function checkModelPath(path: string): void {
  if (!existsSync(path)) throw new LeanformerError('IO_ERROR', `No such file: ${path}`, { details: { path } });
  if (statSync(path).isDirectory()) throw new LeanformerError('IO_ERROR', `${path} is a folder; expected an .onnx file`, { details: { path } });
}

/** Reads a model file's bytes, after {@link checkModelPath}. */
export function readModelBytes(path: string): Uint8Array {
  checkModelPath(path);
  return readFileSync(path);
}

/** An input to generate: its name, dtype and declared (possibly symbolic) shape. */
export interface InputSpec {
  readonly name: string;
  readonly dtype: DType | null;
  readonly shape: readonly Dim[] | null;
  /** False for sequence, optional and map inputs (which executors cannot feed). */
  readonly isTensor: boolean;
}

/** The graph inputs a caller must feed (inputs that are also initializers have defaults and are skipped). */
export function graphInputSpecs(graph: Graph): InputSpec[] {
  return graph.inputs.filter((v) => !v.isInitializer).map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape, isTensor: v.type === null || v.type.kind === 'tensor' }));
}

/** What a symbolic or unknown dimension becomes when generating inputs, unless `--dim name=N` says otherwise. */
export const DEFAULT_SYMBOLIC_DIM = 1;

/** The most elements one generated input may have (2^27: 512 MiB of float32), so huge declared dims are an error, not an allocation crash. */
export const MAX_GENERATED_ELEMENTS = 2 ** 27;

/**
 * Makes one tensor per input from declared shapes: symbolic/unknown dims take `dims[name]` or
 * DEFAULT_SYMBOLIC_DIM; floats are uniform in [-1, 1), integers in [0, 10) (safe as token ids and indices),
 * bools 0/1, strings 's<i>'.
 */
export function generateInputs(specs: readonly InputSpec[], options: { seed?: number; dims?: Readonly<Record<string, number>> } = {}): Record<string, T> {
  // Core's seeded generator: the same seed gives the same inputs on every machine.
  const seeded = rng(options.seed ?? 0), rand = (): number => seeded.uniform();
  const out: Record<string, T> = {};
  for (const s of specs) {
    if (!s.isTensor) throw new LeanformerError('NOT_SUPPORTED', `Cannot feed input '${s.name}': it is a sequence, optional or map; executors take tensor feeds only`);
    if (!s.dtype) throw new LeanformerError('NOT_SUPPORTED', `Cannot generate input '${s.name}': its element type is unknown or not a tensor; pass --data with a test data set`);
    if (!s.shape) throw new LeanformerError('NOT_SUPPORTED', `Cannot generate input '${s.name}': its rank is unknown; pass --data with a test data set`);
    const shape = s.shape.map((d) => (typeof d === 'number' ? d : (d !== null && options.dims?.[d]) || DEFAULT_SYMBOLIC_DIM));
    const n = shape.reduce((a, b) => a * b, 1);
    if (!(n <= MAX_GENERATED_ELEMENTS)) throw new LeanformerError('SIZE_LIMIT', `Cannot generate input '${s.name}' of shape [${shape.join(', ')}]: ${n} elements, more than the ${MAX_GENERATED_ELEMENTS} generated inputs may have; pass --data, or smaller --dim sizes`, { details: { input: s.name, shape } });
    const dt = s.dtype;
    let values: ArrayLike<number | bigint | string>;
    if (dt.storage === 'string') values = Array.from({ length: n }, (_, i) => `s${i}`);
    else if (dt.name === 'bool') values = Array.from({ length: n }, () => (rand() < 0.5 ? 0 : 1));
    else if (dt.isFloat) values = Array.from({ length: n }, () => rand() * 2 - 1);
    else values = Array.from({ length: n }, () => Math.floor(rand() * 10));
    out[s.name] = Tensor.from(dt, shape, values);
  }
  return out;
}

/** Files `prefix_N.pb` in `dir`, in numeric order. */
function numbered(dir: string, prefix: string): string[] {
  return readdirSync(dir)
    .map((f) => new RegExp(`^${prefix}_(\\d+)\\.pb$`).exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => join(dir, m[0]));
}

/** A test data set: inputs keyed by model input name, expected outputs keyed by output name (empty if absent). */
export interface TestDataSet { readonly inputs: Record<string, T>; readonly expected: Record<string, T> }

/**
 * Reads an ONNX test data folder (`input_0.pb`, …, optional `output_0.pb`, …: serialized TensorProto).
 * A tensor whose stored name is empty or not a model name is matched by position.
 */
export function readTestDataSet(dir: string, inputNames: readonly string[], outputNames: readonly string[]): TestDataSet {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new LeanformerError('IO_ERROR', `No such test data folder: ${dir}`);
  const load = (files: string[], names: readonly string[], what: string): Record<string, T> => {
    if (files.length > names.length) throw new LeanformerError('INVALID_ARGUMENT', `${dir} holds ${files.length} ${what} files but the model has ${names.length} ${what}s (${names.join(', ')})`);
    const out: Record<string, T> = {};
    files.forEach((f, i) => {
      const { name, tensor } = readTensorFile(f);
      out[name && names.includes(name) ? name : names[i]!] = tensor;
    });
    return out;
  };
  const inputs = load(numbered(dir, 'input'), inputNames, 'input');
  if (Object.keys(inputs).length === 0 && inputNames.length > 0) throw new LeanformerError('IO_ERROR', `${dir} holds no input_N.pb files but the model has inputs (${inputNames.join(', ')})`);
  return { inputs, expected: load(numbered(dir, 'output'), outputNames, 'output') };
}

/** Median of timings (ms) of `repeat` runs after one warm-up run; returns the last run's outputs too. `onProgress`: `{ phase: 'run', unit: 'runs' }` per timed run. */
export async function timeRuns(exe: Executor, feeds: Record<string, T>, repeat: number, onProgress?: ProgressCallback): Promise<{ msPerRun: number; outputs: Record<string, T> }> {
  let outputs = await exe.run(feeds);
  const times: number[] = [];
  onProgress?.({ phase: 'run', done: 0, total: repeat, unit: 'runs' });
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    outputs = await exe.run(feeds);
    times.push(performance.now() - t0);
    onProgress?.({ phase: 'run', done: i + 1, total: repeat, unit: 'runs' });
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const msPerRun = times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
  return { msPerRun, outputs };
}
