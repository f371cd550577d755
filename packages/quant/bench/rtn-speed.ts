// RTN int4 block-32 quantize time alone (the bench quant figure `quantize_seconds_per_gb`, without the
// other metrics): a stack of L 4096² fp32 MatMuls, quantized R times on this thread and on a worker pool.
//   node packages/quant/bench/run.mjs rtn [--layers=8] [--reps=3] [--threads=N]
// (run.mjs bundles this file and the pool's worker into packages/quant/dist/; `--worker=<file>` points elsewhere).
// Prints JSON: per mode the seconds per GB of each repetition (the first is the cold one) and their median.
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { matmulStack, quantizeModel } from '@leanformer/quant';
import { createQuantWorkerPool } from '@leanformer/quant/node';

const arg = (n: string, d: number): number => { const a = process.argv.find((x) => x.startsWith(`--${n}=`)); return a ? Number(a.slice(n.length + 3)) : d; };
const workerArg = process.argv.find((x) => x.startsWith('--worker='))?.slice(9);
const layers = arg('layers', 8), reps = arg('reps', 3), threads = arg('threads', availableParallelism()), width = 4096;
const g = matmulStack(width, layers);
const gb = (layers * width * width * 4) / 1e9;
const median = (x: number[]): number => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]!;
const time = async (o: object): Promise<number> => { const t = performance.now(); await quantizeModel(g, { method: 'rtn', bits: 4, blockSize: 32, accuracyLevel: 4, edgeBits: 4, ...o }); return (performance.now() - t) / 1000 / gb; };
const single: number[] = [];
for (let i = 0; i < reps; i++) single.push(await time({}));
const pool = createQuantWorkerPool({ threads, workerUrl: pathToFileURL(workerArg ?? join(process.cwd(), 'packages/quant/dist/rtn-worker.mjs')) });
const pooled: number[] = [];
try {
  // The first timed run then still pays for fresh staging memory, as the peer's does.
  await pool.warmUp();
  for (let i = 0; i < reps; i++) pooled.push(await time({ pool }));
} finally { await pool.dispose(); }
const r = (x: number): number => Math.round(x * 1000) / 1000;
console.log(JSON.stringify({ layers, width, weight_gb: r(gb), threads, single_s_per_gb: single.map(r), single_median: r(median(single)), pool_s_per_gb: pooled.map(r), pool_median: r(median(pooled)) }));
