import { defineConfig } from 'tsup';

export default defineConfig({
  // index is browser-safe; node and web bind a runtime each (kept external: peer dependencies).
  entry: ['src/index.ts', 'src/node.ts', 'src/web.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  external: ['onnxruntime-node', 'onnxruntime-web', 'onnxruntime-common'],
});
