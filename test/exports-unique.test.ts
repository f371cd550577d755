// One meaning per exported name: a name exported by the main entries of two packages must be the
// very same thing re-exported (the same declaration for types; the same object at runtime), never
// two things that happen to share a name.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const packages = readdirSync(join(root, 'packages')).filter((p) => existsSync(join(root, 'packages', p, 'package.json'))).sort();

/** A name exported by several entries that resolves to different declarations: `where` lists `entry: file` per entry. */
interface Clash { name: string; where: string[] }

/**
 * Names exported by more than one of `entries` (entry label → index file) that resolve, through
 * re-exports and aliases, to different declarations. Types and values alike.
 */
function clashingExports(entries: Record<string, string>, options: ts.CompilerOptions, base: string): Clash[] {
  const program = ts.createProgram(Object.values(entries), { ...options, noEmit: true });
  const checker = program.getTypeChecker();
  const byName = new Map<string, { entry: string; target: ts.Symbol }[]>();
  for (const [entry, file] of Object.entries(entries)) {
    const sf = program.getSourceFile(file);
    const mod = sf && checker.getSymbolAtLocation(sf);
    if (!mod) throw new Error(`exports-unique: cannot read the module ${file}`);
    for (const sym of checker.getExportsOfModule(mod)) {
      const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
      const list = byName.get(sym.name) ?? [];
      list.push({ entry, target });
      byName.set(sym.name, list);
    }
  }
  const clashes: Clash[] = [];
  for (const [name, list] of byName) {
    if (list.length < 2 || new Set(list.map((x) => x.target)).size === 1) continue;
    clashes.push({ name, where: list.map((x) => `${x.entry}: ${relative(base, x.target.declarations?.[0]?.getSourceFile().fileName ?? '?')}`) });
  }
  return clashes;
}

const tmp = mkdtempSync(join(tmpdir(), 'lf-exports-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('clashing-export checker', () => {
  it('flags a name two entries declare separately, passes one re-exported (the check can fail)', () => {
    const file = (path: string, text: string) => { mkdirSync(join(tmp, path, '..'), { recursive: true }); writeFileSync(join(tmp, path), text); };
    file('a/index.ts', '/** A. */ export function rng() { return 1; }\n/** Shared. */ export const shared = 1;\n/** A type. */ export interface Shape { x: number }\n');
    file('b/index.ts', "/** B's own. */ export function rng() { return 2; }\nexport { shared } from '../a/index.js';\n/** Same shape, second declaration. */ export interface Shape { x: number }\n");
    const clashes = clashingExports({ a: join(tmp, 'a/index.ts'), b: join(tmp, 'b/index.ts') }, { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, target: ts.ScriptTarget.ES2022, noLib: true, types: [] }, tmp);
    expect(clashes.map((c) => c.name).sort()).toEqual(['Shape', 'rng']);
    expect(clashes.find((c) => c.name === 'rng')!.where).toEqual(['a: a/index.ts', 'b: b/index.ts']);
  });
});

describe('package main entries', () => {
  it('export no name with two meanings (types included)', () => {
    const config = ts.parseJsonConfigFileContent(ts.readConfigFile(join(root, 'tsconfig.base.json'), ts.sys.readFile).config, ts.sys, root);
    const entries = Object.fromEntries(packages.map((p) => [`@leanformer/${p}`, join(root, 'packages', p, 'src/index.ts')]));
    const clashes = clashingExports(entries, config.options, root);
    expect(clashes.map((c) => `${c.name} (${c.where.join('; ')})`)).toEqual([]);
  });

  it('share runtime values only as the same object', async () => {
    const mods = await Promise.all(packages.map(async (p) => [p, await import(`@leanformer/${p}`)] as const));
    expect(runtimeClashes(mods)).toEqual([]);
    // The check can fail: two modules exporting one name with two values are reported, a re-export is not.
    const shared = () => 1;
    expect(runtimeClashes([['a', { f: shared, g: () => 2 }], ['b', { f: shared, g: () => 3 }]])).toEqual(['g (a, b)']);
  });
});

/** Names two modules export with different runtime values (`Object.is`), as `name (first, other)`. */
function runtimeClashes(mods: readonly (readonly [string, unknown])[]): string[] {
  const first = new Map<string, { pkg: string; value: unknown }>();
  const different: string[] = [];
  for (const [pkg, mod] of mods) {
    for (const [name, value] of Object.entries(mod as Record<string, unknown>)) {
      const seen = first.get(name);
      if (!seen) first.set(name, { pkg, value });
      else if (!Object.is(seen.value, value)) different.push(`${name} (${seen.pkg}, ${pkg})`);
    }
  }
  return different;
}
