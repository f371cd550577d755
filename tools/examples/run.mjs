#!/usr/bin/env node
// Runs one example (examples/<name>/main.mjs) after the build, or lists them.
//
//   node tools/examples/run.mjs <name> [args…]     run one (exit code passes through)
//   node tools/examples/run.mjs --list             list the runnable examples
// The root package.json maps `npm run example:<name>` to `nx run-many -t build … && node tools/examples/run.mjs <name>`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Names of the examples that have an examples/<name>/main.mjs. */
export function listExamples() {
  const dir = join(ROOT, 'examples');
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'main.mjs')))
    .map((d) => d.name)
    .sort();
}

/** The script path of example `name`; throws with the list of examples when there is none. */
export function examplePath(name) {
  const names = listExamples();
  if (!names.includes(name)) throw new Error(`no example '${name}'; examples: ${names.join(', ')}`);
  return join(ROOT, 'examples', name, 'main.mjs');
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || name === '--list') {
    process.stdout.write(`${listExamples().join('\n')}\n`);
  } else {
    let script;
    try { script = examplePath(name); } catch (e) { process.stderr.write(`${e.message}\n`); process.exit(2); }
    const r = spawnSync(process.execPath, [script, ...rest], { stdio: 'inherit', cwd: ROOT });
    process.exitCode = r.status ?? 1;
  }
}
