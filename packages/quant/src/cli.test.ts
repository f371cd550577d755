// The CLI command objects, run with the real ONNX codec, file I/O and ORT backend (as
// @leanformer/cli wires them), on a small builder decoder written to a temp folder.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attr, DTypes, Graph, Tensor, tensorType, transformerDecoder, type ProgressEvent } from '@leanformer/core';
import { decodeModel, encodeModel } from '@leanformer/onnx';
import { loadModel, saveModel } from '@leanformer/onnx/node';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { quantCommands, readAnyModel } from './cli.js';
import { isLfpack } from './lfpack.js';
import { syntheticWeight } from './synthetic.js';

const dir = mkdtempSync(join(tmpdir(), 'lf-quant-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cmds = Object.fromEntries(quantCommands().map((c) => [c.name, c]));
const model = transformerDecoder({ vocabSize: 256, hidden: 64, layers: 1, heads: 4, ffn: 128, seed: 2 });
const input = join(dir, 'in.onnx');
writeFileSync(input, encodeModel(model));

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

async function logits(path: string): Promise<Float32Array> {
  const exe = await createOrtBackend().compile(await readAnyModel(path));
  const y = (await exe.run({ input_ids: Tensor.from('int64', [1, 4], [1n, 2n, 3n, 4n]) })).logits!.toFloat32();
  await exe.dispose();
  return y;
}

describe('quant CLI commands', () => {
  it('quantize --compute fp16 --target ort-cuda: MatMulNBits on fp16 activations and scales, float32 IO; ORT CPU within 1e-2 of --compute fp32', async () => {
    const args = { method: 'rtn', bits: '4', target: 'ort-cuda', json: true } as const;
    const [a, b] = [join(dir, 'c16.onnx'), join(dir, 'c32.onnx')];
    expect(await cmds.quantize!.run({ positionals: [input], values: { ...args, output: a, compute: 'fp16' }, io: io().io })).toBe(0);
    expect(await cmds.quantize!.run({ positionals: [input], values: { ...args, output: b }, io: io().io })).toBe(0);
    const g = await loadModel(a);
    const mm = g.nodes.filter((n) => n.op === 'MatMulNBits');
    expect(mm.length).toBeGreaterThan(0);
    for (const n of mm) expect([n.input(0).dtype, n.input(2).dtype]).toEqual([DTypes.float16, DTypes.float16]);
    expect(g.outputs[0]!.dtype).toBe(DTypes.float32);
    const [x, y] = [await logits(a), await logits(b)];
    let d = 0;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
    expect(d).toBeLessThan(1e-2); // fp16 rounding of activations (|logit| ≲ 4)
    await expect(cmds.quantize!.run({ positionals: [input], values: { ...args, output: join(dir, 'bf.onnx'), compute: 'bf16', target: 'ort-webgpu' }, io: io().io })).rejects.toThrow(/ort-webgpu has no bfloat16 kernels/);
  });

  it('quantize --stream works tensor by tensor from external data and matches the in-memory result', async () => {
    const extIn = join(dir, 'ext-in.onnx');
    await saveModel(model, extIn, { externalData: { sizeThreshold: 0 } });
    const o = io();
    const args = { method: 'rtn', bits: '4', 'block-size': '32', json: true } as const;
    expect(await cmds.quantize!.run({ positionals: [extIn], values: { ...args, output: join(dir, 'streamed.onnx'), stream: true }, io: o.io })).toBe(0);
    const report = JSON.parse(o.out.join(''));
    expect(report.layersQuantized).toBeGreaterThan(0);
    expect(report.bytesAfter).toBeLessThan(report.bytesBefore * 0.5);
    expect(readFileSync(join(dir, 'streamed.onnx.data')).length).toBeGreaterThan(0);
    const streamed = await logits(join(dir, 'streamed.onnx'));
    const ref = await logits(input);
    let dot = 0, na = 0, nb = 0;
    for (let i = 0; i < ref.length; i++) { dot += streamed[i]! * ref[i]!; na += streamed[i]! ** 2; nb += ref[i]! ** 2; }
    expect(dot / Math.sqrt(na * nb)).toBeGreaterThan(0.98); // int4 vs fp32 logits
    // pack / unpack / sparsify stream the same way; the round trip restores every weight bit for bit.
    const packed = join(dir, 'streamed.lfpack');
    expect(await cmds.pack!.run({ positionals: [extIn], values: { output: packed, stream: true }, io: io().io })).toBe(0);
    expect(isLfpack(readFileSync(packed))).toBe(true);
    const restored = join(dir, 'restored.onnx');
    expect(await cmds.unpack!.run({ positionals: [packed], values: { output: restored, stream: true }, io: io().io })).toBe(0);
    const a = await loadModel(extIn), b = await loadModel(restored);
    for (const [name, v] of a.initializers) expect(Buffer.from(b.initializers.get(name)!.const!.bytes()).equals(Buffer.from(v.const!.bytes())), name).toBe(true);
    expect(await cmds.sparsify!.run({ positionals: [extIn], values: { output: join(dir, 'sparse.onnx'), pattern: '2:4', stream: true }, io: io().io })).toBe(0);
    expect(readFileSync(join(dir, 'sparse.onnx.data')).length).toBeGreaterThan(0);
    const bad = io();
    await expect(cmds.quantize!.run({ positionals: [extIn], values: { ...args, method: 'gptq', output: join(dir, 'x.onnx'), stream: true }, io: bad.io })).rejects.toThrow(/needs calibration/);
    await expect(cmds.quantize!.run({ positionals: [extIn], values: { ...args, method: 'fp16', output: join(dir, 'x.onnx'), stream: true }, io: bad.io })).rejects.toThrow(/--stream supports --method rtn, hqq, gptq/);
    // Calibrated methods stream too, with --calib-random.
    const g = io();
    expect(await cmds.quantize!.run({ positionals: [extIn], values: { ...args, method: 'gptq', 'calib-random': '2', output: join(dir, 'gptq-streamed.onnx'), stream: true }, io: g.io })).toBe(0);
    expect(JSON.parse(g.out.join('')).layersQuantized).toBe(report.layersQuantized);
  });

  it('quantize --json prints exactly the documented keys and writes a model ORT runs', async () => {
    const o = io();
    const out = join(dir, 'q.onnx');
    const code = await cmds.quantize!.run({ positionals: [input], values: { output: out, method: 'gptq', bits: '4', 'block-size': '32', 'calib-random': '2', json: true }, io: o.io });
    expect(code).toBe(0);
    const report = JSON.parse(o.out.join(''));
    expect(Object.keys(report)).toEqual(['method', 'bits', 'blockSize', 'target', 'layersQuantized', 'bytesBefore', 'bytesAfter', 'seconds']);
    expect(report).toMatchObject({ method: 'gptq', bits: 4, blockSize: 32, target: 'ort-cpu', layersQuantized: 9 });
    const saved = decodeModel(readFileSync(out));
    expect(saved.nodes.some((n) => n.op === 'MatMulNBits')).toBe(true);
    expect((await logits(out)).length).toBe(4 * 256);
  });

  it('quantize --report writes a self-contained HTML page with every rewritten layer; --json stays one object', async () => {
    const o = io();
    const out = join(dir, 'qr.onnx'), html = join(dir, 'report.html');
    const code = await cmds.quantize!.run({ positionals: [input], values: { output: out, method: 'rtn', bits: '4', json: true, report: html }, io: o.io });
    expect(code).toBe(0);
    const report = JSON.parse(o.out.join(''));
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain("default-src 'none'");
    expect(page.match(/<tr><td>[^<]+<\/td><td>(linear|embedding)<\/td>/g)).toHaveLength(report.layersQuantized);
    expect(page).toContain(`${report.layersQuantized} layers quantized for ort-cpu`);
    await expect(cmds.quantize!.run({ positionals: [input], values: { output: out, method: 'rtn', stream: true, report: html }, io: o.io })).rejects.toThrow(/--report is not available with --stream/);
    await expect(cmds.quantize!.run({ positionals: [input], values: { output: out, method: 'rtn', report: join(dir, 'no', 'r.html') }, io: o.io })).rejects.toThrow(/does not exist/);
    await expect(cmds.quantize!.run({ positionals: [input], values: { output: out, method: 'rtn', report: input }, io: o.io })).rejects.toThrow();
  });

  it('quantize names what is wrong', async () => {
    const o = io();
    await expect(cmds.quantize!.run({ positionals: [input], values: { output: join(dir, 'x.onnx'), method: 'nope' }, io: o.io })).rejects.toThrow(/--method must be one of/);
    await expect(cmds.quantize!.run({ positionals: [input], values: { output: join(dir, 'x.onnx'), method: 'rtn', bits: '3' }, io: o.io })).rejects.toThrow(/--bits must be one of 4, 8/);
    await expect(cmds.quantize!.run({ positionals: [input], values: { method: 'rtn' }, io: o.io })).rejects.toThrow(/missing -o/);
    await expect(cmds.quantize!.run({ positionals: [input], values: { output: join(dir, 'x.onnx'), method: 'awq' }, io: o.io })).rejects.toThrow(/needs calibration data/);
  });

  it('pack → .lfpack → unpack restores identical weights, and .lfpack runs directly', async () => {
    const packed = join(dir, 'm.lfpack');
    const back = join(dir, 'back.onnx');
    const o = io();
    expect(await cmds.pack!.run({ positionals: [input], values: { output: packed, json: true }, io: o.io })).toBe(0);
    expect(JSON.parse(o.out.join('')).ratio).toBeLessThan(0.9);
    expect(isLfpack(readFileSync(packed))).toBe(true);
    expect(await cmds.unpack!.run({ positionals: [packed], values: { output: back }, io: io().io })).toBe(0);
    const a = decodeModel(readFileSync(input));
    const b = decodeModel(readFileSync(back));
    for (const [name, v] of a.initializers) expect(Buffer.from(b.initializers.get(name)!.const!.bytes()).equals(Buffer.from(v.const!.bytes()))).toBe(true);
    expect(Array.from(await logits(packed))).toEqual(Array.from(await logits(input)));
  });

  it('readAnyModel reports the bytes it reads (model and external data; .lfpack read then unpack) as core ProgressEvents', async () => {
    const ext = join(dir, 'ext.onnx');
    await saveModel(model, ext, { externalData: true });
    const packed = join(dir, 'progress.lfpack');
    expect(await cmds.pack!.run({ positionals: [input], values: { output: packed, json: true }, io: io().io })).toBe(0);
    const sizes = { [input]: statSync(input).size, [ext]: statSync(ext).size + statSync(`${ext}.data`).size, [packed]: statSync(packed).size };
    for (const [path, size] of Object.entries(sizes)) {
      const events: ProgressEvent[] = [];
      await readAnyModel(path, (e) => events.push(e));
      const read = events.filter((e) => e.phase === 'read');
      expect(read[0]).toMatchObject({ done: 0, unit: 'bytes' });
      for (let i = 1; i < read.length; i++) expect(read[i]!.done).toBeGreaterThanOrEqual(read[i - 1]!.done);
      expect(read.at(-1)).toMatchObject({ done: size, total: size, unit: 'bytes' });
      expect(events.slice(read.length).every((e) => e.phase === 'unpack')).toBe(path === packed || events.length === read.length);
    }
  });

  it('sparsify --pattern 2:4 --json', async () => {
    const o = io();
    expect(await cmds.sparsify!.run({ positionals: [input], values: { output: join(dir, 's.onnx'), pattern: '2:4', json: true }, io: o.io })).toBe(0);
    expect(JSON.parse(o.out.join(''))).toMatchObject({ pattern: '2:4', layersSparsified: 8 });
    await expect(cmds.sparsify!.run({ positionals: [input], values: { output: join(dir, 's.onnx'), pattern: '1:4' }, io: o.io })).rejects.toThrow(/2:4/);
  });
});

// Issue 16 item 6: an exporter (paddle2onnx) that keeps MatMul weights in Constant nodes, one of
// them shared by two MatMuls, and one behind an Identity.
function constantWeightModel(): Graph {
  const g = new Graph('constant-weights');
  g.opsets.set('', 17);
  const x = g.addInput('x', tensorType(DTypes.float32, [2, 64]));
  const wc = (seed: number) => attr.tensor(new Tensor(DTypes.float32, [64, 64], syntheticWeight(64, 64, seed)));
  const c = g.addNode({ op: 'Constant', outputs: ['linear_0.w_0'], attrs: { value: wc(1) } }).output();
  const h1 = g.addNode({ op: 'MatMul', name: 'mm1', inputs: [x, c] }).output();
  const w2 = g.addNode({ op: 'Identity', inputs: [g.addInitializer('w2', new Tensor(DTypes.float32, [64, 64], syntheticWeight(64, 64, 2)))], outputs: ['w2_id'] }).output();
  const h2 = g.addNode({ op: 'Relu', inputs: [g.addNode({ op: 'MatMul', name: 'mm2', inputs: [h1, w2] }).output()] }).output();
  // c again: a shared weight (Tanh after it, so both readers are 4-bit layers, not an int8 LM head)
  const y = g.addNode({ op: 'Tanh', inputs: [g.addNode({ op: 'MatMul', name: 'mm3', inputs: [h2, c] }).output()] }).output();
  y.type = tensorType(DTypes.float32, [2, 64]);
  g.addOutput(y);
  return g;
}

describe('weights in Constant nodes and runs that change nothing (issue 16 item 6)', () => {
  const feed = { x: new Tensor(DTypes.float32, [2, 64], syntheticWeight(2, 64, 9)) };
  const run = async (p: string) => { const exe = await createOrtBackend().compile(await loadModel(p)); const y = (await exe.run(feed))[(await loadModel(p)).outputs[0]!.name]!.toFloat32(); await exe.dispose(); return y; };

  it('quantize, sparsify and pack find Constant / Identity / shared weights', async () => {
    const p = join(dir, 'const.onnx');
    writeFileSync(p, encodeModel(constantWeightModel()));
    for (const method of ['rtn', 'nf4', 'gptq']) {
      const o = io();
      const extra = method === 'gptq' ? { 'calib-random': '64' } : {}; // 128 rows for K = 64: a full-rank Hessian
      expect(await cmds.quantize!.run({ positionals: [p], values: { output: join(dir, `const-${method}.onnx`), method, json: true, ...extra }, io: o.io })).toBe(0);
      const r = JSON.parse(o.out.join(''));
      expect(r.layersQuantized, method).toBe(3);
      expect(r.bytesBefore, method).toBe(2 * 64 * 64 * 4);
      expect(r.bytesAfter, method).toBeLessThan(r.bytesBefore / 2);
      // The shared weight is quantized once for calibration-free methods (both QMatMuls read one B); GPTQ's
      // result depends on each layer's input, so it keeps one per layer.
      const q = await loadModel(join(dir, `const-${method}.onnx`));
      expect([...q.initializers.keys()].filter((n) => /_Q[48]/.test(n)).length, method).toBe(method === 'gptq' ? 3 : 2);
      const ref = await run(p), got = await run(join(dir, `const-${method}.onnx`));
      let dot = 0, na = 0, nb = 0;
      for (let i = 0; i < ref.length; i++) { dot += ref[i]! * got[i]!; na += ref[i]! ** 2; nb += got[i]! ** 2; }
      expect(dot / Math.sqrt(na * nb), method).toBeGreaterThan(0.97); // int4 through three random layers (gptq measured 0.979)
    }
    const s = io();
    expect(await cmds.sparsify!.run({ positionals: [p], values: { output: join(dir, 'const-sp.onnx'), pattern: '2:4', json: true }, io: s.io })).toBe(0);
    expect(JSON.parse(s.out.join('')).layersSparsified).toBe(3);
    const k = io();
    expect(await cmds.pack!.run({ positionals: [p], values: { output: join(dir, 'const.lfpack'), json: true }, io: k.io })).toBe(0);
    expect(JSON.parse(k.out.join('')).tensors).toBe(2);
  });

  it('a model with nothing to quantize says so (reason in the JSON, a note on stderr) and prints no NaN×', async () => {
    const g = new Graph('no-weights');
    g.opsets.set('', 17);
    const a = g.addInput('a', tensorType(DTypes.float32, [2, 4]));
    const b = g.addInput('b', tensorType(DTypes.float32, [4, 2]));
    g.addOutput(g.addNode({ op: 'MatMul', inputs: [a, b] }).output());
    const p = join(dir, 'noweights.onnx');
    writeFileSync(p, encodeModel(g));
    const j = io();
    expect(await cmds.quantize!.run({ positionals: [p], values: { output: join(dir, 'nw-q.onnx'), method: 'rtn', json: true }, io: j.io })).toBe(0);
    const r = JSON.parse(j.out.join(''));
    expect(r).toMatchObject({ layersQuantized: 0, bytesBefore: 0 });
    expect(r.reason).toMatch(/none of the 1 MatMul\/Gemm nodes has a constant 2-D float weight/);
    expect(j.err.join('')).toMatch(/note: nothing quantized/);
    const t = io();
    expect(await cmds.quantize!.run({ positionals: [p], values: { output: join(dir, 'nw-q2.onnx'), method: 'rtn' }, io: t.io })).toBe(0);
    expect(t.out.join('') + t.err.join('')).not.toMatch(/NaN/);
    expect(t.err.join('')).toMatch(/nothing quantized/);
  });
});
