// Runs the `bench attention` suite and prints { suite, metrics } JSON.
//   node packages/attention/bench/run.mjs [--quick] [--no-ort]
// (bundle first: see README — esbuild with tsconfig paths, onnxruntime-node external).
import { runAttentionBench } from '@leanformer/attention';

const args = new Set(process.argv.slice(2));
let backend;
if (!args.has('--no-ort')) {
  const { createOrtBackend } = await import('@leanformer/runtime-ort/node');
  backend = createOrtBackend({ eps: ['cpu'] });
}
const r = await runAttentionBench({ quick: args.has('--quick'), ...(backend ? { backend } : {}) });
console.log(JSON.stringify(r));
