import { describe, expect, it } from 'vitest';
import { cloneGraph, DTypes, Graph, Tensor, tensorType, type Graph as G, type ProgressEvent } from '@leanformer/core';
import { isLfpack, lfpackStats, packModel, readLfpackManifest, unpackModel, unpackModelFrom, type ModelCodec } from './lfpack.js';
import { Rng, syntheticBf16Weights } from './synthetic.js';

/**
 * An in-memory ModelCodec (the container treats the ONNX part as opaque bytes): encode stores
 * a deep copy under a numeric key, decode returns a copy. The ONNX codec is tested in
 * @leanformer/onnx; here we test what the container adds.
 */
function memoryCodec(): ModelCodec {
  const store: G[] = [];
  return {
    encode: (g) => { store.push(cloneGraph(g)); return new Uint8Array(new Uint32Array([store.length - 1]).buffer); },
    decode: (b) => cloneGraph(store[new Uint32Array(b.slice().buffer)[0]!]!),
  };
}

function model(): G {
  const g = new Graph('m');
  const x = g.addInput('x', tensorType(DTypes.float32, [1, 64]));
  const rng = new Rng(1);
  const w32 = g.addInitializer('w32', Tensor.from('float32', [64, 300], Array.from({ length: 64 * 300 }, () => rng.normal() * 0.02)));
  g.addInitializer('wbf', new Tensor(DTypes.bfloat16, [512, 256], syntheticBf16Weights(512 * 256, 4)));
  g.addInitializer('small', Tensor.from('float32', [3], [1, 2, 3]));
  g.addOutput(g.addNode({ op: 'MatMul', inputs: [x, w32] }).output(0));
  return g;
}

describe('.lfpack', () => {
  it('restores every packed initializer bit-exactly and leaves small ones in the model', () => {
    const g = model();
    const codec = memoryCodec();
    const bytes = packModel(g, codec);
    expect(isLfpack(bytes)).toBe(true);
    const m = readLfpackManifest(bytes);
    expect(m.tensors.map((t) => t.name).sort()).toEqual(['w32', 'wbf']);
    for (const t of m.tensors) expect(t.offset % 8).toBe(0);
    const back = unpackModel(bytes, codec);
    for (const name of ['w32', 'wbf', 'small']) {
      const a = g.initializers.get(name)!.const!;
      const b = back.initializers.get(name)!.const!;
      expect(b.dtype).toBe(a.dtype);
      expect(b.shape).toEqual(a.shape);
      expect(Buffer.from(b.bytes()).equals(Buffer.from(a.bytes()))).toBe(true);
    }
    const s = lfpackStats(bytes);
    expect(s.tensors).toBe(2);
    expect(s.ratio).toBeLessThan(0.8);
  });

  it('reports pack and unpack progress in raw bytes of the packed tensors', () => {
    const packed: ProgressEvent[] = [];
    const unpacked: ProgressEvent[] = [];
    const codec = memoryCodec();
    const bytes = packModel(model(), codec, { onProgress: (e) => packed.push(e) });
    unpackModel(bytes, codec, { onProgress: (e) => unpacked.push(e) });
    const raw = 64 * 300 * 4 + 512 * 256 * 2; // w32 (float32) + wbf (bfloat16); 'small' stays in the model
    expect(lfpackStats(bytes).rawBytes).toBe(raw);
    for (const [phase, events] of [['pack', packed], ['unpack', unpacked]] as const) {
      expect(events.map((e) => e.done)).toEqual([0, 64 * 300 * 4, raw]);
      expect(events.every((e) => e.phase === phase && e.total === raw && e.unit === 'bytes')).toBe(true);
      expect(events.slice(1).map((e) => e.item)).toEqual(['w32', 'wbf']);
    }
  });

  it('unpacks from a Blob and a ReadableStream with progress; refuses a non-source by name', async () => {
    const g = model();
    const codec = memoryCodec();
    const bytes = new Uint8Array(packModel(g, codec));
    const half = bytes.length >> 1;
    for (const source of [new Blob([bytes]), new ReadableStream<Uint8Array>({ start(c) { c.enqueue(bytes.slice(0, half)); c.enqueue(bytes.slice(half)); c.close(); } })]) {
      const seen: ProgressEvent[] = [];
      const back = await unpackModelFrom(source, codec, { onProgress: (p) => seen.push(p) });
      const read = seen.filter((e) => e.phase === 'read');
      expect(read[0]!.done).toBe(0);
      expect(read.at(-1)).toMatchObject({ done: bytes.length, total: bytes.length, unit: 'bytes' });
      for (let i = 1; i < read.length; i++) expect(read[i]!.done).toBeGreaterThanOrEqual(read[i - 1]!.done);
      // then the unpack, in raw tensor bytes, ending at its total
      expect(seen.slice(read.length).map((e) => e.phase)).toEqual(['unpack', 'unpack', 'unpack']);
      expect(seen.at(-1)).toMatchObject({ phase: 'unpack', done: seen.at(-1)!.total });
      expect(Buffer.from(back.initializers.get('wbf')!.const!.bytes()).equals(Buffer.from(g.initializers.get('wbf')!.const!.bytes()))).toBe(true);
    }
    await expect(unpackModelFrom({} as never, codec)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('got an object') });
  });

  it('rejects files that are not .lfpack or whose sections are out of range', () => {
    const codec = memoryCodec();
    expect(() => unpackModel(new Uint8Array(32), codec)).toThrow(/LFPK/);
    const bytes = packModel(model(), codec);
    expect(() => unpackModel(bytes.subarray(0, bytes.length - 100), codec)).toThrow(/tensor 'wbf' is corrupt \(CORRUPT_FILE\): .*truncated/);
  });
});
