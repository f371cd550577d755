#!/usr/bin/env node
// Thin launcher: the CLI lives in dist (built by `npm ci` through the root `prepare` script).
import('../dist/index.js')
  .then((m) => m.main(process.argv.slice(2)))
  .then((code) => { process.exitCode = code ?? 0; })
  .catch((e) => {
    if (e && e.code === 'ERR_MODULE_NOT_FOUND') console.error('leanformer: the CLI is not built; run `npm run build` in the repository root');
    else console.error(e && e.stack ? e.stack : e);
    process.exitCode = 1;
  });
