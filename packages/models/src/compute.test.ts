// Compute precision for GPU targets: convert --target ort-cuda emits fp16 activations, weights and KV
// cache (GroupQueryAttention, MatMulNBits with fp16 scales), logits float32. ORT CPU runs the same
// bytes here; the fp16 logits are held against transformers' fp32 reference within fp16's error.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cosine, maxAbsDiff, Tensor } from '@leanformer/core';
import { loadModel } from '@leanformer/onnx/node';
import { generate } from './pretrained.js';
import { convertCheckpoint, loadPretrained, type PretrainedModel } from './node.js';

const LLAMA = fileURLToPath(new URL('../fixtures/llama', import.meta.url));
const ref = JSON.parse(readFileSync(join(LLAMA, 'reference.json'), 'utf8')) as { promptIds: number[]; logits: number[]; greedyIds: number[] };
const work = mkdtempSync(join(tmpdir(), 'lf-compute-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Last-position logits of the prompt, with empty past of the model's KV dtype. */
async function lastLogits(m: PretrainedModel): Promise<Float32Array> {
  const ids = ref.promptIds;
  const feeds: Record<string, Tensor> = { tokens: new Tensor('int64', [1, ids.length], BigInt64Array.from(ids, BigInt)) };
  for (let l = 0; l < m.layers; l++) {
    for (const k of ['key', 'value']) feeds[`past_${k}_${l}`] = Tensor.zeros(m.kvDtype ?? 'float32', [1, m.kvHeads, 0, m.headDim]);
  }
  const all = (await m.executor.run(feeds)).logits!.toFloat32();
  return all.subarray(all.length - ref.logits.length);
}

async function opsOf(dir: string): Promise<Map<string, string>> {
  const g = await loadModel(join(dir, 'model.onnx'));
  const ops = new Map<string, string>();
  for (const n of g.nodes) ops.set(n.op, n.inputs.map((v) => v?.dtype?.name ?? '-').join(','));
  return ops;
}

describe('convert --target ort-cuda: fp16 compute by default', () => {
  it('fp16 activations and KV, GroupQueryAttention, logits float32; on ORT CPU within 1e-2 of transformers (fp32)', async () => {
    const out = join(work, 'cuda-fp16');
    const r = await convertCheckpoint(LLAMA, out, { target: 'ort-cuda' });
    expect(r.compute).toBe('fp16');
    const ops = await opsOf(out);
    expect(ops.get('GroupQueryAttention')?.split(',')[0]).toBe('float16'); // CUDA's GQA takes fp16/bf16 only
    expect(ops.get('MatMul')).toBe('float16,float16');
    const g = await loadModel(join(out, 'model.onnx'));
    expect(g.inputs.find((v) => v.name === 'past_key_0')!.dtype!.name).toBe('float16');
    expect(g.outputs.find((v) => v.name === 'logits')!.dtype!.name).toBe('float32');
    const m = await loadPretrained(out);
    try {
      expect(m.kvDtype).toBe('float16');
      const got = await lastLogits(m);
      // fp16 rounding of weights and activations: |logit| ≤ 3.3, where fp16's spacing is 2e-3; measured
      // max |Δ| 3.7e-3, cosine 0.9999995.
      expect(maxAbsDiff(got, Float32Array.from(ref.logits))).toBeLessThan(1e-2);
      expect(cosine(got, Float32Array.from(ref.logits))).toBeGreaterThan(0.99999);
      // The fp16 KV cache round-trips through decodeStream: the first greedy tokens match transformers.
      const ids: number[] = [];
      for await (const t of generate(m, m.tokenizer, { promptIds: ref.promptIds, maxNewTokens: 4, stopAtEos: false })) ids.push(t.id);
      expect(ids).toEqual(ref.greedyIds.slice(0, 4));
    } finally { await m.dispose(); }
  }, 60_000);

  it('int4 RTN: MatMulNBits with fp16 activations and scales, same logits as the fp32-compute int4 model within 1e-2', async () => {
    const [a, b] = [join(work, 'int4-fp16'), join(work, 'int4-fp32')];
    await convertCheckpoint(LLAMA, a, { precision: 'int4', method: 'rtn', target: 'ort-cuda' });
    await convertCheckpoint(LLAMA, b, { precision: 'int4', method: 'rtn', target: 'ort-cuda', compute: 'fp32' });
    expect((await opsOf(a)).get('MatMulNBits')?.split(',').slice(0, 3)).toEqual(['float16', 'uint8', 'float16']);
    expect((await opsOf(b)).get('MatMulNBits')?.split(',').slice(0, 3)).toEqual(['float32', 'uint8', 'float32']);
    const [ma, mb] = [await loadPretrained(a), await loadPretrained(b)];
    try {
      const [x, y] = [await lastLogits(ma), await lastLogits(mb)];
      // measured max |Δ| 5.0e-3, cosine 0.9999992 (same fp16 spacing argument as above)
      expect(maxAbsDiff(x, y)).toBeLessThan(1e-2);
      expect(cosine(x, y)).toBeGreaterThan(0.99999);
    } finally { await ma.dispose(); await mb.dispose(); }
  }, 60_000);

  it('refuses bf16 where the target has no bf16 kernels, and unknown precisions', async () => {
    await expect(convertCheckpoint(LLAMA, join(work, 'x'), { compute: 'bf16' })).rejects.toMatchObject({ code: 'NOT_SUPPORTED', message: expect.stringMatching(/ort-cpu has no bfloat16 kernels/) });
    await expect(convertCheckpoint(LLAMA, join(work, 'y'), { compute: 'fp8' as 'fp16' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/fp32, fp16, bf16/) });
  });
  it('precision bf16: bf16 weights widened to float32 on ort-cpu (runs on ORT CPU near the fp32 reference); bf16 compute on ort-cuda', async () => {
    const cpu = join(work, 'bf16-cpu');
    const r = await convertCheckpoint(LLAMA, cpu, { precision: 'bf16' });
    expect(r.compute).toBe('fp32');
    const g = await loadModel(join(cpu, 'model.onnx'));
    expect([...g.initializers.values()].some((v) => v.dtype?.name === 'bfloat16')).toBe(true);
    const m = await loadPretrained(cpu);
    try {
      const x = await lastLogits(m);
      // bf16 keeps 8 significand bits (relative weight error ≤ 2^-9); the logits stay close to transformers fp32.
      expect(cosine(x, Float32Array.from(ref.logits))).toBeGreaterThan(0.9999); // measured 0.999989
    } finally { await m.dispose(); }
    const cuda = join(work, 'bf16-cuda');
    expect((await convertCheckpoint(LLAMA, cuda, { precision: 'bf16', target: 'ort-cuda' })).compute).toBe('bf16');
    expect((await opsOf(cuda)).get('GroupQueryAttention')?.split(',')[0]).toBe('bfloat16');
    // bf16 KV is a Cast of the float32 KV input (ORT's JS tensors have no bfloat16). GQA's present must not
    // share past's length symbol, or ORT CUDA's planner reuses that computed past in place for present and
    // fails at run time ("Shape mismatch attempting to re-use buffer"; GPU suite run 4, fixed in run 5).
    const gc = await loadModel(join(cuda, 'model.onnx'));
    const gqa = gc.nodes.find((n) => n.op === 'GroupQueryAttention')!;
    expect(gqa.inputs[3]!.producer?.op).toBe('Cast');
    expect([gqa.inputs[3]!.shape?.[2], gqa.outputs[1]!.shape?.[2], gqa.outputs[2]!.shape?.[2]]).toEqual(['past', 'total_sequence_length', 'total_sequence_length']);
    await expect(convertCheckpoint(LLAMA, join(work, 'z'), { precision: 'bf16', target: 'ort-cuda', compute: 'fp16' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/round the bf16 weights/) });
  }, 60_000);
});
