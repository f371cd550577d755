import { defineConfig } from 'tsup';

// tfjs-core ships its gradient functions only as extensionless ESM files (dist/gradients/*),
// which Node cannot import; they are bundled here and register into tfjs' process-global registry.
const noExternal = [/@tensorflow\/tfjs-core\/dist\/register_all_gradients/];

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
    noExternal,
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
    noExternal,
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
