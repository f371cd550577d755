import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * The built CommonJS entry of `@leanformer/vision/cli` (dist/cli.cjs): import.meta is empty in
 * CJS, so resolving the fixtures folder (which the vision bench reads) from `import.meta.url` threw
 * `Invalid URL` there before the build shimmed it. Needs `npx nx run vision:build`; skipped (with a
 * warning) without a build.
 */
const pkg = fileURLToPath(new URL('..', import.meta.url));
const cjs = join(pkg, 'dist/cli.cjs');
const built = existsSync(cjs);
if (!built) console.warn('vision CJS entry: skipped, packages/vision/dist is missing; run `npx nx run vision:build` first');

describe.skipIf(!built)('@leanformer/vision/cli as CommonJS', () => {
  const load = () => createRequire(import.meta.url)(cjs) as typeof import('../src/cli.js');

  it('resolves the fixtures folder beside dist/', () => {
    const dir = load().visionFixturesDir();
    expect(resolve(dir)).toBe(resolve(pkg, 'fixtures'));
    expect(existsSync(join(dir, 'efficientvit_m0.safetensors'))).toBe(true);
  });

});
