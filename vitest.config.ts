import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const packages = readdirSync(`${root}packages`).filter((p) => existsSync(`${root}packages/${p}/package.json`));

// Tests import workspace packages from source (no build needed), through the one alias map: the
// `paths` of tsconfig.base.json (which typecheck reads too), `*` standing for a package name.
const paths = (JSON.parse(readFileSync(`${root}tsconfig.base.json`, 'utf8')) as { compilerOptions: { paths: Record<string, string[]> } }).compilerOptions.paths;
const alias = Object.entries(paths).map(([key, [target]]) => ({
  find: new RegExp(`^${key.replace(/[.+?^${}()|[\]\\/]/g, '\\$&').replace('*', '([a-z-]+)')}$`),
  replacement: `${root}${target!.replace('*', '$1')}`,
}));

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
