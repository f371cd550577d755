import * as ort from 'onnxruntime-node';
import { OrtBackend, type OrtBackendOptions } from './backend.js';
import type { OrtModule } from './ort-types.js';

export * from './index.js';

/** The onnxruntime-node module this entry binds (for callers that need `ort.Tensor` or `ort.env`). */
export const ortNode: OrtModule & { env: { logLevel?: string } } = ort as unknown as OrtModule & { env: { logLevel?: string } };

/**
 * An {@link OrtBackend} over onnxruntime-node. EPs available there: cpu (always), cuda and tensorrt
 * (when ORT's GPU libraries are installed), webgpu (when Dawn finds an adapter). Default `['cpu']`.
 *
 * @example
 * ```ts
 * import { createOrtBackend } from '@leanformer/runtime-ort/node';
 * const backend = createOrtBackend({ eps: ['tensorrt', 'cuda', 'cpu'] });
 * const exe = await backend.compile(graph);
 * exe.info.device;    // 'cpu' on a machine without CUDA
 * exe.info.fallbacks; // why tensorrt and cuda were skipped
 * ```
 */
export function createOrtBackend(options: Omit<OrtBackendOptions, 'ort'> = {}): OrtBackend {
  return new OrtBackend({ ...options, ort: ortNode });
}
