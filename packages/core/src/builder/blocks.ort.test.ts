// Numeric checks of the blocks: the graph is encoded to ONNX and run by onnxruntime-node,
// then compared with an independent float64 computation written here from the definitions.
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '@leanformer/onnx';
import type { Graph } from '../index.js';
import { GraphBuilder } from './builder.js';
import { multiHeadAttention, transformerDecoder, transformerEncoder, vit } from './blocks.js';
import { rng } from './rng.js';
import { maxAbsDiff } from '../numeric.js';

async function run(g: Graph, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(encodeModel(g));
  try { return await session.run(feeds); } finally { await session.release(); }
}

function w(g: Graph, name: string): Float64Array {
  const v = g.initializers.get(name);
  if (!v) throw new Error(`no initializer ${name}`);
  return v.const!.toFloat64();
}

/** y[r, :] = x[r, :] · W (+ bias), W row-major [inDim, outDim]. */
function linear(x: Float64Array, rows: number, inDim: number, W: Float64Array, outDim: number, bias?: Float64Array): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = bias ? bias[o]! : 0;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i]! * W[i * outDim + o]!;
      y[r * outDim + o] = s;
    }
  }
  return y;
}

/** Self-attention for one sequence by the textbook definition (float64). */
function attentionRef(x: Float64Array, seq: number, hidden: number, H: number, K: number, causal: boolean, rope: boolean, p: (n: string) => Float64Array): Float64Array {
  const hd = hidden / H;
  const q = linear(x, seq, hidden, p('q_proj.weight'), H * hd, p('q_proj.bias'));
  const k = linear(x, seq, hidden, p('k_proj.weight'), K * hd, p('k_proj.bias'));
  const v = linear(x, seq, hidden, p('v_proj.weight'), K * hd, p('v_proj.bias'));
  const rot = (a: Float64Array, heads: number) => {
    if (!rope) return;
    for (let s = 0; s < seq; s++) for (let h = 0; h < heads; h++) {
      for (let i = 0; i < hd / 2; i++) {
        const ang = s * 10000 ** (-(2 * i) / hd);
        const o = s * heads * hd + h * hd;
        const a1 = a[o + i]!, a2 = a[o + i + hd / 2]!;
        a[o + i] = a1 * Math.cos(ang) - a2 * Math.sin(ang);
        a[o + i + hd / 2] = a2 * Math.cos(ang) + a1 * Math.sin(ang);
      }
    }
  };
  rot(q, H);
  rot(k, K);
  const out = new Float64Array(seq * H * hd);
  for (let h = 0; h < H; h++) {
    const kv = Math.floor(h / (H / K));
    for (let s = 0; s < seq; s++) {
      const scores: number[] = [];
      for (let t = 0; t < seq; t++) {
        if (causal && t > s) { scores.push(-Infinity); continue; }
        let d = 0;
        for (let i = 0; i < hd; i++) d += q[s * H * hd + h * hd + i]! * k[t * K * hd + kv * hd + i]!;
        scores.push(d / Math.sqrt(hd));
      }
      const m = Math.max(...scores);
      const e = scores.map((z) => Math.exp(z - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let i = 0; i < hd; i++) {
        let acc = 0;
        for (let t = 0; t < seq; t++) acc += (e[t]! / z) * v[t * K * hd + kv * hd + i]!;
        out[s * H * hd + h * hd + i] = acc;
      }
    }
  }
  return linear(out, seq, H * hd, p('o_proj.weight'), hidden, p('o_proj.bias'));
}

describe('multiHeadAttention on onnxruntime-node vs a float64 reference', () => {
  const cases = [
    { name: 'MHA, causal, no RoPE', heads: 4, kvHeads: 4, causal: true, rope: false },
    { name: 'GQA 4/2, causal, RoPE', heads: 4, kvHeads: 2, causal: true, rope: true },
    { name: 'MQA 4/1, bidirectional, RoPE', heads: 4, kvHeads: 1, causal: false, rope: true },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const hidden = 16, batch = 2, seq = 5;
      const b = new GraphBuilder('attn');
      const x = b.input('x', 'float32', ['batch', 'seq', hidden]);
      b.output(multiHeadAttention(b, x, { prefix: 'attn', rng: rng(11), initStd: 0.3, hidden, heads: c.heads, kvHeads: c.kvHeads, causal: c.causal, rope: c.rope, bias: true }), 'y');
      const g = b.build();
      // Non-zero biases so that they are exercised too.
      const r = rng(5);
      for (const n of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) {
        const v = g.initializers.get(`attn.${n}.bias`)!;
        v.const = r.normalTensor(v.const!.shape, 0.1);
      }
      const xs = rng(3).normalTensor([batch, seq, hidden]);
      const res = await run(g, { x: new ort.Tensor('float32', xs.toFloat32(), [batch, seq, hidden]) });
      expect(res.y!.dims).toEqual([batch, seq, hidden]);
      const xd = xs.toFloat64();
      const want = new Float64Array(batch * seq * hidden);
      for (let i = 0; i < batch; i++) {
        want.set(attentionRef(xd.subarray(i * seq * hidden, (i + 1) * seq * hidden), seq, hidden, c.heads, c.kvHeads, c.causal, c.rope, (n) => w(g, `attn.${n}`)), i * seq * hidden);
      }
      // float32 execution of a few hundred multiply-adds against float64.
      expect(maxAbsDiff(res.y!.data as Float32Array, want)).toBeLessThan(1e-4);
    });
  }
});

describe('model builders on onnxruntime-node', () => {
  it('transformerDecoder is causal: logits at t do not depend on tokens after t', async () => {
    const g = transformerDecoder({ vocabSize: 40, hidden: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 64, seed: 7, initStd: 0.2 });
    const ids = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, v.length]);
    const a = (await run(g, { input_ids: ids([1, 5, 9, 2, 7, 3]) })).logits!;
    const b = (await run(g, { input_ids: ids([1, 5, 9, 2, 30, 31]) })).logits!;
    expect(a.dims).toEqual([1, 6, 40]);
    const A = a.data as Float32Array, B = b.data as Float32Array;
    expect(maxAbsDiff(A.subarray(0, 4 * 40), B.subarray(0, 4 * 40))).toBeLessThan(1e-6);
    expect(maxAbsDiff(A.subarray(4 * 40), B.subarray(4 * 40))).toBeGreaterThan(1e-3);
    expect(A.every(Number.isFinite)).toBe(true);
  });

  it('transformerEncoder is bidirectional: changing the last token changes the first position', async () => {
    const g = transformerEncoder({ vocabSize: 40, hidden: 32, layers: 2, heads: 4, ffn: 64, seed: 7, maxSeq: 16, initStd: 0.2 });
    const ids = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, v.length]);
    const a = (await run(g, { input_ids: ids([1, 5, 9, 2]) })).last_hidden_state!;
    const b = (await run(g, { input_ids: ids([1, 5, 9, 3]) })).last_hidden_state!;
    expect(a.dims).toEqual([1, 4, 32]);
    expect(maxAbsDiff((a.data as Float32Array).subarray(0, 32), (b.data as Float32Array).subarray(0, 32))).toBeGreaterThan(1e-4);
  });

  it('vit classifies a batch of images to [batch, numClasses]', async () => {
    const g = vit({ imageSize: 16, patch: 4, hidden: 32, layers: 2, heads: 4, numClasses: 10, seed: 1 });
    const px = rng(2).normalTensor([3, 3, 16, 16]);
    const out = (await run(g, { pixel_values: new ort.Tensor('float32', px.toFloat32(), [3, 3, 16, 16]) })).logits!;
    expect(out.dims).toEqual([3, 10]);
    const d = out.data as Float32Array;
    expect(d.every(Number.isFinite)).toBe(true);
    // Different images give different logits.
    expect(maxAbsDiff(d.subarray(0, 10), d.subarray(10, 20))).toBeGreaterThan(1e-6);
  });
});
