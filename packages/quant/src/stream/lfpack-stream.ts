// Streaming .lfpack pack and unpack (the container of lfpack.ts, same bytes): tensors are coded
// or decoded one at a time, read and written at file offsets, so memory follows the largest
// tensor, not the model. Pack codes each float initializer into a scratch file as it goes, then
// writes header, manifest and model and copies the coded streams after them in chunks; unpack
// decodes each stream straight into the output's external-data file. Outputs are written under
// temporary names and renamed when complete.
import { cloneGraph, crc32c, DTypes, LeanformerError, Tensor, type Graph, type ProgressCallback } from '@leanformer/core';
import { assertOutputsDistinct, checkOutputPath, commitTemp, createTempPath, discardTemp, yieldForSignals } from '@leanformer/core/node';
import { encodeFloats, type PackableFloat } from '../dfloat11.js';
import { decodeLfpackModel, decodeLfpackTensor, layoutLfpack, lfpackRawBytes, PACKABLE, parseLfpackHeader } from '../lfpack-format.js';
import { AtomicModelOutput, readExactly, ReuseReader, writeAll, writtenTensor, type NodeFs, type Placement } from './output.js';
import type { StreamPlacer } from './quantize-stream.js';

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

/** What {@link packModelStreaming} needs from '@leanformer/onnx' (and '/node'). */
export interface StreamPackDeps {
  loadModel(path: string, options: { externalData: 'lazy' }): Graph | Promise<Graph>;
  encodeModel(graph: Graph): Uint8Array;
}

/** What {@link unpackModelStreaming} needs from '@leanformer/onnx'. */
export interface StreamUnpackDeps {
  decodeModel(bytes: Uint8Array): Graph;
  encodeModel(graph: Graph, options: { externalData: StreamPlacer }): Uint8Array;
}

/** Result of the streaming pack and unpack. */
export interface StreamPackReport {
  readonly tensors: number;
  /** Raw bytes of the coded tensors and their coded size. */
  readonly rawBytes: number;
  readonly packedBytes: number;
  /** Size of the written file(s). */
  readonly fileBytes: number;
  /** The largest tensor read at once. */
  readonly largestTensorBytes: number;
  readonly seconds: number;
  /** Unpack: true when every section's checksum was checked; false for version-1 files, which have none. */
  readonly verified?: boolean;
}

async function nodeModules(): Promise<{ fs: NodeFs; path: typeof import('node:path') }> {
  return { fs: await import('node:fs'), path: await import('node:path') };
}

/**
 * Packs an ONNX model on disk (external data welcome) into an .lfpack file, one tensor at a time:
 * the same bytes `packModel` produces, with memory bounded by the largest float tensor and its
 * coded stream. Float initializers of at least `minElements` elements are coded; the rest stay
 * in the embedded model (held in memory, as the model part of the container must be one block).
 * `onProgress` gets `{ phase: 'pack', done, total, unit: 'bytes', item: <tensor name> }`: raw bytes
 * coded so far of the packable tensors' total (done 0 first).
 *
 * @example
 * ```ts
 * import { encodeModel } from '@leanformer/onnx';
 * import { loadModel } from '@leanformer/onnx/node';
 * const r = await packModelStreaming('model.onnx', 'model.lfpack', { loadModel, encodeModel: (g) => encodeModel(g) });
 * r.packedBytes / r.rawBytes; // ≈ 0.69 for bf16 LLM weights
 * ```
 */
export async function packModelStreaming(
  input: string, output: string, deps: StreamPackDeps,
  options: { minElements?: number; onProgress?: ProgressCallback } = {},
): Promise<StreamPackReport> {
  const t0 = performance.now();
  const { fs, path } = await nodeModules();
  const minElements = options.minElements ?? 1024;
  const target = path.resolve(output);
  checkOutputPath(output);
  assertOutputsDistinct({ inputs: [input], outputs: [output] });
  const graph = await deps.loadModel(input, { externalData: 'lazy' });
  const inputs = [input];
  for (const v of graph.initializers.values()) { const loc = v.const!.lazySource?.location; if (loc) inputs.push(loc.path); }
  assertOutputsDistinct({ inputs, outputs: [target], sidecars: false });

  const g = cloneGraph(graph);
  const reader = new ReuseReader(fs);
  const scratch = createTempPath(target); // the coded streams, copied after the header at the end
  const tmpOut = createTempPath(target);
  const entries: { name: string; dtype: PackableFloat; shape: number[]; rel: number; length: number; crc32c: number }[] = [];
  let sfd = -1;
  let ofd = -1;
  let rawBytes = 0;
  try {
    sfd = fs.openSync(scratch, 'w+');
    let end = 0;
    const packable = [...g.initializers.values()].filter((v) => PACKABLE.has(v.const!.dtype.name) && v.const!.size >= minElements);
    const total = packable.reduce((n, v) => n + v.const!.byteLength, 0);
    options.onProgress?.({ phase: 'pack', done: 0, total, unit: 'bytes' });
    for (const v of packable) {
      const t = v.const!;
      const raw = reader.tensor(t, v.name);
      const bits = t.dtype === DTypes.float32 ? new Uint32Array(raw.buffer, raw.byteOffset, t.size) : new Uint16Array(raw.buffer, raw.byteOffset, t.size);
      const coded = encodeFloats(t.dtype.name as PackableFloat, bits);
      const rel = align8(end);
      writeAll(fs, sfd, coded, rel);
      end = rel + coded.length;
      entries.push({ name: v.name, dtype: t.dtype.name as PackableFloat, shape: [...t.shape], rel, length: coded.length, crc32c: crc32c(coded) });
      rawBytes += t.byteLength;
      t.release();
      g.setInitializer(v, Tensor.zeros(t.dtype, [0]));
      options.onProgress?.({ phase: 'pack', done: rawBytes, total, unit: 'bytes', item: v.name });
      await yieldForSignals(); // SIGINT/SIGTERM stop the run here and remove its temporaries
    }
    const model = deps.encodeModel(g);
    const layout = layoutLfpack(model, entries);
    // The scratch file holds the streams at the same relative 8-aligned offsets the layout uses after `base`.
    const base = align8(layout.manifest.model.offset + model.length);
    if (layout.manifest.tensors.some((t, i) => t.offset !== base + entries[i]!.rel)) throw new Error('lfpack layout and scratch offsets disagree');
    ofd = fs.openSync(tmpOut, 'w');
    writeAll(fs, ofd, layout.head, 0);
    writeAll(fs, ofd, model, layout.manifest.model.offset);
    const chunk = new Uint8Array(16 << 20);
    for (let done = 0; done < end;) {
      const n = Math.min(chunk.length, end - done);
      writeAll(fs, ofd, readExactly(fs, sfd, chunk, n, done, 'coded streams'), base + done);
      done += n;
    }
    fs.fsyncSync(ofd);
    fs.closeSync(ofd);
    ofd = -1;
    fs.closeSync(sfd);
    sfd = -1;
    commitTemp(tmpOut, target);
    discardTemp(scratch);
    return {
      tensors: entries.length, rawBytes, packedBytes: entries.reduce((n, e) => n + e.length, 0), fileBytes: fs.statSync(target).size,
      largestTensorBytes: reader.largest, seconds: Math.round((performance.now() - t0) / 10) / 100,
    };
  } catch (e) {
    for (const fd of [sfd, ofd]) if (fd >= 0) try { fs.closeSync(fd); } catch { /* closed */ }
    discardTemp(scratch);
    discardTemp(tmpOut);
    if (e instanceof LeanformerError) throw e;
    throw new LeanformerError('IO_ERROR', `Streaming pack of '${input}' to '${output}' failed: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Restores an ONNX model with external data from an .lfpack file, one tensor at a time: each
 * coded stream is read at its offset, decoded (bit-identical) and written to `<output>.data`;
 * memory follows the largest tensor. Writes `output` and its data file atomically. `onProgress`
 * gets `{ phase: 'unpack', done, total, unit: 'bytes', item: <tensor name> }`: raw bytes restored so
 * far (done 0 first).
 *
 * @example
 * ```ts
 * import { decodeModel, encodeModel } from '@leanformer/onnx';
 * await unpackModelStreaming('model.lfpack', 'restored.onnx', { decodeModel, encodeModel });
 * ```
 */
export async function unpackModelStreaming(input: string, output: string, deps: StreamUnpackDeps, options: { sizeThreshold?: number; onProgress?: ProgressCallback } = {}): Promise<StreamPackReport> {
  const t0 = performance.now();
  const { fs, path } = await nodeModules();
  const target = path.resolve(output);
  const threshold = options.sizeThreshold ?? 1024;
  checkOutputPath(output);
  assertOutputsDistinct({ inputs: [input], outputs: [output] });
  let fd: number;
  try { fd = fs.openSync(input, 'r'); } catch (e) {
    throw new LeanformerError('IO_ERROR', `Cannot read '${input}': ${(e as Error).message}`, { cause: e, details: { path: input } });
  }
  const reader = new ReuseReader(fs);
  let out: AtomicModelOutput | undefined;
  try {
    const size = fs.fstatSync(fd).size;
    let small = new Uint8Array(64);
    const header = parseLfpackHeader((offset, length) => {
      if (small.length < length) small = new Uint8Array(length);
      return readExactly(fs, fd, small, length, offset, input);
    }, size);
    const m = header.manifest;
    const g = decodeLfpackModel(m.model, readExactly(fs, fd, new Uint8Array(m.model.length), m.model.length, m.model.offset, 'embedded model'), { decode: (b) => deps.decodeModel(b) });
    out = new AtomicModelOutput(fs, target, `${path.basename(target)}.data`, path);
    const placed = new Map<Tensor, Placement>();
    let rawBytes = 0;
    const total = m.tensors.reduce((n, e) => n + lfpackRawBytes(e), 0);
    options.onProgress?.({ phase: 'unpack', done: 0, total, unit: 'bytes' });
    for (const e of m.tensors) {
      const { value, tensor } = decodeLfpackTensor(g, e, reader.range(input, e.offset, e.length, `stream of '${e.name}'`));
      const bytes = tensor.bytes();
      rawBytes += bytes.length;
      g.setInitializer(value, writtenTensor(fs, out, DTypes[e.dtype], e.shape, bytes, placed));
      options.onProgress?.({ phase: 'unpack', done: rawBytes, total, unit: 'bytes', item: e.name });
      await yieldForSignals();
    }
    const modelBytes = deps.encodeModel(g, {
      externalData: (t) => placed.get(t) ?? (t.dtype.storage !== 'string' && t.byteLength >= threshold ? out!.append(t.bytes()) : undefined),
    });
    out.commit(modelBytes);
    return {
      tensors: m.tensors.length, rawBytes, packedBytes: m.tensors.reduce((n, e) => n + e.length, 0),
      fileBytes: fs.statSync(target).size + (fs.existsSync(out.dataPath) ? fs.statSync(out.dataPath).size : 0),
      largestTensorBytes: reader.largest, seconds: Math.round((performance.now() - t0) / 10) / 100, verified: header.checksummed,
    };
  } catch (e) {
    out?.abort();
    if (e instanceof LeanformerError) throw e;
    throw new LeanformerError('IO_ERROR', `Streaming unpack of '${input}' to '${output}' failed: ${(e as Error).message}`, { cause: e });
  } finally {
    fs.closeSync(fd);
  }
}
