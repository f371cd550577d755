// Messages between the page (main thread) and its worker. Every request carries an id; the worker
// answers with any number of 'progress' messages and then exactly one 'done' or 'error'.
import type { QuantizeReport } from '@leanformer/quant';
import type { Agreement, ModelFacts, QuantSettings } from './shared.js';

export type ModelSource =
  | { readonly kind: 'builtin' }
  | { readonly kind: 'bytes'; readonly name: string; readonly bytes: Uint8Array }
  | { readonly kind: 'url'; readonly url: string };

export type Request =
  | { readonly id: number; readonly cmd: 'load'; readonly source: ModelSource }
  | {
    readonly id: number; readonly cmd: 'quantize'; readonly settings: QuantSettings;
    /** Timed runs per model (after one untimed first run). */
    readonly runs: number;
    /** Prefer WebGPU where the browser offers an adapter (WebAssembly otherwise); the model is then lowered for 'ort-webgpu'. */
    readonly webgpu: boolean;
  }
  | { readonly id: number; readonly cmd: 'lfpack'; readonly url: string; readonly plainUrl: string };

/** Timings of one model on onnxruntime-web. */
export interface RunTiming {
  /** The execution provider that ran it ('wasm' or 'webgpu'). */
  readonly ep: string;
  readonly sessionMs: number;
  /** First run, reported apart from the timed runs (it pays for allocation). */
  readonly firstMs: number;
  readonly meanMs: number;
  /** Median of the timed runs: steadier than the mean on a busy machine. */
  readonly medianMs: number;
  readonly minMs: number;
  readonly runs: number;
}

export interface LoadResult {
  readonly source: string;
  /** SHA-256 of the model's ONNX bytes (for an .lfpack file: of the decoded model). */
  readonly sha256: string;
  /** Bytes read: the file, the download or the built bytes (an .lfpack file's own size). */
  readonly downloadBytes: number;
  readonly facts: ModelFacts;
  readonly decodeMs: number;
}

export interface QuantizeResultMsg {
  readonly settings: QuantSettings;
  readonly report: QuantizeReport;
  readonly notes: string[];
  readonly quantizeMs: number;
  readonly floatBytes: number;
  readonly quantBytes: number;
  readonly floatSha256: string;
  readonly quantSha256: string;
  readonly feeds: string;
  readonly float: RunTiming;
  readonly quant: RunTiming;
  readonly agreement: Agreement[];
  /** The quantized model, for the page's download link. */
  readonly model: Uint8Array;
}

export interface LfpackResult {
  readonly url: string;
  readonly plainUrl: string;
  readonly lfpackBytes: number;
  readonly plainBytes: number;
  /** 1 − lfpack/plain. */
  readonly saving: number;
  readonly packedTensors: number;
  readonly decodeMs: number;
  /** Every initializer's bytes equal the plain file's, and so do the re-encoded ONNX bytes. */
  readonly bitExact: boolean;
  readonly tensorsCompared: number;
  readonly mismatches: string[];
  readonly plainSha256: string;
  readonly decodedSha256: string;
}

export type Reply =
  | { readonly id: number; readonly type: 'progress'; readonly stage: string; readonly fraction?: number }
  | { readonly id: number; readonly type: 'done'; readonly result: LoadResult | QuantizeResultMsg | LfpackResult }
  | { readonly id: number; readonly type: 'error'; readonly message: string; readonly code?: string };
