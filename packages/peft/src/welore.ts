// WeLore (Jaiswal et al. 2024): low-rank structure emerges non-uniformly across weight matrices.
// Each matrix's singular-value spectrum, normalised by its largest value, is cut at one global
// threshold τ, chosen so the target matrices lose the requested fraction of parameters. Matrices
// whose spectrum has a heavy tail of small values get a small rank and are factorised W ≈ A·B
// (the low-rank components, LRCs, which are fine-tuned); the others (N-LRCs), where a factorisation
// would not save parameters, stay dense and frozen.

import { cloneGraph, GraphBuilder, LeanformerError, Tensor, type Graph, type Pass } from '@leanformer/core';
import { svd, type Svd } from './linalg.js';
import { resolveNaming, selectModules, type ModuleNaming, type TargetModules } from './naming.js';

/** Options of {@link welorePlan} and {@link weloreCompress}. */
export interface WeloreOptions {
  readonly targetModules: TargetModules;
  readonly naming?: ModuleNaming | 'llama' | 'bert';
  /** Fraction of the target matrices' parameters to remove, in (0, 1) (e.g. 0.5). */
  readonly compression: number;
}

/** The rank decision for one matrix. */
export interface WeloreModulePlan {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Kept rank (singular values ≥ τ·σ₁). */
  readonly rank: number;
  /** True for a low-rank component (factorised, fine-tuned); false for an N-LRC (dense, frozen). */
  readonly lowRank: boolean;
}

/** Ranks for every target matrix and the compression they reach. */
export interface WelorePlan {
  /** The global normalised singular-value threshold. */
  readonly threshold: number;
  readonly modules: ReadonlyMap<string, WeloreModulePlan>;
  /** 1 − parameters after / parameters before, over the target matrices. */
  readonly compression: number;
  /** @internal SVDs, reused by weloreCompress. */
  readonly svds: ReadonlyMap<string, Svd>;
}

function planAt(tau: number, entries: { module: string; inF: number; outF: number; s: Float64Array }[]): { modules: Map<string, WeloreModulePlan>; after: number } {
  const modules = new Map<string, WeloreModulePlan>();
  let after = 0;
  for (const e of entries) {
    const s1 = e.s[0]! || 1;
    let rank = 0;
    while (rank < e.s.length && e.s[rank]! / s1 >= tau) rank++;
    rank = Math.max(rank, 1);
    const lowRank = rank * (e.inF + e.outF) < e.inF * e.outF;
    after += lowRank ? rank * (e.inF + e.outF) : e.inF * e.outF;
    modules.set(e.module, { inFeatures: e.inF, outFeatures: e.outF, rank, lowRank });
  }
  return { modules, after };
}

/**
 * SVD of every target matrix and the global threshold that reaches `compression` (the smallest
 * cut, i.e. the most singular values kept, that removes at least that fraction of parameters).
 *
 * @example
 * ```ts
 * const plan = welorePlan(graph, { targetModules: 'all-linear', compression: 0.5 });
 * ```
 */
export function welorePlan(graph: Graph, o: WeloreOptions): WelorePlan {
  if (!(o.compression > 0 && o.compression < 1)) throw new LeanformerError('INVALID_ARGUMENT', `welore: compression must be in (0, 1), got ${o.compression}`);
  const mods = selectModules(graph, o.targetModules, resolveNaming(o.naming), 'welore');
  const svds = new Map<string, Svd>();
  const entries = mods.map((m) => {
    const d = svd(m.weight.const!.toFloat32(), m.inFeatures, m.outFeatures);
    svds.set(m.module, d);
    return { module: m.module, inF: m.inFeatures, outF: m.outFeatures, s: d.S };
  });
  const before = entries.reduce((s, e) => s + e.inF * e.outF, 0);
  const need = before * (1 - o.compression);
  // Compression grows with τ; bisect for the smallest τ that reaches the target.
  let lo = 0, hi = 1;
  if (planAt(hi, entries).after > need) {
    const best = planAt(hi, entries);
    throw new LeanformerError('INVALID_ARGUMENT', `welore: compression ${o.compression} is out of reach; rank 1 everywhere removes ${(1 - best.after / before).toFixed(3)}`);
  }
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    if (planAt(mid, entries).after <= need) hi = mid; else lo = mid;
  }
  const { modules, after } = planAt(hi, entries);
  return { threshold: hi, modules, compression: 1 - after / before, svds };
}

/** Initializer names of a factorised matrix. */
export function weloreParamNames(module: string): { A: string; B: string } {
  return { A: `${module}.welore_A`, B: `${module}.welore_B` };
}

/**
 * The graph rewrite: each low-rank component `MatMul(x, W)` becomes `MatMul(MatMul(x, A), B)` with
 * `A = U_k·√S_k` `[in, k]` and `B = √S_k·V_kᵀ` `[k, out]`; N-LRCs are left as they are. Returns
 * the compressed graph, the plan, and the LRC factor names (what WeLore fine-tunes).
 *
 * @example
 * ```ts
 * const { graph: small, trainable, plan } = weloreCompress(graph, { targetModules: 'all-linear', compression: 0.5 });
 * ```
 */
export function weloreCompress(graph: Graph, o: WeloreOptions | (WeloreOptions & { plan: WelorePlan })): { graph: Graph; plan: WelorePlan; trainable: string[] } {
  const plan = 'plan' in o ? o.plan : welorePlan(graph, o);
  const g = cloneGraph(graph);
  const mods = new Map(selectModules(g, o.targetModules, resolveNaming(o.naming), 'weloreCompress').map((m) => [m.module, m]));
  const trainable: string[] = [];
  for (const [module, p] of plan.modules) {
    if (!p.lowRank) continue;
    const m = mods.get(module)!;
    const d = plan.svds.get(module)!;
    const k = p.rank, K = d.k;
    const A = new Float32Array(p.inFeatures * k), B = new Float32Array(k * p.outFeatures);
    for (let j = 0; j < k; j++) {
      const r = Math.sqrt(d.S[j]!);
      for (let i = 0; i < p.inFeatures; i++) A[i * k + j] = d.U[i * K + j]! * r;
      for (let i = 0; i < p.outFeatures; i++) B[j * p.outFeatures + i] = d.V[i * K + j]! * r;
    }
    const names = weloreParamNames(module);
    const b = GraphBuilder.editing(g, m.node);
    const y = b.matmul(b.matmul(m.node.input(0), b.param(names.A, new Tensor('float32', [p.inFeatures, k], A))), b.param(names.B, new Tensor('float32', [k, p.outFeatures], B)));
    g.replaceNode(m.node, [y]);
    if (!m.weight.uses.length) g.removeInitializer(m.weight);
    trainable.push(names.A, names.B);
  }
  return { graph: g, plan, trainable };
}

/**
 * {@link weloreCompress} as a `Pass`: returns the compressed copy; `modified` is true when the plan
 * factorises at least one matrix. Without `plan`, each run plans on the graph it is given.
 *
 * @example
 * ```ts
 * const pm = new PassManager([weloreCompressPass({ targetModules: 'all-linear', compression: 0.5 }), deadCodeElimination()]);
 * const { graph: small } = pm.run(graph);
 * ```
 */
export function weloreCompressPass(options: WeloreOptions | (WeloreOptions & { plan: WelorePlan })): Pass {
  return {
    name: 'welore-compress',
    run(graph) {
      const { graph: g, plan } = weloreCompress(graph, options);
      return { graph: g, modified: [...plan.modules.values()].some((m) => m.lowRank) };
    },
  };
}
