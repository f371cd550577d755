// Checks which local_window_size makes ORT's GroupQueryAttention equal our window semantics (q − k < w).
import { Tensor } from '@leanformer/core';
import { attentionLayerGraph, attentionReference } from '@leanformer/attention';
import { ortCpuBackend } from './ort-lite.js';

const S = 40, H = 2, D = 8, w = 6;
const r = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + s * 3.1) * 2);
const q = r(S * H * D, 1), k = r(S * H * D, 2), v = r(S * H * D, 3);
const toHeads = (x: Float32Array) => { const y = new Float32Array(x.length); for (let t = 0; t < S; t++) for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) y[(h * S + t) * D + d] = x[(t * H + h) * D + d]!; return y; };
const ref = attentionReference({ q: toHeads(q), k: toHeads(k), v: toHeads(v), numHeads: H, kvHeads: H, headDim: D, qLen: S, kLen: S, pattern: { kind: 'window', window: w } }).out;
for (const form of ['gqa', 'blocked', 'masked', 'blocked_mha'] as const) {
  const g = attentionLayerGraph({ seq: S, heads: H, headDim: D, pattern: { kind: 'window', window: w } });
  const exe = await ortCpuBackend({ form, chunkSize: 4 }).compile(g);
  const { y } = await exe.run({ q: new Tensor('float32', [1, S, H * D], q), k: new Tensor('float32', [1, S, H * D], k), v: new Tensor('float32', [1, S, H * D], v) });
  const got = toHeads(y!.toFloat32());
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i]! - ref[i]!));
  const lws = g.nodes.find((n) => n.op === 'GroupQueryAttention')?.attr('local_window_size');
  console.log(form, 'local_window_size', lws, 'max|Δ| vs reference', m);
}
