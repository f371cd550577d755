// Calibration activations for the streaming pass, with memory bounded like the weights: the float
// model is evaluated node by node (core's reference kernels, as ReferenceBackend runs it) over all
// calibration feeds, only as far as the next layer's input; a value is dropped once every node
// reading it has run, and a lazily loaded initializer is released right after the node that read
// it. Peak memory: the live activations of every feed plus one weight. The statistics are fed to
// the same ActivationObserver as collectActivationStats, so with ReferenceBackend as the
// in-memory backend both paths see identical statistics and produce identical weights.
import { evaluateNode, LeanformerError, type Graph, type Node, type Tensor, type Value } from '@leanformer/core';
import { ActivationObserver, type ActivationStats } from '../calibration.js';
import { HessianAccumulator } from '../methods.js';

/** Streamed calibration input: the feeds (the float model runs on core's reference kernels). */
export interface StreamCalibration {
  /** One feed dictionary per batch, keyed by graph input name. */
  readonly feeds: readonly Readonly<Record<string, Tensor>>[];
  /** Rows kept per observed value for the scale searches (default 1024, as CalibrationData). */
  readonly maxRows?: number;
}

/**
 * Walks a float graph forward over calibration feeds, on demand. `stats(name)` runs the nodes
 * needed for `name` (never going back) and returns its statistics.
 *
 * @example
 * ```ts
 * const acts = new StreamedActivations(floatGraph, { feeds });
 * const s = acts.stats('h0', true); // rows, absMax, Hessian of the first layer's input
 * ```
 */
export class StreamedActivations {
  private readonly envs: Map<Value, Tensor>[];
  private readonly order = new Map<Node, number>();
  private next = 0;
  private readonly opset: number;

  constructor(private readonly graph: Graph, private readonly calib: StreamCalibration, private readonly maxElements = 1 << 24) {
    if (calib.feeds.length === 0) throw new LeanformerError('INVALID_ARGUMENT', 'calibration needs at least one feed (batch of inputs)');
    graph.nodes.forEach((n, i) => this.order.set(n, i));
    this.opset = graph.opsets.get('') ?? 21;
    this.envs = calib.feeds.map((feed) => {
      const env = new Map<Value, Tensor>();
      for (const v of graph.inputs) {
        const t = feed[v.name];
        if (t) env.set(v, t);
        else if (!v.isInitializer) throw new LeanformerError('INVALID_ARGUMENT', `missing calibration feed for graph input '${v.name}'`);
      }
      return env;
    });
  }

  /** Statistics of value `name` over all feeds (with the GPTQ Hessian when `hessian`). */
  stats(name: string, hessian: boolean): ActivationStats {
    const v = this.graph.lookup(name);
    if (!v) throw new LeanformerError('INVALID_ARGUMENT', `calibration: graph has no value named '${name}'`);
    while (!this.envs[0]!.has(v)) {
      if (this.next >= this.graph.nodes.length) throw new LeanformerError('EXECUTION_FAILED', `calibration: '${name}' was not computed (or was already released) walking the float model`);
      this.step();
    }
    const maxRows = this.calib.maxRows ?? 1024;
    const perBatch = Math.max(1, Math.ceil(maxRows / this.envs.length));
    let o: ActivationObserver | undefined;
    for (const env of this.envs) {
      const t = env.get(v)!;
      const K = t.shape[t.shape.length - 1] ?? 1;
      o ??= new ActivationObserver(K, perBatch, maxRows, hessian ? new HessianAccumulator(K) : undefined);
      if (o.K !== K) throw new LeanformerError('SHAPE_MISMATCH', `calibration: '${name}' changed its last dimension between batches (${o.K} → ${K})`);
      o.add(t.toFloat32());
    }
    return o!.stats();
  }

  private step(): void {
    const i = this.next++;
    const n = this.graph.nodes[i]!;
    for (const env of this.envs) {
      const outs = evaluateNode(n, n.inputs.map((v) => (v ? env.get(v) ?? v.const : undefined)), this.opset, { maxElements: this.maxElements });
      if (!outs) throw new LeanformerError('EXECUTION_FAILED', `streamed calibration has no reference kernel for ${n.describe()} (or it is too large); quantize without --stream or with a calibration-free method`);
      n.outputs.forEach((o, j) => { if (o) env.set(o, outs[j]!); });
    }
    // Drop what no later node reads; release lazily loaded weights (they reload if read again).
    for (const v of n.inputs) {
      if (!v || v.isGraphOutput || v.uses.some((u) => (this.order.get(u.node) ?? -1) > i)) continue;
      if (v.isInitializer) { if (v.const!.lazySource) v.const!.release(); continue; }
      for (const env of this.envs) env.delete(v);
    }
  }
}
