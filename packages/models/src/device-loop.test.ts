// The in-graph greedy loop (one run, KV as Loop state) must pick the tokens the host loop picks, on the
// tiny Llama fixture, for the fp32 ort-cpu conversion and the fp16 ort-cuda one (run here on ORT CPU).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder, type TargetName } from '@leanformer/core';
import { main, type Io } from '@leanformer/cli';
import { loadModel } from '@leanformer/onnx/node';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { generate } from './pretrained.js';
import { generateInGraph, greedyLoopGraph } from '@leanformer/kv-cache';
import { convertCheckpoint, loadPretrained } from './node.js';

const LLAMA = fileURLToPath(new URL('../fixtures/llama', import.meta.url));
const ref = JSON.parse(readFileSync(join(LLAMA, 'reference.json'), 'utf8')) as { promptIds: number[]; greedyIds: number[] };
const work = mkdtempSync(join(tmpdir(), 'lf-loop-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('greedyLoopGraph', () => {
  for (const [target, precision] of [['ort-cpu', 'fp32'], ['ort-cuda', 'int4']] as [TargetName, 'fp32' | 'int4'][]) {
    it(`${target} ${precision}: one run of the Loop graph gives the host loop's 24 greedy tokens`, async () => {
      const dir = join(work, `${target}-${precision}`);
      const r = await convertCheckpoint(LLAMA, dir, { target, precision });
      const host = await loadPretrained(dir);
      const want: number[] = [];
      try {
        for await (const t of generate(host, undefined, { promptIds: ref.promptIds, maxNewTokens: 24, stopAtEos: false })) want.push(t.id);
      } finally { await host.dispose(); }
      if (target === 'ort-cpu') expect(want).toEqual(ref.greedyIds.slice(0, 24)); // the host loop itself matches transformers
      const info = JSON.parse(readFileSync(join(dir, 'leanformer.json'), 'utf8'));
      const loop = greedyLoopGraph(await loadModel(join(dir, 'model.onnx')), info);
      expect(loop.inputs.map((v) => v.name)).toEqual(['tokens', 'max_new_tokens']);
      expect(loop.nodes.map((n) => n.op)).toEqual(['Loop', 'Reshape']);
      const exe = await createOrtBackend({ intraOpNumThreads: 1 }).compile(loop);
      try {
        expect(await generateInGraph(exe, ref.promptIds, 24)).toEqual(want);
        expect(await generateInGraph(exe, ref.promptIds, 1)).toEqual(want.slice(0, 1)); // the prefill alone
      } finally { await exe.dispose(); }
      expect(r.compute).toBe(target === 'ort-cuda' ? 'fp16' : 'fp32');
    }, 60_000);
  }

  it('leanformer generate --in-graph prints the host loop\'s tokens; sampling is refused', async () => {
    const dir = join(work, 'ort-cpu-fp32'); // written by the first test
    const cli = async (...argv: string[]) => {
      let out = '', err = '';
      const io: Io = { out: (t) => { out += t; }, err: (t) => { err += t; }, stderrIsTTY: false };
      return { code: await main(argv, io), out, err };
    };
    const args = ['generate', dir, '--prompt-ids', ref.promptIds.join(','), '--max-new-tokens', '12', '--json'];
    const [host, loop] = [await cli(...args), await cli(...args, '--in-graph')];
    expect([host.code, loop.code]).toEqual([0, 0]);
    expect(JSON.parse(loop.out).newIds).toEqual(JSON.parse(host.out).newIds);
    const bad = await cli(...args, '--in-graph', '--temperature', '0.7');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--in-graph is greedy only/);
  }, 60_000);

  it('refuses a graph that is not a KV-cache decoder step, and bad arguments', async () => {
    const b = new GraphBuilder('x');
    b.output(b.relu(b.input('x', 'float32', [2])), 'y');
    expect(() => greedyLoopGraph(b.build(), { layers: 1, kvHeads: 1, headDim: 2 })).toThrow(expect.objectContaining({ code: 'INVALID_GRAPH', message: expect.stringMatching(/lacks tokens, logits, past_key_0/) }));
    await expect(generateInGraph({} as never, [], 4)).rejects.toThrow(/prompt must not be empty/);
    await expect(generateInGraph({} as never, [1], 0)).rejects.toThrow(/positive integer/);
  });
});
