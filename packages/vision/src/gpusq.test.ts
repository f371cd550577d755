import { describe, expect, it } from 'vitest';
import { gpusqVit, tensorRtForeignOps } from './gpusq.js';
import { timmVit } from './vit.js';

describe('GPUSQ-ViT recipe', () => {
  it('sparsifies and quantizes every block linear, leaving the head dense', () => {
    const dense = timmVit('micro', { numClasses: 10, seed: 3 });
    const { model, report } = gpusqVit(dense);
    // 4 blocks × (qkv, proj, fc1, fc2).
    expect(report.layersSparsified).toBe(16);
    expect(report.sparsity).toBeCloseTo(0.5, 6);
    expect(report.bytesAfter).toBeLessThan(report.bytesBefore / 2);
    const q = model.graph.nodes.filter((n) => n.op === 'QMatMul');
    expect(q).toHaveLength(16);
    expect(q.every((n) => n.attr('sparsity') === '2:4')).toBe(true);
    expect(model.graph.nodes.some((n) => n.op === 'Gemm')).toBe(true); // head
    // The original model is untouched.
    expect(dense.graph.nodes.some((n) => n.op === 'QMatMul')).toBe(false);
    // Before lowering, the leanformer ops are exactly what a TensorRT check must flag.
    expect(tensorRtForeignOps(model.graph)).toEqual(['leanformer::QMatMul']);
  });

  it('rejects unsupported bit widths', () => {
    expect(() => gpusqVit(timmVit('micro'), { bits: 3 as 8 })).toThrow(/bits must be 4 or 8/);
  });
});
