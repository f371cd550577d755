// One tfjs (issue 17, scope 7): runtime-tfjs/dist holds no copy of tfjs-core's runtime. Only tfjs-core's
// gradient definitions are bundled (Node cannot import them from tfjs-core), rewired to import the
// public `@tensorflow/tfjs-core`, so they call the user's ops and register with the user's copy
// (packages/runtime-tfjs/tfjs-gradients.esbuild.mjs). Checked on the built files: which tfjs-core modules
// esbuild took in (its `// <path>` module markers), how many bytes they are, that tfjs-core stays an
// import; then, in a child process with nothing aliased, that loading the dist registers gradients into
// the user's tfjs-core and that they compute the right derivatives (float64 references below).
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

/** `[tfjs-core module path (dist-relative), bytes]` for every tfjs-core module bundled into `code`. */
function tfjsModules(code: string): [string, number][] {
  const marks = [...code.matchAll(/^\/\/ (\S+)$/gm)].map((m) => [m.index!, m[1]!] as const);
  return marks.flatMap(([at, path], i) => {
    const m = /@tensorflow\/tfjs-core\/dist\/(.+)$/.exec(path);
    return m ? [[m[1]!, (marks[i + 1]?.[0] ?? code.length) - at] as [string, number]] : [];
  });
}

// Gradient definitions (and their helper, gradients/min_max_grad_util.js), and the backprop ops they call that tfjs-core does not export (each an
// argument check and one ENGINE.runKernel), rewired like them.
const ALLOWED = /^(register_all_gradients\.js|gradients\/\w+\.js|ops\/\w+_(grad|backprop(_\w+)?)\.js)$/;
// The gradients are ~90 KB; a bundled tfjs-core runtime (engine, tensors, ops) was ~400 KB.
const MAX_TFJS_BYTES = 120_000;

describe.skipIf(!built)('runtime-tfjs dist: no tfjs-core copy', () => {
  for (const f of FILES) {
    it(`${f} bundles tfjs-core's gradient definitions only (${MAX_TFJS_BYTES / 1000} KB at most) and imports @tensorflow/tfjs-core`, () => {
      const code = readFileSync(join(dist, f), 'utf8');
      const mods = tfjsModules(code);
      expect(mods.map(([p]) => p).filter((p) => !ALLOWED.test(p)), 'tfjs-core runtime modules in dist').toEqual([]);
      expect(mods.some(([p]) => p === 'gradients/Multiply_grad.js'), 'the gradients are in').toBe(true);
      expect(mods.reduce((a, [, n]) => a + n, 0)).toBeLessThanOrEqual(MAX_TFJS_BYTES);
      expect(code).toMatch(f.endsWith('.cjs') ? /require\("@tensorflow\/tfjs-core"\)/ : /from "@tensorflow\/tfjs-core"/);
    });
  }

  it('the marker scan sees a bundled tfjs-core runtime (the check can fail)', () => {
    const code = '// src/a.ts\nx();\n// ../../node_modules/@tensorflow/tfjs-core/dist/engine.js\nclass Engine {}\n// ../../node_modules/@tensorflow/tfjs-core/dist/gradients/Abs_grad.js\ny();\n';
    expect(tfjsModules(code).map(([p]) => p).filter((p) => !ALLOWED.test(p))).toEqual(['engine.js']);
  });

  const tmp = mkdtempSync(join(tmpdir(), 'lf-tfjs-dist-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  // Before loading runtime-tfjs the user's tfjs-core has no gradient for Multiply (its bundle carries
  // none); after, it has, and tf.grad through the user's copy works: d/dx Σx² = 2x; d/dx Σ avgPool2x2(x)
  // = 1/4 (the AvgPoolGrad kernel, through a rewired backprop op); d/dx softmax(x)·e0 = p0 (e0 − p).
  const SCRIPT = String.raw`
const user = REQ('@tensorflow/tfjs-core');
const before = user.getGradient('Multiply') !== undefined;
LOAD().then(async (m) => {
  await m.useTfjsBackend('cpu');
  const tf = user;
  const sq = Array.from(await tf.grad((x) => tf.sum(tf.mul(x, x)))(tf.tensor1d([1, -2, 3])).data());
  const pool = Array.from(await tf.grad((x) => tf.sum(tf.avgPool(x, 2, 2, 'valid')))(tf.ones([1, 4, 4, 1])).data());
  const sm = Array.from(await tf.grad((x) => tf.sum(tf.mul(tf.softmax(x), tf.tensor1d([1, 0, 0]))))(tf.tensor1d([0.5, -1, 2])).data());
  process.stdout.write(JSON.stringify({ before, after: user.getGradient('Multiply') !== undefined, sq, pool, sm }));
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
      const res = JSON.parse(r.stdout) as { before: boolean; after: boolean; sq: number[]; pool: number[]; sm: number[] };
      expect(res.before).toBe(false);
      expect(res.after).toBe(true);
      expect(res.sq).toEqual([2, -4, 6]);
      expect(res.pool).toEqual(new Array(16).fill(0.25));
      res.sm.forEach((v, i) => expect(Math.abs(v - smRef[i]!)).toBeLessThan(1e-6));
    }, 60_000);
  }
});
