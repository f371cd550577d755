// Encoders (BERT, RoBERTa, ViT, DeiT) against transformers (PyTorch): tiny random-weight checkpoints
// and their fp32 outputs, made by fixtures/make_encoder_fixtures.py (transformers 5.17, torch 2.11).
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LeanformerError, Tensor, type Backend } from '@leanformer/core';
import { main, type Io } from '@leanformer/cli';
import { createLoraAdapter, injectLora, mergeLora } from '@leanformer/peft';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';
import { buildEncoder } from './encoders.js';
import { readEncoderCheckpoint } from './pretrained.js';
import { convertCheckpoint, folderFiles, loadPretrained, tokenizerIn, type PretrainedEncoder } from './node.js';
import { editConfig, editHeader } from './folder-edits.js';

const FIX = fileURLToPath(new URL('../fixtures/encoders/', import.meta.url));
interface Flat { shape: number[]; data: number[] }
interface Ref { inputs: Record<string, Flat>; last_hidden_state: Flat; pooler_output?: Flat; sentences?: { text: string; ids: number[] }[] }
const refOf = (name: string): Ref => JSON.parse(readFileSync(`${FIX}${name}/reference.json`, 'utf8')) as Ref;
const work = mkdtempSync(join(tmpdir(), 'lf-encoders-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The reference's inputs as feeds; an input the reference left out would take transformers' default, zeros. */
function feedsOf(m: PretrainedEncoder, ref: Ref): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const name of m.inputs) {
    const r = ref.inputs[name];
    if (name === 'pixel_values') feeds[name] = new Tensor('float32', r!.shape, Float32Array.from(r!.data));
    else if (r) feeds[name] = new Tensor('int64', r.shape, BigInt64Array.from(r.data, BigInt));
    else feeds[name] = new Tensor('int64', ref.inputs['input_ids']!.shape, new BigInt64Array(ref.inputs['input_ids']!.data.length));
  }
  return feeds;
}

function maxAbsDiff(got: Tensor, want: Flat): number {
  expect(got.shape).toEqual(want.shape);
  const g = got.toFloat32();
  let err = 0;
  for (let i = 0; i < g.length; i++) err = Math.max(err, Math.abs(g[i]! - want.data[i]!));
  return err;
}

const ENCODERS = ['bert', 'roberta', 'vit', 'deit'];
const BACKENDS: readonly [string, () => Backend][] = [['ort-cpu', () => createOrtBackend({ eps: ['cpu'] })], ['tfjs-cpu', () => createTfjsBackend('cpu')]];

describe.each(BACKENDS)('encoder parity with transformers on tiny random checkpoints (%s, fp32)', (_b, backend) => {
  for (const name of ENCODERS) {
    it(`${name}: last_hidden_state and pooler_output within 1e-4`, async () => {
      const ref = refOf(name);
      const m = await loadPretrained(`${FIX}${name}`, { kind: 'encoder', backend: backend() });
      try {
        expect(m.outputs).toEqual(['last_hidden_state', 'pooler_output']);
        const out = await m.executor.run(feedsOf(m, ref));
        expect(maxAbsDiff(out['last_hidden_state']!, ref.last_hidden_state)).toBeLessThanOrEqual(1e-4);
        expect(maxAbsDiff(out['pooler_output']!, ref.pooler_output!)).toBeLessThanOrEqual(1e-4);
      } finally {
        await m.dispose();
      }
    }, 60_000);
  }
});

describe('encoder checkpoint from memory (the browser path)', () => {
  it('memoryFiles + readEncoderCheckpoint + buildEncoder give the folder\'s numbers', async () => {
    const { memoryFiles } = await import('./pretrained.js');
    const dir = `${FIX}roberta`;
    const ck = readEncoderCheckpoint(memoryFiles(Object.fromEntries(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]))));
    const ref = refOf('roberta');
    expect(ck.tokenizer!.encode(ref.sentences![0]!.text)).toEqual(ref.sentences![0]!.ids);
    const exe = await createOrtBackend({ eps: ['cpu'] }).compile(buildEncoder(ck.spec, ck.weights));
    const o = await exe.run(Object.fromEntries(['input_ids', 'attention_mask'].map((k) => [k, new Tensor('int64', ref.inputs[k]!.shape, BigInt64Array.from(ref.inputs[k]!.data, BigInt))])));
    expect(maxAbsDiff(o['last_hidden_state']!, ref.last_hidden_state)).toBeLessThanOrEqual(1e-4);
    await exe.dispose();
  });
});

describe('encoder inputs', () => {
  it('BERT takes token_type_ids, RoBERTa (one token type) does not; ViT/DeiT take pixel_values; DeiT keeps its distillation token', async () => {
    const want: Record<string, { inputs: string[]; tokens?: number }> = {
      bert: { inputs: ['input_ids', 'attention_mask', 'token_type_ids'] },
      roberta: { inputs: ['input_ids', 'attention_mask'] },
      vit: { inputs: ['pixel_values'], tokens: 16 + 1 },
      deit: { inputs: ['pixel_values'], tokens: 16 + 2 },
    };
    for (const [name, w] of Object.entries(want)) {
      const m = await loadPretrained(`${FIX}${name}`, { kind: 'encoder' });
      try {
        expect(m.inputs).toEqual(w.inputs);
        if (w.tokens) expect(refOf(name).last_hidden_state.shape[1]).toBe(w.tokens);
      } finally { await m.dispose(); }
    }
  });
});

describe('encoder tokenizers (@huggingface/tokenizers) against the Rust tokenizers', () => {
  for (const name of ['bert', 'roberta']) {
    it(`${name}: ids equal on sentences with Unicode, emoji, tabs, newlines and repeated spaces`, () => {
      const tok = tokenizerIn(`${FIX}${name}`)!;
      const ref = refOf(name);
      expect(ref.sentences!.length).toBeGreaterThan(0);
      for (const s of ref.sentences!) expect(tok.encode(s.text), JSON.stringify(s.text)).toEqual(s.ids);
    });
  }
});

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i]! * b[i]!; na += a[i]! ** 2; nb += b[i]! ** 2; }
  return dot / Math.sqrt(na * nb);
}

describe('BERT token types', () => {
  it('token_type_ids select rows of the token-type table: ids of 1 equal ids of 0 on a checkpoint whose row 0 is the original row 1', async () => {
    // Beside the PyTorch reference (a sentence pair, segments 0 and 1): the rows are really selected by id.
    const ck = readEncoderCheckpoint(folderFiles(`${FIX}bert`));
    const ttName = 'embeddings.token_type_embeddings.weight';
    const swapped = { ...ck.weights, read: (n: string) => {
      const t = ck.weights.read(n);
      if (n !== ttName) return t;
      const a = t.toFloat32(), H = t.shape[1]!;
      return new Tensor('float32', t.shape, Float32Array.from([...a.subarray(H, 2 * H), ...a.subarray(0, H)]));
    } };
    const ort = createOrtBackend({ eps: ['cpu'] });
    const [orig, swap] = await Promise.all([ort.compile(buildEncoder(ck.spec, ck.weights)), ort.compile(buildEncoder(ck.spec, swapped))]);
    const ref = refOf('bert');
    const [B, S] = ref.inputs['input_ids']!.shape as [number, number];
    const base = { input_ids: new Tensor('int64', [B, S], BigInt64Array.from(ref.inputs['input_ids']!.data, BigInt)), attention_mask: new Tensor('int64', [B, S], BigInt64Array.from(ref.inputs['attention_mask']!.data, BigInt)) };
    const ones = (await orig.run({ ...base, token_type_ids: new Tensor('int64', [B, S], new BigInt64Array(B * S).fill(1n)) }))['last_hidden_state']!.toFloat32();
    const zeros = (await orig.run({ ...base, token_type_ids: new Tensor('int64', [B, S], new BigInt64Array(B * S)) }))['last_hidden_state']!.toFloat32();
    const swappedZeros = (await swap.run({ ...base, token_type_ids: new Tensor('int64', [B, S], new BigInt64Array(B * S)) }))['last_hidden_state']!.toFloat32();
    let same = 0, moved = 0;
    for (let i = 0; i < ones.length; i++) { same = Math.max(same, Math.abs(ones[i]! - swappedZeros[i]!)); moved = Math.max(moved, Math.abs(ones[i]! - zeros[i]!)); }
    expect(same).toBeLessThan(1e-6);
    expect(moved).toBeGreaterThan(1e-2);
    await orig.dispose(); await swap.dispose();
  });
});

describe('LoRA on an imported encoder', () => {
  it('PEFT target names (query, value) select the checkpoint-named layers; the injected graph equals the merged one', async () => {
    const ck = readEncoderCheckpoint(folderFiles(`${FIX}bert`));
    const g = buildEncoder(ck.spec, ck.weights);
    const base = createLoraAdapter(g, { r: 4, alpha: 8, targetModules: ['query', 'value'] });
    expect([...base.modules.keys()].sort()).toEqual(['encoder.layer.0.attention.self.query', 'encoder.layer.0.attention.self.value', 'encoder.layer.1.attention.self.query', 'encoder.layer.1.attention.self.value']);
    // B is zero at init (output unchanged); give it values so the branch matters.
    const adapter = { ...base, modules: new Map([...base.modules].map(([k, w], i) => [k, { ...w, B: new Tensor('float32', w.B.shape, Float32Array.from({ length: w.B.size }, (_, j) => Math.sin(i + j) * 0.1)) }])) };
    const ort = createOrtBackend({ eps: ['cpu'] });
    const ref = refOf('bert');
    const run = async (graph: typeof g): Promise<Float32Array> => {
      const exe = await ort.compile(graph);
      const [B, S] = ref.inputs['input_ids']!.shape as [number, number];
      const o = await exe.run({ input_ids: new Tensor('int64', [B, S], BigInt64Array.from(ref.inputs['input_ids']!.data, BigInt)), attention_mask: new Tensor('int64', [B, S], BigInt64Array.from(ref.inputs['attention_mask']!.data, BigInt)), token_type_ids: new Tensor('int64', [B, S], new BigInt64Array(B * S)) });
      await exe.dispose();
      return o['last_hidden_state']!.toFloat32();
    };
    const [plain, injected, merged] = [await run(g), await run(injectLora(g, adapter).graph), await run(mergeLora(g, adapter))];
    let d = 0, moved = 0;
    for (let i = 0; i < plain.length; i++) { d = Math.max(d, Math.abs(injected[i]! - merged[i]!)); moved = Math.max(moved, Math.abs(injected[i]! - plain[i]!)); }
    expect(moved).toBeGreaterThan(1e-2);
    expect(d).toBeLessThan(1e-4);
  });
});

describe('convert on encoders', () => {
  for (const name of ENCODERS) {
    it(`${name} fp32: leanformer.json records the encoder; the converted folder matches transformers within 1e-4`, async () => {
      const out = join(work, `${name}-fp32`);
      const r = await convertCheckpoint(`${FIX}${name}`, out);
      expect(r.modelType).toBe(name);
      if (name === 'bert' || name === 'roberta') expect(r.files).toEqual(expect.arrayContaining(['tokenizer.json', 'tokenizer_config.json']));
      const info = JSON.parse(readFileSync(join(out, 'leanformer.json'), 'utf8'));
      expect(info.kind).toBe('encoder');
      const m = await loadPretrained(out, { kind: 'encoder' });
      try {
        expect(m.source).toBe('converted');
        const o = await m.executor.run(feedsOf(m, refOf(name)));
        expect(maxAbsDiff(o['last_hidden_state']!, refOf(name).last_hidden_state)).toBeLessThanOrEqual(1e-4);
        expect(maxAbsDiff(o['pooler_output']!, refOf(name).pooler_output!)).toBeLessThanOrEqual(1e-4);
      } finally { await m.dispose(); }
    });
  }

  // Measured (ORT CPU, pooler_output cosine vs transformers' fp32): bert int4 gptq 0.9994, vit int4 gptq
  // 0.99996, roberta int8 rtn 0.99997; fp16 vit max abs 1.4e-4. The bounds below sit under those.
  const QUANT: { name: string; precision: 'fp16' | 'int8' | 'int4'; method?: 'rtn' | 'gptq'; cos: number; nbits: boolean }[] = [
    { name: 'bert', precision: 'int4', method: 'gptq', cos: 0.999, nbits: true },
    { name: 'vit', precision: 'int4', method: 'gptq', cos: 0.999, nbits: true },
    { name: 'roberta', precision: 'int8', method: 'rtn', cos: 0.9999, nbits: true },
    { name: 'deit', precision: 'fp16', cos: 0.99999, nbits: false },
  ];
  for (const q of QUANT) {
    it(`${q.name} ${q.precision}${q.method ? ` ${q.method}` : ''}: runs, pooler_output cosine ≥ ${q.cos}`, async () => {
      const out = join(work, `${q.name}-${q.precision}`);
      await convertCheckpoint(`${FIX}${q.name}`, out, { precision: q.precision, ...(q.method ? { method: q.method } : {}) });
      const onnx = readdirSync(out).filter((f) => f.startsWith('model.onnx')).map((f) => readFileSync(join(out, f)));
      expect(onnx.some((b) => b.includes(Buffer.from('MatMulNBits')))).toBe(q.nbits);
      const m = await loadPretrained(out, { kind: 'encoder' });
      try {
        const o = await m.executor.run(feedsOf(m, refOf(q.name)));
        expect(cosine(o['pooler_output']!.toFloat32(), refOf(q.name).pooler_output!.data)).toBeGreaterThanOrEqual(q.cos);
      } finally { await m.dispose(); }
    });
  }
});

describe('loadPretrained: the kind asked for', () => {
  it('an encoder folder without { kind: \'encoder\' } (or given to readCheckpoint) and a decoder with it fail with NOT_SUPPORTED naming what the folder holds', async () => {
    const e1 = await loadPretrained(`${FIX}bert`).then(() => null, (x: unknown) => x) as LeanformerError;
    expect(e1).toBeInstanceOf(LeanformerError);
    expect([e1.code, e1.message]).toEqual(['NOT_SUPPORTED', expect.stringContaining("holds an encoder (bert), not a decoder; pass { kind: 'encoder' }")]);
    const e2 = await loadPretrained(`${FIX}../llama`, { kind: 'encoder' }).then(() => null, (x: unknown) => x) as LeanformerError;
    expect([e2.code, e2.message]).toEqual(['NOT_SUPPORTED', expect.stringContaining('holds a decoder (llama), not an encoder')]);
    const { readCheckpoint } = await import('./pretrained.js');
    const e3 = (() => { try { readCheckpoint(folderFiles(`${FIX}roberta`)); } catch (x) { return x; } })() as LeanformerError;
    expect([e3.code, e3.message]).toEqual(['NOT_SUPPORTED', expect.stringContaining('model_type "roberta" is an encoder')]);
    const any = await loadPretrained(`${FIX}vit`, { kind: 'any' });
    expect(any.kind).toBe('encoder');
    await any.dispose();
  });
});

// ---- bad input on the encoder paths: a copy of a fixture with one thing broken, converted; an error
// code naming the file and field, and nothing written.


const BAD: { name: string; from: string; code: string; mention: string[]; mutate: (dir: string) => void }[] = [
  { name: 'unknown model_type lists the encoders', from: 'bert', code: 'NOT_SUPPORTED', mention: ['config.json', 'model_type "electra"', 'gpt2, bert, roberta, vit, deit'], mutate: (d) => editConfig(d, (c) => { c['model_type'] = 'electra'; }) },
  { name: 'BERT config field missing', from: 'bert', code: 'INVALID_ARGUMENT', mention: ['config.json', "'intermediate_size'"], mutate: (d) => editConfig(d, (c) => { delete c['intermediate_size']; }) },
  { name: 'RoBERTa without pad_token_id (positions count from it)', from: 'roberta', code: 'INVALID_ARGUMENT', mention: ['config.json', "'pad_token_id'"], mutate: (d) => editConfig(d, (c) => { delete c['pad_token_id']; }) },
  { name: 'BERT config inconsistent with tensor shapes', from: 'bert', code: 'SHAPE_MISMATCH', mention: ['model.safetensors', 'encoder.layer.0.intermediate.dense.weight', '[64, 32]', '[100, 32]'], mutate: (d) => editConfig(d, (c) => { c['intermediate_size'] = 100; }) },
  { name: 'BERT relative position embeddings', from: 'bert', code: 'NOT_SUPPORTED', mention: ['config.json', 'position_embedding_type', 'relative_key'], mutate: (d) => editConfig(d, (c) => { c['position_embedding_type'] = 'relative_key'; }) },
  { name: 'ViT patch_size inconsistent with the Conv kernel', from: 'vit', code: 'SHAPE_MISMATCH', mention: ['model.safetensors', 'embeddings.patch_embeddings.projection.weight', '[32, 3, 8, 8]', '[32, 3, 4, 4]'], mutate: (d) => editConfig(d, (c) => { c['patch_size'] = 4; }) },
  { name: 'ViT image_size inconsistent with the position table', from: 'vit', code: 'SHAPE_MISMATCH', mention: ['embeddings.position_embeddings', '[1, 17, 32]', '[1, 65, 32]'], mutate: (d) => editConfig(d, (c) => { c['image_size'] = 64; }) },
  { name: 'DeiT config on ViT weights: no distillation token', from: 'vit', code: 'INVALID_ARGUMENT', mention: ["'embeddings.distillation_token'", 'missing'], mutate: (d) => editConfig(d, (c) => { c['model_type'] = 'deit'; }) },
  { name: 'unsupported dtype of the patch projection', from: 'deit', code: 'NOT_SUPPORTED', mention: ['model.safetensors', 'embeddings.patch_embeddings.projection.weight', 'int32'], mutate: (d) => editHeader(d, (h) => { h['embeddings.patch_embeddings.projection.weight']!.dtype = 'I32'; }) },
  { name: 'unsupported hidden_act', from: 'vit', code: 'NOT_SUPPORTED', mention: ['config.json', 'hidden_act', 'quick_gelu', 'gelu, gelu_new'], mutate: (d) => editConfig(d, (c) => { c['hidden_act'] = 'quick_gelu'; }) },
  { name: 'BERT tokenizer.json that does not parse', from: 'bert', code: 'DECODE_ERROR', mention: ['tokenizer.json'], mutate: (d) => writeFileSync(join(d, 'tokenizer.json'), '{"version": "1.0", "model": {') },
];

describe('convert on encoders: bad input fails with a LeanformerError naming file and field, and writes nothing', () => {
  let n = 0;
  for (const c of BAD) {
    it(c.name, async () => {
      const parent = join(work, `bad-${n++}`);
      const dir = join(parent, 'in');
      cpSync(`${FIX}${c.from}`, dir, { recursive: true });
      c.mutate(dir);
      const out = join(parent, 'out');
      const e = await convertCheckpoint(dir, out).then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(LeanformerError);
      expect((e as LeanformerError).code, (e as Error).message).toBe(c.code);
      for (const m of c.mention) expect((e as LeanformerError).message).toContain(m);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(parent)).toEqual(['in']);
    });
  }
});

describe('leanformer tokenize / convert / generate on encoders', () => {
  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '', err = '';
    const io: Io = { out: (t) => { out += t; }, err: (t) => { err += t; }, stderrIsTTY: false };
    return { code: await main(argv, io), out, err };
  }

  it('tokenize --json: BERT WordPiece and RoBERTa byte-level BPE ids equal the Rust tokenizers', async () => {
    for (const name of ['bert', 'roberta']) {
      const s = refOf(name).sentences![4]!;
      const r = await cli('tokenize', `${FIX}${name}`, '--text', s.text, '--json');
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out)).toEqual({ ids: s.ids });
    }
  });

  it('convert --json writes the encoder folder; generate on an encoder is one line on stderr', async () => {
    const out = join(work, 'cli-vit');
    const c = await cli('convert', `${FIX}vit`, '-o', out, '--precision', 'int4', '--method', 'rtn', '--json');
    expect(c.code, c.err).toBe(0);
    expect(JSON.parse(c.out)).toMatchObject({ modelType: 'vit', precision: 'int4', method: 'rtn', files: expect.arrayContaining(['model.onnx', 'leanformer.json']) });
    const g = await cli('generate', `${FIX}bert`, '--prompt-ids', '1,2', '--json');
    expect(g.code).not.toBe(0);
    expect(g.out).toBe('');
    expect(g.err.trim().split('\n')).toHaveLength(1);
    expect(g.err).toContain('encoder (bert)');
  });
});
