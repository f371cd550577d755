// The GPU suite's graphs and bookkeeping, run on ORT CPU at toy sizes (the figures themselves come from
// the GPU machine: tools/device/gpu-suite.sh). Without a CUDA EP the default run says how to get one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '@leanformer/models/node';
import { gpuSuite } from '../bench/gpu.js';

const LLAMA = fileURLToPath(new URL('../../models/fixtures/llama', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'lf-gpu-bench-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const log = () => {};

describe('bench gpu', () => {
  it('says how to get the CUDA EP where none loads', async () => {
    await expect(gpuSuite.run({ quick: true, ep: 'cpu', threads: undefined, params: {}, log })).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(/CUDA execution provider.*tools\/device\/README\.md/),
    });
  });

  it('runs every figure on ORT CPU at toy sizes: in-graph KV traffic 0, host loop 2·past+present bytes', async () => {
    const [fp16, int4] = [join(work, 'fp16'), join(work, 'int4')];
    await convertCheckpoint(LLAMA, fp16, { target: 'ort-cuda' });
    await convertCheckpoint(LLAMA, int4, { target: 'ort-cuda', precision: 'int4' });
    const r = await gpuSuite.run({
      quick: true, ep: 'cpu', threads: 1, log,
      params: { ep: 'cpu', gemv: '64x64,64x128', layers: '2', 'swa-seq': '256', contexts: '16,32', prefill: '64', 'new-tokens': '48', 'model-fp16': fp16, 'model-int4': int4, profile: 'yes' },
    }) as { metrics: Record<string, number>; profiles: Record<string, { nodeMsPerRun: number; topOps: Record<string, unknown> }> };
    // ORT's profiler per figure: the in-graph loop's time is in the Loop node, the GEMV's in its MatMulNBits.
    expect(Object.keys(r.profiles['loop_fp16_16_49_tokens']!.topOps)).toContain('Loop@CPU');
    expect(Object.keys(r.profiles['gemv_64x64_int4']!.topOps)).toContain('MatMulNBits@CPU');
    const m = r.metrics;
    for (const k of ['int4_gemv_ratio_64x64', 'int4_gemv_ratio_64x128', 'swa_speedup_256_cpu', 'prefill_tokens_per_s_fp16_64', 'decode_tokens_per_s_fp16_16', 'decode_tokens_per_s_int4_32', 'hbm_fraction_int4_32']) {
      expect(m[k], k).toBeGreaterThan(0);
    }
    expect(m['kv_host_bytes_per_token_fp16_16']).toBe(0);
    expect(m['kv_host_bytes_per_token_fp16_32']).toBe(0);
    // tiny Llama: 2 layers, 2 KV heads × 16 dims, fp16 KV: (key + value) × 2 bytes, past in and present out
    expect(m['kv_host_bytes_per_token_fp16_16_host_loop']).toBe(2 * (2 * 2 * 2 * 16 * 16 * 2));
    expect(m['kv_host_bytes_per_token_fp16_32_host_loop']).toBe(2 * m['kv_host_bytes_per_token_fp16_16_host_loop']!);
  }, 120_000);
});
