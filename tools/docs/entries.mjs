// The public entries of every package, read from each package.json "exports": an export
// `./x` whose import types are `./dist/x.d.ts` (`{ import: { types, default }, require: { types,
// default } }`, the dual layout tools/pack-check enforces) is built from `src/x.ts` (tsup's one-entry-per-file
// layout), or from `x/index.ts` for an entry kept outside src/ (the `./bench` suites), so the docs
// and the undocumented-export check follow the exports map by themselves.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Lists `{ pkg, subpath, specifier, file }` for every package entry (file relative to ROOT).
 * Throws when an exports target has no matching source file (the map and the sources disagree).
 */
export function packageEntries() {
  const out = [];
  for (const dir of readdirSync(join(ROOT, 'packages')).sort()) {
    const pj = join(ROOT, 'packages', dir, 'package.json');
    if (!existsSync(pj)) continue;
    const { name, exports } = JSON.parse(readFileSync(pj, 'utf8'));
    for (const [subpath, target] of Object.entries(exports ?? {})) {
      if (typeof target === 'string') continue; // ./package.json
      const types = target?.import?.types;
      if (typeof types !== 'string') throw new Error(`${name}: exports['${subpath}'] has no import.types; use { import: { types: './dist/x.d.ts', default: './dist/x.js' }, require: { types: './dist/x.d.cts', default: './dist/x.cjs' } }`);
      const m = /^\.\/dist\/(.+)\.d\.ts$/.exec(types);
      if (!m) throw new Error(`${name}: exports['${subpath}'].import.types is '${types}', expected ./dist/<entry>.d.ts`);
      const file = [`packages/${dir}/src/${m[1]}.ts`, `packages/${dir}/${m[1]}/index.ts`].find((f) => existsSync(join(ROOT, f)));
      if (!file) throw new Error(`${name}: exports['${subpath}'] has no source file packages/${dir}/src/${m[1]}.ts (or ${m[1]}/index.ts)`);
      out.push({ pkg: name, subpath, specifier: subpath === '.' ? name : `${name}/${subpath.slice(2)}`, file });
    }
  }
  return out;
}
