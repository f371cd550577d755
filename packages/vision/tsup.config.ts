import { defineConfig } from 'tsup';

export default defineConfig({
  // index is browser-safe; cli (zoo and bench commands) is Node only and loads onnxruntime-node lazily.
  entry: { index: 'src/index.ts', cli: 'src/cli.ts', bench: 'bench/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  // The CJS build gets `import.meta.url` from `__filename` (runVisionBench resolves the fixtures
  // folder from it); without the shim import.meta is empty there and `new URL` throws.
  shims: true,
  // Sibling packages stay imports (quant is used by gpusqVit), never bundled copies.
  external: ['onnxruntime-node', 'onnxruntime-common', /^node:/, /^@leanformer\//],
});
