// ONNX's own backend-test cases (Debian's libonnx-testdata) through two paths on ORT CPU:
// the file as-is (--direct) and import → IR → lowerToOnnx → export → ORT. The IR must not lose a case
// that ORT passes on its own. Counts are printed; tools/conformance/run.mjs records them in the READMEs.
import { existsSync } from 'node:fs';
import { cliBackend, findCases, runConformanceCase, type CaseResult, type CliBackend } from '@leanformer/cli';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = '/usr/share/libonnx-testdata/data';
const DIRS = ['node', 'simple', 'pytorch-converted', 'pytorch-operator'] as const;
const present = existsSync(ROOT);

if (!present) console.warn(`conformance: skipped, ${ROOT} not found (Debian/Ubuntu: apt install libonnx-testdata)`);

describe.skipIf(!present)(`ONNX conformance, direct vs through the IR (${ROOT})`, () => {
  let backend: CliBackend;
  beforeAll(async () => { backend = await cliBackend('ort-cpu').create({ threads: 1 }); });

  for (const dir of DIRS) {
    it(`${dir}: every case that passes direct also passes through the IR`, async () => {
      const cases = findCases(`${ROOT}/${dir}`);
      expect(cases.length).toBeGreaterThan(0);
      const lost: string[] = [];
      let direct = 0, ir = 0;
      for (const c of cases) {
        const d: CaseResult = await runConformanceCase(c, backend, { direct: true });
        const r: CaseResult = await runConformanceCase(c, backend, { direct: false });
        if (d.status === 'passed') direct++;
        if (r.status === 'passed') ir++;
        if (d.status === 'passed' && r.status !== 'passed') lost.push(`${c.name}: ${r.status}: ${r.reason}`);
      }
      console.log(`conformance ${dir}: direct passed ${direct}, IR passed ${ir}, total ${cases.length}`);
      expect(lost).toEqual([]);
      // Guard against a vacuous pass (e.g. a broken data reader erroring every case on both paths).
      expect(direct).toBeGreaterThan(cases.length / 2);
    }, 300_000);
  }
});
