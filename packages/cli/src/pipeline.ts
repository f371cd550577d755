import { LeanformerError, type Executor } from '@leanformer/core';
import { loadModel } from '@leanformer/onnx/node';
import type { CliBackend } from './backends.js';
import { graphInputSpecs, readModelBytes, type InputSpec } from './model.js';

/** A model ready to run, with what is needed to make its feeds. */
export interface Prepared {
  readonly exe: Executor;
  /** Inputs to feed, as declared (by the IR graph, or by ORT for `--direct`). */
  readonly inputs: readonly InputSpec[];
}

/**
 * Opens `modelPath` on a backend. IR path: import the file into the IR (`loadModel`, which resolves external
 * data), then `backend.compile` (lowering for the EP, export, session). Direct path: the file's bytes as-is.
 */
export async function prepareModel(modelPath: string, backend: CliBackend, direct: boolean): Promise<Prepared> {
  const bytes = readModelBytes(modelPath);
  if (direct) {
    if (!backend.direct) throw new LeanformerError('NOT_SUPPORTED', `--direct needs a runtime that reads ONNX files itself (an ort-* backend)`);
    const exe = await backend.direct(modelPath, bytes);
    const declared = (exe as { inputs?: readonly InputSpec[] }).inputs;
    return { exe, inputs: declared ?? exe.inputNames.map((name) => ({ name, dtype: null, shape: null })) };
  }
  const graph = await loadModel(modelPath);
  const exe = await backend.backend.compile(graph);
  const specs = graphInputSpecs(graph).filter((s) => exe.inputNames.includes(s.name));
  return { exe, inputs: specs };
}
