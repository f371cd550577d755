// PaCA (Partial Connection Adaptation): fine-tune a subset of each target weight's input
// connections in place — rows of our [in, out] weight, columns of torch's [out, in] — with no
// adapter layers. While training, a selected layer is a leanformer.PaCALinear node whose P holds
// the trainable rows; exporting writes P back into W, giving a plain base model.

import { cloneGraph, ensurePaCALinearSchema, GraphBuilder, LeanformerError, rng, Tensor, weightsAsInitializers, type Graph, type Value } from '@leanformer/core';
import { findLinearModules, resolveNaming, selectModules, withInitializerWeights, type ModuleNaming, type TargetModules } from './naming.js';

/** Options of {@link selectPartialConnections}. */
export interface PacaSelectOptions {
  readonly targetModules: TargetModules;
  readonly naming?: ModuleNaming | 'llama' | 'bert';
  /** Rows (input connections) trained per target matrix. Give this or `ratio`. */
  readonly k?: number;
  /** Fraction of each matrix's input connections (rounded, at least 1). */
  readonly ratio?: number;
  /**
   * 'random' (seeded, the paper's choice) or 'norm': the connections whose weight rows have
   * the largest L2 norm (the strongest existing input connections). Default 'random'.
   */
  readonly criterion?: 'random' | 'norm';
  readonly seed?: number;
}

/** Which input connections of which modules PaCA trains: sorted distinct row indices per module. */
export type PacaSelection = ReadonlyMap<string, Int32Array>;

/**
 * Chooses the partial connections of each target matrix.
 *
 * @example
 * ```ts
 * const sel = selectPartialConnections(graph, { targetModules: 'all-linear', k: 16, seed: 0 });
 * ```
 */
export function selectPartialConnections(graph: Graph, o: PacaSelectOptions): PacaSelection {
  const mods = selectModules(withInitializerWeights(graph), o.targetModules, resolveNaming(o.naming), 'selectPartialConnections');
  const r = rng(o.seed ?? 0);
  const out = new Map<string, Int32Array>();
  for (const m of mods) {
    const inF = m.inFeatures;
    let k: number;
    if (o.k !== undefined) k = o.k;
    else if (o.ratio !== undefined) {
      if (!(o.ratio > 0 && o.ratio <= 1)) throw new LeanformerError('INVALID_ARGUMENT', `selectPartialConnections: ratio must be in (0, 1], got ${o.ratio}`);
      k = Math.max(1, Math.round(o.ratio * inF));
    } else throw new LeanformerError('INVALID_ARGUMENT', 'selectPartialConnections: give k or ratio');
    if (!Number.isInteger(k) || k < 1 || k > inF) throw new LeanformerError('INVALID_ARGUMENT', `selectPartialConnections: k must be an integer in [1, ${inF}] for '${m.module}', got ${k}`);
    let order: number[];
    const crit = o.criterion ?? 'random';
    if (crit === 'random') {
      order = Array.from({ length: inF }, (_, i) => i);
      for (let i = inF - 1; i > 0; i--) { const j = Math.floor(r.uniform() * (i + 1)); [order[i], order[j]] = [order[j]!, order[i]!]; }
    } else if (crit === 'norm') {
      const w = m.weight.const!.toFloat32();
      const outF = m.outFeatures;
      const norms = Array.from({ length: inF }, (_, i) => { let s = 0; for (let j = 0; j < outF; j++) s += w[i * outF + j]! ** 2; return s; });
      order = norms.map((_, i) => i).sort((a, b) => norms[b]! - norms[a]! || a - b);
    } else throw new LeanformerError('INVALID_ARGUMENT', `selectPartialConnections: criterion must be 'random' or 'norm', got '${String(crit)}'`);
    out.set(m.module, Int32Array.from(order.slice(0, k)).sort());
  }
  return out;
}

/** Initializer names of a PaCA layer's trainable rows and their indices. */
export function pacaParamNames(module: string): { P: string; idx: string } {
  return { P: `${module}.paca_P`, idx: `${module}.paca_idx` };
}

/**
 * A copy of `graph` where each selected layer is a `leanformer.PaCALinear` node; its `P`
 * initializer (the selected rows of W, `[k, out]`) is what to train.
 *
 * @example
 * ```ts
 * const { graph: g, trainable } = injectPaca(graph, selectPartialConnections(graph, { targetModules: 'all-linear', k: 8 }));
 * const { weights } = await train(g, { trainable, ... });
 * const tuned = exportPaca(g, weights);
 * ```
 */
export function injectPaca(graph: Graph, selection: PacaSelection): { graph: Graph; trainable: string[] } {
  ensurePaCALinearSchema();
  const g = cloneGraph(graph);
  weightsAsInitializers(g);
  const byModule = new Map(findLinearModules(g).map((m) => [m.module, m]));
  const trainable: string[] = [];
  for (const [module, idx] of selection) {
    const m = byModule.get(module);
    if (!m) throw new LeanformerError('INVALID_ARGUMENT', `injectPaca: '${module}' is not a linear layer of graph '${graph.name}'`);
    const outF = m.outFeatures;
    const w = m.weight.const!.toFloat32();
    const p = new Float32Array(idx.length * outF);
    idx.forEach((r, j) => {
      if (!(r >= 0 && r < m.inFeatures)) throw new LeanformerError('INVALID_ARGUMENT', `injectPaca: '${module}' row ${r} is outside [0, ${m.inFeatures})`);
      p.set(w.subarray(r * outF, (r + 1) * outF), j * outF);
    });
    const names = pacaParamNames(module);
    const b = GraphBuilder.editing(g, m.node);
    const y = b.op('PaCALinear', [m.node.input(0), m.weight, b.param(names.idx, Tensor.from('int64', [idx.length], Array.from(idx, BigInt))), b.param(names.P, new Tensor('float32', [idx.length, outF], p))], {}, { domain: 'leanformer' });
    g.replaceNode(m.node, [y]);
    trainable.push(names.P);
  }
  return { graph: g, trainable };
}

/**
 * The PaCA-trained model as a plain base model: each PaCALinear becomes `MatMul(X, W')` with the
 * trained rows (`weights`, e.g. from `train`, else the graph's P) written into W.
 */
export function exportPaca(graph: Graph, weights: ReadonlyMap<string, Tensor> = new Map()): Graph {
  const g = cloneGraph(graph);
  for (const node of [...g.nodes]) {
    if (node.domain !== 'leanformer' || node.op !== 'PaCALinear') continue;
    const wv = node.input(1), idxV = node.input(2), pv = node.input(3);
    const base = wv.const, idxT = idxV.const;
    const P = weights.get(pv.name) ?? pv.const;
    if (!base || !idxT || !P) throw new LeanformerError('INVALID_GRAPH', `exportPaca: ${node.describe()} needs constant W, idx and P`);
    const [inF, outF] = base.shape as [number, number];
    const out = Float32Array.from(base.toFloat32());
    const pd = P.toFloat32();
    Array.from(idxT.toArray(), Number).forEach((r, j) => out.set(pd.subarray(j * outF, (j + 1) * outF), r * outF));
    const b = GraphBuilder.editing(g, node);
    const w = wv.uses.length === 1 ? wv : b.param(g.uniqueName(wv.name), base);
    g.setInitializer(w, new Tensor('float32', [inF, outF], out));
    const y = b.matmul(node.input(0), w);
    g.replaceNode(node, [y]);
    if (!pv.uses.length) g.removeInitializer(pv);
    if (!idxV.uses.length) g.removeInitializer(idxV);
  }
  return g;
}
