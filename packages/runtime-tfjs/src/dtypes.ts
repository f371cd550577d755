// How leanformer dtypes map onto the three element types tfjs computes in.
//
// | IR dtype                                   | tfjs    | at feed time                         | at fetch time            |
// | ------------------------------------------ | ------- | ------------------------------------ | ------------------------ |
// | float32                                    | float32 | as is                                | float32                  |
// | float16, bfloat16, float64, float8*, fp4   | float32 | decoded / rounded to float32         | encoded back to the IR dtype |
// | int32, int16, int8, uint16, uint8, int4, uint4 | int32 | widened                            | narrowed (wraps like C)  |
// | int64, uint32, uint64                      | int32   | range-checked: a value outside int32 fails | widened back       |
// | bool                                       | bool    | as is                                | bool                     |
// | string, complex*                           | —       | refused (NOT_SUPPORTED)              |                          |

import { DTypes, LeanformerError, Tensor, type DType, type DTypeName } from '@leanformer/core';
import type * as tfc from '@tensorflow/tfjs-core';

/** The element types tfjs computes in. */
export type TfDType = 'float32' | 'int32' | 'bool';

/** The tfjs dtype a leanformer dtype computes in; throws NOT_SUPPORTED for strings and complex numbers. */
export function tfDTypeOf(dt: DType | DTypeName): TfDType {
  const t = typeof dt === 'string' ? DTypes[dt] : dt;
  if (t.name === 'bool') return 'bool';
  if (t.isFloat && t.storagePerElement === 1) return 'float32';
  if (t.isInteger) return 'int32';
  throw new LeanformerError('NOT_SUPPORTED', `tfjs cannot compute in ${t.name}; supported dtypes map to float32, int32 or bool (see @leanformer/runtime-tfjs README)`);
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/**
 * Converts an IR tensor to the typed array tfjs takes for it. int64/uint32/uint64 values
 * outside the int32 range throw INVALID_ARGUMENT naming `what` (the feed or initializer).
 */
export function toTfData(t: Tensor, what: string): Float32Array | Int32Array | Uint8Array {
  const tf = tfDTypeOf(t.dtype);
  if (tf === 'bool') return t.data as Uint8Array;
  if (tf === 'float32') return t.dtype.name === 'float32' ? (t.data as Float32Array) : t.toFloat32();
  const s = t.data;
  if (s instanceof Int32Array) return s;
  if (s instanceof BigInt64Array || s instanceof BigUint64Array || s instanceof Uint32Array) {
    const out = new Int32Array(t.size);
    for (let i = 0; i < t.size; i++) {
      const v = Number(s[i]!);
      if (v < INT32_MIN || v > INT32_MAX) {
        throw new LeanformerError('INVALID_ARGUMENT', `${what}: ${t.dtype.name} element ${i} is ${s[i]}, outside the int32 range tfjs computes in [${INT32_MIN}, ${INT32_MAX}]`, { details: { name: what, index: i } });
      }
      out[i] = v;
    }
    return out;
  }
  if (t.dtype.isPacked) return Int32Array.from(t.toFloat64());
  return Int32Array.from(s as ArrayLike<number>);
}

/** Builds a tfjs tensor from an IR tensor (see the dtype table at the top of this file). */
export function toTfTensor(tf: typeof tfc, t: Tensor, what: string): tfc.Tensor {
  return tf.tensor(toTfData(t, what), [...t.shape], tfDTypeOf(t.dtype));
}

/**
 * Wraps numbers computed by tfjs as an IR tensor of `dt` (the graph's declared dtype),
 * encoding narrow floats and widening int32 back to int64 where the graph says so.
 */
export function fromTfData(data: Float32Array | Int32Array | Uint8Array, shape: readonly number[], dt: DType): Tensor {
  if (dt.name === 'float32' && data instanceof Float32Array) return new Tensor(dt, shape, data);
  if (dt.name === 'int32' && data instanceof Int32Array) return new Tensor(dt, shape, data);
  if (dt.name === 'bool') return new Tensor(dt, shape, data instanceof Uint8Array ? data : Uint8Array.from(data, (v) => (v ? 1 : 0)));
  if (dt.storage === 'BigInt64Array' || dt.storage === 'BigUint64Array') {
    const C = dt.storage === 'BigInt64Array' ? BigInt64Array : BigUint64Array;
    const out = new C(data.length);
    for (let i = 0; i < data.length; i++) out[i] = BigInt(Math.trunc(data[i]!));
    return new Tensor(dt, shape, out);
  }
  if (dt.isFloat || dt.isBitPattern || dt.isPacked) return Tensor.from(dt, shape, data);
  if (dt.isInteger && !dt.isPacked) {
    const C = { Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array }[dt.storage as 'Int8Array'];
    if (!C) throw new LeanformerError('NOT_SUPPORTED', `Cannot return ${dt.name} from tfjs`);
    return new Tensor(dt, shape, C.from(data as ArrayLike<number>));
  }
  throw new LeanformerError('NOT_SUPPORTED', `Cannot return ${dt.name} from tfjs`);
}

/** The IR dtype a tfjs dtype stands for when the graph does not declare one. */
export function irDTypeOfTf(dt: string): DType {
  if (dt === 'float32') return DTypes.float32;
  if (dt === 'int32') return DTypes.int32;
  if (dt === 'bool') return DTypes.bool;
  throw new LeanformerError('NOT_SUPPORTED', `tfjs dtype ${dt} has no leanformer counterpart`);
}
