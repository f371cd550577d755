import { describe, expect, it } from 'vitest';
import { cloneGraph, DTypes, Graph, graphDiff, tensorType } from '@leanformer/core';
import { decodeModel, encodeModel, META_CONFIGURATION, META_UNKNOWN_FIELDS, META_UNKNOWN_MODEL_FIELDS } from './model.js';

function model(): Graph {
  const g = new Graph('m');
  g.opsets.set('', 21);
  const x = g.addInput('x', tensorType(DTypes.float32, [2]));
  g.addOutput(g.addNode({ op: 'Relu', inputs: [x], outputs: ['y'] }).output());
  return g;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};

describe('fields this codec does not model', () => {
  it('survive decode → encode → decode on the model, graph and node messages', () => {
    const modelField = new Uint8Array([0x9a, 0x06, 0x03, 0x0a, 0x01, 0x41]); // field 99, 3 bytes
    const configuration = new Uint8Array([0x0a, 0x01, 0x41]); // ModelProto.configuration (26), kept opaque
    const nodeField = new Uint8Array([0xf8, 0x06, 0x2a]); // field 111, varint 42
    const graphField = new Uint8Array([0x85, 0x07, 1, 2, 3, 4]); // field 112, fixed32
    const g = model();
    g.nodes[0]!.meta.set(META_UNKNOWN_FIELDS, [nodeField]);
    g.meta.set(META_UNKNOWN_FIELDS, [graphField]);
    const bytes = concat(encodeModel(g), modelField, new Uint8Array([0xd2, 0x01, 0x03]), configuration); // any field order

    const a = decodeModel(bytes);
    expect(a.meta.get(META_UNKNOWN_MODEL_FIELDS)).toEqual([modelField]);
    expect(a.meta.get(META_CONFIGURATION)).toEqual([configuration]);
    expect(a.meta.get(META_UNKNOWN_FIELDS)).toEqual([graphField]);
    expect(a.nodes[0]!.meta.get(META_UNKNOWN_FIELDS)).toEqual([nodeField]);

    const b = decodeModel(encodeModel(cloneGraph(a))); // copies (e.g. lowered graphs) keep them too
    expect(graphDiff(a, b)).toBeNull();
    expect(b.meta.get(META_UNKNOWN_MODEL_FIELDS)).toEqual([modelField]);
    expect(b.meta.get(META_CONFIGURATION)).toEqual([configuration]);
    expect(b.meta.get(META_UNKNOWN_FIELDS)).toEqual([graphField]);
    expect(b.nodes[0]!.meta.get(META_UNKNOWN_FIELDS)).toEqual([nodeField]);
  });
});
