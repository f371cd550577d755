import {
  DTypes, LeanformerError, isLeanformerError,
  type Backend, type DType, type Dim, type CompileOptions, type Executor, type ExecutorInfo, type Graph, type OrtEp, type RunOptions, type Tensor,
} from '@leanformer/core';
import { encodeModel, lowerToOnnx } from '@leanformer/onnx';
import type { InferenceSession, OrtModule, OrtTensor } from './ort-types.js';
import { fromOrtTensor, toOrtTensor } from './tensors.js';
import { placementFromProfile, type OrtPlacement } from './placement.js';

/** An execution provider by name, or with a device id (`{ name: 'cuda', deviceId: 1 }`). */
export type OrtEpSpec = OrtEp | { readonly name: OrtEp; readonly deviceId?: number };

/** The EP names OrtBackend accepts, in no particular order. */
export const ORT_EPS: readonly OrtEp[] = Object.freeze(['cpu', 'cuda', 'tensorrt', 'webgpu', 'wasm']);

/** An external-data file handed to ONNX Runtime with an in-memory model (ORT's own `ExternalDataFileType`). */
export type OrtExternalData = NonNullable<InferenceSession.SessionOptions['externalData']>;

/** Options of {@link OrtBackend}. */
export interface OrtBackendOptions {
  /** The ONNX Runtime module: `onnxruntime-node` or `onnxruntime-web` (the `./node` and `./web` entries pass it for you). */
  readonly ort: OrtModule & { readonly env?: { logLevel?: string } };
  /** Execution providers in order of preference; the first one that can create a session wins. Default `['cpu']`. */
  readonly eps?: readonly OrtEpSpec[];
  readonly intraOpNumThreads?: number;
  readonly interOpNumThreads?: number;
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** External-data files for models whose weights live beside the model file. */
  readonly externalData?: OrtExternalData;
  /**
   * ORT log severity, 0 (verbose) … 4 (fatal). Default 4: failures reach the caller as errors and
   * `info.fallbacks`, not as console noise. Also sets `ort.env.logLevel`, which ORT reads at its first session.
   */
  readonly logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * Whether the runtime writes outputs into preallocated CPU tensors passed as fetches. onnxruntime-node
   * does (default true); onnxruntime-web's WebAssembly build does not (it binds them on its own heap
   * and hands the untouched tensor back), so `./web` sets false: such outputs are fetched and copied in.
   */
  readonly writesPreallocatedOutputs?: boolean;
  /**
   * ORT's profiler on every session, for {@link OrtExecutor.placement}. The node entry's
   * `createOrtBackend({ placement: true })` supplies one that writes to a temporary folder.
   */
  readonly profiler?: OrtProfiler;
}

/** Where ORT writes a session's profile, and how to read it back (the file system is the caller's). */
export interface OrtProfiler {
  /** A fresh file prefix for one session (ORT appends a date and `.json`). */
  prefix(): string;
  /** The trace events ORT wrote for `prefix`, parsed; the file is removed. */
  read(prefix: string): unknown;
}

/** Why one execution provider was skipped. */
export interface OrtFallback {
  readonly ep: OrtEp;
  /** 'lowering' (the graph cannot be expressed for this EP) or 'session' (ORT could not create a session). */
  readonly stage: 'lowering' | 'session';
  readonly reason: string;
}

/** What ran a compiled graph, and which preferred EPs were skipped on the way. */
export interface OrtExecutorInfo extends ExecutorInfo {
  readonly backend: 'ort';
  readonly device: OrtEp;
  readonly fallbacks: readonly OrtFallback[];
}

const LOG_LEVELS = ['verbose', 'info', 'warning', 'error', 'fatal'] as const;

function epName(spec: OrtEpSpec): OrtEp { return typeof spec === 'string' ? spec : spec.name; }

function message(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/\s+/g, ' ').trim();
}

/**
 * ONNX Runtime as a leanformer {@link Backend}. `compile(graph)` lowers the IR for each preferred
 * execution provider in turn (`lowerToOnnx`), encodes it and creates a session; the first EP that
 * works runs it, and `executor.info` says which one did and why the others were skipped.
 *
 * The runtime module is injected: use `createOrtBackend` from `@leanformer/runtime-ort/node`
 * (onnxruntime-node) or `@leanformer/runtime-ort/web` (onnxruntime-web), or pass `ort` yourself.
 *
 * @example
 * ```ts
 * import * as ort from 'onnxruntime-node';
 * const backend = new OrtBackend({ ort, eps: ['cuda', 'cpu'], intraOpNumThreads: 1 });
 * const exe = await backend.compile(graph);
 * console.log(exe.info.device); // 'cpu' where CUDA is absent
 * const { logits } = await exe.run({ input_ids: Tensor.from('int64', [1, 3], [1n, 2n, 3n]) });
 * ```
 */
export class OrtBackend implements Backend {
  readonly name = 'ort';
  readonly eps: readonly OrtEpSpec[];
  private readonly ort: OrtBackendOptions['ort'];

  constructor(readonly options: OrtBackendOptions) {
    if (!options || !options.ort || typeof options.ort.InferenceSession?.create !== 'function') {
      throw new LeanformerError('INVALID_ARGUMENT', "OrtBackend needs the ONNX Runtime module as 'ort' (onnxruntime-node or onnxruntime-web); or use createOrtBackend from '@leanformer/runtime-ort/node' or '/web'");
    }
    this.ort = options.ort;
    this.eps = Object.freeze([...(options.eps ?? ['cpu'])]);
    if (this.eps.length === 0) throw new LeanformerError('INVALID_ARGUMENT', `OrtBackend: 'eps' is empty; list at least one of ${ORT_EPS.join(', ')}`);
    for (const spec of this.eps) {
      const n = epName(spec);
      if (!ORT_EPS.includes(n)) throw new LeanformerError('INVALID_ARGUMENT', `OrtBackend: unknown execution provider '${String(n)}'; allowed: ${ORT_EPS.join(', ')}`, { details: { ep: n } });
    }
    const level = options.logSeverityLevel ?? 4;
    if (this.ort.env) this.ort.env.logLevel = LOG_LEVELS[level];
  }

  /**
   * Lowers `graph` for each preferred EP in turn and runs it on the first that accepts it.
   * Throws BACKEND_UNAVAILABLE (several EPs tried) or EXECUTION_FAILED (one EP) with every reason.
   */
  async compile(graph: Graph, options: CompileOptions = {}): Promise<OrtExecutor> {
    return this.open((ep) => {
      try {
        return encodeModel(lowerToOnnx(graph, { runtime: 'ort', ep }));
      } catch (e) {
        // A graph this EP cannot express is a reason to try the next EP, not a failure.
        if (isLeanformerError(e, 'LOWERING_FAILED') || isLeanformerError(e, 'NOT_SUPPORTED')) return { skip: message(e) };
        throw e;
      }
    }, `graph '${graph.name}'`, options.fetches);
  }

  /**
   * Runs an ONNX model's bytes (or a file path, which ORT reads itself) as they are, without the IR:
   * the baseline that `--direct` measures against. EP preference and fallback work as in `compile`.
   *
   * @example
   * ```ts
   * const exe = await backend.createExecutorFromBytes('model.onnx');
   * ```
   */
  async createExecutorFromBytes(model: Uint8Array | string, options: CompileOptions = {}): Promise<OrtExecutor> {
    if (!(model instanceof Uint8Array) && typeof model !== 'string') throw new LeanformerError('INVALID_ARGUMENT', 'createExecutorFromBytes: model must be a Uint8Array of ONNX bytes or a path');
    return this.open(() => model, typeof model === 'string' ? `'${model}'` : `model (${model.byteLength} bytes)`, options.fetches);
  }

  private sessionOptions(spec: OrtEpSpec): InferenceSession.SessionOptions {
    const o = this.options;
    const ep = typeof spec === 'string' ? spec : { name: spec.name, ...(spec.deviceId !== undefined ? { deviceId: spec.deviceId } : {}) };
    return {
      executionProviders: [ep],
      logSeverityLevel: o.logSeverityLevel ?? 4,
      ...(o.intraOpNumThreads !== undefined ? { intraOpNumThreads: o.intraOpNumThreads } : {}),
      ...(o.interOpNumThreads !== undefined ? { interOpNumThreads: o.interOpNumThreads } : {}),
      ...(o.graphOptimizationLevel !== undefined ? { graphOptimizationLevel: o.graphOptimizationLevel } : {}),
      ...(o.externalData !== undefined ? { externalData: o.externalData } : {}),
    };
  }

  /** Tries each EP in order; `model(ep)` gives the bytes for that EP or a reason to skip it. */
  private async open(model: (ep: OrtEp) => Uint8Array | string | { skip: string }, what: string, fetches?: readonly string[]): Promise<OrtExecutor> {
    const fallbacks: OrtFallback[] = [];
    for (const spec of this.eps) {
      const ep = epName(spec);
      const m = model(ep);
      if (typeof m === 'object' && !(m instanceof Uint8Array)) { fallbacks.push({ ep, stage: 'lowering', reason: m.skip }); continue; }
      let session: InferenceSession;
      const profile = this.options.profiler ? this.options.profiler.prefix() : undefined;
      try {
        session = await this.ort.InferenceSession.create(m, { ...this.sessionOptions(spec), ...(profile ? { enableProfiling: true, profileFilePrefix: profile } : {}) });
      } catch (e) {
        fallbacks.push({ ep, stage: 'session', reason: message(e) });
        continue;
      }
      const profiled = profile ? { profiler: this.options.profiler!, prefix: profile } : undefined;
      return new OrtExecutor(this.ort, session, { backend: 'ort', device: ep, fallbacks: Object.freeze(fallbacks) }, fetches, profiled, this.options.writesPreallocatedOutputs ?? true);
    }
    const reasons = fallbacks.map((f) => `${f.ep}: ${f.reason}`).join('; ');
    if (fallbacks.length === 1) {
      throw new LeanformerError('EXECUTION_FAILED', `ONNX Runtime could not load ${what} on ${fallbacks[0]!.ep}: ${fallbacks[0]!.reason}`, { details: { fallbacks } });
    }
    throw new LeanformerError('BACKEND_UNAVAILABLE', `No execution provider could run ${what} (tried ${this.eps.map(epName).join(', ')}): ${reasons}`, { details: { fallbacks } });
  }
}

/** A model input as the ORT session declares it (dtype null: not a tensor, or a type the JS API lacks). */
export interface OrtInputInfo {
  readonly name: string;
  readonly dtype: DType | null;
  /** Static sizes, symbolic names, or null where unknown; null for non-tensor inputs. */
  readonly shape: readonly Dim[] | null;
}

const BY_ORT_NAME: ReadonlyMap<string, DType> = new Map(Object.values(DTypes).filter((t) => t.ort !== null).map((t) => [t.ort!, t] as const));

/** A live ORT session behind core's {@link Executor} interface. */
export class OrtExecutor implements Executor {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** The inputs as the loaded model declares them (what a caller needs to make feeds for a file it has not parsed). */
  readonly inputs: readonly OrtInputInfo[];
  private session: InferenceSession | null;
  private ran = false;
  private placed: OrtPlacement | undefined;

  /** @internal created by {@link OrtBackend}. */
  constructor(
    private readonly ort: OrtModule, session: InferenceSession, readonly info: OrtExecutorInfo, private readonly defaultFetches?: readonly string[],
    private readonly profiled?: { readonly profiler: OrtProfiler; readonly prefix: string },
    private readonly writesPreallocated = true,
  ) {
    this.session = session;
    this.inputNames = Object.freeze([...session.inputNames]);
    this.outputNames = Object.freeze([...session.outputNames]);
    const meta = (session as { inputMetadata?: readonly InferenceSession.ValueMetadata[] }).inputMetadata ?? [];
    this.inputs = Object.freeze(this.inputNames.map((name) => {
      const m = meta.find((x) => x.name === name);
      if (!m || !m.isTensor) return { name, dtype: null, shape: null };
      return { name, dtype: BY_ORT_NAME.get(m.type) ?? null, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' && d ? d : null)) };
    }));
  }

  /** Runs once. Preallocated `options.outputs` are passed to ORT as fetches and written in place (and returned as-is). */
  async run(feeds: Readonly<Record<string, Tensor>>, options: RunOptions = {}): Promise<Record<string, Tensor>> {
    const session = this.session;
    if (!session) throw new LeanformerError('INVALID_ARGUMENT', 'This executor was disposed; compile the graph again');
    const missing = this.inputNames.filter((n) => !(n in feeds));
    if (missing.length) throw new LeanformerError('INVALID_ARGUMENT', `Missing feeds: ${missing.join(', ')} (inputs: ${this.inputNames.join(', ')})`, { details: { missing } });
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      if (!this.inputNames.includes(name)) throw new LeanformerError('INVALID_ARGUMENT', `Unknown feed '${name}'; inputs: ${this.inputNames.join(', ')}`);
      ortFeeds[name] = toOrtTensor(this.ort, t, name);
    }
    const names = options.fetches ?? this.defaultFetches ?? this.outputNames;
    const pre = options.outputs ?? {};
    for (const n of [...names, ...Object.keys(pre)]) {
      if (!this.outputNames.includes(n)) throw new LeanformerError('INVALID_ARGUMENT', `Unknown fetch '${n}'; outputs: ${this.outputNames.join(', ')}`);
    }
    const fetches: Record<string, OrtTensor | null> = {};
    for (const n of new Set([...names, ...Object.keys(pre)])) fetches[n] = pre[n] && this.writesPreallocated ? toOrtTensor(this.ort, pre[n]!, n) : null;
    let result: Record<string, OrtTensor>;
    try {
      result = (await session.run(ortFeeds, fetches)) as Record<string, OrtTensor>;
    } catch (e) {
      throw new LeanformerError('EXECUTION_FAILED', `ONNX Runtime (${this.info.device}) failed to run: ${message(e)}`, { cause: e });
    }
    this.ran = true;
    const out: Record<string, Tensor> = {};
    for (const n of Object.keys(fetches)) {
      const p = pre[n];
      if (p && !this.writesPreallocated) {
        const got = fromOrtTensor(result[n]!, n);
        if (got.dtype !== p.dtype || got.size !== p.size) throw new LeanformerError('EXECUTION_FAILED', `Output '${n}' is ${got.dtype.name}[${got.shape.join(', ')}], the preallocated tensor ${p.dtype.name}[${p.shape.join(', ')}]`, { details: { name: n } });
        (p.data as Float32Array).set(got.data as Float32Array);
      }
      out[n] = p ?? fromOrtTensor(result[n]!, n);
    }
    return out;
  }

  /**
   * Where ORT ran each node in the runs so far, from its profiler: ends profiling (later runs are not
   * profiled, so time them after this) and reads the trace. Needs a backend with a `profiler`
   * (`createOrtBackend({ placement: true })` in Node) and at least one run; the report is kept, so a
   * second call returns it again.
   *
   * @example
   * ```ts
   * const exe = await createOrtBackend({ eps: ['cuda'], placement: true }).compile(graph);
   * await exe.run(feeds);
   * exe.placement().outside; // nodes ORT ran outside the CUDA EP
   * ```
   */
  placement(): OrtPlacement {
    if (this.placed) return this.placed;
    if (!this.profiled) throw new LeanformerError('INVALID_ARGUMENT', "placement(): this executor was created without ORT's profiler; create the backend with a profiler (createOrtBackend({ placement: true }) in Node)");
    if (!this.session) throw new LeanformerError('INVALID_ARGUMENT', 'placement(): this executor was disposed; compile the graph again');
    if (!this.ran) throw new LeanformerError('INVALID_ARGUMENT', 'placement(): run the executor at least once first (the profiler records the nodes a run executes)');
    this.session.endProfiling();
    this.placed = placementFromProfile(this.profiled.profiler.read(this.profiled.prefix), this.info.device);
    return this.placed;
  }

  /** Releases the ORT session; later `run` calls throw. Safe to call twice. */
  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (!s) return;
    // A profiled session that was never asked for its placement still writes (and must remove) its trace.
    if (this.profiled && !this.placed) { try { s.endProfiling(); this.profiled.profiler.read(this.profiled.prefix); } catch { /* nothing was written */ } }
    await s.release();
  }
}
