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
//
//   node tools/pack-check/check.mjs [--json]      exit 1 when a package has a problem
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  const missing = conditional && !keys.includes('types') && keys.some((k) => k === 'import' || k === 'require') ? [`${where} has no "types" condition`] : [];
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

/** Checks one package folder; returns `{ name, dir, files, problems }`. */
export function checkPackage(dir) {
  const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const problems = [];
  for (const f of ['name', 'version', 'license', 'description']) if (typeof pj[f] !== 'string' || pj[f] === '') problems.push(`package.json has no "${f}"`);
  if (!Array.isArray(pj.files) || pj.files.length === 0) problems.push('package.json has no "files" list (npm would ship everything)');
  if (!pj.engines?.node) problems.push('package.json has no "engines.node"');
  if (!pj.exports || typeof pj.exports !== 'object') problems.push('package.json has no "exports" map');
  if (pj.private) problems.push('package.json is "private" (npm refuses to publish it)');
  let files = [];
  try {
    files = packedFiles(dir);
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

/** Checks every packages/* folder. */
export function checkAllPackages() {
  return packageDirs().map(checkPackage);
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const res = checkAllPackages();
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(res.map(({ files, ...r }) => ({ ...r, fileCount: files.length })), null, 2)}\n`);
  else for (const r of res) process.stdout.write(`${r.problems.length ? 'FAIL' : 'ok  '} ${r.name} (${r.files.length} files)\n${r.problems.map((p) => `     ${p}\n`).join('')}`);
  process.exitCode = res.some((r) => r.problems.length) ? 1 : 0;
}
