import type { Graph } from './ir/graph.js';
import type { Tensor } from './tensor.js';

/** Options common to every backend's `compile`. Backend-specific options extend this. */
export interface CompileOptions {
  /** Output names to compute; defaults to the graph outputs. */
  readonly fetches?: readonly string[];
}

/** Per-call options. */
export interface RunOptions {
  /** Names of values to return (graph outputs by default). */
  readonly fetches?: readonly string[];
  /**
   * Preallocated outputs: the executor writes results into these tensors (e.g. KV-cache buffers)
   * instead of allocating. Shapes and dtypes must match what the graph produces.
   */
  readonly outputs?: Readonly<Record<string, Tensor>>;
}

/** What actually ran a compiled graph. */
export interface ExecutorInfo {
  /** Backend family, e.g. 'ort' or 'tfjs'. */
  readonly backend: string;
  /** Device / execution provider that ran it, e.g. 'cpu', 'webgpu', 'cuda'. */
  readonly device: string;
}

/** A compiled graph, ready to run many times. */
export interface Executor {
  readonly info: ExecutorInfo;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph once. Feeds are keyed by graph input name. */
  run(feeds: Readonly<Record<string, Tensor>>, options?: RunOptions): Promise<Record<string, Tensor>>;
  /** Frees the session / compiled function. The executor is unusable afterwards. */
  dispose(): Promise<void>;
}

/**
 * A runtime that can execute IR graphs. Modules that must run something (calibration,
 * training, decode loops) take a `Backend` and never import a runtime package directly.
 */
export interface Backend {
  readonly name: string;
  compile(graph: Graph, options?: CompileOptions): Promise<Executor>;
}
