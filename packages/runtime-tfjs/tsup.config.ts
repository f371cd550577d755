import { defineConfig } from 'tsup';
import { tfjsGradientsPlugin } from './tfjs-gradients.esbuild.mjs';

// tfjs-core ships its gradient functions only as extensionless ESM files (dist/gradients/*), which
// Node cannot import: those definitions are bundled, each rewired to import the public
// `@tensorflow/tfjs-core` (external, the user's copy) instead of tfjs-core's internals
// (tfjs-gradients.esbuild.mjs), so no tfjs-core runtime code lands in dist.
const noExternal = [/@tensorflow\/tfjs-core\/dist\/register_all_gradients/];
const esbuildPlugins = [tfjsGradientsPlugin];

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
    esbuildPlugins,
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
    esbuildPlugins,
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
