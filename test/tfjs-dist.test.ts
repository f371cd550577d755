// One tfjs (issue 17, scope 7): runtime-tfjs/dist holds no tfjs-core code at all. Its gradients are its own
// (packages/runtime-tfjs/src/gradients), written against the public `@tensorflow/tfjs-core`, which stays an
// external import (the user's copy). Checked on the built files: no tfjs-core module among those esbuild
// took in (its `// <path>` module markers), tfjs-core imported; then, in a child process with nothing
// aliased, that loading the dist registers gradients into the user's tfjs-core and that they compute the
// right derivatives (float64 references below).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'packages/runtime-tfjs/dist');
const FILES = ['index.js', 'index.cjs', 'node.js', 'node.cjs'];
const built = FILES.every((f) => existsSync(join(dist, f)));
if (!built) console.warn('tfjs-dist: skipped, packages/runtime-tfjs/dist is not built; run `npx nx run-many -t build` first');

/** The tfjs-core modules (dist-relative paths) bundled into `code`, by esbuild's `// <path>` module markers. */
function tfjsModules(code: string): string[] {
  return [...code.matchAll(/^\/\/ (\S+)$/gm)].flatMap((m) => /@tensorflow\/tfjs-core\/dist\/(.+)$/.exec(m[1]!)?.[1] ?? []);
}

describe.skipIf(!built)('runtime-tfjs dist: no tfjs-core copy', () => {
  for (const f of FILES) {
    it(`${f} bundles no tfjs-core module and imports @tensorflow/tfjs-core`, () => {
      const code = readFileSync(join(dist, f), 'utf8');
      expect(tfjsModules(code), 'tfjs-core modules in dist').toEqual([]);
      expect(code).not.toContain('@tensorflow/tfjs-core/dist/');
      expect(code).toMatch(f.endsWith('.cjs') ? /require\("@tensorflow\/tfjs-core"\)/ : /from "@tensorflow\/tfjs-core"/);
    });
  }

  it('the marker scan sees a bundled tfjs-core module (the check can fail)', () => {
    const code = '// src/a.ts\nx();\n// ../../node_modules/@tensorflow/tfjs-core/dist/engine.js\nclass Engine {}\n// ../../node_modules/@tensorflow/tfjs-core/dist/gradients/Abs_grad.js\ny();\n';
    expect(tfjsModules(code)).toEqual(['engine.js', 'gradients/Abs_grad.js']);
  });

  const tmp = mkdtempSync(join(tmpdir(), 'lf-tfjs-dist-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  // Before loading runtime-tfjs the user's tfjs-core has no gradient for Multiply (its bundle carries
  // none); after useTfjsBackend it has ours, and tf.grad through the user's copy works: d/dx Σx² = 2x;
  // d/dx softmax(x)·e0 = p0 (e0 − p); d/dW Σ (x·W) = column sums of x broadcast over W's columns.
  const SCRIPT = String.raw`
const user = REQ('@tensorflow/tfjs-core');
const before = user.getGradient('Multiply') !== undefined;
LOAD().then(async (m) => {
  await m.useTfjsBackend('cpu');
  const tf = user;
  const sq = Array.from(await tf.grad((x) => tf.sum(tf.mul(x, x)))(tf.tensor1d([1, -2, 3])).data());
  const mm = Array.from(await tf.grad((w) => tf.sum(tf.matMul(tf.tensor2d([[1, 2], [3, -4]]), w)))(tf.ones([2, 3])).data());
  const sm = Array.from(await tf.grad((x) => tf.sum(tf.mul(tf.softmax(x), tf.tensor1d([1, 0, 0]))))(tf.tensor1d([0.5, -1, 2])).data());
  process.stdout.write(JSON.stringify({ before, after: user.getGradient('Multiply') !== undefined, sq, mm, sm }));
});
`;
  const softmax = [0.5, -1, 2].map(Math.exp);
  const p = softmax.map((e) => e / softmax.reduce((a, b) => a + b, 0));
  const smRef = p.map((pi, i) => p[0]! * ((i === 0 ? 1 : 0) - pi));
  const variants = {
    CommonJS: ['check.cjs', `const REQ = require('node:module').createRequire(${JSON.stringify(join(root, 'package.json'))});\nconst LOAD = async () => REQ(${JSON.stringify(join(dist, 'index.cjs'))});\n${SCRIPT}`],
    ESM: ['check.mjs', `import { createRequire } from 'node:module';\nconst REQ = createRequire(${JSON.stringify(join(root, 'package.json'))});\nconst LOAD = () => import(${JSON.stringify(join(dist, 'index.js'))});\n${SCRIPT}`],
  } as const;
  for (const [label, [file, code]] of Object.entries(variants)) {
    it(`loading dist (${label}) registers working gradients into the user's @tensorflow/tfjs-core`, () => {
      writeFileSync(join(tmp, file), code);
      const r = spawnSync(process.execPath, [join(tmp, file)], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      const res = JSON.parse(r.stdout) as { before: boolean; after: boolean; sq: number[]; mm: number[]; sm: number[] };
      expect(res.before).toBe(false);
      expect(res.after).toBe(true);
      expect(res.sq).toEqual([2, -4, 6]);
      expect(res.mm).toEqual([4, 4, 4, -2, -2, -2]);
      res.sm.forEach((v, i) => expect(Math.abs(v - smRef[i]!)).toBeLessThan(1e-6));
    }, 60_000);
  }
});
