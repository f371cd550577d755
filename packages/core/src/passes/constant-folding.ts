import { evaluateNode } from '../ops/evaluate.js';
import type { Graph, Node, Value } from '../ir/graph.js';
import { Tensor } from '../tensor.js';
import type { Pass, PassContext } from './pass.js';
import { constantOf } from './pattern-rewrite.js';
import { allGraphs, hasSubgraphs, isNondeterministic } from './util.js';

/** Options of {@link constantFolding}. */
export interface ConstantFoldingOptions {
  /** Largest folded output, in elements (default 1,048,576); larger results stay computed at run time. */
  readonly maxElements?: number;
  /** Fold `Shape` / `Size` of values whose shape is fully static (default true). */
  readonly foldShapes?: boolean;
}

/**
 * Replaces nodes whose inputs are all constant (initializers, Constant nodes, or values folded
 * earlier in the same run) by initializers holding their results, computed with the reference
 * kernels of `evaluateNode` (float64 arithmetic, cast to the output dtype). With `foldShapes`,
 * `Shape`/`Size` of statically shaped values fold too. Left alone: non-default domains,
 * non-deterministic ops, nodes with subgraphs, ops the evaluator does not implement, results
 * over `maxElements`, and nodes whose outputs are graph outputs (an initializer cannot keep the
 * output's role portably). Inputs that become unused are left for {@link deadCodeElimination}.
 * Nodes are visited in list order, so run {@link topologicalSort} first on unsorted graphs.
 *
 * @example
 * ```ts
 * new PassManager([constantFolding(), deadCodeElimination()]).run(graph);
 * ```
 */
export function constantFolding(options: ConstantFoldingOptions = {}): Pass {
  const maxElements = options.maxElements ?? 1 << 20;
  const foldShapes = options.foldShapes ?? true;
  return {
    name: 'constant-folding',
    run(graph, ctx) {
      let root = graph;
      while (root.parent) root = root.parent;
      const opset = root.opsets.get('') ?? 21;
      let modified = false;
      for (const g of allGraphs(graph)) modified = foldGraph(g, opset, maxElements, foldShapes, ctx) || modified;
      return { graph, modified };
    },
  };
}

function foldGraph(graph: Graph, opset: number, maxElements: number, foldShapes: boolean, ctx: PassContext): boolean {
  let modified = false;
  for (const node of [...graph.nodes]) {
    if (node.domain !== '' || isNondeterministic(node) || hasSubgraphs(node)) continue;
    if (node.outputs.some((v) => v && graph.outputs.includes(v))) continue;
    const results = (foldShapes ? shapeOf(node) : undefined) ?? evaluate(node, opset, maxElements);
    if (!results) continue;
    if (results.length < node.outputs.filter((v) => v).length) continue;
    const outs = node.outputs;
    graph.removeNode(node, true);
    outs.forEach((v, i) => {
      // Outputs nobody reads were dropped with the node; the others become initializers.
      if (v && graph.lookup(v.name) === v) graph.setInitializer(v, results[i]!);
    });
    ctx.log?.(`constant-folding: folded ${node.describe()}`);
    modified = true;
  }
  return modified;
}

function evaluate(node: Node, opset: number, maxElements: number): Tensor[] | undefined {
  const inputs: (Tensor | undefined)[] = [];
  for (const v of node.inputs) {
    if (!v) { inputs.push(undefined); continue; }
    const t = constantOf(v);
    if (!t) return undefined;
    inputs.push(t);
  }
  return evaluateNode(node, inputs, opset, { maxElements });
}

/** Shape/Size of a statically shaped input, without its data. */
function shapeOf(node: Node): Tensor[] | undefined {
  if (node.op !== 'Shape' && node.op !== 'Size') return undefined;
  const x: Value | null | undefined = node.inputs[0];
  const shape = x?.shape;
  if (!shape || !shape.every((d): d is number => typeof d === 'number')) return undefined;
  if (node.op === 'Size') return [Tensor.from('int64', [], [BigInt(shape.reduce((a, b) => a * b, 1))])];
  const r = shape.length;
  const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + r : i, 0), r);
  const start = clamp(Number(node.attr<number | bigint>('start', 0)));
  const end = clamp(Number(node.attr<number | bigint>('end', r)));
  const dims = shape.slice(start, Math.max(start, end));
  return [Tensor.from('int64', [dims.length], dims.map((d) => BigInt(d)))];
}
