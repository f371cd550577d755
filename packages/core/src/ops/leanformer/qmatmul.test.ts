import { describe, expect, it } from 'vitest';
import { Graph } from '../../ir/graph.js';
import { tensorType } from '../../ir/types.js';
import { DTypes } from '../../dtype.js';
import { Tensor } from '../../tensor.js';
import { attr } from '../../ir/attribute.js';
import { decomposeQMatMul, ensureQMatMulSchema } from './qmatmul.js';
import { ensureQGatherSchema } from './gather-quantized.js';
import { decompose } from '../../passes/decompose.js';
import { runReference } from '../evaluate.test-support.js';
import { rng } from '../../builder/rng.js';

/** A seeded pseudo-random sequence. */
function seq(n: number, seed: number, mod: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r.uniform() * mod));
}

describe('decomposeQMatMul', () => {
  for (const c of [
    { bits: 4, K: 40, zp: 'packed' }, { bits: 4, K: 32, zp: 'none' }, { bits: 8, K: 20, zp: 'packed' }, { bits: 4, K: 48, zp: 'float' },
  ] as const) {
    it(`computes A·dequant(B) + bias exactly (${c.bits}-bit, K=${c.K}, zero points ${c.zp})`, () => {
      ensureQMatMulSchema();
      const N = 3, bs = 16, M = 2, K = c.K, bits = c.bits;
      const kb = Math.ceil(K / bs);
      const codes = seq(N * kb * bs, 7, 2 ** bits); // [N, kb·bs]
      const packed = bits === 8 ? codes : Array.from({ length: codes.length / 2 }, (_, i) => codes[2 * i]! | (codes[2 * i + 1]! << 4));
      const scales = seq(N * kb, 3, 100).map((v) => (v - 50) / 400);
      const zps = seq(N * kb, 5, 2 ** bits);
      const fzps = zps.map((z) => z + 0.25);
      const perCol = Math.ceil((kb * bits) / 8);
      const zpPacked = new Array<number>(N * perCol).fill(0);
      for (let n = 0; n < N; n++) for (let b = 0; b < kb; b++) zpPacked[n * perCol + (bits === 8 ? b : b >> 1)]! |= zps[n * kb + b]! << (bits === 8 ? 0 : (b & 1) * 4);
      const a = seq(M * K, 11, 13).map((v) => v - 6);
      const bias = [0.5, -1, 2];
      const g = new Graph('q');
      g.opsets.set('', 21);
      g.opsets.set('leanformer', 1);
      const A = g.addInput('A', tensorType(DTypes.float32, [M, K]));
      const inputs = [
        A,
        g.addInitializer('B', Tensor.from('uint8', [N, kb, (bs * bits) / 8], packed)),
        g.addInitializer('scales', Tensor.from('float32', [N * kb], scales)),
        c.zp === 'none' ? null : c.zp === 'float' ? g.addInitializer('zp', Tensor.from('float32', [N * kb], fzps)) : g.addInitializer('zp', Tensor.from('uint8', [N * perCol], zpPacked)),
        g.addInitializer('bias', Tensor.from('float32', [N], bias)),
      ];
      const node = g.addNode({ op: 'QMatMul', domain: 'leanformer', inputs, outputs: ['Y'], attrs: { K: attr.int(K), N: attr.int(N), bits: attr.int(bits), block_size: attr.int(bs) } });
      g.addOutput(node.output(0));
      decomposeQMatMul(node);
      expect(g.nodes.some((n) => n.domain === 'leanformer')).toBe(false);
      expect(g.outputs[0]!.name).toBe('Y');
      const [y] = runReference(g, { A: Tensor.from('float32', [M, K], a) });
      // float64 reference of the normative formula
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let acc = bias[n]!;
          for (let k = 0; k < K; k++) {
            const b = Math.floor(k / bs);
            const z = c.zp === 'none' ? 2 ** (bits - 1) : c.zp === 'float' ? fzps[n * kb + b]! : zps[n * kb + b]!;
            acc += a[m * K + k]! * (codes[n * kb * bs + k]! - z) * Math.fround(scales[n * kb + b]!);
          }
          expect(y!.toFloat64()[m * N + n]).toBeCloseTo(acc, 4);
        }
      }
    });
  }
});

describe('decomposeQGather', () => {
  it('gathers and dequantizes rows exactly (4-bit, packed zero points, 2-D indices)', () => {
    ensureQGatherSchema();
    const V = 5, D = 32, bs = 16, blocks = 2;
    const codes = seq(V * D, 9, 16);
    const packed = Array.from({ length: codes.length / 2 }, (_, i) => codes[2 * i]! | (codes[2 * i + 1]! << 4));
    const scales = seq(V * blocks, 4, 50).map((v) => v / 100 + 0.01);
    const zps = seq(V * blocks, 6, 16);
    const zpPacked = Array.from({ length: V }, (_, v) => zps[v * 2]! | (zps[v * 2 + 1]! << 4));
    const g = new Graph('g');
    g.opsets.set('', 21);
    const idx = g.addInput('ids', tensorType(DTypes.int64, [2, 2]));
    const node = g.addNode({
      op: 'QGather', domain: 'leanformer', outputs: ['emb'], attrs: { bits: attr.int(4), block_size: attr.int(bs) },
      inputs: [g.addInitializer('data', Tensor.from('uint8', [V, D / 2], packed)), idx, g.addInitializer('s', Tensor.from('float32', [V, blocks], scales)), g.addInitializer('z', Tensor.from('uint8', [V, 1], zpPacked))],
    });
    g.addOutput(node.output(0));
    // Through the decompose pass (the registry route lowerings fall back to).
    expect(decompose().run(g, {}).modified).toBe(true);
    expect(g.nodes.some((n) => n.domain === 'leanformer')).toBe(false);
    expect(g.outputs[0]!.name).toBe('emb');
    const ids = [4, 0, 2, 4];
    const [y] = runReference(g, { ids: Tensor.from('int64', [2, 2], ids.map(BigInt)) });
    expect(y!.shape).toEqual([2, 2, D]);
    const out = y!.toFloat64();
    ids.forEach((row, i) => {
      for (let d = 0; d < D; d++) {
        const b = Math.floor(d / bs);
        expect(out[i * D + d]).toBeCloseTo((codes[row * D + d]! - zps[row * 2 + b]!) * Math.fround(scales[row * 2 + b]!), 6);
      }
    });
  });
});
