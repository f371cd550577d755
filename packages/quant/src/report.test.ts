// quantizeModel's measureLayers against ONNX Runtime: fed the identity matrix, a quantized layer outputs
// the weight it really computes with (MatMulNBits' own dequantization, input scale included), so the
// relative error recomputed here in float64 from ORT's output is an independent check of the report.
import { describe, expect, it } from 'vitest';
import { DTypes, Graph, Tensor, tensorType } from '@leanformer/core';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { quantizeModel } from './quantize-model.js';
import { quantReportHtml, weightError } from './report.js';
import { Rng } from './synthetic.js';

const ort = createOrtBackend({ graphOptimizationLevel: 'disabled' });
const K = 64, N = 48;

/** x [K, K] → MatMul W0 [K, N] → y0, and x → MatMul W1ᵀ… : two layers reading the same input. */
function twoLayers(): { g: Graph; w: Float32Array[] } {
  const g = new Graph('two');
  g.opsets.set('', 21);
  const x = g.addInput('x', tensorType(DTypes.float32, [K, K]));
  const rng = new Rng(7);
  const w = [0, 1].map(() => Float32Array.from({ length: K * N }, (_, i) => rng.normal() * 0.05 * (1 + (i % K === 3 ? 20 : 0))));
  w.forEach((wi, i) => {
    const n = g.addNode({ op: 'MatMul', name: `fc${i}`, inputs: [x, g.addInitializer(`fc${i}.weight`, new Tensor(DTypes.float32, [K, N], wi))], outputs: [`y${i}`] });
    n.output(0).type = tensorType(DTypes.float32, [K, N]);
    g.addOutput(n.output(0));
  });
  return { g, w };
}

/** Calibration inputs with outlier channels (every 8th ×30), so AWQ scales its input. */
function outlierFeeds(): Record<string, Tensor>[] {
  const rng = new Rng(3);
  return [0, 1].map(() => ({ x: new Tensor(DTypes.float32, [K, K], Float32Array.from({ length: K * K }, (_, i) => rng.normal() * (i % 8 === 0 ? 30 : 1))) }));
}

/** Relative Frobenius error in float64, written out here. */
function relError(ref: Float32Array, got: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) { num += (got[i]! - ref[i]!) ** 2; den += ref[i]! ** 2; }
  return Math.sqrt(num / den);
}

async function effectiveWeights(g: Graph): Promise<Float32Array[]> {
  const eye = new Float32Array(K * K);
  for (let k = 0; k < K; k++) eye[k * K + k] = 1;
  const exe = await ort.compile(g);
  try {
    const out = await exe.run({ x: new Tensor(DTypes.float32, [K, K], eye) });
    return [out['y0']!.toFloat32(), out['y1']!.toFloat32()];
  } finally { await exe.dispose(); }
}

describe('quantize report figures', () => {
  for (const method of ['rtn', 'hqq', 'awq'] as const) {
    it(`${method}: each layer's relative error equals the one of the weight ORT computes with`, async () => {
      const { g, w } = twoLayers();
      const calibration = method === 'awq' ? { backend: ort, feeds: outlierFeeds() } : undefined;
      const r = await quantizeModel(g, { method, bits: 4, edgeBits: 4, blockSize: 32, measureLayers: true, calibration });
      expect(r.layers!.map((l) => l.name)).toEqual(['fc0.weight', 'fc1.weight']);
      const eff = await effectiveWeights(r.graph);
      r.layers!.forEach((l, i) => {
        const want = relError(w[i]!, eff[i]!);
        expect(want).toBeGreaterThan(1e-3); // 4-bit: a real error, not zero
        expect(Math.abs(l.relError - want) / want, l.name).toBeLessThan(1e-4);
        expect([l.bits, l.blockSize, l.kind]).toEqual([4, 32, 'linear']);
        expect(l.bytesBefore).toBe(K * N * 4);
        expect(l.bytesAfter).toBeGreaterThan(K * N / 2); // codes alone are K·N/2 bytes
        expect(l.bytesAfter).toBeLessThan(K * N);
      });
      if (method === 'awq') {
        // The input scale is part of the check: a Mul by a per-channel vector that is not all ones.
        const mul = r.graph.nodes.find((n) => n.op === 'Mul')!;
        const s = mul.inputs.find((v) => v?.isInitializer)!.const!.toFloat32();
        expect(Math.max(...s) / Math.min(...s)).toBeGreaterThan(1.5);
      }
      const total = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
      expect(total(r.bytesByDtype!.before)).toBe(r.report.bytesBefore);
      expect(total(r.bytesByDtype!.after)).toBe(r.report.bytesAfter);
      expect(r.bytesByDtype!.before).toEqual({ float32: 2 * K * N * 4 });
    });
  }

  it('without measureLayers the result carries no figures (and costs nothing)', async () => {
    const r = await quantizeModel(twoLayers().g, { method: 'rtn', bits: 4 });
    expect(r.layers).toBeUndefined();
    expect(r.bytesByDtype).toBeUndefined();
  });

  it('weightError matches a hand computation, row scales included', () => {
    expect(weightError([1, 2], [1, 2.5])).toEqual({ relError: Math.sqrt(0.25 / 5), maxAbsError: 0.5 });
    // rows scaled by [2, 0.5]: approx becomes [2, 1] → errors [1, -1]
    expect(weightError([1, 2], [1, 2], [2, 0.5])).toEqual({ relError: Math.sqrt(2 / 5), maxAbsError: 1 });
  });

  it('the HTML page holds every layer, the dtype bytes and the options, and loads nothing', async () => {
    const r = await quantizeModel(twoLayers().g, { method: 'rtn', bits: 4, blockSize: 32, measureLayers: true });
    const html = quantReportHtml({ report: r.report, layers: r.layers!, bytesByDtype: r.bytesByDtype!, notes: ['a <note>'], input: 'in.onnx', output: 'out.onnx' });
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/<script|<link|src=/i);
    for (const s of ['fc0.weight', 'fc1.weight', 'float32 before', 'uint8 after', 'a &lt;note&gt;', 'rtn 4-bit quantization report — in.onnx']) expect(html).toContain(s);
    expect(html.match(/<svg/g)).toHaveLength(3);
  });
});
