// Lowering: IR (with leanformer-domain ops) → a graph of ONNX / com.microsoft ops for one target.
// Which form an op takes on which target is data held by each op's lowering; an op with no
// lowering falls back to core's reference decomposition into standard ops.
import {
  LeanformerError, cloneGraph, decompose, getDecomposition, normalizeDomain,
  type Graph, type Node, type OrtEp, type Target,
} from '@leanformer/core';

/** Rewrites one node in place (replacing it by other nodes) for `target`. */
export type LowerFn = (node: Node, target: Target) => void;

/** How one op is lowered to ONNX. */
export interface OnnxLowering {
  readonly domain: string;
  readonly op: string;
  readonly lower: LowerFn;
}

const lowerings = new Map<string, OnnxLowering>();
const key = (domain: string, op: string) => `${normalizeDomain(domain)}::${op}`;

/**
 * Registers the ONNX lowering of a `domain::op` (typically a `leanformer` op). Registering the
 * same op twice throws.
 *
 * @example
 * ```ts
 * registerOnnxLowering({ domain: 'leanformer', op: 'QMatMul', lower: (node, target) => lowerQMatMul(node, target) });
 * ```
 */
export function registerOnnxLowering(lowering: OnnxLowering): void {
  const k = key(lowering.domain, lowering.op);
  if (lowerings.has(k)) throw new LeanformerError('INVALID_ARGUMENT', `An ONNX lowering for ${k} is already registered`);
  lowerings.set(k, lowering);
}

/** The registered lowering of `domain::op`, if any. */
export function getOnnxLowering(domain: string, op: string): OnnxLowering | undefined {
  return lowerings.get(key(domain, op));
}

/** Domains whose ops ONNX Runtime implements (contrib ops under com.microsoft). */
const ORT_DOMAINS = new Set(['', 'ai.onnx.ml', 'com.microsoft', 'ai.onnx.preview.training', 'com.microsoft.nchwc']);
/** Domains each EP can run; TensorRT takes only ai.onnx ops (others need an EP listed after it). */
const EP_DOMAINS: Readonly<Record<OrtEp, ReadonlySet<string>>> = {
  cpu: ORT_DOMAINS,
  cuda: new Set(['', 'com.microsoft']),
  webgpu: new Set(['', 'com.microsoft']),
  wasm: new Set(['', 'ai.onnx.ml', 'com.microsoft']),
  tensorrt: new Set(['']),
};

/**
 * Lists the nodes of a lowered graph that `ep` cannot run by domain (e.g. com.microsoft ops on
 * TensorRT), so callers can warn that ORT will place them on the next EP in the list.
 */
export function nodesOutsideEp(graph: Graph, ep: OrtEp): Node[] {
  const ok = EP_DOMAINS[ep];
  return [...graph.allNodes()].filter((n) => !ok.has(n.domain));
}

/**
 * Returns a copy of `graph` lowered for `target`: leanformer ops become the target's best ONNX
 * form (per their registered lowering) or their reference decomposition; standard ops pass
 * through. The input graph is never modified. Opset imports cover every domain used.
 *
 * @example
 * ```ts
 * const lowered = lowerToOnnx(graph, { runtime: 'ort', ep: 'cpu' });
 * const bytes = encodeModel(lowered);
 * ```
 */
export function lowerToOnnx(graph: Graph, target: Target): Graph {
  const g = cloneGraph(graph);
  for (const node of [...g.allNodes()]) {
    const l = lowerings.get(key(node.domain, node.op));
    if (l) l.lower(node, target);
  }
  // Whatever has no target form falls back to the reference decomposition.
  decompose({ filter: (n) => n.domain === 'leanformer' && getDecomposition(n.domain, n.op) !== undefined }).run(g, {});
  const left = [...g.allNodes()].filter((n) => n.domain === 'leanformer');
  if (left.length) {
    const ops = [...new Set(left.map((n) => n.op))].join(', ');
    throw new LeanformerError('LOWERING_FAILED', `No ONNX lowering or decomposition for leanformer op(s) ${ops} on target ${target.runtime === 'ort' ? `ort-${target.ep}` : `tfjs-${target.backend}`}`, { details: { ops } });
  }
  const used = new Set([...g.allNodes()].map((n) => n.domain));
  g.opsets.delete('leanformer');
  if (!g.opsets.has('')) g.opsets.set('', 21);
  for (const d of used) if (!g.opsets.has(d)) g.opsets.set(d, d === 'com.microsoft' || d === 'com.microsoft.nchwc' ? 1 : d === 'ai.onnx.ml' ? 5 : 1);
  return g;
}
