// Per-node placement from ONNX Runtime's own profiler: every kernel event of a profiled run names the
// node, its op and the execution provider that ran it. Parsing is pure (browser-safe); reading the
// trace file is the node entry's job.
import { LeanformerError, type OrtEp } from '@leanformer/core';

/** ORT's provider name for each EP leanformer names (the `provider` field of a profiler node event). */
export const ORT_PROVIDER_NAMES: Readonly<Record<OrtEp, string>> = Object.freeze({
  cpu: 'CPUExecutionProvider',
  wasm: 'CPUExecutionProvider',
  cuda: 'CUDAExecutionProvider',
  tensorrt: 'TensorrtExecutionProvider',
  webgpu: 'WebGpuExecutionProvider',
});

/** One ORT node (after ORT's own fusions, so names may carry a fusion suffix) and the provider that ran it. */
export interface NodePlacement {
  readonly name: string;
  readonly op: string;
  readonly provider: string;
}

/** Where ORT ran each node of a profiled run. */
export interface OrtPlacement {
  /** The EP the session was created for. */
  readonly ep: OrtEp;
  /** Distinct nodes that ran (subgraph nodes of Loop/If/Scan included, once each). */
  readonly nodes: number;
  /** Node count per ORT provider name. */
  readonly byProvider: Readonly<Record<string, number>>;
  /**
   * Nodes ORT ran on another provider than `ep`'s, by name and op. On CUDA, ORT puts small shape
   * computations on the CPU on purpose (its CPU-preferred nodes); anything else here is a fallback.
   */
  readonly outside: readonly NodePlacement[];
}

const KERNEL_SUFFIX = '_kernel_time';

/**
 * Reads a Chrome-trace array written by ORT's profiler (`enableProfiling`) into a placement report
 * for a session created on `ep`. Only `cat: 'Node'` kernel events count; a node that ran several
 * times (a Loop body, several runs) counts once. Throws INVALID_ARGUMENT when `events` is not a
 * trace array or holds no node event (the session never ran).
 *
 * @example
 * ```ts
 * const report = placementFromProfile(JSON.parse(readFileSync(traceFile, 'utf8')), 'cuda');
 * report.outside; // [{ name: 'Range_3', op: 'Range', provider: 'CPUExecutionProvider' }]
 * ```
 */
export function placementFromProfile(events: unknown, ep: OrtEp): OrtPlacement {
  if (!Array.isArray(events)) throw new LeanformerError('INVALID_ARGUMENT', 'placementFromProfile: expected the array of trace events ORT\'s profiler writes (enableProfiling)');
  const own = ORT_PROVIDER_NAMES[ep];
  if (!own) throw new LeanformerError('INVALID_ARGUMENT', `placementFromProfile: unknown execution provider '${String(ep)}'; allowed: ${Object.keys(ORT_PROVIDER_NAMES).join(', ')}`);
  const seen = new Map<string, NodePlacement>();
  for (const e of events as unknown[]) {
    if (!e || typeof e !== 'object') continue;
    const { cat, name, args } = e as { cat?: unknown; name?: unknown; args?: { op_name?: unknown; provider?: unknown } };
    if (cat !== 'Node' || typeof name !== 'string' || !name.endsWith(KERNEL_SUFFIX)) continue;
    const provider = typeof args?.provider === 'string' ? args.provider : 'unknown';
    const node = { name: name.slice(0, -KERNEL_SUFFIX.length), op: typeof args?.op_name === 'string' ? args.op_name : 'unknown', provider };
    seen.set(`${node.name}\u0000${provider}`, node);
  }
  if (seen.size === 0) throw new LeanformerError('INVALID_ARGUMENT', 'placementFromProfile: the trace has no node events; run the session at least once before ending profiling');
  const byProvider: Record<string, number> = {};
  for (const n of seen.values()) byProvider[n.provider] = (byProvider[n.provider] ?? 0) + 1;
  const outside = [...seen.values()].filter((n) => n.provider !== own).sort((a, b) => a.name.localeCompare(b.name));
  return { ep, nodes: seen.size, byProvider, outside };
}
