import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'node',
  // Runtimes are loaded on demand by the backend table and must never be bundled in.
  external: [/^@leanformer\//, 'onnxruntime-node', 'onnxruntime-web', 'onnxruntime-common'],
});
