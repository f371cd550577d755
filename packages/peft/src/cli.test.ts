import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { transformerDecoder } from '@leanformer/core';
import { loadModel, saveModel } from '@leanformer/onnx/node';
import { peftCommands, readAdapterDir } from './cli.js';

const dir = mkdtempSync(join(tmpdir(), 'peft-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const io = () => { const out: string[] = [], err: string[] = []; return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } }; };
const [finetuneCmd, loraCmd] = peftCommands();

describe('peft CLI', () => {
  it('finetune --method lora writes the merged model and a PEFT adapter; lora merge of that adapter gives the same weights; unmerge restores the base', async () => {
    const model = join(dir, 'm.onnx');
    await saveModel(transformerDecoder({ vocabSize: 16, hidden: 16, layers: 1, heads: 2, ffn: 32, seed: 1, initStd: 0.15 }), model);
    const o = io();
    const code = await finetuneCmd!.run({ positionals: [model], values: { method: 'lora', output: join(dir, 'tuned.onnx'), steps: '4', r: '2', targets: 'q_proj,v_proj', 'adapter-out': join(dir, 'ad'), json: true }, io: o.io });
    expect(code).toBe(0);
    const summary = JSON.parse(o.out.join(''));
    expect(summary).toMatchObject({ method: 'lora', steps: 4, trainableParams: 2 * (16 * 2 + 2 * 16) });
    expect(readAdapterDir(join(dir, 'ad')).modules.size).toBe(2);
    await loraCmd!.run({ positionals: ['merge', model], values: { adapter: [join(dir, 'ad')], output: join(dir, 'merged.onnx') }, io: io().io });
    await loraCmd!.run({ positionals: ['unmerge', join(dir, 'merged.onnx')], values: { adapter: [join(dir, 'ad')], output: join(dir, 'unmerged.onnx') }, io: io().io });
    const [base, tuned, merged, unmerged] = await Promise.all(['m', 'tuned', 'merged', 'unmerged'].map((n) => loadModel(join(dir, `${n}.onnx`))));
    const w = (g: typeof base, n: string) => g!.initializers.get(n)!.const!.toFloat32();
    const name = 'model.layers.0.self_attn.q_proj.weight';
    let dm = 0, du = 0, dt = 0;
    w(merged!, name).forEach((x, i) => { dm = Math.max(dm, Math.abs(x - w(tuned!, name)[i]!)); du = Math.max(du, Math.abs(w(unmerged!, name)[i]! - w(base!, name)[i]!)); dt = Math.max(dt, Math.abs(x - w(base!, name)[i]!)); });
    expect(dm).toBeLessThan(1e-6);
    expect(du).toBeLessThan(1e-6);
    expect(dt).toBeGreaterThan(1e-5); // training moved the weights
  }, 60_000);

  it('rejects an unknown method and action with the allowed values', async () => {
    await expect(finetuneCmd!.run({ positionals: ['x.onnx'], values: { method: 'dora', output: 'y.onnx' }, io: io().io })).rejects.toThrow(/lora, paca, welore, galore, full/);
    await expect(loraCmd!.run({ positionals: ['fold', 'x.onnx'], values: { output: 'y.onnx' }, io: io().io })).rejects.toThrow(/merge, unmerge or apply/);
  });
});
