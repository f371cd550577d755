import { describe, expect, it } from 'vitest';
import { isLeanformerError } from './errors.js';
import { shapeSize, Tensor } from './tensor.js';

describe('Tensor', () => {
  it('encodes float16/bfloat16 values as bits and decodes them back', () => {
    const h = Tensor.from('float16', [3], [1, 65504, -0.5]);
    expect([...(h.data as Uint16Array)]).toEqual([0x3c00, 0x7bff, 0xb800]);
    expect([...h.toFloat32()]).toEqual([1, 65504, -0.5]);
    const b = Tensor.from('bfloat16', [2], [1, -2]);
    expect([...(b.data as Uint16Array)]).toEqual([0x3f80, 0xc000]);
    expect([...b.toFloat64()]).toEqual([1, -2]);
  });

  it('packs int4/uint4 with odd lengths and trims on decode', () => {
    const t = Tensor.from('int4', [3], [-8, 7, -1]);
    expect([...(t.data as Uint8Array)]).toEqual([0x78, 0x0f]);
    expect(t.byteLength).toBe(2);
    expect([...t.toFloat32()]).toEqual([-8, 7, -1]);
    const u = Tensor.from('uint4', [1, 3], [15, 0, 9]);
    expect([...(u.data as Uint8Array)]).toEqual([0x0f, 0x09]);
    expect([...u.toFloat32()]).toEqual([15, 0, 9]);
  });

  it('fromBytes is zero-copy when aligned and copies when misaligned', () => {
    const buf = new ArrayBuffer(17);
    const bytes = new Uint8Array(buf);
    new Float32Array(buf, 0, 4).set([1, 2, 3, 4]);
    const aligned = Tensor.fromBytes('float32', [2, 2], bytes.subarray(0, 16));
    expect((aligned.data as Float32Array).buffer).toBe(buf);
    expect([...aligned.toFloat32()]).toEqual([1, 2, 3, 4]);
    bytes.copyWithin(1, 0, 16); // now the floats start at offset 1
    const mis = Tensor.fromBytes('float32', [4], bytes.subarray(1, 17));
    expect((mis.data as Float32Array).buffer).not.toBe(buf);
    expect([...mis.toFloat32()]).toEqual([1, 2, 3, 4]);
    const i64 = Tensor.fromBytes('int64', [1], new Uint8Array([5, 0, 0, 0, 0, 0, 0, 0]));
    expect(i64.toArray()).toEqual([5n]);
  });

  it('refuses wrong byte counts, storage kinds and sizes', () => {
    const err = (f: () => unknown, code: string, re: RegExp) => {
      try { f(); expect.unreachable(); } catch (e) {
        expect(isLeanformerError(e)).toBe(true);
        expect((e as { code: string }).code).toBe(code);
        expect((e as Error).message).toMatch(re);
      }
    };
    err(() => Tensor.fromBytes('float32', [2], new Uint8Array(7)), 'SHAPE_MISMATCH', /needs 8 bytes, got 7/);
    err(() => Tensor.fromBytes('int4', [3], new Uint8Array(1)), 'SHAPE_MISMATCH', /needs 2 bytes/);
    err(() => new Tensor('float32', [2], new Float64Array(2)), 'INVALID_ARGUMENT', /stored in Float32Array, got Float64Array/);
    err(() => new Tensor('float32', [3], new Float32Array(2)), 'SHAPE_MISMATCH', /needs 3 storage elements/);
    err(() => Tensor.from('int32', [2, 2], [1, 2, 3]), 'SHAPE_MISMATCH', /3 values/);
    err(() => shapeSize([2, -1]), 'SHAPE_MISMATCH', /Invalid dimension -1/);
    err(() => Tensor.zeros('float32', [1.5]), 'SHAPE_MISMATCH', /Invalid dimension 1.5/);
    err(() => Tensor.from('float32', [4], [1, 2, 3, 4]).reshape([3]), 'SHAPE_MISMATCH', /Cannot reshape/);
    err(() => new Tensor('float32', [2], { byteLength: 4, load: () => new Uint8Array(4) }), 'SHAPE_MISMATCH', /holds 4 bytes/);
  });

  it('loads lazy sources on first access and can release them', () => {
    let loads = 0;
    const t = new Tensor('int32', [2], { byteLength: 8, load: () => { loads++; return new Uint8Array(new Int32Array([7, 9]).buffer); } });
    expect(t.isLoaded).toBe(false);
    expect(t.toArray()).toEqual([7, 9]);
    expect(t.isLoaded).toBe(true);
    t.release();
    expect(t.toArray()).toEqual([7, 9]);
    expect(loads).toBe(2);
  });

  it('shares storage on reshape and handles empty and scalar tensors', () => {
    const t = Tensor.from('float32', [2, 3], [1, 2, 3, 4, 5, 6]);
    expect(t.reshape([3, 2]).data).toBe(t.data);
    expect(Tensor.zeros('float32', [0, 4]).size).toBe(0);
    expect(Tensor.from('int64', [], [3n]).toArray()).toEqual([3n]);
    expect(Tensor.zeros('string', [2]).toArray()).toEqual(['', '']);
  });
});
