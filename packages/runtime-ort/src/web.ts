import * as ort from 'onnxruntime-web';
import { OrtBackend, type OrtBackendOptions } from './backend.js';
import type { OrtModule } from './ort-types.js';

export * from './index.js';

/** The onnxruntime-web module this entry binds. */
export const ortWeb: OrtModule & { env: { logLevel?: string } } = ort as unknown as OrtModule & { env: { logLevel?: string } };

/**
 * An {@link OrtBackend} over onnxruntime-web (browsers). Default EPs `['webgpu', 'wasm']`:
 * WebGPU where the browser exposes an adapter, WebAssembly otherwise.
 *
 * @example
 * ```ts
 * import { createOrtBackend } from '@leanformer/runtime-ort/web';
 * const exe = await createOrtBackend().compile(graph);
 * ```
 */
export function createOrtBackend(options: Omit<OrtBackendOptions, 'ort'> = {}): OrtBackend {
  return new OrtBackend({ eps: ['webgpu', 'wasm'], ...options, ort: ortWeb });
}
