// Graph edits shared by LoRA injection and the hot-swap graph (internal: not re-exported by the index).
import { GraphBuilder, type Graph, type Node, type Value } from '@leanformer/core';

/**
 * Inserts `make(b)`'s result as `y + make(b)` right after `node` (whose output is `y`), moving
 * every use of `y` (and its graph-output slot and name) to the sum.
 */
export function addAfter(g: Graph, node: Node, make: (b: GraphBuilder) => Value): Value {
  const y = node.output(0);
  const uses = [...y.uses];
  const outSlot = g.outputs.indexOf(y);
  const next = g.nodes[g.nodes.indexOf(node) + 1];
  const b = GraphBuilder.editing(g, next);
  const sum = b.add(y, make(b));
  for (const u of uses) u.node.setInput(u.index, sum);
  if (outSlot >= 0) {
    const name = y.name;
    y.name = g.uniqueName(`${name}_base`);
    g.setOutput(outSlot, sum);
    sum.name = name;
  }
  return sum;
}
