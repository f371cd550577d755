import { LeanformerError } from './errors.js';

/** How a dtype's elements are held in memory. Packed sub-byte types use `Uint8Array` (low nibble first). */
export type StorageKind =
  | 'Float32Array' | 'Float64Array' | 'Int8Array' | 'Uint8Array' | 'Int16Array' | 'Uint16Array'
  | 'Int32Array' | 'Uint32Array' | 'BigInt64Array' | 'BigUint64Array' | 'string';

/** Names of the element types in the dtype table. */
export type DTypeName =
  | 'float32' | 'float16' | 'bfloat16' | 'float64'
  | 'float8e4m3' | 'float8e4m3fnuz' | 'float8e5m2' | 'float8e5m2fnuz' | 'float8e8m0' | 'float4e2m1'
  | 'int64' | 'int32' | 'int16' | 'int8' | 'int4' | 'int2'
  | 'uint64' | 'uint32' | 'uint16' | 'uint8' | 'uint4' | 'uint2'
  | 'bool' | 'string' | 'complex64' | 'complex128';

/** Every fact about one element type, in one place. */
export interface DType {
  readonly name: DTypeName;
  /** TensorProto.DataType value. */
  readonly onnx: number;
  /** Bits per element (0 for string). Sub-byte types pack `8 / bits` elements per byte, low bits first. */
  readonly bits: number;
  readonly storage: StorageKind;
  /** Elements of storage per tensor element (2 for complex, 1 otherwise; packed types use bytes). */
  readonly storagePerElement: number;
  /** onnxruntime-common `Tensor.type` string, or null where the JS API has none. */
  readonly ort: string | null;
  readonly isFloat: boolean;
  readonly isInteger: boolean;
  readonly isSigned: boolean;
  /** True when elements are stored as raw bit patterns that need decoding (fp16, bf16, fp8, fp4). */
  readonly isBitPattern: boolean;
  /** True when several elements share a byte. */
  readonly isPacked: boolean;
}

function d(name: DTypeName, onnx: number, bits: number, storage: StorageKind, ort: string | null, kind: 'f' | 'i' | 'u' | 'b' | 's' | 'c', bitPattern = false): DType {
  return Object.freeze({
    name, onnx, bits, storage, ort,
    storagePerElement: kind === 'c' ? 2 : 1,
    isFloat: kind === 'f' || kind === 'c',
    isInteger: kind === 'i' || kind === 'u',
    isSigned: kind === 'i' || kind === 'f' || kind === 'c',
    isBitPattern: bitPattern,
    isPacked: bits > 0 && bits < 8,
  });
}

/** The dtype table. ONNX enum values follow onnx.proto's TensorProto.DataType. */
export const DTypes = Object.freeze({
  float32: d('float32', 1, 32, 'Float32Array', 'float32', 'f'),
  uint8: d('uint8', 2, 8, 'Uint8Array', 'uint8', 'u'),
  int8: d('int8', 3, 8, 'Int8Array', 'int8', 'i'),
  uint16: d('uint16', 4, 16, 'Uint16Array', 'uint16', 'u'),
  int16: d('int16', 5, 16, 'Int16Array', 'int16', 'i'),
  int32: d('int32', 6, 32, 'Int32Array', 'int32', 'i'),
  int64: d('int64', 7, 64, 'BigInt64Array', 'int64', 'i'),
  string: d('string', 8, 0, 'string', 'string', 's'),
  bool: d('bool', 9, 8, 'Uint8Array', 'bool', 'b'),
  float16: d('float16', 10, 16, 'Uint16Array', 'float16', 'f', true),
  float64: d('float64', 11, 64, 'Float64Array', 'float64', 'f'),
  uint32: d('uint32', 12, 32, 'Uint32Array', 'uint32', 'u'),
  uint64: d('uint64', 13, 64, 'BigUint64Array', 'uint64', 'u'),
  complex64: d('complex64', 14, 64, 'Float32Array', null, 'c'),
  complex128: d('complex128', 15, 128, 'Float64Array', null, 'c'),
  bfloat16: d('bfloat16', 16, 16, 'Uint16Array', null, 'f', true),
  float8e4m3: d('float8e4m3', 17, 8, 'Uint8Array', null, 'f', true),
  float8e4m3fnuz: d('float8e4m3fnuz', 18, 8, 'Uint8Array', null, 'f', true),
  float8e5m2: d('float8e5m2', 19, 8, 'Uint8Array', null, 'f', true),
  float8e5m2fnuz: d('float8e5m2fnuz', 20, 8, 'Uint8Array', null, 'f', true),
  uint4: d('uint4', 21, 4, 'Uint8Array', 'uint4', 'u'),
  int4: d('int4', 22, 4, 'Uint8Array', 'int4', 'i'),
  float4e2m1: d('float4e2m1', 23, 4, 'Uint8Array', null, 'f', true),
  float8e8m0: d('float8e8m0', 24, 8, 'Uint8Array', null, 'f', true),
  uint2: d('uint2', 25, 2, 'Uint8Array', null, 'u'),
  int2: d('int2', 26, 2, 'Uint8Array', null, 'i'),
} satisfies Record<DTypeName, DType>);

const byOnnx = new Map<number, DType>(Object.values(DTypes).map((t) => [t.onnx, t]));

/** Looks a dtype up by name; throws INVALID_DTYPE listing the allowed names. */
export function dtype(name: string): DType {
  const t = (DTypes as Record<string, DType>)[name];
  if (!t) throw new LeanformerError('INVALID_DTYPE', `Unknown dtype '${name}'; allowed: ${Object.keys(DTypes).join(', ')}`);
  return t;
}

/** Looks a dtype up by its ONNX TensorProto.DataType value. */
export function dtypeFromOnnx(code: number): DType {
  const t = byOnnx.get(code);
  if (!t) throw new LeanformerError('INVALID_DTYPE', `Unsupported ONNX data type ${code}; supported: ${[...byOnnx.keys()].join(', ')}`);
  return t;
}

/** Bytes needed to store `count` elements of `t` (packed types round up to whole bytes). Not defined for string. */
export function byteSize(t: DType, count: number): number {
  if (t.storage === 'string') throw new LeanformerError('INVALID_DTYPE', 'string tensors have no fixed byte size');
  return Math.ceil((count * t.bits) / 8);
}
