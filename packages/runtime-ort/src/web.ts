import * as ort from 'onnxruntime-web';
import { LeanformerError } from '@leanformer/core';
import { OrtBackend, type OrtBackendOptions } from './backend.js';
import type { OrtModule } from './ort-types.js';

export * from './index.js';

/** The onnxruntime-web module this entry binds. */
export const ortWeb: OrtModule & { env: { logLevel?: string } } = ort as unknown as OrtModule & { env: { logLevel?: string } };

/**
 * onnxruntime-web's WebAssembly settings (`ort.env.wasm`) that a page usually needs. ONNX Runtime
 * reads them when it initializes its WebAssembly module, at the first session of the page or
 * worker: set them on the first backend you create; later changes have no effect.
 */
export interface OrtWebWasmOptions {
  /**
   * Where the `ort-wasm-*.wasm` files are served: a URL prefix ending in '/' (e.g. your copy of
   * `node_modules/onnxruntime-web/dist/`). Default: beside the bundled onnxruntime-web module.
   */
  readonly wasmPaths?: string;
  /**
   * WebAssembly threads. More than 1 needs SharedArrayBuffer, i.e. a cross-origin-isolated page
   * (COOP `same-origin` + COEP `require-corp` headers); onnxruntime-web falls back to 1 otherwise.
   */
  readonly numThreads?: number;
  /** Run ONNX Runtime in a worker of its own (for pages that call it from the main thread). */
  readonly proxy?: boolean;
}

/**
 * An {@link OrtBackend} over onnxruntime-web (browsers). Default EPs `['webgpu', 'wasm']`:
 * WebGPU where the browser exposes an adapter, WebAssembly otherwise.
 *
 * @example
 * ```ts
 * import { createOrtBackend } from '@leanformer/runtime-ort/web';
 * const backend = createOrtBackend({ eps: ['wasm'], wasm: { wasmPaths: '/ort/', numThreads: 1 } });
 * const exe = await backend.compile(graph);
 * ```
 */
export function createOrtBackend(options: Omit<OrtBackendOptions, 'ort'> & { readonly wasm?: OrtWebWasmOptions } = {}): OrtBackend {
  const { wasm, ...rest } = options;
  if (wasm) {
    if (wasm.numThreads !== undefined && !(Number.isInteger(wasm.numThreads) && wasm.numThreads >= 0)) {
      throw new LeanformerError('INVALID_ARGUMENT', `createOrtBackend: wasm.numThreads must be a non-negative integer (0: ONNX Runtime's default), got ${wasm.numThreads}`, { details: { argument: 'wasm.numThreads' } });
    }
    if (wasm.wasmPaths !== undefined) ort.env.wasm.wasmPaths = wasm.wasmPaths;
    if (wasm.numThreads !== undefined) ort.env.wasm.numThreads = wasm.numThreads;
    if (wasm.proxy !== undefined) ort.env.wasm.proxy = wasm.proxy;
  }
  return new OrtBackend({ eps: ['webgpu', 'wasm'], ...rest, ort: ortWeb, writesPreallocatedOutputs: false });
}
