// Safetensors reader and writer (https://huggingface.co/docs/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON, then the tensors' bytes back to back.
// Everything here works on in-memory bytes so it runs in Node and in the browser;
// file I/O belongs to the caller (write to a temp file and rename).

import { crc32c } from './crc32c.js';
import { byteSize, DTypes, type DType, type DTypeName } from './dtype.js';
import { LeanformerError } from './errors.js';
import { shapeSize, Tensor } from './tensor.js';

/** Safetensors dtype strings and the leanformer dtype each maps to (both directions). */
export const SAFETENSORS_DTYPES: Readonly<Record<string, DTypeName>> = Object.freeze({
  BOOL: 'bool',
  U8: 'uint8',
  I8: 'int8',
  U16: 'uint16',
  I16: 'int16',
  F16: 'float16',
  BF16: 'bfloat16',
  U32: 'uint32',
  I32: 'int32',
  F32: 'float32',
  U64: 'uint64',
  I64: 'int64',
  F64: 'float64',
  F8_E4M3: 'float8e4m3',
  F8_E5M2: 'float8e5m2',
  F8_E8M0: 'float8e8m0',
});

const TO_SAFETENSORS = new Map<DTypeName, string>(Object.entries(SAFETENSORS_DTYPES).map(([k, v]) => [v, k]));

/**
 * Metadata key of leanformer's checksums in files written with `{ checksums: true }`: JSON
 * `{ "header": crc, "tensors": { name: crc } }`, CRC-32C of the header (its JSON without this key)
 * and of each tensor's bytes. Other readers ignore it; {@link readSafetensors} checks it.
 */
export const SAFETENSORS_CHECKSUM_KEY = 'leanformer.crc32c';

/** Default cap on the JSON header size (100 MB, as in the reference implementation). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** One tensor's entry in a safetensors header. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Byte range [begin, end) relative to the start of the data section. */
  readonly dataOffsets: readonly [number, number];
}

/** A parsed header: entries in file order, free-form string metadata, and where data starts. */
export interface SafetensorsHeader {
  readonly entries: readonly SafetensorsEntry[];
  readonly metadata: Readonly<Record<string, string>>;
  /** Absolute byte offset of the data section (8 + header length). */
  readonly dataStart: number;
  /** CRC-32C of each tensor's bytes, when the file was written with `{ checksums: true }` (header already verified). */
  readonly checksums?: Readonly<Record<string, number>>;
}

/** Reader options. */
export interface ReadSafetensorsOptions {
  /** Largest accepted JSON header, in bytes (default {@link SAFETENSORS_MAX_HEADER_BYTES}). */
  readonly maxHeaderBytes?: number;
  /**
   * Refuse a file without checksums (CORRUPT_FILE). For files of our own written with
   * `{ checksums: true }`: without it, damage to the checksum key itself would pass as a file
   * that never had checksums.
   */
  readonly requireChecksums?: boolean;
  /**
   * Size of the whole file when `bytes` holds only its beginning (at least the header), so a
   * reader can validate the header and then read tensors lazily. Default `bytes.byteLength`.
   */
  readonly fileBytes?: number;
}

/** The content of a safetensors file. */
export interface SafetensorsFile {
  /** Tensors by name, in file order. Views over the input bytes where alignment allows. */
  readonly tensors: Map<string, Tensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

function fail(message: string, details?: Record<string, unknown>): never {
  throw new LeanformerError('DECODE_ERROR', `safetensors: ${message}`, { details });
}

/**
 * Parses and validates a safetensors header. Checks: the header length is within
 * `maxHeaderBytes` and the buffer; the JSON is an object; every dtype is known; every shape
 * is a list of non-negative integers; every byte range matches its dtype and shape; ranges
 * do not overlap and cover the data section exactly (no holes, nothing past the end).
 *
 * @example
 * ```ts
 * const { entries } = readSafetensorsHeader(bytes);
 * entries.map((e) => `${e.name}: ${e.dtype.name}[${e.shape}]`);
 * ```
 */
export function readSafetensorsHeader(bytes: Uint8Array, options: ReadSafetensorsOptions = {}): SafetensorsHeader {
  const cap = options.maxHeaderBytes ?? SAFETENSORS_MAX_HEADER_BYTES;
  if (bytes.byteLength < 8) fail(`file is ${bytes.byteLength} bytes; a header length needs 8`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(cap)) throw new LeanformerError('SIZE_LIMIT', `safetensors: header is ${n} bytes, over the ${cap}-byte limit (maxHeaderBytes)`);
  const headerLen = Number(n);
  const fileBytes = options.fileBytes ?? bytes.byteLength;
  if (8 + headerLen > fileBytes) fail(`header length ${headerLen} runs past the end of the ${fileBytes}-byte file`);
  if (8 + headerLen > bytes.byteLength) fail(`only ${bytes.byteLength} bytes given; the header needs ${8 + headerLen}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('header must be a JSON object');
  const sums = headerChecksums(json as Record<string, unknown>);
  if (options.requireChecksums && !sums) corrupt('header', `it carries no checksums (metadata key '${SAFETENSORS_CHECKSUM_KEY}'), which this file's writer always records`);
  const dataStart = 8 + headerLen;
  const dataLen = fileBytes - dataStart;
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw)) if (typeof v !== 'string') fail(`__metadata__['${k}'] must be a string, got ${typeof v}`);
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    if (typeof raw !== 'object' || raw === null) fail(`entry '${name}' must be an object`);
    const { dtype: st, shape, data_offsets: offs } = raw as Record<string, unknown>;
    const dtName = typeof st === 'string' ? SAFETENSORS_DTYPES[st] : undefined;
    if (!dtName) fail(`tensor '${name}' has dtype ${JSON.stringify(st)}; supported: ${Object.keys(SAFETENSORS_DTYPES).join(', ')}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has shape ${JSON.stringify(shape)}; dims must be non-negative integers`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]) {
      fail(`tensor '${name}' has data_offsets ${JSON.stringify(offs)}; expected [begin, end] with 0 <= begin <= end`);
    }
    const dt = DTypes[dtName];
    const need = byteSize(dt, shapeSize(shape as number[]));
    if (offs[1] - offs[0] !== need) fail(`tensor '${name}' (${st}[${shape.join(', ')}]) needs ${need} bytes but data_offsets span ${offs[1] - offs[0]}`);
    if (offs[1] > dataLen) fail(`tensor '${name}' ends at byte ${offs[1]} of a ${dataLen}-byte data section`);
    entries.push({ name, dtype: dt, shape: Object.freeze([...(shape as number[])]), dataOffsets: [offs[0], offs[1]] });
  }
  // Ranges must tile the data section: sorted by begin, each starts where the previous ended.
  const sorted = [...entries].sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let at = 0;
  for (const e of sorted) {
    if (e.dataOffsets[0] < at) fail(`tensor '${e.name}' overlaps the previous tensor (starts at ${e.dataOffsets[0]}, previous ends at ${at})`);
    if (e.dataOffsets[0] > at) fail(`hole in the data section before tensor '${e.name}' (bytes ${at}..${e.dataOffsets[0]})`);
    at = e.dataOffsets[1];
  }
  if (at !== dataLen) fail(`data section is ${dataLen} bytes but the tensors cover ${at}`);
  if (sums) {
    for (const e of entries) if (sums.tensors[e.name] === undefined) corrupt(`tensor '${e.name}'`, `it has no entry in ${SAFETENSORS_CHECKSUM_KEY}`);
    for (const name of Object.keys(sums.tensors)) if (!entries.some((e) => e.name === name)) corrupt('header', `${SAFETENSORS_CHECKSUM_KEY} lists tensor '${name}', which the header does not have`);
  }
  return { entries, metadata: Object.freeze(metadata), dataStart, ...(sums ? { checksums: sums.tensors } : {}) };
}

function corrupt(what: string, reason: string): never {
  throw new LeanformerError('CORRUPT_FILE', `safetensors ${what} is corrupt (CORRUPT_FILE): ${reason}`, { details: { section: what } });
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/**
 * The checksums of a header written with `{ checksums: true }` (undefined when it has none), after
 * checking the header's own CRC: the CRC-32C of JSON.stringify of the parsed header without the
 * checksum key, which is the text the writer hashed (parsing keeps key order, and numbers and
 * strings re-serialize identically), so padding and whitespace do not matter.
 */
function headerChecksums(json: Record<string, unknown>): { tensors: Record<string, number> } | undefined {
  const meta = json.__metadata__;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta) || !(SAFETENSORS_CHECKSUM_KEY in meta)) return undefined;
  const { [SAFETENSORS_CHECKSUM_KEY]: text, ...rest } = meta as Record<string, unknown>;
  let sums: { header?: unknown; tensors?: unknown };
  try { sums = JSON.parse(String(text)) as typeof sums; } catch { corrupt('header', `${SAFETENSORS_CHECKSUM_KEY} is not valid JSON`); }
  const isU32 = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
  const tensors = sums?.tensors as Record<string, unknown> | undefined;
  if (!sums || !isU32(sums.header) || typeof tensors !== 'object' || tensors === null || !Object.values(tensors).every(isU32)) corrupt('header', `${SAFETENSORS_CHECKSUM_KEY} must be { header: crc, tensors: { name: crc } }`);
  const got = crc32c(new TextEncoder().encode(JSON.stringify({ ...json, __metadata__: rest })));
  if (got !== sums.header) corrupt('header', `CRC-32C ${hex(got)} does not match the recorded ${hex(sums.header as number)}`);
  return { tensors: tensors as Record<string, number> };
}

/**
 * Reads a safetensors file held in memory. Tensors are zero-copy views over `bytes` when
 * their offset is aligned for the dtype's storage (copied once otherwise), so keep `bytes`
 * unchanged while the tensors are in use. A file written with `{ checksums: true }` is verified
 * (header and every tensor): damage is a CORRUPT_FILE error naming the header or the tensor.
 *
 * @example
 * ```ts
 * const { tensors, metadata } = readSafetensors(new Uint8Array(await readFile('adapter.safetensors')));
 * tensors.get('lora_A')!.toFloat32();
 * ```
 */
export function readSafetensors(bytes: Uint8Array, options: ReadSafetensorsOptions = {}): SafetensorsFile {
  const header = readSafetensorsHeader(bytes, options);
  const tensors = new Map<string, Tensor>();
  for (const e of header.entries) {
    const start = header.dataStart + e.dataOffsets[0];
    const view = bytes.subarray(start, header.dataStart + e.dataOffsets[1]);
    const want = header.checksums?.[e.name];
    if (want !== undefined && crc32c(view) !== want) corrupt(`tensor '${e.name}'`, `CRC-32C ${hex(crc32c(view))} does not match the recorded ${hex(want)}`);
    tensors.set(e.name, Tensor.fromBytes(e.dtype, e.shape, view));
  }
  return { tensors, metadata: header.metadata };
}

/**
 * Serializes tensors to safetensors bytes. Tensors are laid out by element size (largest
 * first), then by name, so every tensor starts at an offset aligned for its storage type;
 * the header is padded with spaces to a multiple of 8 bytes. Dtypes without a safetensors
 * name (int4, uint4, string, complex, …) are refused. `{ checksums: true }` records CRC-32Cs of the
 * header and of every tensor under {@link SAFETENSORS_CHECKSUM_KEY}, for files of our own
 * (training checkpoints) that {@link readSafetensors} then verifies.
 *
 * @example
 * ```ts
 * const bytes = writeSafetensors({ w: Tensor.from('float32', [2], [1, 2]) }, { step: '10' });
 * ```
 */
export function writeSafetensors(tensors: Readonly<Record<string, Tensor>> | ReadonlyMap<string, Tensor>, metadata: Readonly<Record<string, string>> = {}, options: { checksums?: boolean } = {}): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Record<string, Tensor>);
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new LeanformerError('INVALID_ARGUMENT', `safetensors: '__metadata__' is reserved and cannot name a tensor`);
    if (!TO_SAFETENSORS.has(t.dtype.name)) {
      throw new LeanformerError('NOT_SUPPORTED', `safetensors: tensor '${name}' has dtype ${t.dtype.name}, which safetensors cannot hold; allowed: ${[...TO_SAFETENSORS.keys()].join(', ')}`);
    }
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new LeanformerError('INVALID_ARGUMENT', `safetensors: metadata '${k}' must be a string, got ${typeof v}`);
  }
  if (SAFETENSORS_CHECKSUM_KEY in metadata) throw new LeanformerError('INVALID_ARGUMENT', `safetensors: metadata key '${SAFETENSORS_CHECKSUM_KEY}' is reserved; pass { checksums: true }`);
  const ordered = [...list].sort(([an, a], [bn, b]) => b.dtype.bits - a.dtype.bits || (an < bn ? -1 : an > bn ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length || options.checksums) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const [name, t] of ordered) {
    const len = t.byteLength;
    header[name] = { dtype: TO_SAFETENSORS.get(t.dtype.name), shape: [...t.shape], data_offsets: [offset, offset + len] };
    offset += len;
  }
  if (options.checksums) {
    // The header's CRC covers its JSON without the checksum key: what headerChecksums re-derives.
    const sums = { header: crc32c(new TextEncoder().encode(JSON.stringify(header))), tensors: Object.fromEntries(ordered.map(([name, t]) => [name, crc32c(t.bytes())])) };
    (header.__metadata__ as Record<string, string>)[SAFETENSORS_CHECKSUM_KEY] = JSON.stringify(sums);
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.byteLength % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(json.byteLength + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const [, t] of ordered) {
    out.set(t.bytes(), at);
    at += t.byteLength;
  }
  return out;
}
