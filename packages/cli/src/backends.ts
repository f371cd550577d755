import { LeanformerError, UsageError, type Backend, type Executor, type Target } from '@leanformer/core';

/** A backend as the CLI drives it: IR compilation, and (where the runtime can) running file bytes as-is. */
export interface CliBackend {
  readonly backend: Backend;
  /** Runs the model file without the IR (`--direct`); absent where the runtime cannot read ONNX itself. */
  readonly direct?: (modelPath: string, bytes: Uint8Array) => Promise<Executor>;
}

/** Options every CLI backend understands. */
export interface CliBackendOptions {
  /** Intra-op threads (ORT `intraOpNumThreads`); runtime default when absent. */
  readonly threads?: number;
  /** Profile sessions so executors report per-node placement (`placement()`; ORT in Node only). */
  readonly placement?: boolean;
}

/** One row of the CLI backend table. */
export interface CliBackendEntry {
  /** The `--backend` spelling, e.g. 'ort-cpu'. */
  readonly name: string;
  readonly target: Target;
  readonly description: string;
  /** Loads the runtime (dynamic import: only the chosen runtime is loaded) and builds the backend. */
  create(options: CliBackendOptions): Promise<CliBackend>;
}

type OrtEp = Extract<Target, { runtime: 'ort' }>['ep'];
type TfjsName = Extract<Target, { runtime: 'tfjs' }>['backend'];

/** ORT rows: the EP asked for, then the EPs it falls back to (reported as `epUsed`). */
function ort(ep: OrtEp, eps: readonly OrtEp[], description: string): CliBackendEntry {
  return {
    name: `ort-${ep}`,
    target: { runtime: 'ort', ep },
    description,
    async create(options) {
      // onnxruntime-web for wasm (it runs in Node too); onnxruntime-node for everything else.
      const mod = ep === 'wasm' ? await import('@leanformer/runtime-ort/web') : await import('@leanformer/runtime-ort/node');
      const backend = ep === 'wasm'
        ? mod.createOrtBackend({ eps, ...(options.threads ? { intraOpNumThreads: options.threads } : {}) })
        : (mod as typeof import('@leanformer/runtime-ort/node')).createOrtBackend({ eps, ...(options.threads ? { intraOpNumThreads: options.threads } : {}), ...(options.placement ? { placement: true } : {}) });
      return {
        backend,
        // onnxruntime-node reads a path itself (and external data beside it); onnxruntime-web gets the bytes.
        direct: (path, bytes) => backend.createExecutorFromBytes(ep === 'wasm' ? bytes : path),
      };
    },
  };
}

/**
 * TensorFlow.js rows: `@leanformer/runtime-tfjs`'s `createTfjsBackend({ backend })`, loaded on first use
 * (a CLI build without that package says so).
 */
function tfjs(name: TfjsName, description: string): CliBackendEntry {
  return {
    name: `tfjs-${name}`,
    target: { runtime: 'tfjs', backend: name },
    description,
    async create() {
      let mod: Record<string, unknown>;
      try {
        mod = (await import('@leanformer/runtime-tfjs')) as Record<string, unknown>;
      } catch (e) {
        throw new LeanformerError('BACKEND_UNAVAILABLE', `Backend 'tfjs-${name}' needs @leanformer/runtime-tfjs, which could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
      }
      const create = mod['createTfjsBackend'];
      if (typeof create !== 'function') {
        throw new LeanformerError('BACKEND_UNAVAILABLE', `Backend 'tfjs-${name}' is not available in this build: @leanformer/runtime-tfjs does not export createTfjsBackend`);
      }
      return { backend: (await create({ backend: name })) as Backend };
    },
  };
}

const table = new Map<string, CliBackendEntry>();

/** Adds a row to the CLI's backend table; a duplicate name throws. */
export function registerCliBackend(entry: CliBackendEntry): void {
  if (table.has(entry.name)) throw new LeanformerError('INVALID_ARGUMENT', `CLI backend '${entry.name}' is already registered`);
  table.set(entry.name, entry);
}

for (const e of [
  ort('cpu', ['cpu'], 'ONNX Runtime CPU (onnxruntime-node)'),
  ort('cuda', ['cuda', 'cpu'], 'ONNX Runtime CUDA, falling back to CPU'),
  ort('tensorrt', ['tensorrt', 'cuda', 'cpu'], 'ONNX Runtime TensorRT, falling back to CUDA, then CPU'),
  ort('webgpu', ['webgpu', 'cpu'], 'ONNX Runtime WebGPU (Dawn in onnxruntime-node), falling back to CPU'),
  ort('wasm', ['wasm'], 'ONNX Runtime WebAssembly (onnxruntime-web, also in Node)'),
  tfjs('cpu', 'TensorFlow.js CPU (needs @leanformer/runtime-tfjs)'),
  tfjs('wasm', 'TensorFlow.js WebAssembly (needs @leanformer/runtime-tfjs)'),
  tfjs('webgpu', 'TensorFlow.js WebGPU (needs @leanformer/runtime-tfjs)'),
  tfjs('tensorflow', 'TensorFlow.js with libtensorflow (tfjs-node; needs @leanformer/runtime-tfjs)'),
]) registerCliBackend(e);

/** Every `--backend` name, in table order. */
export function cliBackendNames(): string[] { return [...table.keys()]; }

/** The table row for `name`; throws a UsageError (`--backend`) listing the allowed names. */
export function cliBackend(name: string): CliBackendEntry {
  const e = table.get(name);
  if (!e) throw new UsageError(`Unknown backend '${name}'; allowed: ${cliBackendNames().join(', ')}`, 'backend');
  return e;
}
