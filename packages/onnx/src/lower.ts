// Lowering: IR (with leanformer-domain ops) → a graph of ONNX / com.microsoft ops for one target.
// Which form an op takes on which target is data: the capability table ONNX_LOWERINGS
// (lowering-registry.ts), seeded from lowerings/index.ts. Each node takes the first form on its
// target's list that applies; core's reference decomposition ends every list.
import {
  EP_DOMAINS, LeanformerError, cloneGraph, getDecomposition, normalizeDomain, parseTarget,
  type Graph, type Node, type OrtEp, type Target, type TargetName,
} from '@leanformer/core';
import { chooseForm, formsFor, loweringContext, registerOnnxLowering, REFERENCE_FORM_NAME, type SkippedForm } from './lowering-registry.js';
import { BUILTIN_ONNX_LOWERINGS } from './lowerings/index.js';

export { ONNX_LOWERINGS, REFERENCE_FORM_NAME, chooseForm, formsFor, getOnnxLowering, loweringContext, lowerWithForm, registerOnnxLowering } from './lowering-registry.js';
export type { FormChoice, LoweringContext, LoweringForm, OnnxLowering, SkippedForm } from './lowering-registry.js';

// The built-in lowerings are data imported here (not registered as an import side effect), so a
// bundler that drops unused modules cannot lose them while keeping lowerToOnnx.
for (const l of BUILTIN_ONNX_LOWERINGS) registerOnnxLowering(l);

/** The domain of ops that must be lowered (everything else passes through to ORT as is). */
const LEANFORMER = 'leanformer';
const ALL_EPS: readonly OrtEp[] = ['cpu', 'cuda', 'tensorrt', 'webgpu', 'wasm'];

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
    return ALL_EPS.filter((ep) => formsFor(domain, node.op, { runtime: 'ort', ep }).length > 1);
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
 * Returns a copy of `graph` lowered for `target`: each node whose op the capability table lists
 * takes the first form on its target's list that applies (leanformer ops end in core's reference
 * decomposition); standard and unknown ops no form takes pass through. Repeats while forms emit
 * further leanformer ops. The input graph is never modified. Afterwards the opset imports name
 * every domain in use (com.microsoft at version 1) and no longer name 'leanformer'.
 * {@link explainLowering} reports the same choices without lowering.
 *
 * Throws LOWERING_FAILED naming the node, target and reason when a `required` form does not apply
 * (asymmetric weights on ort-tensorrt), or naming the op when a leanformer op has no form and no
 * decomposition.
 *
 * @example
 * ```ts
 * const lowered = lowerToOnnx(graph, { runtime: 'ort', ep: 'cpu' });
 * const bytes = encodeModel(lowered);
 * ```
 */
export function lowerToOnnx(graph: Graph, target: Target): Graph {
  const ctx = loweringContext(target);
  const g = cloneGraph(graph);
  // Initializers no node reads at the end are dropped — ones lowering left unread (e.g. packed int4
  // weights a Q/DQ form re-encoded) and ones a lowering made but did not use — except those the
  // model already carried unread.
  const unreadBefore = new Set([...g.initializers.values()].filter((v) => v.uses.length === 0));
  const tried = new Set<Node>();
  for (let round = 0; ; round++) {
    let pending = false;
    const missing = new Set<string>();
    for (const sub of graphsOf(g)) {
      for (const node of [...sub.nodes]) {
        if (tried.has(node) || !formsFor(node.domain, node.op, target).length) continue;
        tried.add(node);
        const c = chooseForm(node, ctx);
        if (!c.form && normalizeDomain(node.domain) !== LEANFORMER) continue; // a standard op no form takes stays as it is
        if (!c.form) {
          const last = c.skipped[c.skipped.length - 1];
          if (last && last.form !== REFERENCE_FORM_NAME) {
            throw new LeanformerError('LOWERING_FAILED', `${node.describe()} cannot be lowered for ${ctx.targetName}: form '${last.form}': ${last.reason}`,
              { details: { op: `${normalizeDomain(node.domain)}::${node.op}`, target: ctx.targetName, skipped: c.skipped } });
          }
          missing.add(node.op);
          continue;
        }
        c.form.lower(node, ctx);
        if (sub.nodes.includes(node)) throw new LeanformerError('LOWERING_FAILED', `${node.describe()}: lowering form '${c.form.name}' applied but left the node in place (a form must replace its node)`);
        pending = true;
      }
    }
    if (missing.size) {
      const ops = [...missing];
      throw new LeanformerError('LOWERING_FAILED',
        `No ONNX lowering or reference decomposition for leanformer op${ops.length > 1 ? 's' : ''} ${ops.join(', ')} on target ${ctx.targetName}; register one with registerOnnxLowering (@leanformer/onnx) or registerDecomposition (@leanformer/core)`,
        { details: { ops, target: ctx.targetName } });
    }
    if (!pending) break;
    if (round >= 16) throw new LeanformerError('LOWERING_FAILED', `lowerToOnnx(${ctx.targetName}): leanformer ops keep reappearing after 16 rounds of lowering (a lowering emits its own op?)`);
  }
  for (const v of [...g.initializers.values()]) if (v.uses.length === 0 && !v.isGraphOutput && !unreadBefore.has(v)) g.removeInitializer(v);
  fixOpsets(g);
  return g;
}

/** How one node would be lowered: the form it takes and why each earlier form was passed over. */
export interface NodeLowering {
  /** Node name (or `op#index` for unnamed nodes). */
  readonly node: string;
  /** `domain::op`. */
  readonly op: string;
  /** The chosen form, or null when lowering would fail (then `refusal` says why). */
  readonly form: string | null;
  readonly skipped: readonly SkippedForm[];
  readonly refusal?: string;
}

/**
 * For each node of `graph` (subgraphs and functions included) that the capability table lowers on
 * `target` — every leanformer op — the form {@link lowerToOnnx} picks for it and why each earlier
 * form did not apply. Reads the graph as it is: forms that emit further leanformer ops (lowered in
 * a later round) are not followed.
 *
 * @example
 * ```ts
 * explainLowering(graph, 'ort-tensorrt');
 * // [{ node: 'layer0_q', op: 'leanformer::QMatMul', form: 'qdq', skipped: [] }, …]
 * ```
 */
export function explainLowering(graph: Graph, target: Target | TargetName): NodeLowering[] {
  const ctx = loweringContext(typeof target === 'string' ? parseTarget(target) : target);
  const out: NodeLowering[] = [];
  for (const sub of graphsOf(graph)) {
    sub.nodes.forEach((node, i) => {
      if (!formsFor(node.domain, node.op, ctx.target).length) return;
      const c = chooseForm(node, ctx);
      out.push({
        node: node.name || `${node.op}#${i}`, op: `${normalizeDomain(node.domain)}::${node.op}`, form: c.form?.name ?? null, skipped: c.skipped,
        ...(c.refusal !== undefined ? { refusal: c.refusal } : {}),
      });
    });
  }
  return out;
}

/** Opset imports: every domain used gets one (keeping versions already set); unused leanformer goes. */
function fixOpsets(g: Graph): void {
  const used = new Set<string>();
  for (const s of graphsOf(g)) for (const n of s.nodes) used.add(normalizeDomain(n.domain));
  if (!used.has(LEANFORMER)) g.opsets.delete(LEANFORMER);
  if (!g.opsets.has('')) g.opsets.set('', 21);
  for (const d of used) if (!g.opsets.has(d)) g.opsets.set(d, d === 'ai.onnx.ml' ? 5 : 1);
}
