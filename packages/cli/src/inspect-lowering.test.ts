// `leanformer inspect --lowering <target>` on a quantized decoder layer with grouped-query attention:
// per leanformer node, the form the capability table picks on each ORT target and why earlier forms
// were skipped — the same choice lowerToOnnx makes (checked against the lowered graph's ops).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder, Tensor, type Graph } from '@leanformer/core';
import { attentionOp } from '@leanformer/attention';
import { encodeModel, lowerToOnnx } from '@leanformer/onnx';
import { quantizeModel } from '@leanformer/quant';
import { main, type Io } from './index.js';
import type { LoweringReport } from './commands/inspect.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const io: Io = { out: (t) => { out += t; }, err: (t) => { err += t; }, stderrIsTTY: false };
  return { code: await main(argv, io), out, err };
}

/** x → q/k/v/o projections around one GQA attention (4 query heads, 2 KV heads, head dim 16). */
function decoderLayer(): Graph {
  const H = 4, G = 2, D = 16, hid = H * D;
  const b = new GraphBuilder('gqa_layer');
  const x = b.input('x', 'float32', [1, 8, hid]);
  const w = (name: string, n: number) => b.constant(new Tensor('float32', [hid, n], Float32Array.from({ length: hid * n }, (_, i) => Math.sin(i * 0.37 + n) * 0.2)), 'float32', name);
  const q = b.matmul(x, w('wq', hid)), k = b.matmul(x, w('wk', G * D)), v = b.matmul(x, w('wv', G * D));
  const a = attentionOp(b, q, k, v, { numHeads: H, kvHeads: G, name: 'attn' }).output;
  b.output(b.matmul(a, w('wo', hid)), 'y');
  return b.build();
}

let dir = '';
let g: Graph;
const files: Record<string, string> = {};
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lf-inspect-lowering-'));
  for (const [name, o] of [['asym', {}], ['sym', { symmetric: true }], ['hqq', { method: 'hqq' }], ['hqqWebgpu', { method: 'hqq', target: 'ort-webgpu' }]] as const) {
    const q = (await quantizeModel(decoderLayer(), { method: 'rtn', bits: 4, blockSize: 32, ...o })).graph;
    if (name === 'asym') g = q;
    files[name] = join(dir, `${name}.onnx`);
    writeFileSync(files[name]!, encodeModel(q));
  }
});
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

async function report(target: string, file = files['asym']!): Promise<LoweringReport> {
  const r = await cli('inspect', '--lowering', target, file, '--json');
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as LoweringReport;
}

const byOp = (r: LoweringReport, op: string) => r.nodes.filter((n) => n.op === `leanformer::${op}`);
/** Every affine QMatMul first skips the codebook (NF4) form. */
const CODEBOOK_SKIP = { form: 'codebook', reason: 'no codebook input (an affine weight: MatMulNBits, QDQ or the decomposition)' };
const BLOCKED_WHY = 'the blocked form needs a window, sinks_window or moa pattern (moa: static sequence length) and no past K/V';

describe('leanformer inspect --lowering', () => {
  it('ort-cpu and ort-webgpu: MatMulNBits for every QMatMul, GroupQueryAttention for the dense GQA', async () => {
    for (const t of ['ort-cpu', 'ort-webgpu']) {
      const r = await report(t);
      expect(r.target).toBe(t);
      expect(byOp(r, 'QMatMul').map((n) => [n.form, n.skipped])).toEqual(Array(4).fill(['matmulnbits', [CODEBOOK_SKIP]]));
      expect(byOp(r, 'Attention')).toEqual([{ node: 'attn', op: 'leanformer::Attention', form: 'gqa', skipped: [] }]);
      const ops = lowerToOnnx(g, t === 'ort-cpu' ? { runtime: 'ort', ep: 'cpu' } : { runtime: 'ort', ep: 'webgpu' }).nodes.map((n) => n.op);
      expect(ops.filter((o) => o === 'MatMulNBits')).toHaveLength(4);
      expect(ops).toContain('GroupQueryAttention');
    }
  });

  it('ort-cuda: float32 attention skips GQA (its kernel takes float16/bfloat16) and the blocked form, and takes the reference', async () => {
    const r = await report('ort-cuda');
    expect(byOp(r, 'QMatMul').every((n) => n.form === 'matmulnbits')).toBe(true);
    expect(byOp(r, 'Attention')[0]).toEqual({
      node: 'attn', op: 'leanformer::Attention', form: 'reference',
      skipped: [{ form: 'gqa', reason: 'the CUDA GroupQueryAttention kernel takes float16/bfloat16 only' }, { form: 'blocked', reason: BLOCKED_WHY }],
    });
    expect(lowerToOnnx(g, { runtime: 'ort', ep: 'cuda' }).nodes.some((n) => n.op === 'GroupQueryAttention')).toBe(false);
    const text = await cli('inspect', '--lowering', 'ort-cuda', files['asym']!);
    expect(text.out).toContain('attn (leanformer::Attention): reference\n  skipped gqa: the CUDA GroupQueryAttention kernel takes float16/bfloat16 only\n  skipped blocked: ');
  });

  it('ort-tensorrt: symmetric weights take Q/DQ; asymmetric ones are refused with the reason; attention decomposes', async () => {
    const sym = await report('ort-tensorrt', files['sym']);
    expect(byOp(sym, 'QMatMul').map((n) => n.form)).toEqual(['qdq', 'qdq', 'qdq', 'qdq']);
    expect(byOp(sym, 'Attention')[0]).toMatchObject({ form: 'reference', skipped: [{ form: 'blocked', reason: BLOCKED_WHY }] });
    const asym = await report('ort-tensorrt');
    const why = 'ort-tensorrt takes symmetric blocked DequantizeLinear weights only (zero point 0): quantize with --symmetric (rtn, gptq, awq, smoothquant)';
    expect(byOp(asym, 'QMatMul').map((n) => [n.form, n.refusal, n.skipped])).toEqual(Array(4).fill([null, why, [CODEBOOK_SKIP, { form: 'qdq', reason: why }]]));
    expect(() => lowerToOnnx(g, { runtime: 'ort', ep: 'tensorrt' })).toThrowError(why);
    expect((await cli('inspect', '--lowering', 'ort-tensorrt', files['asym']!)).out).toMatch(/: cannot be lowered: ort-tensorrt takes symmetric .*\n {2}skipped codebook: no codebook input.*\n {2}skipped qdq: ort-tensorrt takes symmetric/);
  });

  it('ort-webgpu: HQQ quantized for webgpu has uint8 zero points and takes MatMulNBits; HQQ for cpu (float zero points) is skipped with the uint8 fact', async () => {
    expect(byOp(await report('ort-webgpu', files['hqqWebgpu']), 'QMatMul').map((n) => n.form)).toEqual(['matmulnbits', 'matmulnbits', 'matmulnbits', 'matmulnbits']);
    const cpuHqq = byOp(await report('ort-webgpu', files['hqq']), 'QMatMul');
    // The output projection is an 8-bit edge layer, whose zero points quant always rounds to uint8.
    expect(cpuHqq.map((n) => n.form)).toEqual(['reference', 'reference', 'reference', 'matmulnbits']);
    expect(cpuHqq[0]!.skipped).toEqual([CODEBOOK_SKIP, { form: 'matmulnbits', reason: expect.stringMatching(/^ort-webgpu's MatMulNBits takes uint8 zero points only/) }]);
    expect(byOp(await report('ort-cpu', files['hqq']), 'QMatMul').map((n) => n.form)).toEqual(['matmulnbits', 'matmulnbits', 'matmulnbits', 'matmulnbits']);
  });

  it('rejects an unknown target with the allowed names', async () => {
    const r = await cli('inspect', '--lowering', 'ort-metal', files['asym']!);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/Unknown target 'ort-metal'; allowed: ort-cpu, ort-cuda/);
  });
});
