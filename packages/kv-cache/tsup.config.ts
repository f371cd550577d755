import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', bench: 'bench/index.ts', 'gpu-bench': 'gpu-bench/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // The bench entry imports the packages (this one included) by name: never bundle them into it.
  external: [/^@leanformer\//, /^node:/, 'onnxruntime-node'],
  platform: 'neutral',
});
