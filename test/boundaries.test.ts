// Package boundaries: every package's shipped code (src/ outside tests, bench/) imports only what its
// package.json declares, and it declares no runtime dependency it never imports; no package reaches
// into another one's files: a `@leanformer/x/sub` import must be one of x's `exports`, and relative
// imports stay inside the package. Tests never ship: they may also use any workspace package (through
// its entries) and the root devDependencies.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
interface Manifest { name: string; exports?: Record<string, unknown>; dependencies?: Record<string, string>; peerDependencies?: Record<string, string>; devDependencies?: Record<string, string> }
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Manifest;
const rootManifest = readJson(join(root, 'package.json'));
const packages = readdirSync(join(root, 'packages')).filter((p) => existsSync(join(root, 'packages', p, 'package.json')));
const manifests = new Map(packages.map((p) => [p, readJson(join(root, 'packages', p, 'package.json'))] as const));
const byName = new Map([...manifests.values()].map((m) => [m.name, m] as const));

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mts|mjs|js)$/.test(f) ? [p] : [];
  });
}

/**
 * Module specifiers of static imports, re-exports, dynamic imports with a literal and require calls
 * (comments stripped), plus `'@leanformer/…'` string literals: modules named as data and loaded by a
 * computed import (the CLI's extension and bench tables).
 */
export function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
  const out: string[] = [];
  for (const re of [/^\s*(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/gm, /^\s*import\s*['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g, /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g, /['"](@leanformer\/[a-z-]+(?:\/[a-z-]+)?)['"]/g]) {
    for (const m of code.matchAll(re)) out.push(m[1]!);
  }
  return [...new Set(out)];
}

const packageOf = (spec: string): string => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
const isBuiltin = (spec: string): boolean => spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!);
const isTest = (file: string): boolean => /\.test\.ts$/.test(file) || file.includes(`${sep}test${sep}`);

interface Problem { file: string; spec: string; why: string }

/** The boundary problems of one package (exported for the test that proves the check can fail). */
export function checkPackage(dir: string, manifest: Manifest, others: ReadonlyMap<string, Manifest>): { problems: Problem[]; imported: Set<string> } {
  const problems: Problem[] = [];
  const imported = new Set<string>();
  const runtime = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {}), manifest.name]);
  const forTests = new Set([...runtime, ...others.keys(), ...Object.keys(manifest.devDependencies ?? {}), ...Object.keys(rootManifest.devDependencies ?? {}), 'vitest']);
  for (const file of [...files(join(dir, 'src')), ...files(join(dir, 'bench')), ...files(join(dir, 'test'))]) {
    const rel = relative(root, file);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) {
        if (!resolve(dirname(file), spec).startsWith(dir + sep)) problems.push({ file: rel, spec, why: 'relative import leaves the package' });
        continue;
      }
      if (isBuiltin(spec)) continue;
      const pkg = packageOf(spec);
      const allowed = isTest(file) ? forTests : runtime;
      if (!allowed.has(pkg)) problems.push({ file: rel, spec, why: `'${pkg}' is not declared in ${relative(root, dir)}/package.json` });
      if (!isTest(file)) imported.add(pkg);
      const target = others.get(pkg);
      if (target) {
        const sub = `.${spec.slice(pkg.length)}` || '.';
        const key = sub === '.' ? '.' : sub;
        if (!Object.keys(target.exports ?? { '.': '' }).includes(key)) problems.push({ file: rel, spec, why: `'${key}' is not an entry of ${pkg}'s exports` });
      }
    }
  }
  // A dependency that is never imported may still supply an optional peer of an imported package
  // (the CLI depends on onnxruntime-node so that installing it installs runtime-ort's runtime).
  const suppliedPeers = new Set([...imported].flatMap((d) => Object.keys(others.get(d)?.peerDependencies ?? {})));
  for (const dep of Object.keys(manifest.dependencies ?? {})) {
    if (!imported.has(dep) && !suppliedPeers.has(dep)) problems.push({ file: `${relative(root, dir)}/package.json`, spec: dep, why: 'declared as a dependency but never imported outside tests' });
  }
  return { problems, imported };
}

describe('package boundaries', () => {
  it('finds imports in every form and catches undeclared, deep and escaping imports (the check can fail)', () => {
    expect(specifiers(`import a from 'x';\nimport { b } from "@s/y/sub";\nexport * from './z.js';\nimport 'side';\nconst c = await import('dyn');\nconst d = require('req');\n// import e from 'commented';\n/* import f from 'block'; */\nconst table = { q: '@leanformer/quant/bench' }; const s = 'onnx-import', t = 'x';`))
      .toEqual(['x', '@s/y/sub', './z.js', 'side', 'dyn', 'req', '@leanformer/quant/bench']);
    const dir = join(root, 'packages', 'core');
    const fake: Manifest = { name: '@leanformer/core', dependencies: { 'left-pad': '1' } };
    const { problems } = checkPackage(dir, fake, byName);
    expect(problems.some((p) => p.spec === 'left-pad' && /never imported/.test(p.why))).toBe(true);
    const other = new Map(byName);
    other.set('@leanformer/core', { ...byName.get('@leanformer/core')!, exports: {} });
    // quant imports core's main entry: with core exporting nothing, that import is flagged.
    expect(checkPackage(join(root, 'packages', 'quant'), manifests.get('quant')!, other).problems.some((p) => p.spec === '@leanformer/core')).toBe(true);
  });

  for (const p of packages) {
    it(`${p}: imports only what it declares, through entries that exist`, () => {
      const { problems } = checkPackage(join(root, 'packages', p), manifests.get(p)!, byName);
      expect(problems.map((x) => `${x.file}: ${x.spec} — ${x.why}`)).toEqual([]);
    });
  }
});
