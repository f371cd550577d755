import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const packages = readdirSync(`${root}packages`).filter((p) => existsSync(`${root}packages/${p}/package.json`));

// Tests import workspace packages from source (no build needed); subpath entries map to src/<sub>.ts.
const alias = [
  { find: /^@leanformer\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
  { find: /^@leanformer\/([a-z-]+)\/([a-z-]+)$/, replacement: `${root}packages/$1/src/$2.ts` },
];

export default defineConfig({
  resolve: { alias },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      ...packages.map((name) => ({
        extends: true as const,
        test: { name, root: `${root}packages/${name}`, include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
      })),
      { extends: true as const, test: { name: 'e2e', root: `${root}test`, include: ['**/*.test.ts'] } },
    ],
  },
});
