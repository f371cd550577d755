#!/usr/bin/env node
// Publishability checks for every packages/* package, on what `npm pack --dry-run` would ship
// (run after the build: exports point into dist/).
//   - package.json: name, version, license, description, files, engines.node, exports;
//   - each exports branch lists "types" first, and every target file ships and exists;
//   - bin targets ship;
//   - nothing of tests ships: *.test.* / *.spec.* (their source maps included), test/, fixtures/,
//     bench/ folders, *.tsbuildinfo;
//   - a README.md ships, with at least one fenced code example, and a LICENSE;
//   - every runtime package the sources import (onnxruntime-*, @tensorflow/*, webgpu), even as
//     types, is declared in dependencies or peerDependencies.
// Then, on the real tarballs (`npm pack` of every package, as npm would publish them):
//   - publint: no error or warning (e.g. a `require` condition whose types are ESM `.d.ts`);
//   - @arethetypeswrong/core under the CLI's `node16` profile (node16 from CJS, node16 from ESM,
//     bundler; node10 ignored): no problem at all, so no "Masquerading as ESM", no failed resolution.
// The exports layout both accept, and the one every package uses (tsup emits `.d.ts` + `.d.cts`):
//   "./x": { "import": { "types": "./dist/x.d.ts", "default": "./dist/x.js" },
//            "require": { "types": "./dist/x.d.cts", "default": "./dist/x.cjs" } }
//
//   node tools/pack-check/check.mjs [--json]      exit 1 when a package has a problem
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as attw from '@arethetypeswrong/core';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUNTIME_IMPORT = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]((?:onnxruntime-[a-z-]+)|(?:@tensorflow\/[a-z0-9-]+)|webgpu)['"]/g;
const TEST_FILE = [
  [/(^|\/)[^/]*\.(test|spec)\.[^/]*$/, 'a test file (or its source map)'],
  [/(^|\/)(test|tests|__tests__)\//, 'a test folder'],
  [/(^|\/)fixtures?\//, 'a fixture'],
  [/(^|\/)bench\//, 'a benchmark'],
  [/\.tsbuildinfo$/, 'a TypeScript build-info file'],
];

/** `npm pack --dry-run --json` of one package folder: the paths that would ship. */
export function packedFiles(dir) {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
  const json = JSON.parse(out.slice(out.indexOf('[')));
  return json[0].files.map((f) => f.path);
}

/** Every string target of an exports map, with the branch path for messages. */
function exportTargets(exp, where = 'exports') {
  if (typeof exp === 'string') return [[where, exp]];
  if (exp === null || typeof exp !== 'object') return [];
  return Object.entries(exp).flatMap(([k, v]) => exportTargets(v, `${where}['${k}']`));
}

/** Conditional branches (objects whose keys are conditions, not subpaths) whose first key is not "types". */
function typesNotFirst(exp, where = 'exports') {
  if (exp === null || typeof exp !== 'object') return [];
  const keys = Object.keys(exp);
  const conditional = keys.length > 0 && !keys[0].startsWith('.');
  const here = conditional && keys.includes('types') && keys[0] !== 'types' ? [`${where} lists "${keys[0]}" before "types"`] : [];
  // A JS target under import/require needs types beside it (nested `{ types, default }` branches
  // are checked one level down).
  const missing = conditional && !keys.includes('types') && keys.some((k) => (k === 'import' || k === 'require') && typeof exp[k] === 'string') ? [`${where} has no "types" condition`] : [];
  return [...here, ...missing, ...Object.entries(exp).flatMap(([k, v]) => typesNotFirst(v, `${where}['${k}']`))];
}

function sourceFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mts|js|mjs)$/.test(n) && !/\.(test|spec)\./.test(n)) out.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/**
 * Checks one package folder; returns `{ name, dir, files, problems }`. `files`: the paths its tarball
 * holds (from {@link packTarballs}); without them, `npm pack --dry-run` lists them.
 */
export function checkPackage(dir, packed) {
  const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const problems = [];
  for (const f of ['name', 'version', 'license', 'description']) if (typeof pj[f] !== 'string' || pj[f] === '') problems.push(`package.json has no "${f}"`);
  if (!Array.isArray(pj.files) || pj.files.length === 0) problems.push('package.json has no "files" list (npm would ship everything)');
  if (!pj.engines?.node) problems.push('package.json has no "engines.node"');
  if (!pj.exports || typeof pj.exports !== 'object') problems.push('package.json has no "exports" map');
  if (pj.private) problems.push('package.json is "private" (npm refuses to publish it)');
  let files = packed ?? [];
  try {
    if (!packed) files = packedFiles(dir);
  } catch (e) {
    problems.push(`npm pack --dry-run failed: ${String(e.stderr ?? e.message).trim().split('\n').pop()}`);
    return { name: pj.name, dir, files, problems };
  }
  const shipped = new Set(files);
  for (const [where, target] of exportTargets(pj.exports ?? {})) {
    const rel = target.replace(/^\.\//, '');
    if (!shipped.has(rel)) problems.push(`${where} → ${target} is not in the package${existsSync(join(dir, rel)) ? '' : ' (missing on disk: build first?)'}`);
  }
  problems.push(...typesNotFirst(pj.exports ?? {}));
  const bins = typeof pj.bin === 'string' ? { [pj.name]: pj.bin } : (pj.bin ?? {});
  for (const [cmd, target] of Object.entries(bins)) if (!shipped.has(String(target).replace(/^\.\//, ''))) problems.push(`bin '${cmd}' → ${target} is not in the package`);
  for (const f of files) {
    for (const [re, what] of TEST_FILE) if (re.test(f)) problems.push(`ships ${what}: ${f}`);
  }
  if (!shipped.has('README.md')) problems.push('ships no README.md');
  else if (!/```/.test(readFileSync(join(dir, 'README.md'), 'utf8'))) problems.push('README.md has no fenced code example');
  if (!shipped.has('LICENSE')) problems.push('ships no LICENSE');
  const declared = new Set([...Object.keys(pj.dependencies ?? {}), ...Object.keys(pj.peerDependencies ?? {})]);
  const imported = new Map();
  for (const f of sourceFiles(join(dir, 'src'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(RUNTIME_IMPORT)) if (!imported.has(m[1])) imported.set(m[1], f.slice(dir.length + 1));
  }
  for (const [mod, file] of imported) if (!declared.has(mod)) problems.push(`imports '${mod}' (${file}) but declares it in neither dependencies nor peerDependencies`);
  return { name: pj.name, dir, files, problems };
}

/** The packages/* folders that hold a package.json (absolute paths). */
export function packageDirs() {
  return readdirSync(join(ROOT, 'packages')).sort()
    .map((d) => join(ROOT, 'packages', d))
    .filter((d) => existsSync(join(d, 'package.json')));
}

/**
 * `npm pack` of the given package folders (default: every packages/* folder) into `dest`, in one
 * npm call; returns `[{ name, dir, tarball, files }]` (tarball: absolute path; files: the paths in
 * it), in the order given.
 */
export function packTarballs(dest, dirs = packageDirs()) {
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest, ...dirs], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
  const json = JSON.parse(out.slice(out.indexOf('[')));
  return json.map((p, i) => ({ name: p.name, dir: dirs[i], tarball: join(dest, p.filename), files: p.files.map((f) => f.path) }));
}

// attw's `node16` profile (as `attw --profile node16`): node10 resolution is not checked.
const ATTW_IGNORED_RESOLUTIONS = new Set(['node10']);

/** publint + arethetypeswrong over one packed tarball; returns the problems as readable lines. */
export async function lintTarball(tarball) {
  const bytes = readFileSync(tarball);
  const problems = [];
  const lint = await publint({ pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }, level: 'warning' });
  for (const m of lint.messages) problems.push(`publint ${m.type}: ${formatMessage(m, lint.pkg, { color: false }) ?? m.code}`);
  const analysis = await attw.checkPackage(attw.createPackageFromTarballData(new Uint8Array(bytes)));
  if (!analysis.types) problems.push('attw: the package ships no type declarations');
  else {
    for (const p of analysis.problems) {
      if ('resolutionKind' in p && ATTW_IGNORED_RESOLUTIONS.has(p.resolutionKind)) continue;
      // Entrypoint problems name the subpath and resolution; file problems (FalseESM, …) the files.
      const where = [p.entrypoint && `"${p.entrypoint}"`, p.resolutionKind, p.typesFileName, p.implementationFileName, p.fileName].filter(Boolean).join(', ');
      problems.push(`attw ${p.kind}${where ? ` (${where})` : ''}: ${ATTW_KIND[p.kind] ?? 'see https://github.com/arethetypeswrong/arethetypeswrong.github.io/tree/main/docs/problems'}`);
    }
  }
  return problems;
}

// What each attw problem kind means, in the words of attw's own CLI.
const ATTW_KIND = {
  NoResolution: 'resolution failed',
  UntypedResolution: 'resolved to JavaScript without types',
  FalseCJS: 'masquerading as CJS (ESM types for a CommonJS file)',
  FalseESM: 'masquerading as ESM (ESM types for a CommonJS file: use .d.cts under "require")',
  CJSResolvesToESM: 'a require() resolves to an ES module',
  FallbackCondition: 'resolved through a fallback condition',
  CJSOnlyExportsDefault: 'CommonJS module only exports default',
  NamedExports: 'named exports of the types are missing from the CommonJS module',
  FalseExportDefault: 'types say `export default` but the JavaScript does not',
  MissingExportEquals: 'types lack `export =`',
  UnexpectedModuleSyntax: 'the file syntax does not match its module kind',
  InternalResolutionError: 'an import inside the types does not resolve',
};

/** Packs every package once into a temp folder; checks each and lints its tarball. */
export async function checkAllPackages() {
  const dest = mkdtempSync(join(tmpdir(), 'lf-pack-'));
  try {
    const out = [];
    for (const t of packTarballs(dest)) {
      const r = checkPackage(t.dir, t.files);
      out.push({ ...r, problems: [...r.problems, ...(await lintTarball(t.tarball))] });
    }
    return out;
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const res = await checkAllPackages();
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(res.map(({ files, ...r }) => ({ ...r, fileCount: files.length })), null, 2)}\n`);
  else for (const r of res) process.stdout.write(`${r.problems.length ? 'FAIL' : 'ok  '} ${r.name} (${r.files.length} files)\n${r.problems.map((p) => `     ${p}\n`).join('')}`);
  process.exitCode = res.some((r) => r.problems.length) ? 1 : 0;
}
