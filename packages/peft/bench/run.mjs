// Bundles peft-bench.ts against the workspace sources (no build needed) and runs it.
// Usage: node packages/peft/bench/run.mjs [--quick]      prints { suite: 'peft', metrics, notes } as JSON
//        node packages/peft/bench/run.mjs --entry paca-profile [--quick|--wide]   per-kernel times of a LoRA and a PaCA step
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = fileURLToPath(new URL('../../../', import.meta.url));
// Inside the package's dist/ (ignored) so onnxruntime-node and tfjs resolve from the workspace node_modules.
const at = process.argv.indexOf('--entry');
const entry = at >= 0 ? process.argv[at + 1] : 'peft-bench';
const args = at >= 0 ? process.argv.filter((_, i) => i !== at && i !== at + 1).slice(2) : process.argv.slice(2);
const out = join(root, `packages/peft/dist/${entry}.mjs`);
await build({
  entryPoints: [join(root, `packages/peft/bench/${entry}.ts`)],
  bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'warning',
  // tfjs is bundled from its ESM sources (mainFields 'module' first) so that runtime-tfjs's
  // subpath import of the gradient registrations and the package entry share one engine.
  external: ['onnxruntime-node', 'onnxruntime-web'],
  mainFields: ['module', 'main'],
  alias: {
    '@leanformer/runtime-ort/node': join(root, 'packages/runtime-ort/src/node.ts'),
    '@leanformer/runtime-ort': join(root, 'packages/runtime-ort/src/index.ts'),
    '@leanformer/runtime-tfjs': join(root, 'packages/runtime-tfjs/src/index.ts'),
    '@leanformer/core': join(root, 'packages/core/src/index.ts'),
    '@leanformer/onnx': join(root, 'packages/onnx/src/index.ts'),
  },
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  nodePaths: [join(root, 'node_modules')],
});
const r = spawnSync(process.execPath, ['--max-old-space-size=8192', out, ...args], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
