// The .lfpack container: an ONNX model whose large float initializers are stored
// entropy-coded (dfloat11.ts, "huffman-exponent-v1") and decode to bit-identical tensors.
//
// Layout (little-endian):
//   0   "LFPK"             magic
//   4   u32 version        1
//   8   u32 manifestBytes
//   12  manifest           UTF-8 JSON: { codec, model: { offset, length },
//                            tensors: [{ name, dtype, shape, offset, length }] }
//   …   sections           each 8-byte aligned, offsets from the start of the file:
//                          the ONNX model (packed initializers replaced by empty [0] tensors of
//                          the same dtype), then one coded stream per packed tensor.
// The ONNX encoder/decoder is passed in (ModelCodec), so this package needs only core.
import { cloneGraph, DTypes, LeanformerError, Tensor, type Graph } from '@leanformer/core';
import { decodeFloats, encodeFloats, type PackableFloat } from './dfloat11.js';

/** ONNX bytes ⇄ IR, e.g. `{ encode: encodeModel, decode: decodeModel }` from @leanformer/onnx. */
export interface ModelCodec {
  encode(graph: Graph): Uint8Array;
  decode(bytes: Uint8Array): Graph;
}

/** One packed tensor, as the manifest lists it. */
export interface LfpackTensorEntry {
  readonly name: string;
  readonly dtype: PackableFloat;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly length: number;
}

/** The manifest of an .lfpack file. */
export interface LfpackManifest {
  readonly codec: 'huffman-exponent-v1';
  readonly model: { readonly offset: number; readonly length: number };
  readonly tensors: readonly LfpackTensorEntry[];
}

const MAGIC = [0x4c, 0x46, 0x50, 0x4b]; // "LFPK"
const VERSION = 1;
const PACKABLE = new Set<string>(['bfloat16', 'float16', 'float32']);

/** True when `bytes` start with the .lfpack magic. */
export function isLfpack(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && MAGIC.every((b, i) => bytes[i] === b);
}

/** Options of {@link packModel}. */
export interface PackOptions {
  /** Initializers with fewer elements stay inside the ONNX part. Default 1024. */
  readonly minElements?: number;
}

function bitsOf(t: Tensor): Uint16Array | Uint32Array {
  const d = t.data as Uint16Array | Float32Array;
  return d instanceof Float32Array ? new Uint32Array(d.buffer, d.byteOffset, d.length) : d;
}

/**
 * Packs a model: float initializers (bf16, fp16, fp32) of at least `minElements` elements are
 * entropy-coded; everything else stays in the embedded ONNX model.
 *
 * @example
 * ```ts
 * import { encodeModel, decodeModel } from '@leanformer/onnx';
 * const bytes = packModel(graph, { encode: encodeModel, decode: decodeModel });
 * const same = unpackModel(bytes, { encode: encodeModel, decode: decodeModel }); // bit-identical weights
 * ```
 */
export function packModel(graph: Graph, codec: ModelCodec, options: PackOptions = {}): Uint8Array {
  const minElements = options.minElements ?? 1024;
  const g = cloneGraph(graph);
  const streams: { name: string; dtype: PackableFloat; shape: readonly number[]; bytes: Uint8Array }[] = [];
  for (const v of g.initializers.values()) {
    const t = v.const!;
    if (!PACKABLE.has(t.dtype.name) || t.size < minElements) continue;
    streams.push({ name: v.name, dtype: t.dtype.name as PackableFloat, shape: t.shape, bytes: encodeFloats(t.dtype.name as PackableFloat, bitsOf(t)) });
    g.setInitializer(v, Tensor.zeros(t.dtype, [0]));
  }
  const model = codec.encode(g);
  // Offsets depend on the manifest's length, which depends on the offsets' digits: iterate to a fixed point.
  let manifestLen = 0;
  let manifest: LfpackManifest;
  let json: Uint8Array;
  for (;;) {
    let off = align8(12 + manifestLen);
    const modelEntry = { offset: off, length: model.length };
    off = align8(off + model.length);
    const tensors: LfpackTensorEntry[] = streams.map((s) => {
      const e = { name: s.name, dtype: s.dtype, shape: [...s.shape], offset: off, length: s.bytes.length };
      off = align8(off + s.bytes.length);
      return e;
    });
    manifest = { codec: 'huffman-exponent-v1', model: modelEntry, tensors };
    json = new TextEncoder().encode(JSON.stringify(manifest));
    if (json.length === manifestLen) break;
    manifestLen = json.length;
  }
  const last = manifest.tensors.length ? manifest.tensors[manifest.tensors.length - 1]! : manifest.model;
  const out = new Uint8Array(last.offset + last.length);
  out.set(MAGIC, 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(4, VERSION, true);
  dv.setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(model, manifest.model.offset);
  manifest.tensors.forEach((e, i) => out.set(streams[i]!.bytes, e.offset));
  return out;
}

function align8(n: number): number { return (n + 7) & ~7; }

/** Reads and validates the manifest of an .lfpack file. */
export function readLfpackManifest(bytes: Uint8Array): LfpackManifest {
  if (!isLfpack(bytes)) throw new LeanformerError('DECODE_ERROR', 'not an .lfpack file (missing LFPK magic)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(4, true);
  if (version !== VERSION) throw new LeanformerError('DECODE_ERROR', `.lfpack version ${version} is not supported (this reader knows version ${VERSION})`);
  const len = dv.getUint32(8, true);
  if (12 + len > bytes.length) throw new LeanformerError('DECODE_ERROR', `.lfpack manifest (${len} bytes) runs past the end of the file (${bytes.length} bytes)`);
  let m: LfpackManifest;
  try { m = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len))) as LfpackManifest; } catch (e) {
    throw new LeanformerError('DECODE_ERROR', '.lfpack manifest is not valid JSON', { cause: e });
  }
  if (m.codec !== 'huffman-exponent-v1') throw new LeanformerError('DECODE_ERROR', `.lfpack codec '${String(m.codec)}' is not supported (known: huffman-exponent-v1)`);
  for (const s of [m.model, ...m.tensors]) {
    if (!(Number.isInteger(s.offset) && Number.isInteger(s.length) && s.offset >= 0 && s.offset + s.length <= bytes.length)) throw new LeanformerError('DECODE_ERROR', `.lfpack section at ${s.offset} (+${s.length}) lies outside the file (${bytes.length} bytes)`);
  }
  return m;
}

/**
 * Restores the model from an .lfpack file; packed tensors decode to the exact original bits.
 *
 * @example
 * ```ts
 * const graph = unpackModel(readFileSync('model.lfpack'), { encode: encodeModel, decode: decodeModel });
 * ```
 */
export function unpackModel(bytes: Uint8Array, codec: ModelCodec): Graph {
  const m = readLfpackManifest(bytes);
  const g = codec.decode(bytes.subarray(m.model.offset, m.model.offset + m.model.length));
  for (const e of m.tensors) {
    const v = g.initializers.get(e.name);
    if (!v) throw new LeanformerError('DECODE_ERROR', `.lfpack tensor '${e.name}' has no placeholder initializer in the embedded model`);
    const dec = decodeFloats(bytes.subarray(e.offset, e.offset + e.length));
    if (dec.dtype !== e.dtype) throw new LeanformerError('DECODE_ERROR', `.lfpack tensor '${e.name}': stream holds ${dec.dtype}, manifest says ${e.dtype}`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (dec.bits.length !== count) throw new LeanformerError('DECODE_ERROR', `.lfpack tensor '${e.name}': ${dec.bits.length} elements decoded, shape [${e.shape.join(', ')}] needs ${count}`);
    const data = e.dtype === 'float32' ? new Float32Array(dec.bits.buffer, dec.bits.byteOffset, dec.bits.length) : dec.bits as Uint16Array;
    g.setInitializer(v, new Tensor(DTypes[e.dtype], e.shape, data));
  }
  return g;
}

/** Size facts of an .lfpack file: packed tensors' raw vs coded bytes. */
export function lfpackStats(bytes: Uint8Array): { tensors: number; rawBytes: number; packedBytes: number; ratio: number } {
  const m = readLfpackManifest(bytes);
  let raw = 0, packed = 0;
  for (const e of m.tensors) {
    raw += e.shape.reduce((a, b) => a * b, 1) * (e.dtype === 'float32' ? 4 : 2);
    packed += e.length;
  }
  return { tensors: m.tensors.length, rawBytes: raw, packedBytes: packed, ratio: raw ? packed / raw : 1 };
}
