import { LeanformerError, Tensor, type Backend, type CompileOptions, type Executor, type ExecutorInfo, type Graph, type RunOptions, type TfjsBackendName } from '@leanformer/core';
import { CompiledGraph } from './compile.js';
import { fromTfData, irDTypeOfTf, tfDTypeOf, toTfTensor } from './dtypes.js';
import { isHost, type RValue } from './kernel.js';
import { tf, useTfjsBackend, type TfjsSetupOptions } from './setup.js';
import type * as tfc from '@tensorflow/tfjs-core';

/** Options of {@link TfjsBackend}. */
export type TfjsBackendOptions = TfjsSetupOptions;

/**
 * Runs IR graphs as functions of TensorFlow.js ops on one tfjs backend (cpu, wasm, webgpu,
 * or tensorflow through tfjs-node). Implements core's `Backend`, so modules use it the way
 * they use `OrtBackend`.
 *
 * @example
 * ```ts
 * const backend = createTfjsBackend('cpu');
 * const exe = await backend.compile(graph);
 * const { y } = await exe.run({ x: Tensor.from('float32', [2], [1, 2]) });
 * await exe.dispose();
 * ```
 */
export class TfjsBackend implements Backend {
  readonly name: string;
  constructor(readonly device: TfjsBackendName, readonly options: TfjsBackendOptions = {}) {
    if (!['cpu', 'wasm', 'webgpu', 'tensorflow'].includes(device)) {
      throw new LeanformerError('INVALID_ARGUMENT', `unknown tfjs backend '${device}'; allowed: cpu, wasm, webgpu, tensorflow`);
    }
    this.name = `tfjs-${device}`;
  }

  /** Loads and activates the tfjs backend; returns the tfjs module. */
  async ready(): Promise<typeof tfc> {
    return useTfjsBackend(this.device, this.options);
  }

  async compile(graph: Graph, options: CompileOptions = {}): Promise<TfjsExecutor> {
    await this.ready();
    const compiled = new CompiledGraph(tf, graph, { fetches: options.fetches });
    return new TfjsExecutor(this, compiled);
  }
}

/**
 * Picks a tfjs backend by name: 'cpu' | 'wasm' | 'webgpu' | 'tensorflow'. Also accepts one
 * options object with the name as `backend` (the form the CLI's backend table calls).
 * Nothing loads until the first compile (or `ready()`); an absent package then fails with
 * BACKEND_UNAVAILABLE naming what to install.
 *
 * @example
 * ```ts
 * const cpu = createTfjsBackend('cpu');
 * const wasm = createTfjsBackend({ backend: 'wasm', wasmPaths: '/static/tfjs/' });
 * ```
 */
export function createTfjsBackend(name: TfjsBackendName | ({ readonly backend: TfjsBackendName } & TfjsBackendOptions), options: TfjsBackendOptions = {}): TfjsBackend {
  if (typeof name === 'object' && name !== null) {
    const { backend, ...rest } = name;
    return new TfjsBackend(backend, { ...rest, ...options });
  }
  return new TfjsBackend(name, options);
}

/** Converts feeds to tfjs tensors after checking them against the graph's declared inputs. */
export function feedsToTf(graph: Graph, names: readonly string[], feeds: Readonly<Record<string, Tensor>>): Map<string, tfc.Tensor> {
  const out = new Map<string, tfc.Tensor>();
  try {
    for (const [name, t] of Object.entries(feeds)) {
      const v = graph.lookup(name);
      if (!v || !(names.includes(name) || graph.initializers.has(name))) {
        throw new LeanformerError('INVALID_ARGUMENT', `unknown feed '${name}'; graph '${graph.name}' takes: ${names.join(', ')}`);
      }
      if (v.dtype && v.dtype !== t.dtype && tfDTypeOf(v.dtype) !== tfDTypeOf(t.dtype)) {
        throw new LeanformerError('INVALID_DTYPE', `feed '${name}' is ${t.dtype.name}; the graph declares ${v.dtype.name}`);
      }
      const shape = v.shape;
      if (shape && (shape.length !== t.shape.length || shape.some((d, i) => typeof d === 'number' && d !== t.shape[i]))) {
        throw new LeanformerError('SHAPE_MISMATCH', `feed '${name}' has shape [${t.shape.join(', ')}]; the graph declares [${shape.map((d) => d ?? '?').join(', ')}]`);
      }
      out.set(name, toTfTensor(tf, t, `feed '${name}'`));
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

/** Reads a run-time value back into an IR tensor of the graph's declared dtype. */
export async function readValue(graph: Graph, name: string, v: RValue): Promise<Tensor> {
  const declared = graph.lookup(name)?.dtype ?? null;
  if (isHost(v)) return v.toTensor(declared ?? v.dtype);
  const data = (await v.data()) as Float32Array | Int32Array | Uint8Array;
  return fromTfData(data, v.shape, declared ?? irDTypeOfTf(v.dtype));
}

/** A graph compiled for a tfjs backend. */
export class TfjsExecutor implements Executor {
  readonly info: ExecutorInfo;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];

  constructor(readonly backend: TfjsBackend, readonly compiled: CompiledGraph) {
    this.info = { backend: 'tfjs', device: backend.device };
    this.inputNames = compiled.inputNames;
    this.outputNames = compiled.outputNames;
  }

  async run(feeds: Readonly<Record<string, Tensor>>, options: RunOptions = {}): Promise<Record<string, Tensor>> {
    await this.backend.ready();
    const graph = this.compiled.graph;
    const fetches = options.fetches ?? this.outputNames;
    const tfFeeds = feedsToTf(graph, this.inputNames, feeds);
    const feedSet = new Set<tfc.Tensor>(tfFeeds.values());
    let hostOut = new Map<string, RValue>();
    let tfOut: Record<string, tfc.Tensor> = {};
    try {
      tfOut = tf.tidy(() => {
        const res = this.compiled.execute(tfFeeds, { fetches });
        const keep: Record<string, tfc.Tensor> = {};
        hostOut = new Map();
        for (const [k, v] of res) {
          if (isHost(v)) hostOut.set(k, v);
          // Outputs that alias a feed or a compiled constant are copied: those are disposed elsewhere.
          else keep[k] = feedSet.has(v) || this.compiled.owns(v) ? tf.clone(v) : v;
        }
        return keep;
      });
    } finally {
      for (const t of tfFeeds.values()) t.dispose();
    }
    const result: Record<string, Tensor> = {};
    try {
      for (const name of fetches) {
        const v = hostOut.get(name) ?? tfOut[name]!;
        const t = await readValue(graph, name, v);
        const pre = options.outputs?.[name];
        if (pre) {
          if (pre.dtype !== t.dtype || pre.shape.join() !== t.shape.join()) {
            throw new LeanformerError('SHAPE_MISMATCH', `preallocated output '${name}' is ${pre.dtype.name}[${pre.shape.join(', ')}] but the graph produced ${t.dtype.name}[${t.shape.join(', ')}]`);
          }
          (pre.data as Uint8Array).set(t.data as Uint8Array);
          result[name] = pre;
        } else result[name] = t;
      }
    } finally {
      for (const t of Object.values(tfOut)) t.dispose();
    }
    return result;
  }

  async dispose(): Promise<void> {
    this.compiled.dispose();
  }
}
