// `leanformer bench kv-gqa-int8`: checks ONNX Runtime's int8 KV-cache path of GroupQueryAttention on
// CPU: past K/V as int8 codes with per-tensor scales (k_quant_type / v_quant_type PER_TENSOR,
// kv_cache_bit_width 8, scales as inputs 12 and 13) against the float op fed the dequantized cache,
// and how it writes the new token. Metrics { max_abs_diff, new_token_codes_match, present_dtype, agrees }.
import * as ort from 'onnxruntime-node';
import { attr, DTypes, Graph, rng, tensorType, type BenchSuite } from '@leanformer/core';
import { encodeModel } from '@leanformer/onnx';

const H = 4, G = 2, D = 16, P = 24, S = 1, T = P + S;
function model(quant: boolean): Uint8Array {
  const g = new Graph('gqa_int8_kv');
  g.opsets.set('', 21).set('com.microsoft', 1);
  const q = g.addInput('q', tensorType(DTypes.float32, [1, S, H * D]));
  const k = g.addInput('k', tensorType(DTypes.float32, [1, S, G * D]));
  const v = g.addInput('v', tensorType(DTypes.float32, [1, S, G * D]));
  const kv = quant ? DTypes.int8 : DTypes.float32;
  const pk = g.addInput('past_key', tensorType(kv, [1, G, T, D]));
  const pv = g.addInput('past_value', tensorType(kv, [1, G, T, D]));
  const sl = g.addInput('seqlens_k', tensorType(DTypes.int32, [1]));
  const tl = g.addInput('total_sequence_length', tensorType(DTypes.int32, []));
  const scales = quant ? [null, null, null, null, null, g.addInput('k_scale', tensorType(DTypes.float32, [1])), g.addInput('v_scale', tensorType(DTypes.float32, [1]))] : [];
  const n = g.addNode({
    op: 'GroupQueryAttention', domain: 'com.microsoft', inputs: [q, k, v, pk, pv, sl, tl, ...scales], outputs: ['y', 'present_key', 'present_value'],
    attrs: { num_heads: attr.int(H), kv_num_heads: attr.int(G), ...(quant ? { k_quant_type: attr.string('PER_TENSOR'), v_quant_type: attr.string('PER_TENSOR'), kv_cache_bit_width: attr.int(8) } : {}) },
  });
  g.addOutput(n.output(0));
  g.addOutput(n.output(1));
  return encodeModel(g);
}
export const gqaInt8KvSuite: BenchSuite = {
  name: 'kv-gqa-int8',
  summary: "ORT CPU GroupQueryAttention with an int8 KV cache (per-tensor scales) vs the float op on the dequantized cache",
  async run() {
    const r = rng(5);
    const rand = (n: number) => Float32Array.from({ length: n }, () => r.normal());
    const kScale = 0.03, vScale = 0.05;
    const codes = (n: number) => Int8Array.from({ length: n }, () => Math.round(r.uniform() * 254) - 127);
    const qdq = (x: Float32Array, s: number) => Float32Array.from(x, (a) => Math.max(-128, Math.min(127, Math.round(a / s))) * s);
    const [qv, kv, vv] = [rand(H * D), rand(G * D), rand(G * D)];
    const [ck, cv] = [codes(G * T * D), codes(G * T * D)];
    const common = { seqlens_k: new ort.Tensor('int32', Int32Array.from([T - 1]), [1]), total_sequence_length: new ort.Tensor('int32', Int32Array.from([T]), []), q: new ort.Tensor('float32', qv, [1, S, H * D]) };
    // Float reference: the dequantized cache, and the new token as the int8 path stores it (round(x / scale) · scale).
    const ref = await (await ort.InferenceSession.create(model(false))).run({
      ...common, k: new ort.Tensor('float32', qdq(kv, kScale), [1, S, G * D]), v: new ort.Tensor('float32', qdq(vv, vScale), [1, S, G * D]),
      past_key: new ort.Tensor('float32', Float32Array.from(ck, (c) => c * kScale), [1, G, T, D]), past_value: new ort.Tensor('float32', Float32Array.from(cv, (c) => c * vScale), [1, G, T, D]),
    });
    const got = await (await ort.InferenceSession.create(model(true))).run({
      ...common, k: new ort.Tensor('float32', kv, [1, S, G * D]), v: new ort.Tensor('float32', vv, [1, S, G * D]),
      past_key: new ort.Tensor('int8', ck, [1, G, T, D]), past_value: new ort.Tensor('int8', cv, [1, G, T, D]),
      k_scale: new ort.Tensor('float32', Float32Array.from([kScale]), [1]), v_scale: new ort.Tensor('float32', Float32Array.from([vScale]), [1]),
    });
    const a = ref['y']!.data as Float32Array, b = got['y']!.data as Float32Array;
    let maxAbsDiff = 0;
    for (let i = 0; i < a.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!));
    const present = got['present_key']!;
    const pd = present.data as Int8Array;
    let newTokenCodesMatch = true;
    for (let h = 0; h < G; h++) for (let d = 0; d < D; d++) {
      if (pd[(h * T + (T - 1)) * D + d] !== Math.max(-128, Math.min(127, Math.round(kv[h * D + d]! / kScale)))) newTokenCodesMatch = false;
    }
    return {
      suite: 'kv-gqa-int8',
      metrics: { max_abs_diff: maxAbsDiff, new_token_codes_match: newTokenCodesMatch, present_dtype: present.type, agrees: maxAbsDiff < 1e-5 && newTokenCodesMatch && present.type === 'int8' },
      onnxruntime: 'onnxruntime-node CPU', heads: H, kvHeads: G, headDim: D, past: P,
    };
  },
};
