// Publishable packages: the tarball `npm pack` makes of every packages/* folder ships its exports
// targets, bin and README, and nothing of tests, fixtures or benches; and it passes publint and
// arethetypeswrong (node16 profile: CJS and ESM consumers each get their own .d.ts/.d.cts)
// (tools/pack-check/check.mjs). Needs a build first (exports point into dist/); the root
// `npm test` builds before testing.
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM tool script without type declarations
import { checkPackage, lintTarball, packageDirs, packTarballs } from '../tools/pack-check/check.mjs';

interface PackReport { name: string; files: string[]; problems: string[] }
interface Packed { name: string; dir: string; tarball: string; files: string[] }

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

describe('publint + arethetypeswrong over a tarball', () => {
  // The layout every package had before issue 17: one ESM `.d.ts` for both conditions of a
  // "type": "module" package, which CommonJS consumers read as ESM types for a CommonJS file.
  const pkg = (name: string, entry: unknown): string => {
    const dir = join(tmp, name);
    mkdirSync(join(dir, 'dist'), { recursive: true });
    writeFileSync(join(dir, 'dist/index.js'), 'export const x = 1;\n');
    writeFileSync(join(dir, 'dist/index.cjs'), 'exports.x = 1;\n');
    writeFileSync(join(dir, 'dist/index.d.ts'), 'export declare const x: number;\n');
    writeFileSync(join(dir, 'dist/index.d.cts'), 'export declare const x: number;\n');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '0.0.0', type: 'module', license: 'MIT', engines: { node: '>=20' }, files: ['dist'], types: './dist/index.d.ts', exports: { '.': entry } }));
    return dir;
  };
  it('reports "masquerading as ESM" and publint\'s types-format error for one .d.ts under require, and nothing for the dual layout', async () => {
    const [bad, good] = packTarballs(tmp, [
      pkg('single-types', { types: './dist/index.d.ts', import: './dist/index.js', require: './dist/index.cjs' }),
      pkg('dual-types', { import: { types: './dist/index.d.ts', default: './dist/index.js' }, require: { types: './dist/index.d.cts', default: './dist/index.cjs' } }),
    ]) as Packed[];
    const badProblems = (await lintTarball(bad!.tarball) as string[]).join('\n');
    expect(badProblems).toMatch(/attw FalseESM \(\/node_modules\/single-types\/dist\/index\.d\.ts, \/node_modules\/single-types\/dist\/index\.cjs\): masquerading as ESM/);
    expect(badProblems).toMatch(/publint warning: .*exports\["\."\]\.types.*\.d\.cts/);
    expect(await lintTarball(good!.tarball)).toEqual([]);
  }, 60_000);
});

describe.skipIf(!built)('every package, packed once', () => {
  const dirs = packageDirs() as string[];
  let packed: Packed[] = [];
  beforeAll(() => {
    const dest = join(tmp, 'tarballs');
    mkdirSync(dest, { recursive: true });
    packed = packTarballs(dest) as Packed[];
  }, 60_000);
  const tarball = (dir: string): Packed => {
    const t = packed.find((p) => p.dir === dir);
    if (!t) throw new Error(`no tarball for ${dir}`);
    return t;
  };
  it('finds every package folder', () => {
    expect(dirs.map((d) => d.split('/').pop())).toContain('core');
    expect(dirs.length).toBeGreaterThanOrEqual(10);
  });
  for (const dir of dirs) {
    it(`packages/${dir.split('/').pop()} is publishable`, () => {
      const r = checkPackage(dir, tarball(dir).files) as PackReport;
      expect(r.problems, `${r.name}:\n${r.problems.join('\n')}`).toEqual([]);
    });
    it(`packages/${dir.split('/').pop()} passes publint and attw --profile node16`, async () => {
      expect(await lintTarball(tarball(dir).tarball)).toEqual([]);
    }, 60_000);
  }
});
