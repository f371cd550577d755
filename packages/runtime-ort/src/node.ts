import * as ort from 'onnxruntime-node';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { LeanformerError } from '@leanformer/core';
import { OrtBackend, type OrtBackendOptions, type OrtProfiler } from './backend.js';
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
export function createOrtBackend(options: Omit<OrtBackendOptions, 'ort'> & { readonly placement?: boolean } = {}): OrtBackend {
  const { placement, ...rest } = options;
  return new OrtBackend({ ...rest, ...(placement ? { profiler: tempProfiler() } : {}), ort: ortNode });
}

/**
 * ORT's profiler writing into one temporary folder (a file per session, removed once read; the
 * folder is removed with its last file). For `executor.placement()`.
 */
export function tempProfiler(): OrtProfiler {
  let dir: string | undefined;
  let n = 0;
  let open = 0;
  return {
    prefix() {
      dir ??= mkdtempSync(join(tmpdir(), 'lf-ort-profile-'));
      open++;
      return join(dir, `s${n++}`);
    },
    read(prefix) {
      const d = dirname(prefix), stem = `${basename(prefix)}_`;
      const file = readdirSync(d).find((f) => f.startsWith(stem) && f.endsWith('.json'));
      try {
        if (!file) throw new LeanformerError('IO_ERROR', `ORT wrote no profile for ${prefix} (expected ${stem}<date>.json in ${d})`);
        return JSON.parse(readFileSync(join(d, file), 'utf8')) as unknown;
      } finally {
        if (file) rmSync(join(d, file), { force: true });
        if (--open === 0 && dir) { rmSync(dir, { recursive: true, force: true }); dir = undefined; }
      }
    },
  };
}
