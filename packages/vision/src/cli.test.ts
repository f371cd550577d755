import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel } from '@leanformer/onnx';
import * as ort from 'onnxruntime-node';
import { visionCommands } from './cli.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => { out.push(t); }, err: (t: string) => { err.push(t); } } };
}

describe('vision CLI commands', () => {
  it('zoo writes the lowered model atomically and prints the JSON report', async () => {
    const [zoo] = visionCommands();
    const dir = mkdtempSync(join(tmpdir(), 'lf-zoo-'));
    const file = join(dir, 'm0.onnx');
    const cap = io();
    const code = await zoo!.run({ positionals: ['efficientvit_m0'], values: { output: file, 'num-classes': '10', json: true }, io: cap.io });
    expect(code).toBe(0);
    // Lowered for ORT CPU: a plain ONNX model with no leanformer ops left.
    expect(decodeModel(new Uint8Array(readFileSync(file))).nodes.some((n) => n.domain === 'leanformer')).toBe(false);
    expect(existsSync(`${file}.tmp-${process.pid}`)).toBe(false);
    const report = JSON.parse(cap.out.join(''));
    expect(Object.keys(report)).toEqual(['name', 'params', 'flops', 'inputShape']);
    expect(report.name).toBe('efficientvit_m0');
    expect(report.inputShape).toEqual([1, 3, 224, 224]);
  });

  it('zoo with the real codec writes a model onnxruntime-node runs', async () => {
    const [zoo] = visionCommands();
    const file = join(mkdtempSync(join(tmpdir(), 'lf-zoo-')), 'ft0.onnx');
    const cap = io();
    expect(await zoo!.run({ positionals: ['fasternet_t0'], values: { output: file, 'num-classes': '10' }, io: cap.io })).toBe(0);
    expect(cap.out.join('')).toMatch(/^fasternet_t0: 2\.64M params, 334\.2M MACs at input \[1, 3, 224, 224\]/);
    const s = await ort.InferenceSession.create(new Uint8Array(readFileSync(file)));
    const out = await s.run({ input: new ort.Tensor('float32', new Float32Array(3 * 224 * 224).fill(0.5), [1, 3, 224, 224]) });
    expect(out.logits!.dims).toEqual([1, 10]);
    await s.release();
  });

  it('zoo refuses a missing output path and a bad class count with clear messages', async () => {
    const [zoo] = visionCommands();
    await expect(zoo!.run({ positionals: ['efficientvit_m0'], values: {}, io: io().io })).rejects.toThrow(/-o <out.onnx> is required/);
    await expect(zoo!.run({ positionals: ['efficientvit_m0'], values: { output: '/tmp/x.onnx', 'num-classes': 'ten' }, io: io().io })).rejects.toThrow(/--num-classes must be an integer ≥ 0 and ≤ 100000 \(decimal\), got 'ten'/);
  });
});
