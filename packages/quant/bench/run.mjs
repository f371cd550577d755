// Bundles quant-bench.ts against the workspace sources (no build needed) and runs it.
// Usage: node packages/quant/bench/run.mjs [--quick] [--layers=N]      the quant bench (JSON)
//        node packages/quant/bench/run.mjs export <dir>                  quantized models for Python ORT
//        node packages/quant/bench/run.mjs rtn [--layers=8] [--reps=3]   RTN quantize time alone (this thread and a worker pool)
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = fileURLToPath(new URL('../../../', import.meta.url));
// Inside the repo (dist/ is ignored) so onnxruntime-node resolves from the workspace node_modules.
const script = { export: 'export-models', demo: 'demo', table: 'table', int8: 'int8-speed', rtn: 'rtn-speed' }[process.argv[2] ?? ''] ?? 'quant-bench';
const out = join(root, `packages/quant/dist/${script}.mjs`);
await build({
  entryPoints: [join(root, `packages/quant/bench/${script}.ts`)],
  bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'warning',
  external: ['onnxruntime-node', 'onnxruntime-web', '@tensorflow/*'],
  alias: {
    '@leanformer/runtime-ort/node': join(root, 'packages/runtime-ort/src/node.ts'),
    '@leanformer/core': join(root, 'packages/core/src/index.ts'),
    '@leanformer/onnx': join(root, 'packages/onnx/src/index.ts'),
    '@leanformer/quant/cli': join(root, 'packages/quant/src/cli.ts'),
    '@leanformer/quant/node': join(root, 'packages/quant/src/node.ts'),
    '@leanformer/quant': join(root, 'packages/quant/src/index.ts'),
  },
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  nodePaths: [join(root, 'node_modules')],
});
if (script === 'rtn-speed') {
  // The pool's worker script, bundled from sources beside the bench.
  await build({
    entryPoints: [join(root, 'packages/quant/src/workers/rtn-worker.ts')], bundle: true, platform: 'node', format: 'esm',
    outfile: join(root, 'packages/quant/dist/rtn-worker.mjs'), logLevel: 'warning', alias: { '@leanformer/core': join(root, 'packages/core/src/index.ts') },
  });
}
const r = spawnSync(process.execPath, ['--max-old-space-size=8192', out, ...process.argv.slice(2)], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
