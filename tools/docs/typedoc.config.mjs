// TypeDoc over every package's public entries (from the exports maps), written to docs/api.
// Run from the repository root: `npx typedoc --options tools/docs/typedoc.config.mjs`.
import { join } from 'node:path';
import { packageEntries, ROOT } from './entries.mjs';

/** @type {Partial<import('typedoc').TypeDocOptions>} */
const config = {
  name: 'leanformer',
  entryPointStrategy: 'resolve',
  entryPoints: packageEntries().map((e) => join(ROOT, e.file)),
  tsconfig: join(ROOT, 'tools/docs/tsconfig.json'),
  out: join(ROOT, 'docs/api'),
  readme: join(ROOT, 'README.md'),
  excludePrivate: true,
  excludeInternal: true,
  // The undocumented-export check (tools/docs/check-undocumented.mjs) is the gate; TypeDoc's own
  // warnings (e.g. links it cannot resolve) are reported, not fatal.
  validation: { notExported: false, invalidLink: true, notDocumented: false },
  skipErrorChecking: true,
  // The repository has no public remote yet, so source links would point nowhere.
  disableSources: true,
};
export default config;
