// API docs gate: every public export of every package entry (from the exports maps) has a doc
// comment. Runs the TypeScript-API checker, not the TypeDoc HTML build (`npm run docs`), to stay fast.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM tool script without type declarations
import { checkUndocumented } from '../tools/docs/check-undocumented.mjs';
// @ts-expect-error: plain ESM tool script without type declarations
import { packageEntries } from '../tools/docs/entries.mjs';

interface Item { name: string; kind: string; where: string }
interface EntryReport { pkg: string; subpath: string; file: string; exports: number; undocumented: Item[]; missingExample: Item[] }

const tmp = mkdtempSync(join(tmpdir(), 'lf-docs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('undocumented-export checker', () => {
  it('flags exactly the exports without a doc comment, through re-exports (the check can fail)', () => {
    writeFileSync(join(tmp, 'lib.ts'), [
      '/** Adds. @example add(1, 2) */ export function add(a: number, b: number) { return a + b; }',
      'export function bare() {}',
      '// a line comment is not a doc comment',
      'export const lineCommented = 1;',
      '/** Documented constant. */ export const documented = 2;',
      'export interface Naked { x: number }',
      '/** A class without an example. */ export class NoExample {}',
    ].join('\n'));
    writeFileSync(join(tmp, 'index.ts'), "export * from './lib.js';\nexport { add as plus } from './lib.js';\n");
    writeFileSync(join(tmp, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'ESNext', moduleResolution: 'Bundler', target: 'ES2022', strict: true } }));
    const [r] = checkUndocumented({ entries: [{ pkg: 'fixture', subpath: '.', specifier: 'fixture', file: 'index.ts' }], root: tmp, tsconfig: join(tmp, 'tsconfig.json') }) as EntryReport[];
    expect(r!.undocumented.map((u) => u.name).sort()).toEqual(['Naked', 'bare', 'lineCommented']);
    expect(r!.missingExample.map((u) => u.name)).toEqual(['NoExample']);
    expect(r!.exports).toBe(7);
  });

  it('covers every exports entry of every package', () => {
    const subpaths = (packageEntries() as { specifier: string }[]).map((e) => e.specifier);
    for (const s of ['@leanformer/core', '@leanformer/onnx/node', '@leanformer/quant/cli', '@leanformer/runtime-ort/web']) expect(subpaths).toContain(s);
  });
});

describe('public API docs', () => {
  it('has a doc comment on every public export', () => {
    const res = checkUndocumented() as EntryReport[];
    const missing = res.filter((r) => r.undocumented.length).map((r) => `${r.pkg}${r.subpath === '.' ? '' : r.subpath.slice(1)}: ${r.undocumented.map((u) => `${u.name} (${u.kind}, ${u.where})`).join(', ')}`);
    expect(missing, `undocumented exports:\n${missing.join('\n')}`).toEqual([]);
  }, 120_000);
});
