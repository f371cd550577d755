// Streaming .lfpack pack/unpack: the same container bytes as packModel, and a bit-identical round trip.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '@leanformer/onnx';
import { loadModel } from '@leanformer/onnx/node';
import { LeanformerError, type ProgressEvent } from '@leanformer/core';
import { packModel } from '../lfpack.js';
import { packModelStreaming, unpackModelStreaming } from './lfpack-stream.js';
import { writeSyntheticDecoder } from './synthetic-decoder.js';

const dir = mkdtempSync(join(tmpdir(), 'lf-lfpack-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hash = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('packModelStreaming / unpackModelStreaming', () => {
  it('writes the bytes packModel writes, and unpacks to bit-identical weights', async () => {
    const f = await writeSyntheticDecoder(join(dir, 'in.onnx'), { layers: 2, hidden: 64, ffn: 176, vocab: 96, seed: 5 }, { encodeModel });
    const inputHash = hash(readFileSync(f.data));
    const packEvents: ProgressEvent[] = [];
    const r = await packModelStreaming(f.model, join(dir, 'm.lfpack'), { loadModel, encodeModel: (g) => encodeModel(g) }, { onProgress: (e) => packEvents.push(e) });
    expect(r.tensors).toBe(2 * 7 + 2); // 14 layer weights, embedding, LM head (norm vectors are below minElements)
    expect(r.packedBytes).toBeLessThan(r.rawBytes);
    const eager = packModel(await loadModel(f.model), { encode: encodeModel, decode: decodeModel });
    expect(hash(readFileSync(join(dir, 'm.lfpack')))).toBe(hash(eager));

    const unpackEvents: ProgressEvent[] = [];
    const u = await unpackModelStreaming(join(dir, 'm.lfpack'), join(dir, 'out.onnx'), { decodeModel, encodeModel }, { onProgress: (e) => unpackEvents.push(e) });
    expect(u.tensors).toBe(r.tensors);
    // Progress in raw bytes: done 0, then one event per packed tensor, ending at the report's rawBytes.
    for (const [phase, events] of [['pack', packEvents], ['unpack', unpackEvents]] as const) {
      expect(events).toHaveLength(r.tensors + 1);
      expect(events.every((e) => e.phase === phase && e.unit === 'bytes' && e.total === r.rawBytes)).toBe(true);
      expect(events[0]!.done).toBe(0);
      expect(events.at(-1)!.done).toBe(r.rawBytes);
      expect(events.every((e, i) => i === 0 || e.done > events[i - 1]!.done)).toBe(true);
    }
    const a = await loadModel(f.model);
    const b = await loadModel(join(dir, 'out.onnx'));
    expect([...b.initializers.keys()]).toEqual([...a.initializers.keys()]);
    for (const [name, v] of a.initializers) expect(hash(b.initializers.get(name)!.const!.bytes()), name).toBe(hash(v.const!.bytes()));
    expect(hash(readFileSync(f.data))).toBe(inputHash);
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-') || n.includes('.streams-'))).toEqual([]);
  });

  it('refuses a file that is not an .lfpack, leaving no output', async () => {
    writeFileSync(join(dir, 'not.lfpack'), 'definitely not a pack file');
    const err = await unpackModelStreaming(join(dir, 'not.lfpack'), join(dir, 'x.onnx'), { decodeModel, encodeModel }).catch((e: unknown) => e);
    expect(err instanceof LeanformerError && err.code).toBe('DECODE_ERROR');
    expect(existsSync(join(dir, 'x.onnx'))).toBe(false);
  });
});
