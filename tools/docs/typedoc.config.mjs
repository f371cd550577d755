// TypeDoc over every package's public entries, one module per package (named after it), written
// to docs/api. Run from the repository root: `npx typedoc --options tools/docs/typedoc.config.mjs`.
// The entry files come from the exports maps (entries.mjs): a package's `./node` export is its
// src/node.ts, and so on.
import { join } from 'node:path';
import { packageEntries, ROOT } from './entries.mjs';

const names = [...new Set(packageEntries().filter((e) => /\/src\//.test(e.file)).map((e) => e.file.replace(/^packages\/[^/]+\/src\/|\.ts$/g, '')))].sort();

/** @type {Partial<import('typedoc').TypeDocOptions>} */
const config = {
  name: 'leanformer',
  entryPointStrategy: 'packages',
  entryPoints: [join(ROOT, 'packages/*')],
  packageOptions: {
    // Each package documents whichever of its entry files exist (an extglob: TypeDoc warns on a
    // pattern that matches nothing, so one pattern per package, not one per entry name).
    entryPoints: [`src/@(${names.join('|')}).ts`, 'bench/index.ts'],
    skipErrorChecking: true,
    disableSources: true,
    excludePrivate: true,
    excludeInternal: true,
  },
  out: join(ROOT, 'docs/api'),
  readme: join(ROOT, 'README.md'),
  // The undocumented-export check (tools/docs/check-undocumented.mjs) is the gate; TypeDoc's own
  // warnings (e.g. links it cannot resolve) are reported, not fatal.
  validation: { notExported: true, invalidLink: true, notDocumented: false },
  skipErrorChecking: true,
  // The repository has no public remote yet, so source links would point nowhere.
  disableSources: true,
};
export default config;
