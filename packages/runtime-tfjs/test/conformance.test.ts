// ONNX node conformance on tfjs-cpu: every libonnx-testdata node case whose ops all have tfjs
// kernels must pass at a rate of at least 90%, compared with ONNX's own expected outputs.
import { existsSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeModel, decodeTensor } from '@leanformer/onnx';
import { runTfjsConformance } from '../src/node.js';

const DIR = '/usr/share/libonnx-testdata/data/node';
if (!existsSync(DIR)) console.warn(`tfjs conformance: skipped, ${DIR} is missing (Debian/Ubuntu: apt install libonnx-testdata; .ci/run installs it)`);

describe.skipIf(!existsSync(DIR))('libonnx-testdata node cases on tfjs-cpu', () => {
  it('pass at >= 90% among cases whose ops are all supported', { timeout: 180_000 }, async () => {
    const s = await runTfjsConformance(DIR, { decodeModel: (b) => decodeModel(b), decodeTensor: (b) => decodeTensor(b).tensor, backend: 'cpu' });
    const failed = s.results.filter((r) => r.status === 'fail').map((r) => `${r.name}: ${r.reason?.slice(0, 160)}`);
    const summary = { total: s.total, supported: s.supported, passed: s.passed, failed: s.failed, passRate: s.passRate, unsupportedOps: s.unsupportedOps };
    console.log(JSON.stringify(summary));
    console.log(failed.join('\n'));
    if (process.env.LF_CONFORMANCE_OUT) writeFileSync(process.env.LF_CONFORMANCE_OUT, JSON.stringify({ ...summary, failedCases: failed }, null, 2));
    expect(s.supported).toBeGreaterThan(400);
    expect(s.passRate).toBeGreaterThanOrEqual(0.9);
  });
});
