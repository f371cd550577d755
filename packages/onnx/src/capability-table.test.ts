// The built-in capability table: each EP fact (core's ep-facts) decides a form in one place, and the
// reason a form gives is the fact's own sentence — the same one quant's checkQuantForTarget returns.
import { describe, expect, it } from 'vitest';
import {
  attentionDtypeProblem, attr, blockSizeProblem, checkQuantForTarget, DTypes, ensureAttentionSchema, ensureQGatherSchema, ensureQMatMulSchema,
  Graph, qmatmulAttrs, Tensor, tensorType, zeroPointProblem, type DType, type Target,
} from '@leanformer/core';
import { explainLowering, lowerToOnnx } from './lower.js';
import { lowerQMatMul } from './lowerings/index.js';

const t = (ep: 'cpu' | 'cuda' | 'tensorrt' | 'webgpu' | 'wasm'): Target => ({ runtime: 'ort', ep });
const K = 64, N = 8, BS = 32, KB = K / BS;

/** y = x · QMatMul(B) with 4- or 8-bit codes, block 32, and zero points of `zp` kind. */
function qmatmul(zp: 'none' | 'uint8' | 'float', bits: 4 | 8 = 4): Graph {
  ensureQMatMulSchema();
  const g = new Graph('q');
  g.opsets.set('', 21).set('leanformer', 1);
  const x = g.addInput('x', tensorType(DTypes.float32, [2, K]));
  const B = g.addInitializer('B', new Tensor(DTypes.uint8, [N, KB, (BS * bits) / 8], Uint8Array.from({ length: (N * K * bits) / 8 }, (_, i) => (i * 37) & 255)));
  const S = g.addInitializer('S', new Tensor(DTypes.float32, [N * KB], Float32Array.from({ length: N * KB }, (_, i) => 0.01 + i * 1e-3)));
  const perRow = Math.ceil((KB * bits) / 8);
  const Z = zp === 'uint8' ? g.addInitializer('Z', new Tensor(DTypes.uint8, [N * perRow], Uint8Array.from({ length: N * perRow }, (_, i) => (bits === 4 ? 0x78 : 128) + (i % 3))))
    : zp === 'float' ? g.addInitializer('Z', new Tensor(DTypes.float32, [N * KB], Float32Array.from({ length: N * KB }, (_, i) => 7.25 + (i % 5) * 0.1))) : null;
  const n = g.addNode({ op: 'QMatMul', domain: 'leanformer', name: 'proj', inputs: [x, B, S, Z], outputs: ['y'], attrs: { K: attr.int(K), N: attr.int(N), bits: attr.int(bits), block_size: attr.int(BS) } });
  n.output(0).type = tensorType(DTypes.float32, [2, N]);
  g.addOutput(n.output(0));
  return g;
}

function attention(dtype: DType, pattern: 'dense' | 'window'): Graph {
  ensureAttentionSchema();
  const g = new Graph('a');
  g.opsets.set('', 21).set('leanformer', 1);
  const [q, k, v] = ['q', 'k', 'v'].map((s, i) => g.addInput(s, tensorType(dtype, [1, 16, i === 0 ? 32 : 16])));
  const n = g.addNode({ op: 'Attention', domain: 'leanformer', name: 'attn', inputs: [q!, k!, v!], outputs: ['y'], attrs: { num_heads: attr.int(4), kv_num_heads: attr.int(2), pattern: attr.string(pattern), ...(pattern === 'window' ? { window: attr.int(4) } : {}) } });
  n.output(0).type = tensorType(dtype, [1, 16, 32]);
  g.addOutput(n.output(0));
  return g;
}

const choice = (g: Graph, target: Target) => explainLowering(g, target)[0]!;

/** Every affine QMatMul first skips the codebook (NF4) form on ORT targets. */
const CODEBOOK_SKIP = { form: 'codebook', reason: 'no codebook input (an affine weight: MatMulNBits, QDQ or the decomposition)' };

describe('QMatMul EP facts', () => {
  it('webgpu: an int4 asymmetric QMatMul (4-bit zero points packed in uint8) lowers to MatMulNBits with those uint8 zero points', () => {
    expect(choice(qmatmul('uint8'), t('webgpu'))).toMatchObject({ form: 'matmulnbits', skipped: [CODEBOOK_SKIP] });
    const low = lowerToOnnx(qmatmul('uint8'), t('webgpu'));
    const nb = low.nodes.find((n) => n.op === 'MatMulNBits')!;
    expect(nb.domain).toBe('com.microsoft');
    expect(nb.inputs[3]!.dtype).toBe(DTypes.uint8);
    expect(nb.inputs[3]!.const!.shape).toEqual([N * 1]);
  });

  it('webgpu: fractional (HQQ) zero points skip MatMulNBits with the uint8 fact and fall back to the reference decomposition', () => {
    const why = zeroPointProblem(t('webgpu'), 4, 'float');
    expect(why).toMatch(/ort-webgpu's MatMulNBits takes uint8 zero points only/);
    expect(choice(qmatmul('float'), t('webgpu'))).toEqual({ node: 'proj', op: 'leanformer::QMatMul', form: 'reference', skipped: [CODEBOOK_SKIP, { form: 'matmulnbits', reason: why }] });
    expect(lowerToOnnx(qmatmul('float'), t('webgpu')).nodes.some((n) => n.domain === 'com.microsoft')).toBe(false);
    // cpu keeps 4-bit float zero points in MatMulNBits; 8-bit ones it cannot run.
    expect(choice(qmatmul('float'), t('cpu')).form).toBe('matmulnbits');
    expect(choice(qmatmul('float', 8), t('cpu')).skipped).toEqual([CODEBOOK_SKIP, { form: 'matmulnbits', reason: zeroPointProblem(t('cpu'), 8, 'float') }]);
  });

  it('tensorrt: asymmetric weights are refused with the same reason quant gives; symmetric ones become int4 DequantizeLinear + MatMul', () => {
    const quantWhy = checkQuantForTarget(t('tensorrt'), { bits: 4, blockSize: BS, symmetric: false });
    expect(quantWhy).toMatch(/^ort-tensorrt takes symmetric blocked DequantizeLinear weights only/);
    expect(choice(qmatmul('uint8'), t('tensorrt'))).toMatchObject({ form: null, refusal: quantWhy });
    expect(() => lowerToOnnx(qmatmul('uint8'), t('tensorrt'))).toThrowError(quantWhy!);
    expect(checkQuantForTarget(t('tensorrt'), { bits: 4, blockSize: BS, symmetric: true })).toBeNull();
    const low = lowerToOnnx(qmatmul('none'), t('tensorrt'));
    expect(low.nodes.map((n) => n.op)).toEqual(['DequantizeLinear', 'MatMul']);
    expect(low.nodes[0]!.inputs[0]!.dtype).toBe(DTypes.int4);
    expect(low.nodes.every((n) => n.domain === '')).toBe(true);
  });

  it('tfjs has no contrib ops: the reference decomposition, nothing skipped', () => {
    expect(choice(qmatmul('uint8'), { runtime: 'tfjs', backend: 'cpu' })).toMatchObject({ form: 'reference', skipped: [] });
  });

  it('a forced form that does not apply throws its reason', () => {
    const g = qmatmul('uint8');
    expect(() => lowerQMatMul(g.nodes[0]!, t('cpu'), { form: 'dynamic' })).toThrowError(/cannot be lowered for ort-cpu: the MatMulInteger form needs 8-bit, per-channel/);
    expect(() => lowerQMatMul(g.nodes[0]!, t('tensorrt'), { form: 'qdq' })).toThrowError(/ort-tensorrt takes symmetric/);
  });
});

describe('block-size rule', () => {
  it('is one rule: 16…256 powers of two, for the IR and the quantizers alike', () => {
    expect([16, 32, 64, 128, 256].map(blockSizeProblem)).toEqual([null, null, null, null, null]);
    for (const bad of [0, 8, 48, 512, 32.5]) expect(blockSizeProblem(bad)).toBe(`must be 16, 32, 64, 128 or 256, got ${bad}`);
    const g = qmatmul('none');
    g.nodes[0]!.attrs.set('block_size', attr.int(512));
    expect(() => qmatmulAttrs(g.nodes[0]!)).toThrowError(/block_size must be 16, 32, 64, 128 or 256, got 512/);
    expect(checkQuantForTarget(t('cpu'), { bits: 4, blockSize: 512, symmetric: true })).toBe('blockSize must be 16, 32, 64, 128 or 256, got 512 (or 0 for per-channel)');
  });
});

describe('QGather EP facts', () => {
  it('GatherBlockQuantized on cpu/cuda/wasm/webgpu with uint8 zero points; tensorrt and float zero points take the reference', () => {
    ensureQGatherSchema();
    const make = (zpType: 'uint8' | 'float') => {
      const g = new Graph('e');
      g.opsets.set('', 21).set('leanformer', 1);
      const ids = g.addInput('ids', tensorType(DTypes.int64, [3]));
      const data = g.addInitializer('data', new Tensor(DTypes.uint8, [10, 32], new Uint8Array(320)));
      const s = g.addInitializer('s', new Tensor(DTypes.float32, [10, 2], new Float32Array(20).fill(0.1)));
      const z = zpType === 'uint8' ? g.addInitializer('z', new Tensor(DTypes.uint8, [10, 1], new Uint8Array(10).fill(0x88))) : g.addInitializer('z', new Tensor(DTypes.float32, [10, 2], new Float32Array(20).fill(8)));
      const n = g.addNode({ op: 'QGather', domain: 'leanformer', name: 'emb', inputs: [data, ids, s, z], outputs: ['y'], attrs: { bits: attr.int(4), block_size: attr.int(32) } });
      n.output(0).type = tensorType(DTypes.float32, [3, 64]);
      g.addOutput(n.output(0));
      return g;
    };
    for (const ep of ['cpu', 'cuda', 'wasm', 'webgpu'] as const) expect(choice(make('uint8'), t(ep)).form).toBe('gatherblockquantized');
    expect(choice(make('uint8'), t('tensorrt'))).toMatchObject({ form: 'reference', skipped: [] });
    expect(choice(make('float'), t('cpu'))).toMatchObject({ form: 'reference', skipped: [{ form: 'gatherblockquantized', reason: 'GatherBlockQuantized takes uint8 zero points only (got float32)' }] });
  });
});

describe('Attention EP facts and measured order', () => {
  it('cuda: GroupQueryAttention for float16 only, with the fact as the reason otherwise', () => {
    expect(choice(attention(DTypes.float16, 'dense'), t('cuda'))).toMatchObject({ form: 'gqa', skipped: [] });
    expect(choice(attention(DTypes.float32, 'dense'), t('cuda')).skipped[0]).toEqual({ form: 'gqa', reason: attentionDtypeProblem(t('cuda'), DTypes.float32) });
  });

  it('cpu: a window skips GQA (measured slower than dense) for the blocked form; cuda keeps GQA for windows; wasm has no GQA', () => {
    expect(choice(attention(DTypes.float32, 'window'), t('cpu'))).toMatchObject({ form: 'blocked', skipped: [{ form: 'gqa', reason: expect.stringMatching(/measured 0.81× the dense op/) }] });
    expect(choice(attention(DTypes.float16, 'window'), t('cuda')).form).toBe('gqa');
    expect(choice(attention(DTypes.float32, 'dense'), t('wasm'))).toMatchObject({ form: 'reference', skipped: [{ form: 'blocked' }] });
  });
});
