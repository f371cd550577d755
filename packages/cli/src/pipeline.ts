import { LeanformerError, isLeanformerError, type Executor, type Graph, type ProgressCallback } from '@leanformer/core';
import { importModel } from '@leanformer/onnx/node';
import type { CliBackend } from './backends.js';
import { checkModelPath, graphInputSpecs, readModelBytes, type InputSpec } from './model.js';

/** A model ready to run, with what is needed to make its feeds. */
export interface Prepared {
  readonly exe: Executor;
  /** Inputs to feed, as declared (by the IR graph, or by ORT for `--direct`). */
  readonly inputs: readonly InputSpec[];
}

/**
 * Opens `modelPath` on a backend. IR path: import the file into the IR (`importModel`, which reads external
 * data beside it), then `backend.compile` (lowering for the EP, export, session). Direct path: the file's bytes as-is.
 */
export async function prepareModel(modelPath: string, backend: CliBackend, direct: boolean): Promise<Prepared> {
  if (direct) {
    const bytes = readModelBytes(modelPath);
    if (!backend.direct) throw new LeanformerError('NOT_SUPPORTED', `--direct needs a runtime that reads ONNX files itself (an ort-* backend)`);
    const exe = await backend.direct(modelPath, bytes);
    // ORT declares non-tensor inputs without a shape; runtimes without metadata declare nothing.
    const declared = (exe as { inputs?: readonly Omit<InputSpec, 'isTensor'>[] }).inputs;
    const inputs = declared
      ? declared.map((s) => ({ ...s, isTensor: s.shape !== null }))
      : exe.inputNames.map((name) => ({ name, dtype: null, shape: null, isTensor: true }));
    return { exe, inputs };
  }
  const graph = await importModelFile(modelPath);
  const exe = await backend.backend.compile(graph);
  const specs = graphInputSpecs(graph).filter((s) => exe.inputNames.includes(s.name));
  return { exe, inputs: specs };
}

/**
 * `importModel` of a file with decode failures phrased for a user who may have passed the wrong
 * file. `onProgress` gets the bytes read (`phase: 'read'`, unit 'bytes', model and external data).
 */
export async function importModelFile(modelPath: string, onProgress?: ProgressCallback): Promise<Graph> {
  checkModelPath(modelPath); // a clear IO_ERROR for missing paths and folders first; importModel reads the file once
  try {
    return await importModel(modelPath, onProgress ? { onProgress } : {});
  } catch (e) {
    if (isLeanformerError(e, 'DECODE_ERROR')) throw new LeanformerError('DECODE_ERROR', `${modelPath} is not a readable ONNX model: ${e.message}`, { cause: e });
    throw e;
  }
}
