// Atomic output for streaming passes: a model file and its external-data file are written under
// temporary names in the target folder and renamed into place only after both are complete and
// flushed. A run that fails removes its temporaries; a run that is killed leaves only
// dot-prefixed `*.tmp-*` files, never a file under a target name; SIGINT/SIGTERM remove them
// (core/node's temp registry). Node-only: reached from the '/node' and '/cli' entries only.
import { LeanformerError, Tensor, type DType, type TensorSource } from '@leanformer/core';
import { commitTemp, createTempPath, discardTemp } from '@leanformer/core/node';

/** The slice of node:fs the streaming passes use. */
export type NodeFs = typeof import('node:fs');

/** Where a tensor's bytes were written in the output data file. */
export interface Placement {
  /** Data file name relative to the model's folder (what TensorProto.external_data stores). */
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

/** External tensors start on 64-byte boundaries, as saveModel writes them (aligned views on read). */
const ALIGN = 64;

/** Writes all of `bytes` at `position` (writeSync may write less than asked). */
export function writeAll(fs: NodeFs, fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
}

/** Reads exactly `length` bytes at `offset` into `into` (from its start). */
export function readExactly(fs: NodeFs, fd: number, into: Uint8Array, length: number, offset: number, what: string): Uint8Array {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, into, done, Math.min(length - done, 1 << 30), offset + done);
    if (n === 0) throw new LeanformerError('EXTERNAL_DATA', `${what}: file ended after ${done} of ${length} bytes`);
    done += n;
  }
  return into.subarray(0, length);
}

/**
 * One model file plus one external-data file, written through temporaries. Append tensor bytes
 * with {@link AtomicModelOutput.append} (or copy them from another file), then
 * {@link AtomicModelOutput.commit} the model bytes; {@link AtomicModelOutput.abort} on failure.
 *
 * @example
 * ```ts
 * const out = new AtomicModelOutput(await import('node:fs'), '/abs/out.onnx', 'out.onnx.data', await import('node:path'));
 * try {
 *   const where = out.append(weightBytes); // { location: 'out.onnx.data', offset, length }
 *   out.commit(encodeModel(graph, { externalData: (t) => (t === weight ? where : undefined) }));
 * } catch (e) { out.abort(); throw e; }
 * ```
 */
export class AtomicModelOutput {
  /** The final model path and data path. */
  readonly modelPath: string;
  readonly dataPath: string;
  /** The data file's name as the model refers to it. */
  readonly dataLocation: string;
  private readonly tmpData: string;
  private readonly tmpModel: string;
  private fd: number;
  private end = 0;
  private closed = false;

  constructor(private readonly fs: NodeFs, modelPath: string, dataLocation: string, path: typeof import('node:path')) {
    this.modelPath = modelPath;
    this.dataLocation = dataLocation;
    const dir = path.dirname(modelPath);
    this.dataPath = path.join(dir, dataLocation);
    // Beside the final data file (which may sit in a subfolder), so the rename stays in one folder.
    this.tmpData = createTempPath(this.dataPath);
    this.tmpModel = createTempPath(modelPath);
    try {
      this.fd = fs.openSync(this.tmpData, 'w');
    } catch (e) {
      discardTemp(this.tmpData);
      discardTemp(this.tmpModel);
      throw new LeanformerError('IO_ERROR', `Cannot create a temporary file in ${dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Temporary data file path (readable while the run lasts). */
  get temporaryDataPath(): string { return this.tmpData; }

  /** Bytes written to the data file so far (including alignment padding). */
  get dataBytes(): number { return this.end; }

  /** Appends bytes at the next aligned offset and returns where they went. */
  append(bytes: Uint8Array): Placement {
    const at = Math.ceil(this.end / ALIGN) * ALIGN;
    writeAll(this.fs, this.fd, bytes, at);
    this.end = at + bytes.length;
    return { location: this.dataLocation, offset: at, length: bytes.length };
  }

  /**
   * Appends a tensor of `length` bytes produced piece by piece: `fill(view, done)` fills `view`
   * (at most `chunk.length` bytes) with the bytes at tensor offset `done`. Memory: one chunk.
   */
  appendGenerated(length: number, chunk: Uint8Array, fill: (view: Uint8Array, done: number) => void): Placement {
    const at = Math.ceil(this.end / ALIGN) * ALIGN;
    for (let done = 0; done < length;) {
      const view = chunk.subarray(0, Math.min(chunk.length, length - done));
      fill(view, done);
      writeAll(this.fs, this.fd, view, at + done);
      done += view.length;
    }
    this.end = at + length;
    return { location: this.dataLocation, offset: at, length };
  }

  /**
   * Copies `length` bytes at `offset` of the file `src` to the next aligned offset, in chunks
   * through `chunk` (so a tensor of any size costs only the chunk's memory).
   */
  appendFromFile(src: string, offset: number, length: number, chunk: Uint8Array): Placement {
    const at = Math.ceil(this.end / ALIGN) * ALIGN;
    const sfd = this.fs.openSync(src, 'r');
    try {
      for (let done = 0; done < length;) {
        const n = Math.min(chunk.length, length - done);
        const part = readExactly(this.fs, sfd, chunk, n, offset + done, `copying '${src}'`);
        writeAll(this.fs, this.fd, part, at + done);
        done += n;
      }
    } finally {
      this.fs.closeSync(sfd);
    }
    this.end = at + length;
    return { location: this.dataLocation, offset: at, length };
  }

  /**
   * Writes the model bytes, flushes both files and renames them into place: the data file first,
   * so the model never points at nothing. A data file that received no tensor is not created.
   */
  commit(modelBytes: Uint8Array): void {
    const { fs } = this;
    const mfd = fs.openSync(this.tmpModel, 'w');
    try {
      writeAll(fs, mfd, modelBytes, 0);
      fs.fsyncSync(mfd);
    } finally {
      fs.closeSync(mfd);
    }
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.closed = true;
    if (this.end > 0) commitTemp(this.tmpData, this.dataPath);
    else discardTemp(this.tmpData);
    commitTemp(this.tmpModel, this.modelPath);
  }

  /** Closes and removes the temporaries (after a failure). Never throws. */
  abort(): void {
    try { if (!this.closed) this.fs.closeSync(this.fd); } catch { /* already closed */ }
    this.closed = true;
    discardTemp(this.tmpData);
    discardTemp(this.tmpModel);
  }
}

/**
 * Reads tensors and file ranges into one buffer that grows to the largest request and is then
 * reused, so reading weight after weight costs the largest one's bytes, not their sum. A returned
 * view is valid until the next read.
 *
 * @example
 * ```ts
 * const reader = new ReuseReader(await import('node:fs'));
 * for (const v of graph.initializers.values()) digest(reader.tensor(v.const!, v.name)); // one buffer throughout
 * ```
 */
export class ReuseReader {
  private buf = new Uint8Array(0);
  /** The largest read so far, in bytes. */
  largest = 0;

  constructor(private readonly fs: NodeFs) {}

  /** `length` bytes at `offset` of `path`. */
  range(path: string, offset: number, length: number, what: string): Uint8Array {
    this.largest = Math.max(this.largest, length);
    if (this.buf.length < length) this.buf = new Uint8Array(length);
    const fd = this.fs.openSync(path, 'r');
    try { return readExactly(this.fs, fd, this.buf, length, offset, what); } finally { this.fs.closeSync(fd); }
  }

  /** A tensor's bytes: read from its file location when it is lazy and unloaded, else its storage. */
  tensor(t: Tensor, name: string): Uint8Array {
    const loc = t.isLoaded ? undefined : t.lazySource?.location;
    if (!loc) { this.largest = Math.max(this.largest, t.byteLength); return t.bytes(); }
    return this.range(loc.path, loc.offset, loc.length, `tensor '${name}'`);
  }
}

/**
 * Appends `bytes` to `out`'s data file and returns a tensor that reads them back lazily from the
 * temporary file; `placed` records where it went, for the encoder's placer.
 *
 * @example
 * ```ts
 * const t = writtenTensor(fs, out, DTypes.uint8, [n], packedBytes, placed);
 * graph.addInitializer('w_q4', t); // encodeModel's placer then returns placed.get(t)
 * ```
 */
export function writtenTensor(fs: NodeFs, out: AtomicModelOutput, dtype: DType, shape: readonly number[], bytes: Uint8Array, placed: Map<Tensor, Placement>): Tensor {
  const p = out.append(bytes);
  const tmp = out.temporaryDataPath;
  const source: TensorSource = {
    byteLength: p.length,
    location: { path: tmp, offset: p.offset, length: p.length },
    load: () => { const fd = fs.openSync(tmp, 'r'); try { return readExactly(fs, fd, new Uint8Array(p.length), p.length, p.offset, 'written tensor'); } finally { fs.closeSync(fd); } },
  };
  const t = new Tensor(dtype, shape, source);
  placed.set(t, p);
  return t;
}
