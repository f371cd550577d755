// Test support (not part of the package's entries): runs a small graph node by node with core's
// reference kernels (evaluateNode), for tests that need a graph's outputs without a runtime.
import type { Graph, Value } from '../ir/graph.js';
import type { Tensor } from '../tensor.js';
import { evaluateNode } from './evaluate.js';

/** The graph's outputs, in order. Throws naming the first node no reference kernel ran. Tiny sizes only. */
export function runReference(g: Graph, feeds: Record<string, Tensor>): Tensor[] {
  const env = new Map<Value, Tensor>();
  for (const v of g.initializers.values()) env.set(v, v.const!);
  for (const v of g.inputs) if (feeds[v.name]) env.set(v, feeds[v.name]!);
  for (const n of g.nodes) {
    const outs = evaluateNode(n, n.inputs.map((v) => (v ? env.get(v) : undefined)), g.opsets.get('') ?? 21, { maxElements: 1 << 22 });
    if (!outs) throw new Error(`no reference kernel ran ${n.describe()}`);
    n.outputs.forEach((o, i) => o && env.set(o, outs[i]!));
  }
  return g.outputs.map((o) => env.get(o)!);
}
