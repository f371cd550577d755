// `leanformer bench quant-stream`: streaming int4 quantization of a synthetic decoder larger than
// 8 GiB stored with ONNX external data (needs ~12 GB free disk; minutes).
// 1. writes the float32 decoder to os.tmpdir() tensor by tensor (seeded PRNG, 4 MB chunks);
// 2. runs quantizeModelStreaming (rtn, int4, block 32, LM head int8) in a child process and reads
//    that child's peak RSS from process.resourceUsage() (and /usr/bin/time -v when present);
// 3. loads the int4 model in onnxruntime-node (CPU) in another child and runs 8 tokens;
// 4. returns one JSON object and deletes the files (unless --param keep=1).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchInt, LeanformerError, type BenchSuite } from '@leanformer/core';
import { encodeModel } from '@leanformer/onnx';
import { syntheticDecoderBytes, writeSyntheticDecoder } from '@leanformer/quant/node';

// The children import the packages by resolved URL, so they run wherever this module was installed.
const QUANTIZE_CHILD = (quantNode: string, onnx: string, onnxNode: string) => `
const { quantizeModelStreaming } = await import(${JSON.stringify(quantNode)});
const { encodeModel, lowerToOnnx } = await import(${JSON.stringify(onnx)});
const { loadModel } = await import(${JSON.stringify(onnxNode)});
const [input, output] = process.argv.slice(1);
const report = await quantizeModelStreaming(input, output, { method: 'rtn', bits: 4, blockSize: 32 }, { loadModel, encodeModel, lowerToOnnx });
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

/** Runs a child (optionally under /usr/bin/time -v) and parses its last JSON line. */
function child(kind: string, code: string, args: string[]): Record<string, unknown> {
  const argv = ['--input-type=module', '-e', code, ...args];
  const useTime = existsSync('/usr/bin/time');
  const r = useTime ? spawnSync('/usr/bin/time', ['-v', process.execPath, ...argv], { encoding: 'utf8', maxBuffer: 1 << 24 })
    : spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new LeanformerError('EXECUTION_FAILED', `bench quant-stream: the ${kind} child failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  if (m) out['timeMaxRssMB'] = Math.round(Number(m[1]) / 1024);
  return out;
}

export const stream8gbSuite: BenchSuite = {
  name: 'quant-stream',
  summary: 'streaming RTN int4 of a synthetic >8 GiB decoder (external data): peak RSS, then 8 tokens on ORT CPU',
  params: {
    layers: { description: 'decoder layers', default: '11' }, hidden: { description: 'hidden size', default: '4096' },
    ffn: { description: 'MLP size', default: '11008' }, vocab: { description: 'vocabulary', default: '8192' },
    keep: { description: '1 keeps the temp folder', default: '0' },
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
      const t1 = performance.now();
      const out = join(dir, 'decoder-int4.onnx');
      const q = child('quantize', QUANTIZE_CHILD(import.meta.resolve('@leanformer/quant/node'), import.meta.resolve('@leanformer/onnx'), import.meta.resolve('@leanformer/onnx/node')), [files.model, out]);
      const quantizeWallSeconds = (performance.now() - t1) / 1000;
      const run = child('ort', ORT_CHILD(import.meta.resolve('onnxruntime-node')), [out]);
      const maxRss = Math.max(q['maxRssMB'] as number, (q['timeMaxRssMB'] as number | undefined) ?? 0);
      return {
        suite: 'quant-stream',
        metrics: {
          input_gib: +(files.weightBytes / 2 ** 30).toFixed(2),
          quantize_seconds: q['seconds'], quantize_wall_seconds: +quantizeWallSeconds.toFixed(1),
          quantize_max_rss_mb: maxRss, peak_rss_within_bound: maxRss <= 1536,
          ort_load_seconds: run['loadSeconds'], ort_run_seconds: run['runSeconds'], ort_finite: run['finite'],
        },
        node: process.version,
        cpus: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
        config: cfg,
        parameters: files.parameters,
        writeSeconds: +writeSeconds.toFixed(1),
        inputBytes: statSync(files.data).size + statSync(files.model).size,
        quantize: { ...q, outputBytes: statSync(out).size + (existsSync(`${out}.data`) ? statSync(`${out}.data`).size : 0) },
        ortCpu: run,
      };
    } finally {
      if (!keep) rmSync(dir, { recursive: true, force: true });
      else o.log(`kept ${dir}\n`);
    }
  },
};
