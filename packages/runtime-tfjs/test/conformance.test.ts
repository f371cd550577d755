// ONNX node conformance on tfjs-cpu: every libonnx-testdata node case whose ops all have tfjs
// kernels must pass at a rate of at least 90%, compared with ONNX's own expected outputs.
import { existsSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Graph, Tensor } from '@leanformer/core';
import { runTfjsConformance } from '../src/node.js';
import { readModel, readTensor } from './onnx-reader.js';

const DIR = '/usr/share/libonnx-testdata/data/node';

/** @leanformer/onnx's decoders when they are there; the test-only reader otherwise. */
async function decoders(): Promise<{ decodeModel: (b: Uint8Array) => Graph; decodeTensor: (b: Uint8Array) => Tensor; source: string }> {
  try {
    const onnx = (await import('@leanformer/onnx')) as Record<string, unknown>;
    if (typeof onnx.decodeModel === 'function' && typeof onnx.decodeTensor === 'function') {
      const dm = onnx.decodeModel as (b: Uint8Array) => Graph | { graph: Graph };
      const dt = onnx.decodeTensor as (b: Uint8Array) => Tensor | { tensor: Tensor };
      return {
        decodeModel: (b) => { const r = dm(b); return 'graph' in r && !(r as Graph).nodes ? (r as { graph: Graph }).graph : (r as Graph); },
        decodeTensor: (b) => { const r = dt(b); return 'tensor' in r ? (r as { tensor: Tensor }).tensor : (r as Tensor); },
        source: '@leanformer/onnx',
      };
    }
  } catch { /* fall through */ }
  return { decodeModel: readModel, decodeTensor: (b) => readTensor(b).tensor, source: 'test reader' };
}

describe.skipIf(!existsSync(DIR))('libonnx-testdata node cases on tfjs-cpu', () => {
  it('pass at >= 90% among cases whose ops are all supported', { timeout: 180_000 }, async () => {
    const d = await decoders();
    const s = await runTfjsConformance(DIR, { ...d, backend: 'cpu' });
    const failed = s.results.filter((r) => r.status === 'fail').map((r) => `${r.name}: ${r.reason?.slice(0, 160)}`);
    const summary = { decoder: d.source, total: s.total, supported: s.supported, passed: s.passed, failed: s.failed, passRate: s.passRate, unsupportedOps: s.unsupportedOps };
    console.log(JSON.stringify(summary));
    console.log(failed.join('\n'));
    if (process.env.LF_CONFORMANCE_OUT) writeFileSync(process.env.LF_CONFORMANCE_OUT, JSON.stringify({ ...summary, failedCases: failed }, null, 2));
    expect(s.supported).toBeGreaterThan(400);
    expect(s.passRate).toBeGreaterThanOrEqual(0.9);
  });
});
