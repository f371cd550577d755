import { defineConfig } from 'tsup';

export default defineConfig({
  // The worker script of createQuantWorkerPool lands in dist/workers/rtn-worker.js, which the pool
  // finds relative to the built entry.
  entry: { index: 'src/index.ts', cli: 'src/cli.ts', node: 'src/node.ts', bench: 'bench/index.ts', 'workers/rtn-worker': 'src/workers/rtn-worker.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  // src/cli.ts uses node:fs; keep node built-ins external.
  external: [/^node:/, /^@leanformer\//],
  // import.meta.url in the CommonJS build (the pool locates its worker script with it).
  shims: true,
});
