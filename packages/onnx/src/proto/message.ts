// A small table-driven protobuf engine: messages are described as data (field number, name, type),
// decoded into plain objects and encoded back with sizes computed first, so the output is written
// once into a buffer of exactly the right size.
import { LeanformerError } from '@leanformer/core';
import { Reader, WireType, Writer, decodeError, stringBytes, varintSize } from './wire.js';

/** Protobuf messages cannot exceed 2 GiB − 1 bytes (readers such as ONNX Runtime refuse larger ones). */
export const PROTOBUF_MAX_BYTES = 2 ** 31 - 1;

export type ScalarType = 'int64' | 'int32' | 'uint64' | 'string' | 'bytes' | 'float' | 'double';

export interface FieldDef {
  readonly no: number;
  readonly name: string;
  readonly type: ScalarType | MessageDef;
  readonly repeated?: boolean;
}

export interface MessageDef {
  readonly name: string;
  readonly fields: readonly FieldDef[];
}

/** A decoded message: field name → value (arrays for repeated fields, absent when not present). */
export type Msg = Record<string, unknown>;

/**
 * Key under which a decoded sub-message records where its field began: the offset of its tag in the
 * input's ArrayBuffer (comparable with the byteOffset of its bytes views), so a caller may reuse
 * bytes it has finished parsing (see alignRawData in model.ts).
 */
export const MSG_START: unique symbol = Symbol('onnx.msgStart');

/**
 * Key under which a decoded message keeps the fields its definition does not know (newer onnx.proto
 * fields, vendor extensions), each as its raw tag + payload bytes (views). The encoder writes them
 * back after the known fields, so they survive a round trip.
 */
export const UNKNOWN_FIELDS: unique symbol = Symbol('onnx.unknownFields');

/** The unknown fields kept on a decoded message (empty when none). */
export function unknownFields(msg: Msg): readonly Uint8Array[] {
  return ((msg as Record<symbol, unknown>)[UNKNOWN_FIELDS] as Uint8Array[] | undefined) ?? [];
}

const MAX_DEPTH = 96;
const byNoCache = new WeakMap<MessageDef, Map<number, FieldDef>>();
function fieldsByNo(def: MessageDef): Map<number, FieldDef> {
  let m = byNoCache.get(def);
  if (!m) { m = new Map(def.fields.map((f) => [f.no, f])); byNoCache.set(def, m); }
  return m;
}

function expectedWire(t: FieldDef['type']): WireType {
  switch (t) {
    case 'int64': case 'int32': case 'uint64': return WireType.Varint;
    case 'float': return WireType.Fixed32;
    case 'double': return WireType.Fixed64;
    default: return WireType.Bytes;
  }
}

function readScalar(r: Reader, t: ScalarType): unknown {
  switch (t) {
    case 'int64': return r.varint();
    case 'int32': return r.int32();
    case 'uint64': return r.uint64();
    case 'float': return r.fixed32Float();
    case 'double': return r.fixed64Double();
    case 'string': return r.string();
    case 'bytes': return r.bytes();
  }
}

/** Decodes one message of type `def` from `bytes` (views into `bytes` are kept, not copied). */
export function decodeMessage(def: MessageDef, bytes: Uint8Array): Msg {
  const r = new Reader(bytes);
  return decodeInto(def, r, 0);
}

/** Decodes fields until `r.end` (the caller narrows `r.end` to the message's extent). */
function decodeInto(def: MessageDef, r: Reader, depth: number): Msg {
  if (depth > MAX_DEPTH) throw decodeError(`messages nested deeper than ${MAX_DEPTH} levels`);
  const out: Msg = {};
  const fields = fieldsByNo(def);
  for (const f of def.fields) if (f.repeated) out[f.name] = [];
  while (r.pos < r.end) {
    const tagAt = r.pos;
    const tag = r.uint();
    const no = Math.floor(tag / 8);
    const wire = tag & 7;
    if (no === 0) throw decodeError(`field number 0 in ${def.name} at byte ${r.pos}`);
    const f = fields.get(no);
    if (!f) {
      r.skip(wire);
      const rec = out as Record<symbol, Uint8Array[] | undefined>;
      (rec[UNKNOWN_FIELDS] ??= []).push(r.buf.subarray(tagAt, r.pos));
      continue;
    }
    const want = expectedWire(f.type);
    if (typeof f.type === 'object') {
      if (wire !== WireType.Bytes) throw decodeError(`${def.name}.${f.name}: wire type ${wire}, expected a message`);
      const len = r.uint();
      if (len > r.end - r.pos) throw decodeError(`${def.name}.${f.name}: length ${len} runs past the end of its message`);
      const outer = r.end;
      r.end = r.pos + len;
      const value = decodeInto(f.type, r, depth + 1);
      (value as Record<symbol, unknown>)[MSG_START] = r.buf.byteOffset + tagAt;
      r.end = outer;
      if (f.repeated) (out[f.name] as unknown[]).push(value);
      else out[f.name] = value;
      continue;
    }
    if (f.repeated && wire === WireType.Bytes && want !== WireType.Bytes) {
      // packed repeated scalars
      const len = r.uint();
      if (len > r.end - r.pos) throw decodeError(`${def.name}.${f.name}: packed length ${len} runs past the end of its message`);
      const outer = r.end;
      r.end = r.pos + len;
      const arr = out[f.name] as unknown[];
      while (r.pos < r.end) arr.push(readScalar(r, f.type));
      r.end = outer;
      continue;
    }
    if (wire !== want) throw decodeError(`${def.name}.${f.name}: wire type ${wire}, expected ${want}`);
    const value = readScalar(r, f.type);
    if (f.repeated) (out[f.name] as unknown[]).push(value);
    else out[f.name] = value;
  }
  return out;
}

// ---- encoding ----

function scalarSize(t: ScalarType, v: unknown): number {
  switch (t) {
    case 'int64': case 'uint64': return varintSize(v as number | bigint);
    case 'int32': return varintSize(v as number);
    case 'float': return 4;
    case 'double': return 8;
    case 'string': { const n = utf8Length(v as string); return varintSize(n) + n; }
    case 'bytes': { const n = (v as Uint8Array).length; return varintSize(n) + n; }
  }
}

/** UTF-8 byte length without encoding. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) { n += 4; i++; }
    else n += 3;
  }
  return n;
}

const isPackable = (t: FieldDef['type']): t is 'int64' | 'int32' | 'uint64' | 'float' | 'double' =>
  t === 'int64' || t === 'int32' || t === 'uint64' || t === 'float' || t === 'double';

/** Encodes a message; sizes are computed once (memoized per object) and the buffer is allocated exactly. */
export function encodeMessage(def: MessageDef, msg: Msg): Uint8Array {
  const sizes = new Map<Msg, number>();
  const total = sizeOf(def, msg, sizes);
  if (total > PROTOBUF_MAX_BYTES) {
    throw new LeanformerError('SIZE_LIMIT', `${def.name} would take ${total} bytes, over protobuf's 2 GiB message limit; keep the weights in external data (saveModel(graph, path, { externalData: true }) from '@leanformer/onnx/node')`, { details: { bytes: total } });
  }
  const w = new Writer(new Uint8Array(total));
  writeMessage(def, msg, w, sizes);
  if (w.pos !== total) throw new LeanformerError('ENCODE_ERROR', `internal: encoded ${w.pos} bytes of ${def.name}, expected ${total}`);
  return w.buf;
}

function sizeOf(def: MessageDef, msg: Msg, sizes: Map<Msg, number>): number {
  const cached = sizes.get(msg);
  if (cached !== undefined) return cached;
  let n = 0;
  for (const f of def.fields) {
    const v = msg[f.name];
    if (v === undefined || v === null) continue;
    const tagSize = varintSize(f.no * 8);
    if (f.repeated) {
      const arr = v as unknown[];
      if (arr.length === 0) continue;
      if (isPackable(f.type)) {
        let body = 0;
        for (const x of arr) body += scalarSize(f.type, x);
        n += tagSize + varintSize(body) + body;
      } else if (typeof f.type === 'object') {
        for (const x of arr) { const s = sizeOf(f.type, x as Msg, sizes); n += tagSize + varintSize(s) + s; }
      } else {
        for (const x of arr) n += tagSize + scalarSize(f.type, x);
      }
    } else if (typeof f.type === 'object') {
      const s = sizeOf(f.type, v as Msg, sizes);
      n += tagSize + varintSize(s) + s;
    } else {
      n += tagSize + scalarSize(f.type, v);
    }
  }
  for (const b of unknownFields(msg)) n += b.length;
  sizes.set(msg, n);
  return n;
}

function writeScalar(w: Writer, t: ScalarType, v: unknown): void {
  switch (t) {
    case 'int64': case 'uint64': case 'int32': w.varint(v as number | bigint); return;
    case 'float': w.float(v as number); return;
    case 'double': w.double(v as number); return;
    case 'string': { const b = stringBytes(v as string); w.varint(b.length); w.raw(b); return; }
    case 'bytes': { const b = v as Uint8Array; w.varint(b.length); w.raw(b); return; }
  }
}

function writeMessage(def: MessageDef, msg: Msg, w: Writer, sizes: Map<Msg, number>): void {
  for (const f of def.fields) {
    const v = msg[f.name];
    if (v === undefined || v === null) continue;
    if (f.repeated) {
      const arr = v as unknown[];
      if (arr.length === 0) continue;
      if (isPackable(f.type)) {
        let body = 0;
        for (const x of arr) body += scalarSize(f.type, x);
        w.tag(f.no, WireType.Bytes);
        w.varint(body);
        for (const x of arr) writeScalar(w, f.type, x);
      } else if (typeof f.type === 'object') {
        for (const x of arr) {
          w.tag(f.no, WireType.Bytes);
          w.varint(sizes.get(x as Msg)!);
          writeMessage(f.type, x as Msg, w, sizes);
        }
      } else {
        for (const x of arr) { w.tag(f.no, expectedWire(f.type)); writeScalar(w, f.type, x); }
      }
    } else if (typeof f.type === 'object') {
      w.tag(f.no, WireType.Bytes);
      w.varint(sizes.get(v as Msg)!);
      writeMessage(f.type, v as Msg, w, sizes);
    } else {
      w.tag(f.no, expectedWire(f.type));
      writeScalar(w, f.type, v);
    }
  }
  for (const b of unknownFields(msg)) w.raw(b);
}
