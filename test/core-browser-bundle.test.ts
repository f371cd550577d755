// The browser entries must bundle for a browser without any Node-only module: core has no runtime
// dependencies at all, and '@leanformer/onnx' (main entry, not ./node) and '@leanformer/runtime-ort'
// (main entry, where the ORT module is injected) must stay free of fs, path, node:* and onnxruntime-node.
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const NODE_ONLY = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'onnxruntime-node']);

/** Records every import esbuild resolves, resolving '@leanformer/x' to packages/x/src/index.ts (as vitest does). */
function recorder(seen: { path: string; importer: string }[]): Plugin {
  return {
    name: 'record-imports',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        seen.push({ path: args.path, importer: args.importer.replace(root, '') });
        const ws = /^@leanformer\/([a-z-]+)$/.exec(args.path);
        if (ws) return { path: `${root}packages/${ws[1]}/src/index.ts` };
        if (NODE_ONLY.has(args.path) || args.path.startsWith('node:')) return { path: args.path, external: true };
        return undefined;
      });
    },
  };
}

async function nodeOnlyImports(entry: string): Promise<string[]> {
  const seen: { path: string; importer: string }[] = [];
  await build({ entryPoints: [`${root}${entry}`], bundle: true, write: false, platform: 'browser', format: 'esm', logLevel: 'silent', plugins: [recorder(seen)] });
  return seen.filter((s) => NODE_ONLY.has(s.path) || s.path.startsWith('node:')).map((s) => `${s.importer} imports '${s.path}'`);
}

describe('browser bundles', () => {
  it('the recorder catches a Node-only import (the check can fail)', async () => {
    expect(await nodeOnlyImports('packages/cli/src/model.ts')).toContainEqual(expect.stringMatching(/imports 'node:fs'/));
  });

  for (const entry of ['packages/core/src/index.ts', 'packages/onnx/src/index.ts', 'packages/runtime-ort/src/index.ts', 'packages/models/src/index.ts']) {
    it(`${entry} bundles for the browser without Node-only imports`, async () => {
      expect(await nodeOnlyImports(entry)).toEqual([]);
    });
  }
});
