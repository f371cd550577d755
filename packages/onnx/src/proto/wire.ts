// Protocol-buffers wire format: a bounds-checked reader over one Uint8Array (bytes fields are
// zero-copy subarrays) and a writer into one preallocated buffer. Every length is checked against
// the bytes that remain before it is used, so bad input fails fast with DECODE_ERROR.
import { LeanformerError } from '@leanformer/core';

export const enum WireType { Varint = 0, Fixed64 = 1, Bytes = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5 }

const utf8 = new TextDecoder('utf-8', { fatal: false });
const utf8enc = new TextEncoder();

export function decodeError(message: string): LeanformerError {
  return new LeanformerError('DECODE_ERROR', message);
}

export class Reader {
  pos: number;
  private readonly view: DataView;
  /** Exclusive end of the current message; the decoder narrows and restores it around sub-messages. */
  end: number;
  constructor(readonly buf: Uint8Array, start = 0, end = buf.length) {
    this.end = end;
    this.pos = start;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean { return this.pos >= this.end; }

  /** Reads a varint as a JS number when it fits 2^53, else as a bigint (int64 two's complement). */
  varint(): number | bigint {
    const b = this.buf;
    let result = 0;
    let mul = 1;
    let i = this.pos;
    for (let n = 0; n < 7; n++) { // 7 × 7 bits = 49 bits stay exact in a double
      if (i >= this.end) throw decodeError(`truncated varint at byte ${this.pos}`);
      const byte = b[i++]!;
      result += (byte & 0x7f) * mul;
      if (byte < 0x80) { this.pos = i; return result; }
      mul *= 128;
    }
    // Long form: finish in BigInt, then interpret as signed 64-bit.
    let big = BigInt(result);
    let shift = 49n;
    for (let n = 7; n < 10; n++) {
      if (i >= this.end) throw decodeError(`truncated varint at byte ${this.pos}`);
      const byte = b[i++]!;
      big |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.pos = i;
        const signed = BigInt.asIntN(64, big);
        return signed >= BigInt(Number.MIN_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(signed) : signed;
      }
      shift += 7n;
    }
    throw decodeError(`varint longer than 10 bytes at byte ${this.pos}`);
  }

  /** A varint that must fit a non-negative safe integer (lengths, tags, enum values). */
  uint(): number {
    const v = this.varint();
    if (typeof v !== 'number' || v < 0) throw decodeError(`expected a non-negative integer at byte ${this.pos}, got ${v}`);
    return v;
  }

  /** int32 field: varint, low 32 bits as signed. */
  int32(): number {
    const v = this.varint();
    return typeof v === 'number' ? (v > 0xffffffff || v < -0x80000000 ? Number(BigInt.asIntN(32, BigInt(v))) : v | 0) : Number(BigInt.asIntN(32, v));
  }

  /** uint64 field: varint as unsigned. */
  uint64(): number | bigint {
    const v = this.varint();
    if (typeof v === 'number') return v >= 0 ? v : BigInt.asUintN(64, BigInt(v));
    return BigInt.asUintN(64, v);
  }

  fixed32Float(): number {
    if (this.pos + 4 > this.end) throw decodeError(`truncated fixed32 at byte ${this.pos}`);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  fixed64Double(): number {
    if (this.pos + 8 > this.end) throw decodeError(`truncated fixed64 at byte ${this.pos}`);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A length-delimited field's bytes, as a view. */
  bytes(): Uint8Array {
    const len = this.uint();
    if (len > this.end - this.pos) throw decodeError(`length ${len} at byte ${this.pos} runs past the end of its message (${this.end - this.pos} bytes left)`);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string { return utf8.decode(this.bytes()); }

  skip(wire: number): void {
    switch (wire) {
      case WireType.Varint: this.varint(); return;
      case WireType.Fixed64: this.advance(8); return;
      case WireType.Bytes: this.bytes(); return;
      case WireType.Fixed32: this.advance(4); return;
      default: throw decodeError(`unsupported wire type ${wire} at byte ${this.pos}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw decodeError(`truncated field at byte ${this.pos}`);
    this.pos += n;
  }
}

/** Bytes a varint of `v` takes. `v` may be a negative number or bigint (10 bytes, int64 two's complement). */
export function varintSize(v: number | bigint): number {
  if (typeof v === 'number') {
    if (v >= 0 && v < 0x80) return 1;
    if (v >= 0 && v <= Number.MAX_SAFE_INTEGER) {
      let n = 1;
      while (v >= 128) { v = Math.floor(v / 128); n++; }
      return n;
    }
    v = BigInt(v);
  }
  let u = BigInt.asUintN(64, v);
  let n = 1;
  while (u >= 128n) { u >>= 7n; n++; }
  return n;
}

export function stringBytes(s: string): Uint8Array { return utf8enc.encode(s); }

export class Writer {
  pos = 0;
  private readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  tag(field: number, wire: WireType): void { this.varint(field * 8 + wire); }

  varint(v: number | bigint): void {
    const b = this.buf;
    if (typeof v === 'number' && v >= 0 && v <= Number.MAX_SAFE_INTEGER) {
      while (v >= 128) { b[this.pos++] = (v % 128) | 0x80; v = Math.floor(v / 128); }
      b[this.pos++] = v;
      return;
    }
    let u = BigInt.asUintN(64, BigInt(v));
    while (u >= 128n) { b[this.pos++] = Number(u & 0x7fn) | 0x80; u >>= 7n; }
    b[this.pos++] = Number(u);
  }

  float(v: number): void { this.view.setFloat32(this.pos, v, true); this.pos += 4; }
  double(v: number): void { this.view.setFloat64(this.pos, v, true); this.pos += 8; }
  raw(bytes: Uint8Array): void { this.buf.set(bytes, this.pos); this.pos += bytes.length; }
}
