// Runs the `bench kv` suite and prints { suite, metrics } JSON.
//   node /tmp/kvbench.mjs [--quick] [--tfjs]   (bundle: see README)
import { runKvBench } from '@leanformer/kv-cache';

const args = new Set(process.argv.slice(2));
let backend;
if (args.has('--tfjs')) {
  const { createTfjsBackend } = await import('@leanformer/runtime-tfjs');
  backend = createTfjsBackend('cpu');
}
const r = await runKvBench({ quick: args.has('--quick'), ...(backend ? { backend } : {}) });
console.log(JSON.stringify(r));
