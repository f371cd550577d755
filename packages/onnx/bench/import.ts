// `leanformer bench onnx-import`: decode throughput and peak memory of loading a synthetic ≥ 1 GB model
// (weights inline as raw_data), measured in fresh child processes so that generating the model does
// not pollute the numbers. With --param big=1, also writes a > 2 GB model (external data, since a
// protobuf message cannot exceed 2 GB), reads it back lazily and checks it equals the original.
// Temporary files go to os.tmpdir() and are deleted afterwards.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchInt, DTypes, Graph, graphDiff, LeanformerError, rng, tensorType, type BenchSuite } from '@leanformer/core';
import { loadModel, saveModel } from '@leanformer/onnx/node';

const SIDE = 4096; // weights are float32[4096, 4096] = 64 MiB each
const LAYER_BYTES = SIDE * SIDE * 4;

/** A chain of MatMuls; every weight shares one storage (tensors are immutable), so generating costs 64 MiB. */
function syntheticModel(layers: number): { graph: Graph; pattern: Uint8Array } {
  const g = new Graph('bench');
  g.opsets.set('', 17);
  g.model = { irVersion: 8, producerName: 'leanformer-bench', producerVersion: '1', domain: '', modelVersion: 1, docString: '', metadataProps: new Map(), functions: [], trainingInfo: [] };
  const shared = rng(1).uniformTensor([SIDE, SIDE], -0.5, 0.5);
  const pattern = shared.data as Float32Array;
  let x = g.addInput('x', tensorType(DTypes.float32, ['batch', SIDE]));
  for (let l = 0; l < layers; l++) {
    const w = g.addInitializer(`layers.${l}.weight`, shared);
    x = g.addNode({ op: 'MatMul', name: `matmul_${l}`, inputs: [x, w] }).output();
  }
  g.addOutput(x);
  return { graph: g, pattern: new Uint8Array(pattern.buffer) };
}

/** Child: one measurement in a fresh process (packages imported by resolved URL); prints JSON on stdout. */
const CHILD = (onnx: string, onnxNode: string) => `
import { readFileSync, statSync } from 'node:fs';
const { decodeModel } = await import(${JSON.stringify(onnx)});
const { loadModel } = await import(${JSON.stringify(onnxNode)});
const [mode, path] = process.argv.slice(1);
const t0 = performance.now();
let graph, times;
if (mode === 'decode') {
  const bytes = readFileSync(path);
  const readMs = performance.now() - t0;
  const t1 = performance.now();
  graph = decodeModel(bytes, { mayMutateInput: true }); // as loadModel does: the buffer is ours
  times = { readMs, decodeMs: performance.now() - t1 };
} else {
  graph = await loadModel(path);
  times = { loadMs: performance.now() - t0 };
}
const inits = [...graph.initializers.values()];
let copied = 0;
for (const v of inits) {
  const b = v.const.bytes();
  // A tensor is zero-copy when its bytes still live in the buffer that holds the whole file.
  if (b.buffer.byteLength < statSync(path).size) copied += b.byteLength;
}
process.stdout.write(JSON.stringify({ ...times, maxRssBytes: process.resourceUsage().maxRSS * 1024, initializers: inits.length, copiedBytes: copied, firstWeightHead: Array.from(inits[0].const.bytes().subarray(0, 8)) }));`;

interface ChildResult { readMs: number; decodeMs: number; loadMs: number; maxRssBytes: number; copiedBytes: number; firstWeightHead: number[] }
function runChild(mode: 'decode' | 'load', path: string): ChildResult {
  const code = CHILD(import.meta.resolve('@leanformer/onnx'), import.meta.resolve('@leanformer/onnx/node'));
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code, mode, path], { encoding: 'utf8', maxBuffer: 1 << 20 })) as ChildResult;
}

async function measure(sizeMb: number, big: boolean): Promise<Record<string, any>> {
  const layers = Math.max(1, Math.ceil((sizeMb * 1024 * 1024) / LAYER_BYTES));
  if (layers * LAYER_BYTES > 1.9 * 1024 ** 3) throw new LeanformerError('INVALID_ARGUMENT', 'bench onnx-import: size-mb must stay under ~1.9 GB for an inline model (use big=1 for external data)');
  const dir = mkdtempSync(join(tmpdir(), 'lf-onnx-bench-'));
  const result: Record<string, any> = { node: process.version, platform: `${process.platform}-${process.arch}` };
  try {
    const { graph, pattern } = syntheticModel(layers);
    const path = join(dir, 'model.onnx');
    let t = performance.now();
    await saveModel(graph, path);
    result.writeMs = round(performance.now() - t);
    const fileBytes = statSync(path).size;
    result.fileBytes = fileBytes;
    result.initializers = layers;

    const dec = runChild('decode', path);
    const load = runChild('load', path);
    const expectHead = Array.from(pattern.subarray(0, 8));
    if (JSON.stringify(dec.firstWeightHead) !== JSON.stringify(expectHead) || JSON.stringify(load.firstWeightHead) !== JSON.stringify(expectHead)) {
      throw new LeanformerError('EXECUTION_FAILED', 'bench onnx-import: decoded weights differ from what was written');
    }
    result.decode = {
      readMs: round(dec.readMs),
      decodeMs: round(dec.decodeMs),
      decodeMBps: round(fileBytes / 1e6 / (dec.decodeMs / 1000)),
      copiedBytes: dec.copiedBytes,
      maxRssBytes: dec.maxRssBytes,
      rssOverFile: round(dec.maxRssBytes / fileBytes, 3),
    };
    result.loadModel = {
      loadMs: round(load.loadMs),
      loadMBps: round(fileBytes / 1e6 / (load.loadMs / 1000)),
      copiedBytes: load.copiedBytes,
      maxRssBytes: load.maxRssBytes,
      rssOverFile: round(load.maxRssBytes / fileBytes, 3),
    };
    result.targets = { decodeMBps: 500, rssOverFile: 1.3 };
    result.pass = result.decode.decodeMBps >= 500 && result.loadModel.rssOverFile <= 1.3;
    rmSync(path, { force: true });

    if (big) {
      const bigLayers = Math.ceil((2.1 * 1024 ** 3) / LAYER_BYTES); // > 2 GB of weights
      const big = syntheticModel(bigLayers).graph;
      const bigPath = join(dir, 'big.onnx');
      t = performance.now();
      await saveModel(big, bigPath); // over the protobuf limit: external data is chosen automatically
      const writeMs = performance.now() - t;
      const dataBytes = statSync(`${bigPath}.data`).size;
      t = performance.now();
      const back = await loadModel(bigPath, { externalData: 'lazy' });
      const lazyLoadMs = performance.now() - t;
      t = performance.now();
      const diff = graphDiff(big, back); // reads every lazy tensor and compares bytes
      const compareMs = performance.now() - t;
      result.big = {
        weightsBytes: bigLayers * LAYER_BYTES,
        modelFileBytes: statSync(bigPath).size,
        dataFileBytes: dataBytes,
        writeMs: round(writeMs),
        writeMBps: round(dataBytes / 1e6 / (writeMs / 1000)),
        lazyLoadMs: round(lazyLoadMs),
        readAndCompareMs: round(compareMs),
        equal: diff === null,
        ...(diff ? { diff } : {}),
      };
      result.pass &&= diff === null;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export const importSuite: BenchSuite = {
  name: 'onnx-import',
  summary: 'decode MB/s and peak RSS / file size of loading a synthetic ≥ 1 GB ONNX model (fresh child processes)',
  params: { 'size-mb': { description: 'model size (inline weights, < 1900)', default: '1024' }, big: { description: '1: also a > 2 GB external-data round trip', default: '0' } },
  async run(o) {
    const r = await measure(benchInt(o.params, 'size-mb', o.quick ? 256 : 1024), benchInt(o.params, 'big', 0) === 1);
    return {
      suite: 'onnx-import',
      metrics: { decode_mb_per_s: r['decode'].decodeMBps, rss_over_file: r['loadModel'].rssOverFile, load_mb_per_s: r['loadModel'].loadMBps, pass: r['pass'] },
      ...r,
    };
  },
};
