import { bitsToFloat, floatToBits, unpackBits } from './convert.js';
import { byteSize, dtype as lookupDType, type DType, type DTypeName } from './dtype.js';
import { LeanformerError } from './errors.js';

/** The in-memory form of a tensor's elements, by dtype storage kind. */
export type TensorStorage =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array | string[];

/** Lazily produces a tensor's little-endian bytes (e.g. from an external-data file). */
export interface TensorSource {
  readonly byteLength: number;
  load(): Uint8Array;
  /** Where the bytes live, for writers that can copy without loading (optional). */
  readonly location?: { readonly path: string; readonly offset: number; readonly length: number };
}

const CTORS = {
  Float32Array, Float64Array, Int8Array, Uint8Array, Int16Array, Uint16Array,
  Int32Array, Uint32Array, BigInt64Array, BigUint64Array,
} as const;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new LeanformerError('NOT_SUPPORTED', 'leanformer needs a little-endian host (tensor bytes are read as views)');
}

/** Number of elements of a static shape. Throws on negative or non-integer dims. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw new LeanformerError('SHAPE_MISMATCH', `Invalid dimension ${dim} in shape [${shape.join(', ')}]; dims must be non-negative integers`);
    n *= dim;
  }
  return n;
}

/** Storage element count for `count` tensor elements of `t`. */
function storageLength(t: DType, count: number): number {
  return t.isPacked ? byteSize(t, count) : count * t.storagePerElement;
}

/**
 * A dense tensor: dtype, static shape, and storage. Storage may be a zero-copy view
 * over file bytes, or a lazy `TensorSource` that is read on first access.
 *
 * @example
 * ```ts
 * const t = Tensor.from('float32', [2, 2], [1, 2, 3, 4]);
 * t.toFloat32(); // Float32Array [1, 2, 3, 4]
 * ```
 */
export class Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly size: number;
  private storage: TensorStorage | undefined;
  private source: TensorSource | undefined;

  constructor(dtype: DType | DTypeName, shape: readonly number[], data: TensorStorage | TensorSource) {
    this.dtype = typeof dtype === 'string' ? lookupDType(dtype) : dtype;
    this.shape = Object.freeze([...shape]);
    this.size = shapeSize(shape);
    if (isSource(data)) {
      const want = this.dtype.storage === 'string' ? -1 : byteSize(this.dtype, this.size);
      if (want < 0) throw new LeanformerError('INVALID_ARGUMENT', 'string tensors cannot have a lazy source');
      if (data.byteLength !== want) throw new LeanformerError('SHAPE_MISMATCH', `Tensor source holds ${data.byteLength} bytes but ${this.dtype.name}[${shape.join(', ')}] needs ${want}`);
      this.source = data;
    } else {
      const want = this.dtype.storage === 'string' ? this.size : storageLength(this.dtype, this.size);
      const kind = Array.isArray(data) ? 'string' : data.constructor.name;
      if (kind !== this.dtype.storage) throw new LeanformerError('INVALID_ARGUMENT', `${this.dtype.name} tensors are stored in ${this.dtype.storage}, got ${kind}`);
      if (data.length !== want) throw new LeanformerError('SHAPE_MISMATCH', `${this.dtype.name}[${shape.join(', ')}] needs ${want} storage elements, got ${data.length}`);
      this.storage = data;
    }
  }

  /** Builds a tensor from plain numbers (or bigints/strings), encoding to the dtype's storage. */
  static from(dtype: DType | DTypeName, shape: readonly number[], values: ArrayLike<number | bigint | boolean | string>): Tensor {
    const t = typeof dtype === 'string' ? lookupDType(dtype) : dtype;
    const n = shapeSize(shape);
    if (values.length !== n) throw new LeanformerError('SHAPE_MISMATCH', `Tensor.from: ${values.length} values for shape [${shape.join(', ')}] (${n} elements)`);
    return new Tensor(t, shape, encodeValues(t, values));
  }

  /** Zero-filled tensor. */
  static zeros(dtype: DType | DTypeName, shape: readonly number[]): Tensor {
    const t = typeof dtype === 'string' ? lookupDType(dtype) : dtype;
    const n = shapeSize(shape);
    if (t.storage === 'string') return new Tensor(t, shape, new Array<string>(n).fill(''));
    return new Tensor(t, shape, new CTORS[t.storage](storageLength(t, n)));
  }

  /**
   * Wraps little-endian bytes. Zero-copy when `bytes` is aligned for the storage type;
   * otherwise copies once. Throws when the byte count does not match the shape.
   */
  static fromBytes(dtype: DType | DTypeName, shape: readonly number[], bytes: Uint8Array): Tensor {
    const t = typeof dtype === 'string' ? lookupDType(dtype) : dtype;
    if (t.storage === 'string') throw new LeanformerError('INVALID_ARGUMENT', 'string tensors cannot be built from raw bytes');
    const need = byteSize(t, shapeSize(shape));
    if (bytes.byteLength !== need) throw new LeanformerError('SHAPE_MISMATCH', `${t.name}[${shape.join(', ')}] needs ${need} bytes, got ${bytes.byteLength}`);
    return new Tensor(t, shape, viewBytes(t, bytes));
  }

  /** True once the storage is in memory (always, unless built from a lazy source). */
  get isLoaded(): boolean { return this.storage !== undefined; }

  /** The lazy source, if any (kept after loading so writers can copy by location). */
  get lazySource(): TensorSource | undefined { return this.source; }

  /** Element storage (loads a lazy source on first access). */
  get data(): TensorStorage {
    if (this.storage === undefined) this.storage = viewBytes(this.dtype, this.source!.load());
    return this.storage;
  }

  /** Byte length of the storage (0 for string tensors). */
  get byteLength(): number {
    return this.dtype.storage === 'string' ? 0 : byteSize(this.dtype, this.size);
  }

  /** Little-endian bytes of the storage, as a view (no copy). */
  bytes(): Uint8Array {
    const s = this.data;
    if (Array.isArray(s)) throw new LeanformerError('INVALID_ARGUMENT', 'string tensors have no byte form');
    return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
  }

  /** Drops loaded storage of a lazy tensor so its memory can be reclaimed; it reloads on next access. */
  release(): void {
    if (this.source) this.storage = undefined;
  }

  /** Element values as float32 (decoding fp16/bf16/fp8/int4…). Strings and complex are refused. */
  toFloat32(): Float32Array {
    return decodeTo(this, new Float32Array(this.size));
  }

  /** Element values as float64 (same decoding as `toFloat32`). */
  toFloat64(): Float64Array {
    return decodeTo(this, new Float64Array(this.size));
  }

  /** Element values as JS numbers / bigints / strings, one per element. */
  toArray(): Array<number | bigint | string> {
    const s = this.data;
    if (Array.isArray(s)) return [...s];
    if (s instanceof BigInt64Array || s instanceof BigUint64Array) return Array.from(s);
    return Array.from(this.toFloat64());
  }

  /** A tensor sharing this one's storage with another shape of the same size. */
  reshape(shape: readonly number[]): Tensor {
    if (shapeSize(shape) !== this.size) throw new LeanformerError('SHAPE_MISMATCH', `Cannot reshape [${this.shape.join(', ')}] to [${shape.join(', ')}]`);
    return new Tensor(this.dtype, shape, this.data);
  }

  toString(): string {
    return `Tensor<${this.dtype.name}>[${this.shape.join(', ')}]`;
  }
}

function isSource(x: unknown): x is TensorSource {
  return typeof x === 'object' && x !== null && typeof (x as TensorSource).load === 'function';
}

/** Reinterprets little-endian bytes as the dtype's storage; copies only when misaligned. */
function viewBytes(t: DType, bytes: Uint8Array): Exclude<TensorStorage, string[]> {
  const C = CTORS[t.storage as Exclude<typeof t.storage, 'string'>];
  const size = C.BYTES_PER_ELEMENT;
  if (bytes.byteLength % size !== 0) throw new LeanformerError('SHAPE_MISMATCH', `${bytes.byteLength} bytes is not a whole number of ${t.storage} elements`);
  if (bytes.byteOffset % size === 0) return new C(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / size);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new C(copy.buffer, 0, bytes.byteLength / size);
}

function encodeValues(t: DType, values: ArrayLike<number | bigint | boolean | string>): TensorStorage {
  const n = values.length;
  if (t.storage === 'string') return Array.from(values, String);
  if (t.isPacked) {
    const per = 8 / t.bits;
    const mask = (1 << t.bits) - 1;
    const out = new Uint8Array(Math.ceil(n / per));
    for (let i = 0; i < n; i++) {
      const v = t.isBitPattern ? floatToBits(t.name, Number(values[i])) : Number(values[i]);
      out[(i / per) | 0]! |= (v & mask) << ((i % per) * t.bits);
    }
    return out;
  }
  const C = CTORS[t.storage];
  const out = new C(n * t.storagePerElement);
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) out[i] = BigInt(values[i] as number | bigint);
  } else if (t.isBitPattern) {
    for (let i = 0; i < n; i++) out[i] = floatToBits(t.name, Number(values[i]));
  } else {
    for (let i = 0; i < n * t.storagePerElement; i++) out[i] = Number(values[i]);
  }
  return out;
}

function decodeTo<T extends Float32Array | Float64Array>(tensor: Tensor, out: T): T {
  const t = tensor.dtype;
  if (t.storage === 'string' || t.storagePerElement !== 1) throw new LeanformerError('INVALID_DTYPE', `Cannot convert ${t.name} tensors to numbers`);
  const s = tensor.data as Exclude<TensorStorage, string[]>;
  const n = tensor.size;
  if (t.isPacked) {
    const raw = unpackBits(s as Uint8Array, n, t.bits as 2 | 4, t.isSigned && !t.isBitPattern);
    if (t.isBitPattern) for (let i = 0; i < n; i++) out[i] = bitsToFloat(t.name, raw[i]!);
    else out.set(raw);
    return out;
  }
  if (t.isBitPattern) {
    const lut = t.bits <= 16 ? decodeTable(t) : undefined;
    for (let i = 0; i < n; i++) out[i] = lut![(s as Uint16Array)[i]!]!;
    return out;
  }
  if (s instanceof BigInt64Array || s instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) out[i] = Number(s[i]);
    return out;
  }
  out.set(s as ArrayLike<number>);
  return out;
}

const tables = new Map<string, Float32Array>();
/** One lookup table per narrow float dtype (≤ 65536 entries): decoding is then a single load. */
function decodeTable(t: DType): Float32Array {
  let lut = tables.get(t.name);
  if (!lut) {
    lut = new Float32Array(1 << t.bits);
    for (let b = 0; b < lut.length; b++) lut[b] = bitsToFloat(t.name, b);
    tables.set(t.name, lut);
  }
  return lut;
}
