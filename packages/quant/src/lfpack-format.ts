// The .lfpack container: an ONNX model whose large float initializers are stored
// entropy-coded (dfloat11.ts, "huffman-exponent-v1") and decode to bit-identical tensors.
//
// Layout, version 2 (little-endian):
//   0   "LFPK"             magic
//   4   u32 version        2
//   8   u32 manifestBytes
//   12  u32 headerCrc      CRC-32C of bytes 0..12 followed by the manifest
//   16  manifest           UTF-8 JSON: { codec, model: { offset, length, crc32c },
//                            tensors: [{ name, dtype, shape, offset, length, crc32c }] }
//   …   sections           each at the next 8-byte boundary after the previous one (zero padding),
//                          offsets from the start of the file: the ONNX model (packed initializers
//                          replaced by empty [0] tensors of the same dtype), then one coded stream
//                          per packed tensor; the file ends where the last section ends.
// Each section's crc32c is the CRC-32C of its stored bytes and is checked before the bytes are
// decoded, so a corrupt file is a CORRUPT_FILE error naming the header, the embedded model or the
// tensor, and the decoders never see damaged input.
// Version 1 (written before checksums) has a 12-byte header (no headerCrc) and no crc32c fields.
// It is still read, with every structural check but no checksum (`verified: false`), because an
// .lfpack may be the only copy of a model: refusing it would strand the user's weights. The CLI
// prints a note asking to re-pack it.
// Bounded work (issue #16's `unpack` hang): reading is synchronous, every allocation and loop is
// bounded by the file's size (the manifest length and each section are checked against it before
// anything is read or allocated; the Huffman decoder's loops advance by at least one element per
// step and stop at the element count, which its own header check bounds by the stream's size),
// and with version 2 the decoders only ever see bytes whose checksum matched. No reader waits on
// anything that can stay pending (the streaming one awaits only an import of node:fs and, where
// added, setImmediate-style yields), so a damaged file cannot leave one waiting. The fuzz
// tests enforce this with per-case time limits (in process, streaming, and the built CLI under a
// wall-clock kill); lfpack.fuzz.test.ts's header records what the hang investigation found.
// The ONNX encoder/decoder is passed in (ModelCodec), so this package needs only core.
import { crc32c, DTypes, LeanformerError, Tensor, type Graph, type Value } from '@leanformer/core';
import { decodeFloats, type PackableFloat } from './dfloat11.js';

/** ONNX bytes ⇄ IR, e.g. `{ encode: encodeModel, decode: decodeModel }` from @leanformer/onnx. */
export interface ModelCodec {
  encode(graph: Graph): Uint8Array;
  decode(bytes: Uint8Array): Graph;
}

/** A byte range of an .lfpack file and the CRC-32C of its bytes (absent in version 1 files). */
export interface LfpackSection {
  readonly offset: number;
  readonly length: number;
  readonly crc32c?: number;
}

/** One packed tensor, as the manifest lists it. */
export interface LfpackTensorEntry extends LfpackSection {
  readonly name: string;
  readonly dtype: PackableFloat;
  readonly shape: readonly number[];
}

/** The manifest of an .lfpack file. */
export interface LfpackManifest {
  readonly codec: 'huffman-exponent-v1';
  readonly model: LfpackSection;
  readonly tensors: readonly LfpackTensorEntry[];
}

/** A parsed, structurally checked .lfpack header. */
export interface LfpackHeader {
  /** Format version: 2 carries checksums; 1 (older files) does not. */
  readonly version: 1 | 2;
  readonly manifest: LfpackManifest;
  /** True when the header and every section carry a checksum (version 2). */
  readonly checksummed: boolean;
}

const MAGIC = [0x4c, 0x46, 0x50, 0x4b]; // "LFPK"
const VERSION = 2;
const PREFIX: Record<1 | 2, number> = { 1: 12, 2: 16 }; // header bytes before the manifest
const CODEC = 'huffman-exponent-v1';
export const PACKABLE: ReadonlySet<string> = new Set<string>(['bfloat16', 'float16', 'float32']);
const align8 = (n: number): number => Math.ceil(n / 8) * 8;
const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** True when `bytes` start with the .lfpack magic. */
export function isLfpack(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && MAGIC.every((b, i) => bytes[i] === b);
}

/** The code is in the message too: it is what a CLI user greps for and reports. */
function corrupt(what: string, reason: string): never {
  throw new LeanformerError('CORRUPT_FILE', `.lfpack ${what} is corrupt (CORRUPT_FILE): ${reason}`, { details: { section: what } });
}

/** What the manifest's sections are called in errors: 'embedded model' or `tensor '<name>'`. */
function sectionName(e: LfpackSection): string {
  return 'name' in e ? `tensor '${String((e as LfpackTensorEntry).name)}'` : 'embedded model';
}

function isU32(v: unknown): v is number { return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff; }
function isCount(v: unknown): v is number { return Number.isSafeInteger(v) && (v as number) >= 0; }

/**
 * Checks the manifest's shape (every field of the type it must be) and its layout: sections sit
 * where the writers put them (the model right after the manifest, each stream after the previous
 * one, 8-byte aligned) and the file ends with the last one. One exact layout rules out negative,
 * huge, overlapping and out-of-file ranges at once.
 */
function checkManifest(raw: unknown, version: 1 | 2, manifestEnd: number, fileSize: number): LfpackManifest {
  const bad = (reason: string): never => corrupt('header', reason);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('the manifest is not a JSON object');
  const m = raw as Record<string, unknown>;
  if (m.codec !== CODEC) {
    // A known-good header with another codec was written by a newer leanformer.
    if (version === VERSION && typeof m.codec === 'string') throw new LeanformerError('NOT_SUPPORTED', `.lfpack codec '${m.codec}' is not supported (known: ${CODEC})`);
    bad(`codec ${JSON.stringify(m.codec)} is not ${CODEC}`);
  }
  const section = (s: unknown, what: string): LfpackSection => {
    const o = (typeof s === 'object' && s !== null ? s : {}) as Record<string, unknown>;
    if (!isCount(o.offset) || !isCount(o.length)) bad(`${what} has offset ${JSON.stringify(o.offset)} and length ${JSON.stringify(o.length)}; both must be non-negative integers`);
    if (version === 2 && !isU32(o.crc32c)) bad(`${what} has no valid crc32c (${JSON.stringify(o.crc32c)})`);
    return { offset: o.offset as number, length: o.length as number, ...(version === 2 ? { crc32c: o.crc32c as number } : {}) };
  };
  const model = section(m.model, 'the embedded model');
  if (!Array.isArray(m.tensors)) bad('the manifest has no tensors list');
  const names = new Set<string>();
  const tensors = (m.tensors as unknown[]).map((t, i): LfpackTensorEntry => {
    const o = (typeof t === 'object' && t !== null ? t : {}) as Record<string, unknown>;
    if (typeof o.name !== 'string' || o.name === '' || names.has(o.name)) bad(`tensor #${i} has name ${JSON.stringify(o.name)}; names must be distinct non-empty strings`);
    names.add(o.name as string);
    const what = `tensor '${o.name as string}'`;
    if (typeof o.dtype !== 'string' || !PACKABLE.has(o.dtype)) bad(`${what} has dtype ${JSON.stringify(o.dtype)}; allowed: ${[...PACKABLE].join(', ')}`);
    if (!Array.isArray(o.shape) || !o.shape.every(isCount) || !isCount(o.shape.reduce((a: number, b: number) => a * b, 1))) bad(`${what} has shape ${JSON.stringify(o.shape)}; dims must be non-negative integers`);
    return { name: o.name as string, dtype: o.dtype as PackableFloat, shape: [...(o.shape as number[])], ...section(t, what) };
  });
  let at = manifestEnd;
  for (const s of [model, ...tensors]) {
    if (s.offset !== align8(at)) bad(`${sectionName(s)} starts at byte ${s.offset}, but the layout puts it at ${align8(at)}`);
    at = s.offset + s.length;
    if (at > fileSize) corrupt(sectionName(s), `it ends at byte ${at}, past the end of the ${fileSize}-byte file (truncated)`);
  }
  if (at !== fileSize) corrupt('file', `${fileSize - at} bytes follow the last section (the file was extended or concatenated)`);
  return { codec: CODEC, model, tensors };
}

/**
 * Reads and checks the header of an .lfpack file through `read(offset, length)` (bytes of the
 * file; may return a view that is valid until the next call): magic, version, the header
 * checksum (version 2), the manifest's fields, the exact section layout and zero padding.
 * Sections' own checksums are checked when they are read ({@link verifyLfpackSection}).
 *
 * @example
 * ```ts
 * const h = parseLfpackHeader((o, n) => bytes.subarray(o, o + n), bytes.length);
 * h.manifest.tensors.map((t) => t.name);
 * ```
 */
export function parseLfpackHeader(read: (offset: number, length: number) => Uint8Array, fileSize: number): LfpackHeader {
  if (fileSize < 12) throw new LeanformerError('DECODE_ERROR', `not an .lfpack file (${fileSize} bytes, shorter than the 12-byte header)`);
  const first = read(0, Math.min(fileSize, PREFIX[VERSION])).slice();
  if (!isLfpack(first)) throw new LeanformerError('DECODE_ERROR', 'not an .lfpack file (missing LFPK magic)');
  const dv = new DataView(first.buffer, first.byteOffset, first.byteLength);
  const v = dv.getUint32(4, true);
  if (v !== 1 && v !== 2) throw new LeanformerError('DECODE_ERROR', `.lfpack version ${v} is not supported (this reader knows versions 1 and ${VERSION}); a newer leanformer wrote it, or the header is corrupt`);
  const version = v as 1 | 2;
  const start = PREFIX[version];
  if (fileSize < start) corrupt('header', `the file ends at byte ${fileSize}, inside the ${start}-byte header`);
  const len = dv.getUint32(8, true);
  if (start + len > fileSize) corrupt('header', `the manifest (${len} bytes) runs past the end of the file (${fileSize} bytes)`);
  const json = read(start, len);
  if (version === 2) {
    const want = dv.getUint32(12, true);
    const got = crc32c(json, crc32c(first.subarray(0, 12)));
    if (got !== want) corrupt('header', `CRC-32C ${hex(got)} does not match the recorded ${hex(want)}`);
  }
  let raw: unknown;
  try { raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json)); } catch (e) {
    corrupt('header', `the manifest is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  const manifest = checkManifest(raw, version, start + len, fileSize);
  // Alignment padding: at most 7 bytes before each section, written as zeros.
  let at = start + len;
  for (const s of [manifest.model, ...manifest.tensors]) {
    if (s.offset > at && read(at, s.offset - at).some((b) => b !== 0)) corrupt(sectionName(s), `the alignment padding before it (bytes ${at}..${s.offset}) is not zero`);
    at = s.offset + s.length;
  }
  return { version, manifest, checksummed: version === 2 };
}

/**
 * Checks a section's bytes against its recorded CRC-32C (no-op for version 1 sections, which
 * have none). Throws CORRUPT_FILE naming the tensor or 'embedded model'.
 *
 * @example
 * ```ts
 * for (const t of h.manifest.tensors) verifyLfpackSection(t, bytes.subarray(t.offset, t.offset + t.length));
 * ```
 */
export function verifyLfpackSection(section: LfpackSection, bytes: Uint8Array): void {
  if (section.crc32c === undefined) return;
  const got = crc32c(bytes);
  if (got !== section.crc32c) corrupt(sectionName(section), `CRC-32C ${hex(got)} does not match the recorded ${hex(section.crc32c)} (the file changed after it was written; re-create it from the source model)`);
}

/** A coded stream to place in an .lfpack file. */
export interface LfpackStreamInfo {
  readonly name: string;
  readonly dtype: PackableFloat;
  readonly shape: readonly number[];
  readonly length: number;
  readonly crc32c: number;
}

/**
 * Lays out a version-2 .lfpack file: returns the bytes before the model (header and manifest),
 * where the model and each stream go, and the file size. Both packers write through this, so
 * the in-memory and streaming files are the same bytes.
 *
 * @example
 * ```ts
 * const l = layoutLfpack(modelBytes, [{ name: 'w', dtype: 'bfloat16', shape: [4, 4], length: coded.length, crc32c: crc32c(coded) }]);
 * out.set(l.head, 0); out.set(modelBytes, l.manifest.model.offset); out.set(coded, l.manifest.tensors[0].offset);
 * ```
 */
export function layoutLfpack(model: Uint8Array, streams: readonly LfpackStreamInfo[]): { head: Uint8Array; manifest: LfpackManifest; fileBytes: number } {
  const start = PREFIX[VERSION];
  const modelCrc = crc32c(model);
  // Offsets depend on the manifest's length, which depends on the offsets' digits: iterate to a fixed point.
  let manifestLen = 0;
  for (;;) {
    let off = align8(start + manifestLen);
    const modelEntry = { offset: off, length: model.length, crc32c: modelCrc };
    off += model.length;
    const tensors: LfpackTensorEntry[] = streams.map((s) => {
      const e = { name: s.name, dtype: s.dtype, shape: [...s.shape], offset: align8(off), length: s.length, crc32c: s.crc32c };
      off = e.offset + s.length;
      return e;
    });
    const manifest: LfpackManifest = { codec: CODEC, model: modelEntry, tensors };
    const json = new TextEncoder().encode(JSON.stringify(manifest));
    if (json.length === manifestLen) {
      const head = new Uint8Array(start + json.length);
      head.set(MAGIC, 0);
      const dv = new DataView(head.buffer);
      dv.setUint32(4, VERSION, true);
      dv.setUint32(8, json.length, true);
      dv.setUint32(12, crc32c(json, crc32c(head.subarray(0, 12))), true);
      head.set(json, start);
      return { head, manifest, fileBytes: off };
    }
    manifestLen = json.length;
  }
}

/** The raw (decoded) size of a packed tensor in bytes: its element count times 4 (float32) or 2 (float16, bfloat16). */
export function lfpackRawBytes(e: Pick<LfpackTensorEntry, 'dtype' | 'shape'>): number {
  return e.shape.reduce((a, b) => a * b, 1) * (e.dtype === 'float32' ? 4 : 2);
}

/**
 * Decodes one checked stream into the tensor the manifest describes, checking the embedded
 * model's placeholder for it (an empty tensor of the same dtype). Shared by both unpackers.
 */
export function decodeLfpackTensor(g: Graph, e: LfpackTensorEntry, stream: Uint8Array): { value: Value; tensor: Tensor } {
  const v = g.initializers.get(e.name);
  const what = `tensor '${e.name}'`;
  if (!v) corrupt(what, 'the embedded model has no placeholder initializer of that name');
  const ph = v.const!;
  if (ph.size !== 0 || ph.dtype.name !== e.dtype) corrupt(what, `the embedded model's placeholder is ${ph.dtype.name}[${ph.shape.join(', ')}], expected an empty ${e.dtype} tensor`);
  verifyLfpackSection(e, stream);
  let dec;
  try { dec = decodeFloats(stream); } catch (err) {
    if (err instanceof LeanformerError) corrupt(what, err.message);
    throw err;
  }
  if (dec.dtype !== e.dtype) corrupt(what, `the stream holds ${dec.dtype}, the manifest says ${e.dtype}`);
  const count = e.shape.reduce((a, b) => a * b, 1);
  if (dec.bits.length !== count) corrupt(what, `${dec.bits.length} elements decoded, shape [${e.shape.join(', ')}] needs ${count}`);
  const data = e.dtype === 'float32' ? new Float32Array(dec.bits.buffer, dec.bits.byteOffset, dec.bits.length) : dec.bits as Uint16Array;
  return { value: v, tensor: new Tensor(DTypes[e.dtype], e.shape, data) };
}

/** Decodes the embedded model after checking its checksum; a decoder failure names the section. */
export function decodeLfpackModel(section: LfpackSection, bytes: Uint8Array, codec: Pick<ModelCodec, 'decode'>): Graph {
  verifyLfpackSection(section, bytes);
  try { return codec.decode(bytes); } catch (err) {
    if (err instanceof LeanformerError) corrupt('embedded model', err.message);
    throw err;
  }
}

