#!/usr/bin/env sh
# Bundles a bench entry (TypeScript, workspace sources via tsconfig paths) into node_modules/.cache/lf-bench/<name>.mjs
# so plain `node` runs it (run from the repo root). Usage: sh tools/bench/bundle.sh <entry.ts> <name>
set -e
mkdir -p node_modules/.cache/lf-bench
npx esbuild "$1" --bundle --platform=node --format=esm --target=node20 \
  --external:onnxruntime-node --external:@tensorflow/tfjs-backend-wasm --external:@tensorflow/tfjs-backend-webgpu --external:webgpu \
  --tsconfig=tsconfig.base.json --log-level=error \
  --banner:js="import { createRequire as __lfCreateRequire } from 'module'; const require = __lfCreateRequire(import.meta.url);" \
  --outfile="node_modules/.cache/lf-bench/$2.mjs"
