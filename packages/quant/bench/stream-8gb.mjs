#!/usr/bin/env node
// Streaming int4 quantization of a synthetic decoder larger than 8 GiB, stored with ONNX external
// data (not part of the test run; needs the packages built and ~12 GB free disk).
//
//   node packages/quant/bench/stream-8gb.mjs [--layers 11] [--hidden 4096] [--ffn 11008] [--vocab 8192]
//        [--methods rtn,gptq,awq,smoothquant] [--calib-random 4] [--keep]
//   (or without a build: sh tools/bench/bundle.sh packages/quant/bench/stream-8gb.mjs stream-8gb &&
//    node node_modules/.cache/lf-bench/stream-8gb.mjs …)
//
// 1. writes the float32 decoder to os.tmpdir() tensor by tensor (seeded PRNG, 4 MB chunks);
// 2. runs quantizeModelStreaming (each method, int4, block 32, embedding and LM head int8; the
//    calibrated ones on --calib-random batches of 32 tokens) in a child process per method and
//    reads that child's peak RSS from process.resourceUsage() (and /usr/bin/time -v when present);
// 3. loads the int4 model in onnxruntime-node (CPU) in another child and runs 8 tokens;
// 4. prints one JSON object and deletes the files (unless --keep).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    child: { type: 'string' }, layers: { type: 'string', default: '11' }, hidden: { type: 'string', default: '4096' },
    ffn: { type: 'string', default: '11008' }, vocab: { type: 'string', default: '8192' }, keep: { type: 'boolean', default: false },
    methods: { type: 'string', default: 'rtn' }, 'calib-random': { type: 'string', default: '4' },
  },
});

const rssMB = () => Math.round(process.resourceUsage().maxRSS / 1024); // maxRSS is in KiB

if (args.child === 'quantize') {
  const [input, output, method = 'rtn', calibCount = '4'] = positionals;
  const { quantizeModelStreaming } = await import('@leanformer/quant/node');
  const { randomCalibrationFeeds } = await import('@leanformer/quant');
  const { encodeModel, lowerToOnnx } = await import('@leanformer/onnx');
  const { loadModel } = await import('@leanformer/onnx/node');
  // Calibrated methods: random token ids over the vocabulary, read from the lazily loaded graph (no weight read).
  const calibration = method === 'rtn' || method === 'hqq' || method === 'nf4' ? undefined
    : { feeds: randomCalibrationFeeds(await loadModel(input, { externalData: 'lazy' }), Number(calibCount)) };
  const report = await quantizeModelStreaming(input, output, { method, bits: 4, blockSize: 32, calibration }, { loadModel, encodeModel, lowerToOnnx });
  process.stdout.write(`${JSON.stringify({ ...report, notes: undefined, maxRssMB: rssMB() })}\n`);
  process.exit(0);
}

if (args.child === 'ort') {
  const ort = (await import('onnxruntime-node')).default;
  const t0 = performance.now();
  const s = await ort.InferenceSession.create(positionals[0]);
  const loadSeconds = (performance.now() - t0) / 1000;
  const ids = BigInt64Array.from({ length: 8 }, (_, i) => BigInt((i * 37) % 1000));
  const t1 = performance.now();
  const r = await s.run({ input_ids: new ort.Tensor('int64', ids, [1, 8]) });
  const runSeconds = (performance.now() - t1) / 1000;
  const y = r.logits.data;
  let finite = true;
  for (const v of y) if (!Number.isFinite(v)) { finite = false; break; }
  process.stdout.write(`${JSON.stringify({ dims: r.logits.dims, finite, loadSeconds: +loadSeconds.toFixed(2), runSeconds: +runSeconds.toFixed(2), maxRssMB: rssMB() })}\n`);
  process.exit(finite ? 0 : 1);
}

const cfg = { layers: Number(args.layers), hidden: Number(args.hidden), ffn: Number(args.ffn), vocab: Number(args.vocab), seed: 1 };
const { writeSyntheticDecoder, syntheticDecoderBytes } = await import('@leanformer/quant/node');
const { encodeModel } = await import('@leanformer/onnx');
const dir = mkdtempSync(join(tmpdir(), 'lf-stream-8gb-'));
const self = new URL(import.meta.url).pathname;
const useTime = existsSync('/usr/bin/time');

/** Runs this script as a child (optionally under /usr/bin/time -v) and parses its JSON line. */
function child(kind, ...rest) {
  const argv = [self, '--child', kind, ...rest];
  const r = useTime ? spawnSync('/usr/bin/time', ['-v', process.execPath, ...argv], { encoding: 'utf8', maxBuffer: 1 << 24 })
    : spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${kind} child failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  if (m) out.timeMaxRssMB = Math.round(Number(m[1]) / 1024);
  return out;
}

try {
  const t0 = performance.now();
  const files = await writeSyntheticDecoder(join(dir, 'decoder.onnx'), cfg, { encodeModel });
  const writeSeconds = (performance.now() - t0) / 1000;
  const quantize = {};
  let run = null;
  for (const method of args.methods.split(',')) {
    const t1 = performance.now();
    const out = join(dir, `decoder-${method}.onnx`);
    const q = child('quantize', files.model, out, method, args['calib-random']);
    const quantizeWallSeconds = (performance.now() - t1) / 1000;
    quantize[method] = {
      method: q.method, bits: q.bits, blockSize: q.blockSize, layers: q.layersQuantized,
      outputBytes: statSync(q.model).size + (q.data ? statSync(q.data).size : 0),
      largestTensorMB: +(q.largestTensorBytes / 2 ** 20).toFixed(1),
      seconds: q.seconds, wallSeconds: +quantizeWallSeconds.toFixed(1),
      maxRssMB: q.maxRssMB, timeMaxRssMB: q.timeMaxRssMB ?? null,
    };
    run ??= child('ort', out);
    rmSync(out, { force: true });
    if (q.data) rmSync(q.data, { force: true });
  }
  const peaks = Object.values(quantize).map((q) => Math.max(q.maxRssMB, q.timeMaxRssMB ?? 0));
  const result = {
    bench: 'quant/stream-8gb',
    node: process.version,
    cpus: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
    config: cfg,
    inputBytes: statSync(files.data).size + statSync(files.model).size,
    inputGiB: +(files.weightBytes / 2 ** 30).toFixed(2),
    parameters: files.parameters,
    writeSeconds: +writeSeconds.toFixed(1),
    calibRandom: Number(args['calib-random']),
    quantize,
    ortCpu: run,
    peakRssWithinBound: Math.max(...peaks) <= 1536,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (!result.peakRssWithinBound) process.exitCode = 1;
} finally {
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
  else process.stderr.write(`kept ${dir}\n`);
}
