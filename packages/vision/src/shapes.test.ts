import { describe, expect, it } from 'vitest';
import { analyzeGraph, formatType, inferNode, type Graph } from '@leanformer/core';
import { efficientvit } from './efficientvit.js';
import { fasternet } from './fasternet.js';
import { patnet } from './patnet.js';
import { conv3dBaseline, squeezetime } from './squeezetime.js';
import { timmVit } from './vit.js';

/**
 * The builders set every output type themselves; core's schema-driven shape inference is an
 * independent check that each node's declared output type is what ONNX semantics give.
 */
function checkAgainstInference(graph: Graph): number {
  const opset = graph.opsets.get('') ?? 17;
  let checked = 0;
  for (const node of graph.nodes) {
    const inferred = inferNode(node, opset);
    node.outputs.forEach((o, i) => {
      const t = inferred[i];
      if (!o || !t || t.kind !== 'tensor' || !t.shape) return;
      // Inference may know less (an unknown dim after a -1 reshape); where it knows a dim, it must agree.
      const mine = o.type;
      const what = `${node.describe()} output ${i}: built ${formatType(mine)}, inferred ${formatType(t)}`;
      expect(mine?.kind === 'tensor' && mine.dtype === t.dtype, what).toBe(true);
      const ms = o.shape!;
      expect(ms.length, what).toBe(t.shape.length);
      t.shape.forEach((d, j) => { if (d !== null) expect(ms[j], what).toBe(d); });
      checked++;
    });
  }
  return checked;
}

const small = { frames: 4, imgSize: 32, widths: [16, 32], depths: [1, 1] };

describe('builder shapes agree with core shape inference', () => {
  it.each([
    ['efficientvit_m0', () => efficientvit('m0', { numClasses: 10, batch: 2, weights: 'zeros' })],
    ['efficientvit_m0 at 192 (padded windows)', () => efficientvit('m0', { numClasses: 10, imgSize: 192, weights: 'zeros' })],
    ['fasternet_t0', () => fasternet('t0', { numClasses: 10, weights: 'zeros' })],
    ['patnet_t0', () => patnet('t0', { numClasses: 10, imgSize: 64, weights: 'zeros' })],
    ['squeezetime', () => squeezetime(small, { numClasses: 5 })],
    ['conv3d baseline', () => conv3dBaseline(small, { numClasses: 5 })],
    ['vit micro with token drop', () => timmVit('micro', { numClasses: 10, exposeClsAttention: [0, 3], tokenDrop: { afterLayer: 1, keep: 13 } })],
  ])('%s', (_name, build) => {
    const m = build();
    const checked = checkAgainstInference(m.graph);
    expect(checked).toBeGreaterThan(m.graph.nodes.length * 0.9);
  });
});

describe('video and attention variants', () => {
  it('SqueezeTime costs a fraction of the same-width 3-D conv baseline', () => {
    const st = analyzeGraph(squeezetime(undefined, { numClasses: 400, weights: 'zeros' }).graph, { dims: { batch: 1 } });
    const c3 = analyzeGraph(conv3dBaseline(undefined, { numClasses: 400, weights: 'zeros' }).graph, { dims: { batch: 1 } });
    expect(st.uncounted).toEqual([]);
    expect(c3.flops / st.flops).toBeGreaterThan(5);
  });

  it('token drop reduces ViT MACs after the drop layer', () => {
    const full = analyzeGraph(timmVit('small', { numClasses: 10, weights: 'zeros' }).graph, { dims: { batch: 1 } });
    const kept = analyzeGraph(timmVit('small', { numClasses: 10, weights: 'zeros', tokenDrop: { afterLayer: 2, keep: 39 } }).graph, { dims: { batch: 1 } });
    // 3 full blocks of 197 tokens, 9 blocks of 40 tokens: well under half the MACs.
    expect(kept.flops / full.flops).toBeLessThan(0.5);
    expect(kept.params).toBe(full.params);
  });

  it('rejects a drop layer outside the encoder', () => {
    expect(() => timmVit('micro', { tokenDrop: { afterLayer: 3, keep: 4 } })).toThrow(/afterLayer must be in \[0, 2\]/);
  });
});
