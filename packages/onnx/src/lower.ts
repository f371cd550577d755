// Lowering: IR (with leanformer-domain ops) → a graph of ONNX / com.microsoft ops for one target.
// Which form an op takes on which EP is data: the ONNX_LOWERINGS table (lowering-registry.ts),
// seeded from lowerings/index.ts. An op the table does not lower for the target falls back to
// core's reference decomposition into standard ops.
import {
  LeanformerError, cloneGraph, decompose, getDecomposition, normalizeDomain,
  type Graph, type Node, type OrtEp, type Target,
} from '@leanformer/core';
import { getOnnxLowering, lowerFnFor, registerOnnxLowering } from './lowering-registry.js';
import { BUILTIN_ONNX_LOWERINGS } from './lowerings/index.js';

export { ONNX_LOWERINGS, getOnnxLowering, registerOnnxLowering } from './lowering-registry.js';
export type { LowerFn, OnnxLowering } from './lowering-registry.js';

// The built-in lowerings are data imported here (not registered as an import side effect), so a
// bundler that drops unused modules cannot lose them while keeping lowerToOnnx.
for (const l of BUILTIN_ONNX_LOWERINGS) registerOnnxLowering(l);

/** The domain of ops that must be lowered (everything else passes through to ORT as is). */
const LEANFORMER = 'leanformer';
const ALL_EPS: readonly OrtEp[] = ['cpu', 'cuda', 'tensorrt', 'webgpu', 'wasm'];

/** Domains whose ops ONNX Runtime implements (contrib ops under com.microsoft). */
const ORT_DOMAINS = new Set(['', 'ai.onnx.ml', 'com.microsoft', 'ai.onnx.preview.training', 'com.microsoft.nchwc']);
/** Domains each EP runs natively; TensorRT takes only ai.onnx ops (others need an EP listed after it). */
const EP_DOMAINS: Readonly<Record<OrtEp, ReadonlySet<string>>> = {
  cpu: ORT_DOMAINS,
  cuda: new Set(['', 'com.microsoft']),
  webgpu: new Set(['', 'com.microsoft']),
  wasm: new Set(['', 'ai.onnx.ml', 'com.microsoft']),
  tensorrt: new Set(['']),
};

/**
 * The ORT execution providers that can run `node` as it stands: by domain for ONNX and contrib
 * ops (TensorRT takes ai.onnx only), and for a leanformer op the EPs it can be lowered for (all of
 * them when it has a reference decomposition, which is standard ONNX). Ops of other domains
 * (custom-op libraries) are assumed CPU-only. Lets the CLI warn before a session falls back.
 *
 * @example
 * ```ts
 * epsForNode(node); // e.g. ['cpu', 'cuda', 'webgpu', 'wasm'] for com.microsoft::MatMulNBits
 * ```
 */
export function epsForNode(node: Node): OrtEp[] {
  const domain = normalizeDomain(node.domain);
  if (domain === LEANFORMER) {
    if (getDecomposition(domain, node.op)) return [...ALL_EPS];
    const l = getOnnxLowering(domain, node.op);
    if (!l) return [];
    return l.lower ? [...ALL_EPS] : ALL_EPS.filter((ep) => l.targets?.[ep]);
  }
  const eps = ALL_EPS.filter((ep) => EP_DOMAINS[ep].has(domain));
  return eps.length ? eps : ['cpu'];
}

/**
 * Lists the nodes of a (lowered) graph, subgraphs included, that `ep` cannot run by domain (e.g.
 * com.microsoft ops on TensorRT), so callers can warn that ORT will place them on the next EP.
 */
export function nodesOutsideEp(graph: Graph, ep: OrtEp): Node[] {
  const ok = EP_DOMAINS[ep];
  return [...graph.allNodes()].filter((n) => !ok.has(normalizeDomain(n.domain)));
}

const targetLabel = (t: Target) => (t.runtime === 'ort' ? `ort-${t.ep}` : `tfjs-${t.backend}`);

/** Every graph reachable from `g`: itself, subgraphs, and model-local function bodies. */
function graphsOf(g: Graph): Graph[] {
  const out: Graph[] = [];
  const visit = (x: Graph) => {
    out.push(x);
    for (const n of x.nodes) for (const a of n.attrs.values()) {
      if (a.type === 'graph') visit(a.value);
      else if (a.type === 'graphs') a.value.forEach(visit);
    }
  };
  visit(g);
  for (const f of g.model?.functions ?? []) visit(f.body);
  return out;
}

/**
 * Returns a copy of `graph` lowered for `target`: each op the lowering table covers for the target
 * takes its form there; other leanformer ops become their reference decomposition; standard and
 * unknown ops pass through. Repeats while lowerings or decompositions emit further leanformer ops.
 * The input graph is never modified. Afterwards the opset imports name every domain in use
 * (com.microsoft at version 1) and no longer name 'leanformer'.
 *
 * Throws LOWERING_FAILED naming the op and target when a leanformer op has neither.
 *
 * @example
 * ```ts
 * const lowered = lowerToOnnx(graph, { runtime: 'ort', ep: 'cpu' });
 * const bytes = encodeModel(lowered);
 * ```
 */
export function lowerToOnnx(graph: Graph, target: Target): Graph {
  const g = cloneGraph(graph);
  // Initializers no node reads at the end are dropped — ones lowering left unread (e.g. packed int4
  // weights a Q/DQ form re-encoded) and ones a lowering made but did not use — except those the
  // model already carried unread.
  const unreadBefore = new Set([...g.initializers.values()].filter((v) => v.uses.length === 0));
  const tried = new Set<Node>();
  for (let round = 0; ; round++) {
    let pending = false;
    for (const sub of graphsOf(g)) {
      for (const node of [...sub.nodes]) {
        if (tried.has(node)) continue;
        const fn = lowerFnFor(node, target);
        if (!fn) continue;
        tried.add(node);
        pending = true;
        fn(node, target);
      }
    }
    // What the table did not (or declined to) lower falls back to the reference decomposition.
    const leftover = (n: Node) => normalizeDomain(n.domain) === LEANFORMER && getDecomposition(n.domain, n.op) !== undefined;
    if (graphsOf(g).some((s) => s.nodes.some(leftover))) {
      for (const root of [g, ...(g.model?.functions ?? []).map((f) => f.body)]) decompose({ filter: leftover }).run(root, {});
      pending = true;
    }
    if (!pending) break;
    if (round >= 16) throw new LeanformerError('LOWERING_FAILED', `lowerToOnnx(${targetLabel(target)}): leanformer ops keep reappearing after 16 rounds of lowering (a lowering emits its own op?)`);
  }
  const left = graphsOf(g).flatMap((s) => s.nodes.filter((n) => normalizeDomain(n.domain) === LEANFORMER));
  if (left.length) {
    const ops = [...new Set(left.map((n) => n.op))];
    throw new LeanformerError('LOWERING_FAILED',
      `No ONNX lowering or reference decomposition for leanformer op${ops.length > 1 ? 's' : ''} ${ops.join(', ')} on target ${targetLabel(target)}; register one with registerOnnxLowering (@leanformer/onnx) or registerDecomposition (@leanformer/core)`,
      { details: { ops, target: targetLabel(target) } });
  }
  for (const v of [...g.initializers.values()]) if (v.uses.length === 0 && !v.isGraphOutput && !unreadBefore.has(v)) g.removeInitializer(v);
  fixOpsets(g);
  return g;
}

/** Opset imports: every domain used gets one (keeping versions already set); unused leanformer goes. */
function fixOpsets(g: Graph): void {
  const used = new Set<string>();
  for (const s of graphsOf(g)) for (const n of s.nodes) used.add(normalizeDomain(n.domain));
  if (!used.has(LEANFORMER)) g.opsets.delete(LEANFORMER);
  if (!g.opsets.has('')) g.opsets.set('', 21);
  for (const d of used) if (!g.opsets.has(d)) g.opsets.set(d, d === 'ai.onnx.ml' ? 5 : 1);
}
