// The .lfpack container's public API: pack a model, unpack it, read its manifest and sizes. The
// byte format, its checks and the layout both packers share are in lfpack-format.ts.
import { cloneGraph, crc32c, readSource, Tensor, type ByteSource, type Graph, type ProgressCallback, type ReadSourceOptions } from '@leanformer/core';
import { encodeFloats, type PackableFloat } from './dfloat11.js';
import { decodeLfpackModel, decodeLfpackTensor, layoutLfpack, lfpackRawBytes, PACKABLE, parseLfpackHeader, verifyLfpackSection, type LfpackHeader, type LfpackManifest, type LfpackStreamInfo, type ModelCodec } from './lfpack-format.js';

export { isLfpack } from './lfpack-format.js';
export type { LfpackManifest, LfpackSection, LfpackTensorEntry, ModelCodec } from './lfpack-format.js';

/** Options of {@link packModel}. */
export interface PackOptions {
  /** Initializers with fewer elements stay inside the ONNX part. Default 1024. */
  readonly minElements?: number;
  /** `{ phase: 'pack', done, total, unit: 'bytes', item: <tensor name> }`: raw bytes coded so far (done 0 first). */
  readonly onProgress?: ProgressCallback;
}

function bitsOf(t: Tensor): Uint16Array | Uint32Array {
  const d = t.data as Uint16Array | Float32Array;
  return d instanceof Float32Array ? new Uint32Array(d.buffer, d.byteOffset, d.length) : d;
}

/**
 * Packs a model: float initializers (bf16, fp16, fp32) of at least `minElements` elements are
 * entropy-coded; everything else stays in the embedded ONNX model. Writes format version 2
 * (CRC-32C of the header and of every section).
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
  const streams: (LfpackStreamInfo & { bytes: Uint8Array })[] = [];
  const packable = [...g.initializers.values()].filter((v) => PACKABLE.has(v.const!.dtype.name) && v.const!.size >= minElements);
  const total = packable.reduce((n, v) => n + v.const!.byteLength, 0);
  let done = 0;
  options.onProgress?.({ phase: 'pack', done, total, unit: 'bytes' });
  for (const v of packable) {
    const t = v.const!;
    const bytes = encodeFloats(t.dtype.name as PackableFloat, bitsOf(t));
    streams.push({ name: v.name, dtype: t.dtype.name as PackableFloat, shape: t.shape, length: bytes.length, crc32c: crc32c(bytes), bytes });
    g.setInitializer(v, Tensor.zeros(t.dtype, [0]));
    done += t.byteLength;
    options.onProgress?.({ phase: 'pack', done, total, unit: 'bytes', item: v.name });
  }
  const model = codec.encode(g);
  const { head, manifest, fileBytes } = layoutLfpack(model, streams);
  const out = new Uint8Array(fileBytes);
  out.set(head, 0);
  out.set(model, manifest.model.offset);
  manifest.tensors.forEach((e, i) => out.set(streams[i]!.bytes, e.offset));
  return out;
}

/**
 * Reads and checks the manifest of an .lfpack file (header checksum, fields, layout; not the
 * sections' checksums, which {@link unpackModel} and {@link lfpackStats} check).
 *
 * @example
 * ```ts
 * readLfpackManifest(bytes).tensors.map((t) => `${t.name}: ${t.dtype}[${t.shape}]`);
 * ```
 */
export function readLfpackManifest(bytes: Uint8Array): LfpackManifest {
  return readHeader(bytes).manifest;
}

function readHeader(bytes: Uint8Array): LfpackHeader {
  return parseLfpackHeader((o, n) => bytes.subarray(o, o + n), bytes.length);
}

/**
 * Restores the model from an .lfpack file; packed tensors decode to the exact original bits.
 * Every section's checksum is checked before it is decoded (version 2): a damaged file throws
 * CORRUPT_FILE naming the header, the embedded model or the tensor. Version 1 files (no
 * checksums) are read with the structural checks only; {@link lfpackVersion} tells them apart.
 * `options.onProgress` gets `{ phase: 'unpack', done, total, unit: 'bytes', item: <tensor name> }`
 * (raw bytes restored so far, done 0 first).
 *
 * @example
 * ```ts
 * const graph = unpackModel(readFileSync('model.lfpack'), { encode: encodeModel, decode: decodeModel });
 * ```
 */
export function unpackModel(bytes: Uint8Array, codec: ModelCodec, options: { readonly onProgress?: ProgressCallback } = {}): Graph {
  const { manifest: m } = readHeader(bytes);
  const g = decodeLfpackModel(m.model, bytes.subarray(m.model.offset, m.model.offset + m.model.length), codec);
  const total = m.tensors.reduce((n, e) => n + lfpackRawBytes(e), 0);
  let done = 0;
  options.onProgress?.({ phase: 'unpack', done, total, unit: 'bytes' });
  for (const e of m.tensors) {
    const { value, tensor } = decodeLfpackTensor(g, e, bytes.subarray(e.offset, e.offset + e.length));
    g.setInitializer(value, tensor);
    done += tensor.byteLength;
    options.onProgress?.({ phase: 'unpack', done, total, unit: 'bytes', item: e.name });
  }
  return g;
}

/**
 * {@link unpackModel} over any byte source: a URL (fetch), `Blob`/`File`, `ArrayBuffer`/`Uint8Array`
 * or `ReadableStream`. `onProgress` gets the read (`phase: 'read'`, bytes downloaded) and then the
 * unpack (`phase: 'unpack'`, raw tensor bytes), both core `ProgressEvent`s in bytes. In Node, read a
 * path with `readSource` from '@leanformer/core/node' and pass the bytes.
 *
 * @example
 * ```ts
 * const graph = await unpackModelFrom('/models/demo.lfpack', { encode: encodeModel, decode: decodeModel }, { onProgress: ({ phase, done, total }) => show(phase, done, total) });
 * ```
 */
export async function unpackModelFrom(source: ByteSource, codec: ModelCodec, options: ReadSourceOptions = {}): Promise<Graph> {
  return unpackModel(await readSource(source, options), codec, options.onProgress ? { onProgress: options.onProgress } : {});
}

/**
 * The format version of an .lfpack file: 2 (checksummed) or 1 (older, unverifiable).
 *
 * @example
 * ```ts
 * if (lfpackVersion(bytes) < 2) console.warn('no checksums: re-pack this file');
 * ```
 */
export function lfpackVersion(bytes: Uint8Array): 1 | 2 {
  return readHeader(bytes).version;
}

/**
 * Size facts of an .lfpack file: packed tensors' raw vs coded bytes. Checks the header and
 * every section's checksum, so a file that passes can be unpacked; `verified` is false for
 * version 1 files, which carry no checksums.
 *
 * @example
 * ```ts
 * const s = lfpackStats(bytes); // { tensors: 2, rawBytes, packedBytes, ratio: 0.68, version: 2, verified: true }
 * ```
 */
export function lfpackStats(bytes: Uint8Array): { tensors: number; rawBytes: number; packedBytes: number; ratio: number; version: 1 | 2; verified: boolean } {
  const { manifest: m, version, checksummed } = readHeader(bytes);
  let raw = 0, packed = 0;
  for (const s of [m.model, ...m.tensors]) verifyLfpackSection(s, bytes.subarray(s.offset, s.offset + s.length));
  for (const e of m.tensors) {
    raw += lfpackRawBytes(e);
    packed += e.length;
  }
  return { tensors: m.tensors.length, rawBytes: raw, packedBytes: packed, ratio: raw ? packed / raw : 1, version, verified: checksummed };
}
