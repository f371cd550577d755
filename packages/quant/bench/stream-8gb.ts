// `leanformer bench quant-stream`: streaming int4 quantization of a synthetic decoder larger than
// 8 GiB stored with ONNX external data (needs ~12 GB free disk; minutes).
// 1. writes the float32 decoder to os.tmpdir() tensor by tensor (seeded PRNG, 4 MB chunks);
// 2. runs quantizeModelStreaming (int4, block 32, LM head int8) per method (--param methods=rtn,gptq,…;
//    calibrated ones on --param calib-random=N batches of random token ids) in a child process each,
//    reading that child's peak RSS from process.resourceUsage() (and /usr/bin/time -v when present);
// 3. loads the first int4 model in onnxruntime-node (CPU) in another child and runs 8 tokens;
// 4. returns one JSON object and deletes the files (unless --param keep=1).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchInt, type BenchSuite } from '@leanformer/core';
import { runMeasuredChild } from '@leanformer/core/node';
import { encodeModel } from '@leanformer/onnx';
import { syntheticDecoderBytes, writeSyntheticDecoder } from '@leanformer/quant/node';

// The children import the packages by resolved URL, so they run wherever this module was installed.
const QUANTIZE_CHILD = (quant: string, quantNode: string, onnx: string, onnxNode: string) => `
const { QUANT_METHOD_ENTRIES, randomCalibrationFeeds } = await import(${JSON.stringify(quant)});
const { quantizeModelStreaming } = await import(${JSON.stringify(quantNode)});
const { encodeModel, lowerToOnnx } = await import(${JSON.stringify(onnx)});
const { loadModel } = await import(${JSON.stringify(onnxNode)});
const [input, output, method, calibCount] = process.argv.slice(1);
// Calibrated methods: random token ids over the vocabulary, read from the lazily loaded graph (no weight read).
const calibrated = QUANT_METHOD_ENTRIES.find((e) => e.name === method).calibration !== 'none';
const calibration = calibrated ? { feeds: randomCalibrationFeeds(await loadModel(input, { externalData: 'lazy' }), Number(calibCount)) } : undefined;
const report = await quantizeModelStreaming(input, output, { method, bits: 4, blockSize: 32, calibration }, { loadModel, encodeModel, lowerToOnnx });
process.stdout.write(JSON.stringify({ ...report, notes: undefined, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\\n');`;
const ORT_CHILD = (ortNode: string) => `
const ort = (await import(${JSON.stringify(ortNode)})).default;
const t0 = performance.now();
const s = await ort.InferenceSession.create(process.argv[1]);
const loadSeconds = (performance.now() - t0) / 1000;
const ids = BigInt64Array.from({ length: 8 }, (_, i) => BigInt((i * 37) % 1000));
const t1 = performance.now();
const r = await s.run({ input_ids: new ort.Tensor('int64', ids, [1, 8]) });
const runSeconds = (performance.now() - t1) / 1000;
let finite = true;
for (const v of r.logits.data) if (!Number.isFinite(v)) { finite = false; break; }
process.stdout.write(JSON.stringify({ dims: r.logits.dims, finite, loadSeconds: +loadSeconds.toFixed(2), runSeconds: +runSeconds.toFixed(2), maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\\n');
process.exit(finite ? 0 : 1);`;


export const stream8gbSuite: BenchSuite = {
  name: 'quant-stream',
  summary: 'streaming RTN int4 of a synthetic >8 GiB decoder (external data): peak RSS, then 8 tokens on ORT CPU',
  params: {
    layers: { description: 'decoder layers', default: '11' }, hidden: { description: 'hidden size', default: '4096' },
    ffn: { description: 'MLP size', default: '11008' }, vocab: { description: 'vocabulary', default: '8192' },
    keep: { description: '1 keeps the temp folder', default: '0' },
    methods: { description: 'streamed methods to run, each in its own child', default: 'rtn' },
    'calib-random': { description: 'random calibration batches for calibrated methods', default: '4' },
  },
  async run(o) {
    const cfg = o.quick ? { layers: 2, hidden: 512, ffn: 1376, vocab: 2048, seed: 1 }
      : { layers: benchInt(o.params, 'layers', 11), hidden: benchInt(o.params, 'hidden', 4096), ffn: benchInt(o.params, 'ffn', 11008), vocab: benchInt(o.params, 'vocab', 8192), seed: 1 };
    const keep = benchInt(o.params, 'keep', 0) === 1;
    o.log(`writing a ${(syntheticDecoderBytes(cfg) / 2 ** 30).toFixed(2)} GiB decoder\n`);
    const dir = mkdtempSync(join(tmpdir(), 'lf-stream-8gb-'));
    try {
      const t0 = performance.now();
      const files = await writeSyntheticDecoder(join(dir, 'decoder.onnx'), cfg, { encodeModel });
      const writeSeconds = (performance.now() - t0) / 1000;
      const methods = (o.params['methods'] ?? 'rtn').split(',');
      const calibCount = benchInt(o.params, 'calib-random', 4);
      const quantize: Record<string, Record<string, unknown>> = {};
      let run: Record<string, unknown> | null = null;
      for (const method of methods) {
        const t1 = performance.now();
        const out = join(dir, `decoder-${method}.onnx`);
        const code = QUANTIZE_CHILD(import.meta.resolve('@leanformer/quant'), import.meta.resolve('@leanformer/quant/node'), import.meta.resolve('@leanformer/onnx'), import.meta.resolve('@leanformer/onnx/node'));
        const q = runMeasuredChild('bench quant-stream: the quantize child', code, [files.model, out, method, String(calibCount)]);
        const quantizeWallSeconds = (performance.now() - t1) / 1000;
        quantize[method] = {
          layers: q['layersQuantized'], seconds: q['seconds'], wallSeconds: +quantizeWallSeconds.toFixed(1),
          outputBytes: statSync(out).size + (existsSync(`${out}.data`) ? statSync(`${out}.data`).size : 0),
          maxRssMB: Math.max(q['maxRssMB'] as number, (q['timeMaxRssMB'] as number | undefined) ?? 0),
        };
        run ??= runMeasuredChild('bench quant-stream: the ort child', ORT_CHILD(import.meta.resolve('onnxruntime-node')), [out]);
        rmSync(out, { force: true });
        rmSync(`${out}.data`, { force: true });
      }
      const peak = Math.max(...Object.values(quantize).map((q) => q['maxRssMB'] as number));
      return {
        suite: 'quant-stream',
        metrics: {
          input_gib: +(files.weightBytes / 2 ** 30).toFixed(2),
          ...Object.fromEntries(Object.entries(quantize).flatMap(([m, q]) => [[`${m}_max_rss_mb`, q['maxRssMB']], [`${m}_seconds`, q['seconds']]])),
          peak_rss_within_bound: peak <= 1536,
          ort_load_seconds: run!['loadSeconds'], ort_run_seconds: run!['runSeconds'], ort_finite: run!['finite'],
        },
        node: process.version,
        cpus: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
        config: cfg,
        parameters: files.parameters,
        writeSeconds: +writeSeconds.toFixed(1),
        inputBytes: statSync(files.data).size + statSync(files.model).size,
        calibRandom: calibCount,
        quantize,
        ortCpu: run,
      };
    } finally {
      if (!keep) rmSync(dir, { recursive: true, force: true });
      else o.log(`kept ${dir}\n`);
    }
  },
};
