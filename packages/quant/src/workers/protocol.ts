// Messages between createQuantWorkerPool (pool.ts) and its worker script (rtn-worker.ts).
import type { BlockQuantOptions } from '../blockwise.js';

/** Main → worker: quantize columns [n0, n1) of the row-major [K, N] float32 weight in `buffer`. */
export interface SliceRequest {
  readonly id: number;
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly K: number;
  readonly N: number;
  readonly n0: number;
  readonly n1: number;
  readonly options: BlockQuantOptions;
  readonly weight: boolean;
  readonly packed: boolean;
  readonly forceUint8ZeroPoints: boolean;
}

/** Worker → main: one slice's arrays (buffers transferred), or the error it threw. */
export type SliceReply =
  | { readonly type: 'ready' }
  | {
    readonly type: 'done';
    readonly id: number;
    readonly kBlocks: number;
    readonly codes: Uint8Array | null;
    readonly scales: Float32Array | null;
    readonly zeroPoints: Float32Array | null;
    readonly B: Uint8Array | null;
    readonly packedScales: Float32Array | null;
    readonly packedZeroPoints: Uint8Array | Float32Array | null;
  }
  | {
    readonly type: 'error';
    readonly id: number;
    readonly error: { readonly name: string; readonly message: string; readonly code?: string; readonly details?: Record<string, unknown>; readonly stack?: string };
  };
