import { describe, expect, it } from 'vitest';
import { isLeanformerError } from './errors.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from './safetensors.js';
import { Tensor } from './tensor.js';

/** Builds a file by hand, byte for byte as the format spec describes (independent of the writer). */
function handmade(header: unknown, data: number[], rawHeader?: string): Uint8Array {
  const json = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('readSafetensors', () => {
  it('reads a hand-built file (F32 and I64) with metadata', () => {
    const f32 = new Uint8Array(new Float32Array([1.5, -2, 3, 0.25]).buffer);
    const i64 = new Uint8Array(new BigInt64Array([7n, -9n]).buffer);
    const bytes = handmade({
      __metadata__: { format: 'pt' },
      b: { dtype: 'I64', shape: [2], data_offsets: [16, 32] },
      a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
    }, [...f32, ...i64]);
    const { tensors, metadata } = readSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.keys()]).toEqual(['b', 'a']);
    expect(tensors.get('a')!.shape).toEqual([2, 2]);
    expect(Array.from(tensors.get('a')!.toFloat32())).toEqual([1.5, -2, 3, 0.25]);
    expect(tensors.get('b')!.toArray()).toEqual([7n, -9n]);
  });

  it('reads scalars and empty tensors', () => {
    const bytes = handmade({ s: { dtype: 'F32', shape: [], data_offsets: [0, 4] }, e: { dtype: 'F32', shape: [0, 3], data_offsets: [4, 4] } }, [0, 0, 128, 63]);
    const { tensors } = readSafetensors(bytes);
    expect(tensors.get('s')!.toArray()).toEqual([1]);
    expect(tensors.get('e')!.size).toBe(0);
  });

  const bad: Array<[string, Uint8Array, RegExp]> = [
    ['too short', new Uint8Array(4), /needs 8/],
    ['header past end', (() => { const b = new Uint8Array(16); b[0] = 200; return b; })(), /runs past the end/],
    ['not JSON', handmade(null, [], '{oops'), /not valid UTF-8 JSON/],
    ['array header', handmade([1], []), /JSON object/],
    ['unknown dtype', handmade({ a: { dtype: 'Q7', shape: [1], data_offsets: [0, 1] } }, [0]), /dtype "Q7"/],
    ['negative dim', handmade({ a: { dtype: 'U8', shape: [-1], data_offsets: [0, 0] } }, []), /non-negative integers/],
    ['size mismatch', handmade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /needs 8 bytes/],
    ['past data end', handmade({ a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] } }, [0, 0]), /ends at byte 4/],
    ['overlap', handmade({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] }, b: { dtype: 'U8', shape: [2], data_offsets: [1, 3] } }, [0, 0, 0]), /overlaps/],
    ['hole', handmade({ a: { dtype: 'U8', shape: [1], data_offsets: [1, 2] } }, [0, 0]), /hole/],
    ['trailing bytes', handmade({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, [0, 0]), /cover 1/],
    ['reversed offsets', handmade({ a: { dtype: 'U8', shape: [0], data_offsets: [2, 1] } }, [0, 0]), /begin <= end/],
    ['bad metadata', handmade({ __metadata__: { x: 1 } }, []), /must be a string/],
  ];
  for (const [what, bytes, msg] of bad) {
    it(`rejects: ${what}`, () => {
      expect(() => readSafetensors(bytes)).toThrow(msg);
      try { readSafetensors(bytes); } catch (e) { expect(isLeanformerError(e, 'DECODE_ERROR')).toBe(true); }
    });
  }

  it('caps the header size before reading it', () => {
    const bytes = handmade({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, [5]);
    expect(() => readSafetensorsHeader(bytes, { maxHeaderBytes: 10 })).toThrow(/over the 10-byte limit/);
    // A forged huge length is refused by the cap, not by an allocation.
    const forged = new Uint8Array(8);
    new DataView(forged.buffer).setBigUint64(0, 2n ** 62n, true);
    try { readSafetensors(forged); throw new Error('no throw'); } catch (e) { expect(isLeanformerError(e, 'SIZE_LIMIT')).toBe(true); }
  });
});

describe('writeSafetensors', () => {
  it('round-trips every dtype it can write, with aligned offsets', () => {
    const tensors = {
      h: Tensor.from('float16', [3], [1, -2, 0.5]),
      bf: Tensor.from('bfloat16', [2], [1, 3]),
      u8: Tensor.from('uint8', [5], [1, 2, 3, 4, 255]),
      b: Tensor.from('bool', [2], [1, 0]),
      i64: Tensor.from('int64', [2], [1n, -(2n ** 40n)]),
      f64: Tensor.from('float64', [1], [Math.PI]),
      f32: Tensor.from('float32', [2, 1], [0.1, 0.2]),
      i32: Tensor.from('int32', [1], [-5]),
      f8: Tensor.from('float8e4m3', [2], [1, -0.5]),
    };
    const bytes = writeSafetensors(tensors, { step: '3' });
    const header = readSafetensorsHeader(bytes);
    expect(header.dataStart % 8).toBe(0);
    for (const e of header.entries) expect((header.dataStart + e.dataOffsets[0]) % (e.dtype.bits >= 8 ? e.dtype.bits / 8 : 1)).toBe(0);
    const back = readSafetensors(bytes);
    expect(back.metadata).toEqual({ step: '3' });
    for (const [name, t] of Object.entries(tensors)) {
      const r = back.tensors.get(name)!;
      expect(r.dtype).toBe(t.dtype);
      expect(r.shape).toEqual(t.shape);
      expect(Array.from(r.bytes())).toEqual(Array.from(t.bytes()));
    }
    // Aligned tensors are views over the file bytes, not copies.
    expect((back.tensors.get('f64')!.data as Float64Array).buffer).toBe(bytes.buffer);
  });

  it('matches the layout a hand-built file has', () => {
    const bytes = writeSafetensors({ a: Tensor.from('float32', [1], [2]) });
    const { entries } = readSafetensorsHeader(bytes);
    expect(entries).toEqual([{ name: 'a', dtype: Tensor.from('float32', [1], [2]).dtype, shape: [1], dataOffsets: [0, 4] }]);
    expect(Array.from(bytes.subarray(bytes.length - 4))).toEqual([0, 0, 0, 64]);
  });

  it('refuses dtypes safetensors cannot hold, and the reserved name', () => {
    expect(() => writeSafetensors({ q: Tensor.from('int4', [2], [1, -1]) })).toThrow(/int4.*allowed/);
    expect(() => writeSafetensors({ __metadata__: Tensor.from('uint8', [1], [1]) })).toThrow(/reserved/);
  });
});
