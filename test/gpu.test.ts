// GPU checks in the default test run. They run where ONNX Runtime's CUDA EP loads (the GPU machine, set up
// as tools/device/README.md says) and skip everywhere else with one line saying how to run them; the GPU
// figures themselves come from tools/device/gpu-suite.sh, not from tests.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DTypes, Graph, tensorType } from '@leanformer/core';
import { generateInGraph, greedyLoopGraph } from '@leanformer/kv-cache';
import { convertCheckpoint } from '@leanformer/models/node';
import { loadModel } from '@leanformer/onnx/node';
import { createOrtBackend } from '@leanformer/runtime-ort/node';

const HOW = 'on a CUDA machine with onnxruntime-node\'s CUDA provider installed (packages/runtime-ort/README.md, "GPU (CUDA)"): `npx vitest run test/gpu.test.ts`; the GPU figures come from tools/device/gpu-suite.sh on the GPU machine (tools/device/README.md)';

/** Why ORT's CUDA EP cannot run here, or undefined when it can (a one-node model compiled for CUDA alone). */
async function cudaProblem(): Promise<string | undefined> {
  const g = new Graph('probe');
  const x = g.addInput('x', tensorType(DTypes.float32, [2]));
  g.addOutput(g.addNode({ op: 'Relu', inputs: [x] }).output());
  try {
    const exe = await createOrtBackend({ eps: ['cuda'] }).compile(g);
    await exe.dispose();
    return undefined;
  } catch (e) {
    return (e as Error).message.split('\n')[0]!.slice(0, 160);
  }
}

const problem = await cudaProblem();
if (problem !== undefined) console.warn(`[gpu] ORT's CUDA EP is not available here (${problem}); run these tests ${HOW}`);

const LLAMA = fileURLToPath(new URL('../packages/models/fixtures/llama', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'lf-gpu-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(problem !== undefined)('ORT CUDA EP', () => {
  it('the int4 fp16-compute ort-cuda conversion of the tiny Llama: in-graph greedy loop on CUDA gives the CPU EP\'s 16 tokens', async () => {
    const dir = join(work, 'int4');
    await convertCheckpoint(LLAMA, dir, { target: 'ort-cuda', precision: 'int4' });
    const ref = JSON.parse(readFileSync(join(LLAMA, 'reference.json'), 'utf8')) as { promptIds: number[] };
    const info = JSON.parse(readFileSync(join(dir, 'leanformer.json'), 'utf8'));
    const loop = greedyLoopGraph(await loadModel(join(dir, 'model.onnx')), info);
    const tokens: number[][] = [];
    for (const eps of [['cuda'], ['cpu']] as const) {
      const exe = await createOrtBackend({ eps: [...eps] }).compile(loop);
      try {
        expect(exe.info.device).toBe(eps[0]);
        tokens.push(await generateInGraph(exe, ref.promptIds, 16));
      } finally { await exe.dispose(); }
    }
    expect(tokens[0]).toEqual(tokens[1]);
  });
});
