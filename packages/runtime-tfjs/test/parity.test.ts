// The same builder graphs on ONNX Runtime CPU and on tfjs-cpu must agree (relative 1e-4, fp32).
import { Tensor, transformerDecoder, transformerEncoder, vit, type Graph } from '@leanformer/core';
import { encodeModel, lowerToOnnx } from '@leanformer/onnx';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend } from '../src/backend.js';

/** The IR lowered for ORT CPU and encoded by @leanformer/onnx. */
function toOnnx(g: Graph): Uint8Array {
  return encodeModel(lowerToOnnx(g, { runtime: 'ort', ep: 'cpu' }));
}

/**
 * Worst |a − b| / max(|b|, rms(b)) over all elements: the relative error against ORT, where
 * elements smaller than the output's RMS are measured against the RMS (so fp32 rounding on values
 * near zero, e.g. 2e-6 on 4e-3, is judged at the output's scale and not as a 5e-4 relative error).
 */
function relError(got: Float32Array, want: Float32Array): number {
  let ss = 0;
  for (const v of want) ss += v * v;
  const rms = Math.sqrt(ss / Math.max(1, want.length));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(Math.abs(want[i]!), rms));
  return worst;
}

async function ortRun(graph: Graph, feeds: Record<string, Tensor>): Promise<Map<string, Float32Array>> {
  const session = await ort.InferenceSession.create(toOnnx(graph), { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
  const inputs: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) inputs[k] = new ort.Tensor(t.dtype.ort as 'float32', t.data as Float32Array, [...t.shape]);
  const out = await session.run(inputs);
  await session.release();
  return new Map(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

const ids = (b: number, s: number, vocab: number) => Tensor.from('int64', [b, s], Array.from({ length: b * s }, (_, i) => BigInt((i * 7 + 3) % vocab)));

const cases: Array<[string, () => Graph, Record<string, Tensor>]> = [
  ['transformer decoder (GQA, RoPE, RMSNorm, SwiGLU)', () => transformerDecoder({ vocabSize: 64, hidden: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 64, seed: 1, initStd: 0.2 }), { input_ids: ids(2, 7, 64) }],
  ['transformer encoder (BERT-like: LayerNorm, GELU)', () => transformerEncoder({ vocabSize: 64, hidden: 32, layers: 2, heads: 4, ffn: 64, seed: 2, initStd: 0.2 }), { input_ids: ids(2, 9, 64) }],
  ['ViT (Conv patches, CLS token, LayerNorm, GELU)', () => vit({ imageSize: 16, patch: 4, hidden: 32, layers: 2, heads: 4, numClasses: 10, seed: 3, initStd: 0.2 }), {
    pixel_values: Tensor.from('float32', [2, 3, 16, 16], Array.from({ length: 2 * 3 * 256 }, (_, i) => Math.sin(i * 0.37))),
  }],
];

describe('ORT CPU vs tfjs-cpu on builder graphs (rel. 1e-4, fp32)', () => {
  for (const [name, build, feeds] of cases) {
    it(name, async () => {
      const want = await ortRun(build(), feeds);
      const exe = await createTfjsBackend('cpu').compile(build());
      const got = await exe.run(feeds);
      await exe.dispose();
      expect(Object.keys(got).sort()).toEqual([...want.keys()].sort());
      for (const [k, w] of want) {
        const err = relError(got[k]!.toFloat32(), w);
        console.log(JSON.stringify({ graph: name, output: k, elements: w.length, worstRelError: err }));
        expect(err, `${k}: worst relative error ${err}`).toBeLessThan(1e-4);
      }
    });
  }
});
