// Seeded fuzzing of the decoder: truncations and byte mutations of real models must fail with
// LeanformerError only — never a crash, a hang, or a huge allocation. Deterministic (fixed seed).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attr, DTypes, Graph, LeanformerError, rng, Tensor, tensorType } from '@leanformer/core';
import { decodeModel, decodeTensor, encodeModel } from './model.js';

const ROOT = '/usr/share/libonnx-testdata/data';
const CASES = 12_000;
const SEED = 0x1eaf0;

/** A model with the features the corpus may lack: subgraphs, functions, string and typed-field tensors. */
function synthetic(): Uint8Array {
  const g = new Graph('syn');
  g.opsets.set('', 21).set('com.example', 1);
  const c = g.addInput('c', tensorType(DTypes.bool, []));
  const x = g.addInput('x', tensorType(DTypes.float32, ['n', 3]));
  g.addInitializer('w', Tensor.from('float32', [3], [1, 2, 3]));
  g.addInitializer('s', Tensor.from('string', [2], ['a', 'bc']));
  g.addInitializer('i', Tensor.from('int64', [2], [-1n, 1n << 40n]));
  const thenG = new Graph('then', g);
  thenG.addOutput(thenG.addNode({ op: 'Add', inputs: [x, g.value('w')] }).output());
  const elseG = new Graph('else', g);
  elseG.addOutput(x);
  const y = g.addNode({ op: 'If', inputs: [c], outputs: ['y'], attrs: { then_branch: attr.graph(thenG), else_branch: attr.graph(elseG) } }).output();
  const z = g.addNode({ op: 'Thing', domain: 'com.example', inputs: [y, null], outputs: ['z'], attrs: { k: attr.ints([1, -2]), f: attr.floats([0.5]), t: attr.tensor(Tensor.from('float16', [1], [1])) } }).output();
  g.addOutput(z);
  return encodeModel(g);
}

function corpus(): Uint8Array[] {
  const out: Uint8Array[] = [synthetic()];
  if (!existsSync(ROOT)) return out;
  // A spread of real models: control flow, sequences, optional types, typed-field and string tensors.
  const picks = [
    'node/test_if', 'node/test_loop11', 'node/test_scan9_sum', 'node/test_sequence_insert_at_back', 'node/test_optional_get_element_sequence', 'node/test_sequence_map_extract_shapes',
    'node/test_cast_FLOAT_to_STRING', 'node/test_constant', 'node/test_conv_with_strides_padding', 'node/test_range_float_type_positive_delta_expanded',
    'node/test_castlike_BFLOAT16_to_FLOAT_expanded', 'simple/test_sign_model', 'pytorch-converted/test_Conv2d', 'pytorch-operator/test_operator_symbolic_override_nested', 'pytorch-operator/test_operator_non_float_params',
  ];
  for (const p of picks) {
    const f = join(ROOT, p, 'model.onnx');
    if (existsSync(f)) out.push(readFileSync(f));
    else console.warn(`[onnx] fuzz corpus: ${p} is missing from this libonnx-testdata`);
  }
  return out;
}

function tensorCorpus(): Uint8Array[] {
  const out = [new Uint8Array(encodeTensorBytes())];
  const dir = join(ROOT, 'node/test_cast_FLOAT_to_STRING/test_data_set_0');
  if (existsSync(dir)) for (const f of readdirSync(dir).sort()) out.push(readFileSync(join(dir, f)));
  return out;
}

function encodeTensorBytes(): Uint8Array {
  const g = new Graph('t');
  g.addOutput(g.addInitializer('v', Tensor.from('int32', [4], [1, -2, 3, -4])));
  return encodeModel(g);
}

/** One mutated copy of `src`: truncation, random bytes, bit flips, huge varints, or a spliced range. */
function mutate(src: Uint8Array, rnd: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(rnd() * n);
  switch (pick(5)) {
    case 0: return src.slice(0, pick(src.length));
    case 1: {
      const b = src.slice();
      for (let k = 1 + pick(8); k > 0; k--) b[pick(b.length)] = pick(256);
      return b;
    }
    case 2: {
      const b = src.slice();
      for (let k = 1 + pick(4); k > 0; k--) b[pick(b.length)]! ^= 1 << pick(8);
      return b;
    }
    case 3: { // a run of 0xff (varints that never end, huge lengths) at a random spot
      const b = src.slice();
      const at = pick(b.length);
      b.fill(0xff, at, Math.min(b.length, at + 1 + pick(10)));
      return b;
    }
    default: { // duplicate or drop a range (misaligned nested lengths)
      const i = pick(src.length);
      const j = Math.min(src.length, i + pick(64));
      const parts = rnd() < 0.5 ? [src.subarray(0, j), src.subarray(i)] : [src.subarray(0, i), src.subarray(j)];
      const b = new Uint8Array(parts[0]!.length + parts[1]!.length);
      b.set(parts[0]!);
      b.set(parts[1]!, parts[0]!.length);
      return b;
    }
  }
}

describe('decoder fuzzing', () => {
  if (!existsSync(ROOT)) console.warn(`[onnx] ${ROOT} is missing (install Debian's libonnx-testdata): fuzzing a synthetic model only`);

  it(`throws only LeanformerError on ${CASES} mutated models (seed ${SEED})`, () => {
    const r = rng(SEED);
    const rnd = (): number => r.uniform();
    const models = corpus();
    const tensors = tensorCorpus();
    const unexpected: string[] = [];
    let decoded = 0;
    let slowest = 0;
    for (let i = 0; i < CASES; i++) {
      const asTensor = i % 10 === 9;
      const pool = asTensor ? tensors : models;
      const src = pool[Math.floor(rnd() * pool.length)]!;
      const bytes = mutate(src, rnd);
      const t0 = performance.now();
      try {
        if (asTensor) decodeTensor(bytes);
        else encodeModel(decodeModel(bytes)); // what decodes must also encode
        decoded++;
      } catch (e) {
        if (!(e instanceof LeanformerError)) unexpected.push(`case ${i}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
      slowest = Math.max(slowest, performance.now() - t0);
    }
    expect(unexpected.slice(0, 10)).toEqual([]);
    expect(slowest).toBeLessThan(2000); // no case may hang
    expect(decoded).toBeGreaterThan(0); // some mutations stay valid (e.g. bytes inside raw_data)
  });

  it('refuses nesting deeper than the limit without exhausting the stack', () => {
    // GraphProto → NodeProto → AttributeProto → GraphProto … 2000 levels deep.
    let inner: Uint8Array = new Uint8Array(0);
    const wrap = (field: number, body: Uint8Array): Uint8Array => {
      const len: number[] = [];
      let n = body.length;
      while (n >= 0x80) { len.push((n & 0x7f) | 0x80); n >>>= 7; }
      len.push(n);
      const out = new Uint8Array(1 + len.length + body.length);
      out[0] = (field << 3) | 2;
      out.set(len, 1);
      out.set(body, 1 + len.length);
      return out;
    };
    for (let d = 0; d < 2000; d++) inner = wrap(1, wrap(5, wrap(6, inner))); // node(1) → attribute(5) → g(6)
    const model = wrap(7, inner); // ModelProto.graph = 7
    expect(() => decodeModel(model)).toThrowError(LeanformerError);
  });

  it('checks declared sizes before allocating', () => {
    // A TensorProto claiming 2^40 float elements with 4 bytes of raw_data.
    const t = new Uint8Array([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x10, 0x01, 0x4a, 0x04, 0, 0, 0, 0]);
    expect(() => decodeTensor(t)).toThrowError(/raw_data|needs|element/);
    // A length prefix far past the end.
    expect(() => decodeModel(new Uint8Array([0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrowError(LeanformerError);
  });
});
