import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { transformerDecoder, isLeanformerError, Tensor } from '@leanformer/core';
import { describe, expect, it } from 'vitest';
import { createOrtBackend, placementFromProfile } from './node.js';

// A trimmed copy of the events ORT 1.29's CUDA EP profiler writes (shape nodes on the CPU by design).
const CUDA_TRACE = [
  { cat: 'Session', name: 'model_loading_array', ph: 'X' },
  { cat: 'Node', name: 'Gather_0_kernel_time', args: { op_name: 'Gather', provider: 'CUDAExecutionProvider' } },
  { cat: 'Node', name: 'Shape_3_kernel_time', args: { op_name: 'Shape', provider: 'CPUExecutionProvider' } },
  { cat: 'Node', name: 'Shape_3_fence_before', args: { op_name: 'Shape' } },
  { cat: 'Node', name: 'MatMulNBits_7_kernel_time', args: { op_name: 'MatMulNBits', provider: 'CUDAExecutionProvider' } },
  { cat: 'Node', name: 'MatMulNBits_7_kernel_time', args: { op_name: 'MatMulNBits', provider: 'CUDAExecutionProvider' } },
  { cat: 'Node', name: 'Range_4_kernel_time', args: { op_name: 'Range', provider: 'CPUExecutionProvider' } },
];

describe('placementFromProfile', () => {
  it('counts each node once per provider and names the ones outside the EP', () => {
    const r = placementFromProfile(CUDA_TRACE, 'cuda');
    expect(r).toEqual({
      ep: 'cuda', nodes: 4,
      byProvider: { CUDAExecutionProvider: 2, CPUExecutionProvider: 2 },
      outside: [{ name: 'Range_4', op: 'Range', provider: 'CPUExecutionProvider' }, { name: 'Shape_3', op: 'Shape', provider: 'CPUExecutionProvider' }],
    });
    expect(placementFromProfile(CUDA_TRACE, 'cpu').outside.map((n) => n.name)).toEqual(['Gather_0', 'MatMulNBits_7']);
  });

  it('refuses what is not a trace, or a trace of a session that never ran', () => {
    for (const bad of [{}, 'x', [{ cat: 'Session', name: 'model_loading_array' }]]) {
      expect(() => placementFromProfile(bad, 'cuda')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});

describe('OrtExecutor.placement (onnxruntime-node, CPU EP)', () => {
  const graph = () => transformerDecoder({ vocabSize: 64, hidden: 32, layers: 1, heads: 2, kvHeads: 1, ffn: 64, seed: 1 });
  const feeds = { input_ids: Tensor.from('int64', [1, 3], [1n, 2n, 3n]) };

  it("reads ORT's own profile: every node of the decoder on the CPU EP, none outside, trace file removed", async () => {
    const before = readdirSync(tmpdir()).filter((f) => f.startsWith('lf-ort-profile-')).length;
    const exe = await createOrtBackend({ eps: ['cpu'], intraOpNumThreads: 1, placement: true }).compile(graph());
    await exe.run(feeds);
    const r = exe.placement();
    expect(r.ep).toBe('cpu');
    expect(r.nodes).toBeGreaterThan(10);
    expect(r.byProvider).toEqual({ CPUExecutionProvider: r.nodes });
    expect(r.outside).toEqual([]);
    expect(exe.placement()).toBe(r);
    expect((await exe.run(feeds))['logits']!.shape).toEqual([1, 3, 64]); // still runs after profiling ended
    await exe.dispose();
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('lf-ort-profile-')).length).toBe(before);
  });

  it('says what is missing: no profiler, or no run yet', async () => {
    const plain = await createOrtBackend({ intraOpNumThreads: 1 }).compile(graph());
    expect(() => plain.placement()).toThrow(/without ORT's profiler/);
    await plain.dispose();
    const exe = await createOrtBackend({ intraOpNumThreads: 1, placement: true }).compile(graph());
    let err: unknown;
    try { exe.placement(); } catch (e) { err = e; }
    expect(isLeanformerError(err, 'INVALID_ARGUMENT') && /run the executor at least once/.test(err.message)).toBe(true);
    await exe.dispose(); // a never-read trace is removed too
  });
});
