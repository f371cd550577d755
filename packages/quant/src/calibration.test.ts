// randomCalibrationFeeds (`--calib-random`): token ids over the vocabulary the model embeds
// (issue #16 item 8; before, ids were drawn from [0, 10) and masks from [0, 10) too).
import { describe, expect, it } from 'vitest';
import { attr, DTypes, Graph, Tensor, tensorType, transformerDecoder } from '@leanformer/core';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { randomCalibrationFeeds } from './calibration.js';
import { cosine } from './linalg.js';
import { quantizeModel } from './quantize-model.js';
import { Rng } from './synthetic.js';

/** ids → Cast(int32) → Gather(word table [V, 8]) (+ Gather(type table [T, 8]) when T > 0); mask → Cast(float) → Mul. */
function encoderLike(V: number, opts: { constantTable?: boolean; typeRows?: number } = {}): Graph {
  const g = new Graph('enc');
  g.opsets.set('', 17);
  const ids = g.addInput('input_ids', tensorType(DTypes.int64, ['batch', 'seq']));
  const mask = g.addInput('attention_mask', tensorType(DTypes.int64, ['batch', 'seq']));
  const rng = new Rng(3);
  const values = Array.from({ length: V * 8 }, () => rng.normal());
  const table = opts.constantTable
    ? g.addNode({ op: 'Constant', outputs: ['word_embeddings'], attrs: { value: attr.tensor(Tensor.from('float32', [V, 8], values)) } }).output(0)
    : g.addInitializer('word_embeddings', Tensor.from('float32', [V, 8], values));
  const ids32 = g.addNode({ op: 'Cast', inputs: [ids], outputs: ['ids32'], attrs: { to: attr.int(DTypes.int32.onnx) } }).output(0);
  let h = g.addNode({ op: 'Gather', inputs: [table, ids32], outputs: ['emb'] }).output(0);
  if (opts.typeRows) {
    const types = g.addInitializer('type_embeddings', Tensor.from('float32', [opts.typeRows, 8], Array.from({ length: opts.typeRows * 8 }, () => rng.normal())));
    const t = g.addNode({ op: 'Gather', inputs: [types, ids], outputs: ['type_emb'] }).output(0);
    h = g.addNode({ op: 'Add', inputs: [h, t], outputs: ['emb_sum'] }).output(0);
  }
  const m = g.addNode({ op: 'Cast', inputs: [mask], outputs: ['maskf'], attrs: { to: attr.int(DTypes.float32.onnx) } }).output(0);
  const mu = g.addNode({ op: 'Unsqueeze', inputs: [m, g.addInitializer('axes', Tensor.from('int64', [1], [-1n]))], outputs: ['mask3'] }).output(0);
  const y = g.addNode({ op: 'Mul', inputs: [h, mu], outputs: ['y'] }).output(0);
  y.type = tensorType(DTypes.float32, ['batch', 'seq', 8]);
  g.addOutput(y);
  return g;
}

const idsOf = (feeds: readonly Record<string, Tensor>[], name: string): number[] => feeds.flatMap((f) => Array.from(f[name]!.toArray(), Number));

describe('randomCalibrationFeeds', () => {
  it('draws token ids uniformly over the rows of the embedding they index (through a Cast)', () => {
    const V = 1000;
    const notes: string[] = [];
    const feeds = randomCalibrationFeeds(encoderLike(V), 64, 0, notes);
    const ids = idsOf(feeds, 'input_ids'); // 64 × [1, 32]
    expect(ids.length).toBe(64 * 32);
    expect(Math.min(...ids)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...ids)).toBeLessThan(V);
    // uniform over [0, V): every tenth of the vocabulary gets 10% ± 3% of the draws
    const bins = new Array<number>(10).fill(0);
    for (const id of ids) bins[Math.floor((id * 10) / V)]!++;
    for (const b of bins) expect(Math.abs(b / ids.length - 0.1)).toBeLessThan(0.03);
    expect(Math.min(...ids)).toBeLessThan(10);
    expect(Math.max(...ids)).toBeGreaterThanOrEqual(V - 10);
    expect(notes).toContain("input_ids: ids drawn from [0, 1000) (rows of embedding 'word_embeddings')");
  });

  it('an integer input that indexes no embedding (a mask) is all ones, and says so', () => {
    const notes: string[] = [];
    const feeds = randomCalibrationFeeds(encoderLike(50), 4, 0, notes);
    expect(new Set(idsOf(feeds, 'attention_mask'))).toEqual(new Set([1]));
    expect(notes.some((n) => n.startsWith('attention_mask: indexes no embedding table; all 1'))).toBe(true);
  });

  it('reads the rows of a Constant-node table, and takes the smallest of two tables an input indexes', () => {
    expect(Math.max(...idsOf(randomCalibrationFeeds(encoderLike(300, { constantTable: true }), 16), 'input_ids'))).toBeGreaterThan(250);
    const two = idsOf(randomCalibrationFeeds(encoderLike(300, { typeRows: 2 }), 16), 'input_ids');
    expect(new Set(two)).toEqual(new Set([0, 1]));
  });

  // Measured (onnxruntime-node 1.30 CPU): RTN 0.99686, GPTQ on vocabulary-wide ids 0.99879, GPTQ on
  // ids in [0, 10) 0.99513 (below RTN: calibration on 10 tokens misleads the Hessian).
  it('GPTQ calibrated on random ids over the vocabulary beats RTN and GPTQ on ids in [0, 10) (ORT CPU)', async () => {
    const ort = createOrtBackend();
    const V = 256;
    const model = transformerDecoder({ vocabSize: V, hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128, seed: 11 });
    const evalIds = Tensor.from('int64', [1, 32], Array.from({ length: 32 }, (_, i) => BigInt((i * 97 + 13) % V)));
    const run = async (g: Graph) => { const e = await ort.compile(g); try { return (await e.run({ input_ids: evalIds })).logits!.toFloat32(); } finally { await e.dispose(); } };
    const ref = await run(model);
    const cos = async (g: Graph) => cosine(await run(g), ref);
    const vocabFeeds = randomCalibrationFeeds(model, 8, 1);
    const rng = new Rng(2);
    const narrowFeeds = vocabFeeds.map(() => ({ input_ids: Tensor.from('int64', [1, 32], Array.from({ length: 32 }, () => BigInt(Math.floor(rng.next() * 10)))) }));
    const rtn = await cos((await quantizeModel(model, { method: 'rtn' })).graph);
    const gptqVocab = await cos((await quantizeModel(model, { method: 'gptq', calibration: { backend: ort, feeds: vocabFeeds } })).graph);
    const gptqNarrow = await cos((await quantizeModel(model, { method: 'gptq', calibration: { backend: ort, feeds: narrowFeeds } })).graph);
    if (process.env.LEANFORMER_REAL_TABLE === '1') console.log({ rtn, gptqVocab, gptqNarrow });
    expect(gptqVocab).toBeGreaterThan(rtn);
    expect(gptqVocab).toBeGreaterThan(gptqNarrow);
  });
});
