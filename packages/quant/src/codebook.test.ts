// leanformer.QMatMul's codebook form (codes index a per-op table, times a block scale): the core
// decomposition, its ONNX lowering for every target run on onnxruntime-node CPU, and tfjs-cpu,
// each against a float64 product of the dequantized weight.
import { describe, expect, it } from 'vitest';
import { attr, DTypes, ensureQMatMulSchema, Graph, Tensor, tensorType, TARGET_NAMES, parseTarget } from '@leanformer/core';
import { encodeModel, lowerToOnnx } from '@leanformer/onnx';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { TfjsBackend } from '@leanformer/runtime-tfjs';
import { dequantize, packMatMulNBits, type QuantizedWeight } from './blockwise.js';
import { ReferenceBackend } from './reference-backend.js';
import { Rng } from './synthetic.js';

const M = 3, K = 80, N = 12, BS = 32; // K not a multiple of the block: the last block is padded
const rng = new Rng(7);
// A deliberately non-uniform, non-symmetric table (not NF4): the op carries any codebook.
const codebook = Float32Array.from({ length: 16 }, (_, i) => (i - 6) ** 3 / 300 + 0.01 * i);
const kBlocks = Math.ceil(K / BS);
const codes = new Uint8Array(N * kBlocks * BS);
for (let i = 0; i < codes.length; i++) codes[i] = Math.floor(rng.next() * 16);
const scales = Float32Array.from({ length: N * kBlocks }, () => 0.5 + rng.next());
const q: QuantizedWeight = { bits: 4, blockSize: BS, K, N, kBlocks, codes, scales, zeroPoints: null, codebook };
const x = Float32Array.from({ length: M * K }, () => rng.next() * 2 - 1);

function graph(): Graph {
  ensureQMatMulSchema();
  const g = new Graph('cb');
  g.opsets.set('', 21).set('leanformer', 1);
  const xv = g.addInput('x', tensorType(DTypes.float32, [M, K]));
  const t = packMatMulNBits(q);
  const n = g.addNode({
    op: 'QMatMul', domain: 'leanformer', outputs: ['y'],
    inputs: [xv, g.addInitializer('B', new Tensor(DTypes.uint8, t.bShape, t.B)), g.addInitializer('s', new Tensor(DTypes.float32, [t.scales.length], t.scales)), null, null,
      g.addInitializer('codebook', new Tensor(DTypes.float32, [16], codebook))],
    attrs: { K: attr.int(K), N: attr.int(N), bits: attr.int(4), block_size: attr.int(BS) },
  });
  n.output(0).type = tensorType(DTypes.float32, [M, N]);
  g.addOutput(n.output(0));
  return g;
}

function reference(): Float64Array {
  const w = dequantize(q); // codebook[code]·scale
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) { let a = 0; for (let k = 0; k < K; k++) a += x[m * K + k]! * w[k * N + n]!; y[m * N + n] = a; }
  return y;
}

function maxRel(a: Float32Array, b: Float64Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) { num = Math.max(num, Math.abs(a[i]! - b[i]!)); den = Math.max(den, Math.abs(b[i]!)); }
  return num / den;
}

describe('QMatMul codebook form', () => {
  const feed = { x: new Tensor(DTypes.float32, [M, K], x) };
  it('the reference decomposition computes codebook[code]·scale (within 1e-6 of float64)', async () => {
    const y = (await (await new ReferenceBackend().compile(graph())).run(feed)).y!.toFloat32();
    expect(maxRel(y, reference())).toBeLessThan(1e-6);
  });

  it('lowers for every ORT target to default-domain ops, and the ort-cpu file runs on onnxruntime-node (1e-5)', async () => {
    for (const name of TARGET_NAMES.filter((t) => t.startsWith('ort-'))) {
      const low = lowerToOnnx(graph(), parseTarget(name));
      expect(low.nodes.every((n) => n.domain === ''), name).toBe(true);
      expect(low.nodes.some((n) => n.op === 'Gather'), name).toBe(true);
      encodeModel(low); // encodable
    }
    const exe = await createOrtBackend().compile(graph());
    const y = (await exe.run(feed)).y!.toFloat32();
    await exe.dispose();
    expect(maxRel(y, reference())).toBeLessThan(1e-5);
  });

  it('runs on tfjs-cpu (1e-5)', async () => {
    const exe = await new TfjsBackend('cpu').compile(graph());
    const y = (await exe.run(feed)).y!.toFloat32();
    await exe.dispose();
    expect(maxRel(y, reference())).toBeLessThan(1e-5);
  });

  it('rejects zero points beside a codebook', () => {
    const g = graph();
    const n = g.nodes[0]!;
    n.setInput(3, g.addInitializer('zp', new Tensor(DTypes.uint8, [N], new Uint8Array(N))));
    expect(() => lowerToOnnx(g, parseTarget('ort-cpu'))).toThrow(/codebook/);
  });
});
