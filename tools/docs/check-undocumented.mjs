#!/usr/bin/env node
// Lists every public export (each package entry from its exports map) that has no doc comment,
// with the TypeScript compiler API: an export is documented when the declaration it resolves to
// carries a /** … */ comment with text or tags. Functions and classes without an @example are
// listed apart (reported, not fatal).
//
//   node tools/docs/check-undocumented.mjs [--json]     exit 1 when any export is undocumented
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { packageEntries, ROOT } from './entries.mjs';

/** The kind of a symbol, for the report. */
function kindOf(s) {
  const F = ts.SymbolFlags;
  if (s.flags & F.Class) return 'class';
  if (s.flags & F.Function) return 'function';
  if (s.flags & F.Interface) return 'interface';
  if (s.flags & F.TypeAlias) return 'type';
  if (s.flags & F.Enum) return 'enum';
  if (s.flags & F.Variable) return 'const';
  if (s.flags & (F.ValueModule | F.NamespaceModule)) return 'namespace';
  return 'other';
}

/** JSDoc blocks and tags on a declaration (a variable's sit on its statement). */
function jsDocOf(decl) {
  return ts.getJSDocCommentsAndTags(decl);
}

function hasDoc(s, checker) {
  if (s.getDocumentationComment(checker).some((p) => p.text.trim() !== '')) return true;
  return (s.declarations ?? []).some((d) => jsDocOf(d).some((j) => (ts.isJSDoc(j) ? (j.comment ?? '') !== '' || (j.tags?.length ?? 0) > 0 : true)));
}

function hasExample(s) {
  return (s.declarations ?? []).some((d) => ts.getJSDocTags(d).some((t) => t.tagName.text === 'example'));
}

/**
 * Checks every package entry (or the given `entries`, files relative to `root`). Returns one
 * record per entry:
 * `{ pkg, subpath, file, exports, undocumented: [{ name, kind, where }], missingExample: [...] }`.
 */
export function checkUndocumented({ entries = packageEntries(), root = ROOT, tsconfig = `${ROOT}tools/docs/tsconfig.json` } = {}) {
  const cfg = ts.readConfigFile(tsconfig, ts.sys.readFile);
  if (cfg.error) throw new Error(ts.flattenDiagnosticMessageText(cfg.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(cfg.config, ts.sys, dirname(tsconfig));
  const program = ts.createProgram({ rootNames: entries.map((e) => join(root, e.file)), options: { ...parsed.options, noEmit: true } });
  const checker = program.getTypeChecker();
  const out = [];
  for (const e of entries) {
    const sf = program.getSourceFile(join(root, e.file));
    if (!sf) throw new Error(`cannot read ${e.file}`);
    const mod = checker.getSymbolAtLocation(sf);
    const exported = mod ? checker.getExportsOfModule(mod) : [];
    const undocumented = [];
    const missingExample = [];
    for (const ex of exported) {
      const s = ex.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(ex) : ex;
      const decl = s.declarations?.[0];
      const where = decl ? `${relative(root, decl.getSourceFile().fileName)}:${decl.getSourceFile().getLineAndCharacterOfPosition(decl.getStart()).line + 1}` : '?';
      const item = { name: ex.name, kind: kindOf(s), where };
      if (!hasDoc(s, checker)) undocumented.push(item);
      else if ((item.kind === 'function' || item.kind === 'class') && !hasExample(s)) missingExample.push(item);
    }
    out.push({ pkg: e.pkg, subpath: e.subpath, file: e.file, exports: exported.length, undocumented, missingExample });
  }
  return out;
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const res = checkUndocumented();
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
  else {
    for (const r of res) {
      process.stdout.write(`${r.pkg}${r.subpath === '.' ? '' : r.subpath.slice(1)}: ${r.exports} exports, ${r.undocumented.length} undocumented, ${r.missingExample.length} functions/classes without @example\n`);
      for (const u of r.undocumented) process.stdout.write(`  undocumented ${u.kind} ${u.name} (${u.where})\n`);
    }
  }
  const total = res.reduce((n, r) => n + r.undocumented.length, 0);
  if (total) process.stderr.write(`${total} undocumented public exports\n`);
  process.exitCode = total ? 1 : 0;
}
