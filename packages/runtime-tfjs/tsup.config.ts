import { defineConfig } from 'tsup';

// @tensorflow/tfjs-core stays external (a peer dependency, the user's copy): runtime-tfjs's gradients
// (src/gradients) import its public API, so dist holds no tfjs-core code (test/tfjs-dist.test.ts).

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    platform: 'neutral',
    shims: true,
  },
  {
    // Node-only entry (fs): conformance over test directories, checkpoint files.
    entry: ['src/node.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    target: 'es2022',
    platform: 'node',
    shims: true,
  },
  {
    // Benchmarks (`leanformer bench tfjs-…`): they import the packages, this one included, by name.
    entry: { bench: 'bench/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    target: 'es2022',
    platform: 'node',
    external: [/^@leanformer\//, /^@tensorflow\//, 'onnxruntime-node'],
  },
]);
