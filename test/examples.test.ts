// Every example runs as a user runs it (`node examples/<name>/main.mjs` on the built packages)
// and exits 0 within a minute. 'browser' and 'demo' have their own tests. Needs a build first;
// the root `npm test` builds before testing.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM tool script without type declarations
import { examplePath, listExamples } from '../tools/examples/run.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(join(root, 'packages/core/dist/index.js'));
if (!built) console.warn('examples: skipped, packages are not built; run `npx nx run-many -t build` first');
const OWN_TESTS = new Set(['browser', 'demo']);
const LIMIT_MS = 60_000;

function run(script: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => { stdout += String(b); });
    child.stderr.on('data', (b) => { stderr += String(b); });
    const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.on('error', reject);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, ms: performance.now() - t0 }); });
  });
}

describe('example runner', () => {
  it('lists the examples and refuses an unknown name', () => {
    const names = listExamples() as string[];
    expect(names).toContain('build-model');
    expect(names).toContain('inspect-onnx');
    expect(() => examplePath('no-such-example')).toThrow(/no example 'no-such-example'; examples: .*build-model/);
  });
});

describe.skipIf(!built)('examples', () => {
  for (const name of (listExamples() as string[]).filter((n) => !OWN_TESTS.has(n))) {
    it(`${name} runs and exits 0 in under a minute`, async () => {
      const r = await run(examplePath(name) as string);
      expect(r.code, `${name} exited ${r.code}:\n${r.stderr.slice(-3000)}`).toBe(0);
      expect(r.stdout.trim().length).toBeGreaterThan(0);
      expect(r.ms).toBeLessThan(LIMIT_MS);
    }, LIMIT_MS + 10_000);
  }
});
