import { defineConfig } from 'tsup';

export default defineConfig({
  // index is browser-safe; node and web bind a runtime each (kept external: peer dependencies).
  entry: { index: 'src/index.ts', node: 'src/node.ts', web: 'src/web.ts', bench: 'bench/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  // The bench entry imports the packages (this one included) by name: never bundle them into it.
  external: ['onnxruntime-node', 'onnxruntime-web', 'onnxruntime-common', /^@leanformer\//, /^node:/],
});
