// A Backend over core's reference kernels (float64 `evaluateNode`), for calibrating and checking
// small models without a runtime: slow, exact, and available everywhere core runs.
// leanformer ops are decomposed first (the registered reference decompositions).
import {
  cloneGraph, decompose, ensureQGatherSchema, ensureQMatMulSchema, evaluateNode, LeanformerError,
  type Backend, type CompileOptions, type Executor, type Graph, type RunOptions, type Tensor, type Value,
} from '@leanformer/core';

/**
 * Runs IR graphs with the reference kernels. Meant for tests and tiny models (every op runs in
 * float64 JS).
 *
 * @example
 * ```ts
 * const exe = await new ReferenceBackend().compile(graph);
 * const { logits } = await exe.run({ input_ids });
 * ```
 */
export class ReferenceBackend implements Backend {
  readonly name = 'reference';
  /** Largest tensor (elements) a kernel may produce. */
  constructor(readonly maxElements = 1 << 24) {}

  async compile(graph: Graph, options: CompileOptions = {}): Promise<Executor> {
    ensureQMatMulSchema();
    ensureQGatherSchema();
    const g = cloneGraph(graph);
    decompose().run(g, {});
    const opset = g.opsets.get('') ?? 21;
    const maxElements = this.maxElements;
    const outputNames = options.fetches ?? g.outputs.map((v) => v.name);
    return {
      info: { backend: 'reference', device: 'cpu' },
      inputNames: g.inputs.filter((v) => !v.isInitializer).map((v) => v.name),
      outputNames,
      async run(feeds: Readonly<Record<string, Tensor>>, run: RunOptions = {}): Promise<Record<string, Tensor>> {
        const env = new Map<Value, Tensor>();
        for (const v of g.initializers.values()) env.set(v, v.const!);
        for (const v of g.inputs) {
          const t = feeds[v.name];
          if (t) env.set(v, t);
          else if (!v.isInitializer) throw new LeanformerError('INVALID_ARGUMENT', `missing feed for graph input '${v.name}'`);
        }
        for (const n of g.nodes) {
          const outs = evaluateNode(n, n.inputs.map((v) => (v ? env.get(v) : undefined)), opset, { maxElements });
          if (!outs) throw new LeanformerError('EXECUTION_FAILED', `reference backend has no kernel for ${n.describe()} (or it is too large)`);
          n.outputs.forEach((o, i) => { if (o) env.set(o, outs[i]!); });
        }
        const result: Record<string, Tensor> = {};
        for (const name of run.fetches ?? outputNames) {
          const v = g.lookup(name);
          const t = v && env.get(v);
          if (!t) throw new LeanformerError('INVALID_ARGUMENT', `reference backend: no value '${name}' was computed`);
          result[name] = t;
        }
        return result;
      },
      async dispose() {},
    };
  }
}
