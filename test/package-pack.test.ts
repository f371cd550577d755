// Publishable packages: `npm pack --dry-run` of every packages/* folder ships its exports targets,
// bin and README, and nothing of tests, fixtures or benches (tools/pack-check/check.mjs). Needs a
// build first (exports point into dist/); the root `npm test` builds before testing.
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM tool script without type declarations
import { checkPackage, packageDirs } from '../tools/pack-check/check.mjs';

interface PackReport { name: string; files: string[]; problems: string[] }

const root = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(join(root, 'packages/core/dist/index.js'));
if (!built) console.warn('package-pack: skipped, packages are not built; run `npx nx run-many -t build` first');
const tmp = mkdtempSync(join(tmpdir(), 'lf-pack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('pack checker', () => {
  it('reports test files, fixtures, missing exports targets, types-not-first and undeclared runtimes (the check can fail)', () => {
    const dir = join(tmp, 'bad');
    mkdirSync(join(dir, 'dist'), { recursive: true });
    mkdirSync(join(dir, 'fixtures'), { recursive: true });
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'dist/index.js'), 'export {};\n');
    writeFileSync(join(dir, 'dist/index.test.js'), 'export {};\n');
    writeFileSync(join(dir, 'dist/index.test.js.map'), '{}\n');
    writeFileSync(join(dir, 'fixtures/w.bin'), 'x');
    writeFileSync(join(dir, 'src/a.ts'), "import type * as ort from 'onnxruntime-node';\n");
    writeFileSync(join(dir, 'README.md'), '# bad\nno example\n');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({
      name: 'bad-pkg', version: '0.0.0', license: 'MIT', description: 'x', engines: { node: '>=20' },
      files: ['dist', 'fixtures', 'README.md'],
      exports: { '.': { import: './dist/index.js', types: './dist/index.d.ts' } },
    }));
    const r = checkPackage(dir) as PackReport;
    const p = r.problems.join('\n');
    expect(p).toMatch(/ships a test file \(or its source map\): dist\/index\.test\.js\b/);
    expect(p).toMatch(/dist\/index\.test\.js\.map/);
    expect(p).toMatch(/ships a fixture: fixtures\/w\.bin/);
    expect(p).toMatch(/exports\['\.'\]\['types'\] → \.\/dist\/index\.d\.ts is not in the package/);
    expect(p).toMatch(/lists "import" before "types"/);
    expect(p).toMatch(/README\.md has no fenced code example/);
    expect(p).toMatch(/ships no LICENSE/);
    expect(p).toMatch(/imports 'onnxruntime-node'/);
  }, 60_000);
});

describe.skipIf(!built)('npm pack --dry-run of every package', () => {
  const dirs = (packageDirs() as string[]);
  it('finds every package folder', () => {
    expect(dirs.map((d) => d.split('/').pop())).toContain('core');
    expect(dirs.length).toBeGreaterThanOrEqual(10);
  });
  for (const dir of dirs) {
    it(`packages/${dir.split('/').pop()} is publishable`, () => {
      const r = checkPackage(dir) as PackReport;
      expect(r.problems, `${r.name}:\n${r.problems.join('\n')}`).toEqual([]);
    }, 60_000);
  }
});
