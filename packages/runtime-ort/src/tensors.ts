import { DTypes, LeanformerError, Tensor, type DType, type TensorStorage } from '@leanformer/core';
import type { OrtModule, OrtTensor } from './ort-types.js';

/** ORT JS type name → core dtype, for the types the JS API can carry. */
const FROM_ORT: ReadonlyMap<string, DType> = new Map(
  Object.values(DTypes).filter((t) => t.ort !== null).map((t) => [t.ort!, t] as const),
);

/**
 * Wraps a core tensor as an ORT tensor over the same storage (no copy), so ORT reads feeds
 * and writes preallocated fetches in place.
 *
 * Refused with NOT_SUPPORTED: dtypes the ORT JS Tensor cannot hold (bfloat16, float8, complex…)
 * and int4/uint4, which onnxruntime-node accepts only as initializers, never as feeds or fetches.
 */
export function toOrtTensor(ort: OrtModule, t: Tensor, name: string): OrtTensor {
  const dt = t.dtype;
  if (dt.isPacked) {
    throw new LeanformerError('NOT_SUPPORTED', `Tensor '${name}' is ${dt.name}: ONNX Runtime's JS API takes ${dt.name} only as initializers, not as inputs or outputs; feed int8/uint8 (or unpack to a wider type) instead`, { details: { name, dtype: dt.name } });
  }
  if (dt.ort === null) {
    throw new LeanformerError('NOT_SUPPORTED', `Tensor '${name}' is ${dt.name}, which the ONNX Runtime JS Tensor cannot hold; supported: ${[...FROM_ORT.keys()].filter((k) => k !== 'int4' && k !== 'uint4').join(', ')}`, { details: { name, dtype: dt.name } });
  }
  return new ort.Tensor(dt.ort as OrtTensor.Type, t.data as OrtTensor.DataType, t.shape);
}

/**
 * Wraps an ORT output as a core tensor over the same storage when the element layout matches
 * (float16 as raw bits in Uint16Array, bool as Uint8Array); copies only when ORT hands back
 * a `Float16Array` or another layout core does not store.
 */
export function fromOrtTensor(t: OrtTensor, name: string): Tensor {
  const dt = FROM_ORT.get(t.type);
  if (!dt || dt.isPacked) {
    throw new LeanformerError('NOT_SUPPORTED', `Output '${name}' has ONNX Runtime type '${t.type}', which leanformer cannot read back`, { details: { name, type: t.type } });
  }
  const shape = t.dims.map(Number);
  let data = t.data as unknown as TensorStorage;
  if (dt.storage === 'string') data = Array.from(t.data as string[]);
  else if (data.constructor.name !== dt.storage) data = convertStorage(dt, data);
  return new Tensor(dt, shape, data);
}

/** Float16Array (where the platform has it) → raw bits; anything else → the dtype's storage by value. */
function convertStorage(dt: DType, data: TensorStorage): TensorStorage {
  if (dt === DTypes.float16 && !Array.isArray(data)) {
    // A Float16Array shares the bit layout of Uint16Array: reinterpret the bytes.
    return new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  }
  if (dt === DTypes.bool && !Array.isArray(data)) return Uint8Array.from(data as ArrayLike<number>, (v) => (v ? 1 : 0));
  throw new LeanformerError('NOT_SUPPORTED', `ONNX Runtime returned ${data.constructor.name} for a ${dt.name} tensor; expected ${dt.storage}`);
}
