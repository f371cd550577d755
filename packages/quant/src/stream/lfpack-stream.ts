// Streaming .lfpack pack and unpack (the container of lfpack.ts, same bytes): tensors are coded
// or decoded one at a time, read and written at file offsets, so memory follows the largest
// tensor, not the model. Pack codes each float initializer into a scratch file as it goes, then
// writes header, manifest and model and copies the coded streams after them in chunks; unpack
// decodes each stream straight into the output's external-data file. Outputs are written under
// temporary names and renamed when complete.
import { cloneGraph, DTypes, LeanformerError, Tensor, type Graph } from '@leanformer/core';
import { assertOutputsDistinct, checkOutputPath, commitTemp, createTempPath, discardTemp, yieldForSignals } from '@leanformer/core/node';
import { decodeFloats, encodeFloats, type PackableFloat } from '../dfloat11.js';
import type { LfpackManifest, LfpackTensorEntry } from '../lfpack.js';
import { AtomicModelOutput, readExactly, ReuseReader, writeAll, writtenTensor, type NodeFs, type Placement } from './output.js';
import type { StreamPlacer } from './quantize-stream.js';

const MAGIC = [0x4c, 0x46, 0x50, 0x4b]; // "LFPK"
const VERSION = 1;
const PACKABLE = new Set<string>(['bfloat16', 'float16', 'float32']);
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
}

async function nodeModules(): Promise<{ fs: NodeFs; path: typeof import('node:path') }> {
  return { fs: await import('node:fs'), path: await import('node:path') };
}

/**
 * Packs an ONNX model on disk (external data welcome) into an .lfpack file, one tensor at a time:
 * the same bytes `packModel` produces, with memory bounded by the largest float tensor and its
 * coded stream. Float initializers of at least `minElements` elements are coded; the rest stay
 * in the embedded model (held in memory, as the model part of the container must be one block).
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
  options: { minElements?: number; onTensor?: (name: string, index: number, total: number) => void } = {},
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
  const entries: { name: string; dtype: PackableFloat; shape: number[]; rel: number; length: number }[] = [];
  let sfd = -1;
  let ofd = -1;
  let rawBytes = 0;
  try {
    sfd = fs.openSync(scratch, 'w+');
    let end = 0;
    const packable = [...g.initializers.values()].filter((v) => PACKABLE.has(v.const!.dtype.name) && v.const!.size >= minElements);
    for (const v of packable) {
      const t = v.const!;
      const raw = reader.tensor(t, v.name);
      const bits = t.dtype === DTypes.float32 ? new Uint32Array(raw.buffer, raw.byteOffset, t.size) : new Uint16Array(raw.buffer, raw.byteOffset, t.size);
      const coded = encodeFloats(t.dtype.name as PackableFloat, bits);
      const rel = align8(end);
      writeAll(fs, sfd, coded, rel);
      end = rel + coded.length;
      entries.push({ name: v.name, dtype: t.dtype.name as PackableFloat, shape: [...t.shape], rel, length: coded.length });
      rawBytes += t.byteLength;
      t.release();
      g.setInitializer(v, Tensor.zeros(t.dtype, [0]));
      options.onTensor?.(v.name, entries.length, packable.length);
      await yieldForSignals(); // SIGINT/SIGTERM stop the run here and remove its temporaries
    }
    const model = deps.encodeModel(g);
    // Offsets depend on the manifest's length, which depends on the offsets' digits: iterate to a fixed point.
    let manifestLen = 0;
    let json: Uint8Array;
    let base: number;
    let modelOffset: number;
    for (;;) {
      modelOffset = align8(12 + manifestLen);
      base = align8(modelOffset + model.length);
      const tensors: LfpackTensorEntry[] = entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, offset: base + e.rel, length: e.length }));
      const manifest: LfpackManifest = { codec: 'huffman-exponent-v1', model: { offset: modelOffset, length: model.length }, tensors };
      json = new TextEncoder().encode(JSON.stringify(manifest));
      if (json.length === manifestLen) break;
      manifestLen = json.length;
    }
    ofd = fs.openSync(tmpOut, 'w');
    const head = new Uint8Array(12);
    head.set(MAGIC, 0);
    new DataView(head.buffer).setUint32(4, VERSION, true);
    new DataView(head.buffer).setUint32(8, json.length, true);
    writeAll(fs, ofd, head, 0);
    writeAll(fs, ofd, json, 12);
    writeAll(fs, ofd, model, modelOffset);
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

/** Reads and checks the manifest of an .lfpack file without reading the file whole. */
function readManifest(fs: NodeFs, fd: number, file: string): LfpackManifest {
  const size = fs.fstatSync(fd).size;
  const head = new Uint8Array(12);
  if (size < 12) throw new LeanformerError('DECODE_ERROR', `${file} is not an .lfpack file (${size} bytes)`);
  readExactly(fs, fd, head, 12, 0, file);
  if (!MAGIC.every((b, i) => head[i] === b)) throw new LeanformerError('DECODE_ERROR', `${file} is not an .lfpack file (missing LFPK magic)`);
  const dv = new DataView(head.buffer);
  const version = dv.getUint32(4, true);
  if (version !== VERSION) throw new LeanformerError('DECODE_ERROR', `.lfpack version ${version} is not supported (this reader knows version ${VERSION})`);
  const len = dv.getUint32(8, true);
  if (12 + len > size) throw new LeanformerError('DECODE_ERROR', `.lfpack manifest (${len} bytes) runs past the end of the file (${size} bytes)`);
  let m: LfpackManifest;
  try { m = JSON.parse(new TextDecoder().decode(readExactly(fs, fd, new Uint8Array(len), len, 12, file))) as LfpackManifest; } catch (e) {
    throw new LeanformerError('DECODE_ERROR', '.lfpack manifest is not valid JSON', { cause: e });
  }
  if (m.codec !== 'huffman-exponent-v1') throw new LeanformerError('DECODE_ERROR', `.lfpack codec '${String(m.codec)}' is not supported (known: huffman-exponent-v1)`);
  for (const s of [m.model, ...m.tensors]) {
    if (!(Number.isInteger(s.offset) && Number.isInteger(s.length) && s.offset >= 0 && s.offset + s.length <= size)) throw new LeanformerError('DECODE_ERROR', `.lfpack section at ${s.offset} (+${s.length}) lies outside the file (${size} bytes)`);
  }
  return m;
}

/**
 * Restores an ONNX model with external data from an .lfpack file, one tensor at a time: each
 * coded stream is read at its offset, decoded (bit-identical) and written to `<output>.data`;
 * memory follows the largest tensor. Writes `output` and its data file atomically.
 *
 * @example
 * ```ts
 * import { decodeModel, encodeModel } from '@leanformer/onnx';
 * await unpackModelStreaming('model.lfpack', 'restored.onnx', { decodeModel, encodeModel });
 * ```
 */
export async function unpackModelStreaming(input: string, output: string, deps: StreamUnpackDeps, options: { sizeThreshold?: number } = {}): Promise<StreamPackReport> {
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
    const m = readManifest(fs, fd, input);
    const g = deps.decodeModel(readExactly(fs, fd, new Uint8Array(m.model.length), m.model.length, m.model.offset, 'embedded model'));
    out = new AtomicModelOutput(fs, target, `${path.basename(target)}.data`, path);
    const placed = new Map<Tensor, Placement>();
    let rawBytes = 0;
    for (const e of m.tensors) {
      const v = g.initializers.get(e.name);
      if (!v) throw new LeanformerError('DECODE_ERROR', `.lfpack tensor '${e.name}' has no placeholder initializer in the embedded model`);
      const dec = decodeFloats(reader.range(input, e.offset, e.length, `stream of '${e.name}'`));
      if (dec.dtype !== e.dtype) throw new LeanformerError('DECODE_ERROR', `.lfpack tensor '${e.name}': stream holds ${dec.dtype}, manifest says ${e.dtype}`);
      const count = e.shape.reduce((a, b) => a * b, 1);
      if (dec.bits.length !== count) throw new LeanformerError('DECODE_ERROR', `.lfpack tensor '${e.name}': ${dec.bits.length} elements decoded, shape [${e.shape.join(', ')}] needs ${count}`);
      const bytes = new Uint8Array(dec.bits.buffer, dec.bits.byteOffset, dec.bits.byteLength);
      rawBytes += bytes.length;
      g.setInitializer(v, writtenTensor(fs, out, DTypes[e.dtype], e.shape, bytes, placed));
      await yieldForSignals();
    }
    const modelBytes = deps.encodeModel(g, {
      externalData: (t) => placed.get(t) ?? (t.dtype.storage !== 'string' && t.byteLength >= threshold ? out!.append(t.bytes()) : undefined),
    });
    out.commit(modelBytes);
    return {
      tensors: m.tensors.length, rawBytes, packedBytes: m.tensors.reduce((n, e) => n + e.length, 0),
      fileBytes: fs.statSync(target).size + (fs.existsSync(out.dataPath) ? fs.statSync(out.dataPath).size : 0),
      largestTensorBytes: reader.largest, seconds: Math.round((performance.now() - t0) / 10) / 100,
    };
  } catch (e) {
    out?.abort();
    if (e instanceof LeanformerError) throw e;
    throw new LeanformerError('IO_ERROR', `Streaming unpack of '${input}' to '${output}' failed: ${(e as Error).message}`, { cause: e });
  } finally {
    fs.closeSync(fd);
  }
}
