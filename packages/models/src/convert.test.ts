// convert: the happy path (fp32 equals transformers; int4 GPTQ keeps the greedy start and the logits'
// direction) and every bad-input case of issue #15 (an error code naming the file and field, and
// nothing written: no output folder, no temporary left beside it).
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cosine, LeanformerError, type ProgressEvent } from '@leanformer/core';
import { createTempPath, discardTemp, liveTempPaths } from '@leanformer/core/node';
import { greedyIds, prefillLogits, studyPrompts } from './decode.test-support.js';
import { convertCheckpoint, loadPretrained, type PretrainedModel } from './node.js';
import { editConfig, editHeader } from './folder-edits.js';
import { loadModel } from '@leanformer/onnx/node';

const LLAMA = fileURLToPath(new URL('../fixtures/llama', import.meta.url));
const ref = JSON.parse(readFileSync(join(LLAMA, 'reference.json'), 'utf8')) as { promptIds: number[]; logits: number[]; greedyIds: number[] };
const TRAINED = fileURLToPath(new URL('../fixtures/llama-trained', import.meta.url));
const ENCODER = fileURLToPath(new URL('../fixtures/encoders/bert', import.meta.url));
const trainedRef = JSON.parse(readFileSync(join(TRAINED, 'reference.json'), 'utf8')) as typeof ref;
const work = mkdtempSync(join(tmpdir(), 'lf-models-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const greedy = (m: PretrainedModel, n: number, promptIds: readonly number[] = ref.promptIds): Promise<number[]> => greedyIds(m, n, promptIds);

describe('convert', () => {
  it('fp32: model.onnx + tokenizer files + leanformer.json; the converted folder generates what transformers does', async () => {
    const out = join(work, 'fp32');
    const r = await convertCheckpoint(LLAMA, out);
    expect(r.files).toEqual(expect.arrayContaining(['model.onnx', 'leanformer.json', 'tokenizer.json', 'tokenizer_config.json', 'config.json']));
    const m = await loadPretrained(out);
    try {
      expect(m.source).toBe('converted');
      expect(await greedy(m, 32)).toEqual(ref.greedyIds);
    } finally { await m.dispose(); }
  }, 60_000);

  // On random weights (this fixture) 4-bit codes have no structure to exploit and calibration text is
  // no more typical than random ids: measured cosine int4 gptq 0.967 (text calibration; 0.973 with
  // random ids), rtn 0.968, hqq 0.977, int8 0.9996. The quality bar runs on the trained fixture below.
  it('int4 GPTQ: MatMulNBits model runs, logits cosine vs transformers ≥ 0.96 (random weights)', async () => {
    const out = join(work, 'int4');
    const r = await convertCheckpoint(LLAMA, out, { precision: 'int4', method: 'gptq' });
    expect(r.method).toBe('gptq');
    expect(readFileSync(join(out, 'model.onnx')).includes(Buffer.from('MatMulNBits'))).toBe(true);
    const q = await loadPretrained(out);
    try {
      expect(cosine(await prefillLogits(q, ref.promptIds), ref.logits)).toBeGreaterThanOrEqual(0.96);
      expect((await greedy(q, 8)).length).toBe(8);
    } finally { await q.dispose(); }
  }, 120_000);

  // fixtures/llama-trained: a tiny Llama (4 layers, hidden 128) trained on text (make_trained_llama.py),
  // so its next-token distributions are peaked as a real checkpoint's are. transformers' first 8 greedy
  // tokens on its prompt have margins 0.76…6.4 logits. Measured: int4 gptq cosine 0.997 vs
  // transformers' fp32 logits, int8 0.9999. int4-study.test.ts measures the 8-token bar over 29 prompts
  // and every method (README, "Quantized quality"): it holds on this prompt for every int4 method tried;
  // over the 29 prompts, whose fp32 margins go down to 0.002 logits, gptq keeps all 8 on 6–15.
  it('int4 GPTQ on the trained tiny Llama keeps transformers\' first 8 greedy tokens, logits cosine ≥ 0.99; int8 too, cosine ≥ 0.9995', async () => {
    const q4 = join(work, 'trained-gptq'), q8 = join(work, 'trained-int8');
    await convertCheckpoint(TRAINED, q4, { precision: 'int4', method: 'gptq' });
    await convertCheckpoint(TRAINED, q8, { precision: 'int8' });
    const [a, b] = [await loadPretrained(q4), await loadPretrained(q8)];
    try {
      expect(cosine(await prefillLogits(a, trainedRef.promptIds), trainedRef.logits)).toBeGreaterThanOrEqual(0.99);
      expect(cosine(await prefillLogits(b, trainedRef.promptIds), trainedRef.logits)).toBeGreaterThanOrEqual(0.9995);
      expect(await greedy(a, 8, trainedRef.promptIds)).toEqual(trainedRef.greedyIds.slice(0, 8));
      expect(await greedy(b, 8, trainedRef.promptIds)).toEqual(trainedRef.greedyIds.slice(0, 8));
    } finally { await a.dispose(); await b.dispose(); }
  }, 120_000);

  it('--block-size: int4 blocks of 16 reach MatMulNBits; a size MatMulNBits lacks, or one for a float precision, is INVALID_ARGUMENT and writes nothing', async () => {
    const out = join(work, 'b16');
    await convertCheckpoint(TRAINED, out, { precision: 'int4', method: 'rtn', blockSize: 16 });
    const g = await loadModel(join(out, 'model.onnx'));
    const blocks = new Set(g.nodes.filter((n) => n.op === 'MatMulNBits').map((n) => Number(n.attrs.get('block_size')?.value)));
    expect([...blocks]).toEqual([16]);
    const parent = join(work, 'bad-block');
    mkdirSync(parent);
    await expect(convertCheckpoint(TRAINED, join(parent, 'out'), { precision: 'int4', blockSize: 24 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(convertCheckpoint(TRAINED, join(parent, 'out'), { precision: 'fp16', blockSize: 16 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'blockSize' } });
    expect(readdirSync(parent)).toEqual([]);
  }, 60_000);

  // Self-calibration: calibration sequences sampled from the model itself. On the trained fixture it beats
  // the built-in English passage over the 29 study prompts (measured mean cosine 0.9944 vs 0.9926; the
  // int4 study and README "Quantized quality" have it on more models) and is reproducible by seed.
  it('self-calibration (calibration.self): GPTQ on sequences sampled from the model itself beats the built-in passage over 29 prompts; same seed, same bytes', async () => {
    const fp32 = await loadPretrained(TRAINED);
    const prompts = studyPrompts(fp32.tokenizer!);
    const refs: Float32Array[] = [];
    for (const p of prompts) refs.push(await prefillLogits(fp32, p));
    await fp32.dispose();
    const meanCosine = async (dir: string): Promise<number> => {
      const q = await loadPretrained(dir);
      let sum = 0;
      try { for (const [i, p] of prompts.entries()) sum += cosine(await prefillLogits(q, p), refs[i]!); } finally { await q.dispose(); }
      return sum / prompts.length;
    };
    const [self, self2, builtin] = [join(work, 'self-calib'), join(work, 'self-calib-2'), join(work, 'builtin-calib')];
    const events: ProgressEvent[] = [];
    await convertCheckpoint(TRAINED, self, { precision: 'int4', method: 'gptq', calibration: { self: true }, onProgress: (e) => events.push(e) });
    await convertCheckpoint(TRAINED, self2, { precision: 'int4', method: 'gptq', calibration: { self: true } });
    await convertCheckpoint(TRAINED, builtin, { precision: 'int4', method: 'gptq' });
    expect(readFileSync(join(self, 'model.onnx')).equals(readFileSync(join(self2, 'model.onnx')))).toBe(true);
    expect(events.filter((e) => e.phase === 'self-calibrate').at(-1)).toMatchObject({ done: 64, total: 64 });
    const [s, b] = [await meanCosine(self), await meanCosine(builtin)];
    expect(s).toBeGreaterThan(b);
    expect(s).toBeGreaterThanOrEqual(0.994);
  }, 180_000);

  it('self-calibration with text, with a method that takes no calibration, or on an encoder is INVALID_ARGUMENT and writes nothing', async () => {
    const parent = join(work, 'bad-self');
    mkdirSync(parent);
    await expect(convertCheckpoint(TRAINED, join(parent, 'out'), { precision: 'int4', method: 'gptq', calibration: { self: true, text: 'some text' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'calibration.self' } });
    await expect(convertCheckpoint(TRAINED, join(parent, 'out'), { precision: 'int4', method: 'rtn', calibration: { self: true } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'calibration.self' } });
    await expect(convertCheckpoint(TRAINED, join(parent, 'out'), { precision: 'int4', method: 'gptq', calibration: { self: true, tokens: 1000 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'calibration.tokens' } });
    await expect(convertCheckpoint(ENCODER, join(parent, 'out'), { precision: 'int4', method: 'gptq', calibration: { self: true } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'calibration.self' } });
    expect(readdirSync(parent)).toEqual([]);
  }, 60_000);

  it('calibration text: --calib-text that encodes to less than one sequence is INVALID_ARGUMENT and writes nothing', async () => {
    const parent = join(work, 'short-calib');
    mkdirSync(parent);
    await expect(convertCheckpoint(TRAINED, join(parent, 'out'), { precision: 'int4', method: 'gptq', calibration: { text: 'too short' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'calibration.text' } });
    expect(readdirSync(parent)).toEqual([]);
    await expect(convertCheckpoint(TRAINED, join(parent, 'out'), { precision: 'int4', method: 'rtn', calibration: { text: 'unused' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'calibration.text' } });
    expect(readdirSync(parent)).toEqual([]);
  }, 60_000);

  it('an existing output folder is replaced only at the end, leaving nothing else beside it', async () => {
    const parent = join(work, 'replace');
    mkdirSync(parent);
    const out = join(parent, 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'stale.txt'), 'old');
    await convertCheckpoint(LLAMA, out);
    expect(readdirSync(parent)).toEqual(['out']);
    expect(readdirSync(out)).not.toContain('stale.txt');
    expect(readdirSync(out)).toContain('model.onnx');
  }, 60_000);

  it('int8 RTN (streamed): logits cosine vs transformers ≥ 0.999', async () => {
    const out = join(work, 'int8');
    const events: ProgressEvent[] = [];
    await convertCheckpoint(LLAMA, out, { precision: 'int8', onProgress: (e) => events.push(e) }); // rtn: the streaming path (staging file removed)
    // Progress: build, write (the staging file), then the streamed quantizer's layers 0…total.
    expect([...new Set(events.map((e) => e.phase))]).toEqual(['build', 'write', 'quantize']);
    const q8 = events.filter((e) => e.phase === 'quantize');
    expect(q8.map((e) => e.done)).toEqual(Array.from({ length: q8.length }, (_, i) => i));
    expect(q8.at(-1)!.done).toBe(q8[0]!.total);
    expect(readdirSync(out).filter((f) => f.startsWith('model') || f.startsWith('stage')).sort()).toEqual(['model.onnx', 'model.onnx.data']);
    const q = await loadPretrained(out);
    try { expect(cosine(await prefillLogits(q, ref.promptIds), ref.logits)).toBeGreaterThanOrEqual(0.999); } finally { await q.dispose(); }
  }, 60_000);
});

// ---- bad input: each case copies the tiny Llama, breaks one thing, and converts it.

let n = 0;
function broken(mutate: (dir: string) => void): { dir: string; out: string; parent: string } {
  const parent = join(work, `bad-${n++}`);
  const dir = join(parent, 'in');
  cpSync(LLAMA, dir, { recursive: true });
  mutate(dir);
  return { dir, out: join(parent, 'out'), parent };
}



const CASES: { name: string; code: string; mention: string[]; mutate: (dir: string) => void }[] = [
  { name: 'unknown model_type', code: 'NOT_SUPPORTED', mention: ['config.json', "model_type \"mamba\"", 'llama, mistral, qwen2, phi3, gemma, gpt2'], mutate: (d) => editConfig(d, (c) => { c['model_type'] = 'mamba'; }) },
  { name: 'config field missing', code: 'INVALID_ARGUMENT', mention: ['config.json', "'hidden_size'"], mutate: (d) => editConfig(d, (c) => { delete c['hidden_size']; }) },
  { name: 'config inconsistent with tensor shapes', code: 'SHAPE_MISMATCH', mention: ['model.safetensors', 'gate_proj', '[128, 64]', '[100, 64]'], mutate: (d) => editConfig(d, (c) => { c['intermediate_size'] = 100; }) },
  { name: 'config.json that does not parse', code: 'DECODE_ERROR', mention: ['config.json'], mutate: (d) => writeFileSync(join(d, 'config.json'), '{"model_type": "llama",') },
  { name: 'truncated safetensors', code: 'DECODE_ERROR', mention: ['model.safetensors', 'data section'], mutate: (d) => { const p = join(d, 'model.safetensors'); const b = readFileSync(p); writeFileSync(p, b.subarray(0, b.length - 1000)); } },
  { name: 'header length larger than the file', code: 'DECODE_ERROR', mention: ['model.safetensors', 'runs past the end'], mutate: (d) => { const p = join(d, 'model.safetensors'); const b = readFileSync(p); b.writeBigUInt64LE(BigInt(b.length + 10), 0); writeFileSync(p, b); } },
  { name: 'offsets out of range', code: 'DECODE_ERROR', mention: ['model.safetensors', 'model.norm.weight', 'ends at byte'], mutate: (d) => editHeader(d, (h) => { const e = h['model.norm.weight']!; e.data_offsets = [e.data_offsets[0] + 1_000_000, e.data_offsets[1] + 1_000_000]; }) },
  { name: 'overlapping offsets', code: 'DECODE_ERROR', mention: ['model.safetensors', 'overlaps'], mutate: (d) => editHeader(d, (h) => { const e = h['model.layers.0.self_attn.o_proj.weight']!; e.data_offsets = [e.data_offsets[0] - 4, e.data_offsets[1] - 4]; }) },
  { name: 'unsupported dtype', code: 'NOT_SUPPORTED', mention: ['model.safetensors', 'model.norm.weight', 'int32', 'float32, float16, bfloat16'], mutate: (d) => editHeader(d, (h) => { h['model.norm.weight']!.dtype = 'I32'; }) },
  { name: 'tokenizer.json that does not parse', code: 'DECODE_ERROR', mention: ['tokenizer.json'], mutate: (d) => writeFileSync(join(d, 'tokenizer.json'), '{"version": "1.0", "model": {') },
  { name: 'shard named by the index is missing', code: 'INVALID_ARGUMENT', mention: ['model-00002-of-00002.safetensors', 'model.safetensors.index.json'], mutate: (d) => writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': 'model-00002-of-00002.safetensors' } })) },
];

describe('streaming: checkpoint tensors are read on demand and released after writing', () => {
  it('building reads no weight matrix; saveModel with external data leaves none loaded; the file runs', async () => {
    const { buildCausalLM } = await import('./build.js');
    const { readCheckpoint } = await import('./pretrained.js');
    const { folderFiles } = await import('./node.js');
    const { saveModel } = await import('@leanformer/onnx/node');
    const ck = readCheckpoint(folderFiles(LLAMA));
    const g = buildCausalLM(ck.spec, ck.weights);
    const lazy = [...g.initializers.values()].filter((v) => v.const?.lazySource);
    expect(lazy.length).toBe(2 * 7 + 2); // q,k,v,o,gate,up,down per layer + embeddings + LM head
    expect(lazy.every((v) => !v.const!.isLoaded)).toBe(true);
    const dir = join(work, 'stream');
    mkdirSync(dir);
    await saveModel(g, join(dir, 'model.onnx'), { externalData: { sizeThreshold: 0 } });
    expect(lazy.every((v) => !v.const!.isLoaded)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['model.onnx', 'model.onnx.data']);
  });
});

describe('temporary output folder', () => {
  it('a temporary folder with files in it is removed by discardTemp (what a failure or SIGINT mid-convert does)', () => {
    const target = join(work, 'tmpdir-out');
    const tmp = createTempPath(target);
    mkdirSync(tmp);
    writeFileSync(join(tmp, 'model.onnx'), 'partial');
    expect(liveTempPaths()).toContain(tmp);
    discardTemp(tmp);
    expect(existsSync(tmp)).toBe(false);
  });
});

describe('convert: bad input fails with a LeanformerError naming file and field, and writes nothing', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const { dir, out, parent } = broken(c.mutate);
      const e = await convertCheckpoint(dir, out).then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(LeanformerError);
      expect((e as LeanformerError).code).toBe(c.code);
      for (const m of c.mention) expect((e as LeanformerError).message).toContain(m);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(parent)).toEqual(['in']);
    });
  }
});
