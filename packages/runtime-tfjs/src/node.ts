// Node-only helpers: conformance over ONNX test directories and checkpoint files.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LeanformerError, ONNX_TOLERANCE, type Graph, type Tensor, type TfjsBackendName, type Tolerance } from '@leanformer/core';
import { writeFileAtomic } from '@leanformer/core/node';
import { TfjsBackend } from './backend.js';
import { runConformanceCases, type TfjsConformanceCase, type ConformanceSummary } from './conformance.js';

export * from './index.js';

/** Options of {@link runTfjsConformance}. */
export interface TfjsConformanceOptions {
  /** ONNX model bytes → IR graph (e.g. `decodeModel` from @leanformer/onnx). */
  readonly decodeModel: (bytes: Uint8Array) => Graph;
  /** TensorProto bytes → tensor (e.g. `(b) => decodeTensor(b).tensor` from @leanformer/onnx). */
  readonly decodeTensor: (bytes: Uint8Array) => Tensor;
  /** tfjs backend name or instance (default 'cpu'). */
  readonly backend?: TfjsBackendName | TfjsBackend;
  /** Comparison tolerance (default ONNX's rtol 1e-3, atol 1e-7). */
  readonly tolerance?: Tolerance;
  /** Only cases whose directory name passes (default all). */
  readonly filter?: (name: string) => boolean;
}

function caseDirs(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new LeanformerError('IO_ERROR', `conformance: '${dir}' is not a directory`);
  if (existsSync(join(dir, 'model.onnx'))) return [dir];
  return readdirSync(dir).sort().map((n) => join(dir, n)).filter((p) => existsSync(join(p, 'model.onnx')));
}

function* loadCases(dirs: readonly string[], o: TfjsConformanceOptions): Generator<TfjsConformanceCase | { name: string; error: unknown }> {
  for (const d of dirs) {
    const name = basename(d);
    try {
      const graph = o.decodeModel(new Uint8Array(readFileSync(join(d, 'model.onnx'))));
      const sets = readdirSync(d).filter((n) => n.startsWith('test_data_set_')).sort();
      const read = (sd: string, prefix: string) => readdirSync(sd)
        .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
        .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
        .map((f) => o.decodeTensor(new Uint8Array(readFileSync(join(sd, f)))));
      yield { name, graph, dataSets: () => sets.map((s) => ({ inputs: read(join(d, s), 'input_'), outputs: read(join(d, s), 'output_') })) };
    } catch (error) {
      yield { name, error };
    }
  }
}

/**
 * Runs ONNX node-test cases (a directory of case directories, or one case directory) on a
 * tfjs backend and returns pass/fail/unsupported counts. Decoders are injected so this package
 * needs no protobuf code.
 *
 * @example
 * ```ts
 * import { decodeModel, decodeTensor } from '@leanformer/onnx';
 * const s = await runTfjsConformance('/usr/share/libonnx-testdata/data/node', {
 *   decodeModel, decodeTensor: (b) => decodeTensor(b).tensor, backend: 'cpu',
 * });
 * console.log(`${s.passed}/${s.supported} supported cases pass`);
 * ```
 */
export async function runTfjsConformance(dir: string, options: TfjsConformanceOptions): Promise<ConformanceSummary> {
  const backend = options.backend instanceof TfjsBackend ? options.backend : new TfjsBackend(options.backend ?? 'cpu');
  await backend.ready();
  const dirs = caseDirs(dir).filter((d) => options.filter?.(basename(d)) ?? true);
  return runConformanceCases(loadCases(dirs, options), backend, options.tolerance ?? ONNX_TOLERANCE);
}

/**
 * Writes checkpoint bytes (from `Trainer.checkpoint()` or `train()`) to `path`: to a temp file
 * beside it first, then renamed, so a crash never leaves a torn checkpoint.
 *
 * @example
 * ```ts
 * await train(graph, { ..., onProgress: async (p) => { if (p.done % 100 === 0) saveCheckpointFile('ckpt.safetensors', await trainer.checkpoint()); } });
 * ```
 */
export function saveCheckpointFile(path: string, bytes: Uint8Array): void {
  writeFileAtomic(path, bytes);
}

