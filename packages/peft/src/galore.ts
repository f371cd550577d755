// GaLore (Zhao et al. 2024): Adam in a low-rank subspace of each weight matrix's gradient.
// Every `updateProjGap` steps, P = the top-r singular vectors of the current gradient G (left
// ones when in ≤ out, else right ones); the optimizer keeps moments for R = PᵀG (or G·Q) only and
// updates W −= lr·scale·P·Adam(R). Other parameters get plain AdamW.

import { LeanformerError } from '@leanformer/core';
import type { AdamWConfig, Optimizer } from '@leanformer/runtime-tfjs';
import type * as tfc from '@tensorflow/tfjs-core';
import { svd } from './linalg.js';

/** Options of {@link GaLoreAdamW}. */
export interface GaLoreConfig {
  readonly lr: number;
  /** Projection rank r. */
  readonly rank: number;
  /** Steps between subspace refreshes T (default 200, the paper's). */
  readonly updateProjGap?: number;
  /** Scale α of the projected-back update (default 0.25, the paper's). */
  readonly scale?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  /** Decoupled weight decay (default 0). */
  readonly weightDecay?: number;
  /** Which variables are projected (default: every 2-D variable with both dims > rank). */
  readonly project?: (name: string, shape: readonly number[]) => boolean;
}

/**
 * GaLore's AdamW as a runtime-tfjs {@link Optimizer} (checkpointable state: `m/…`, `v/…` and the
 * projections `proj/…`).
 *
 * @example
 * ```ts
 * const opt = new GaLoreAdamW(tf, { lr: 1e-2, rank: 4, updateProjGap: 50 });
 * opt.apply(trainer.compiled.variables, grads, 1e-2);
 * ```
 */
export class GaLoreAdamW implements Optimizer {
  readonly config: AdamWConfig;
  step = 0;
  private readonly m = new Map<string, tfc.Variable>();
  private readonly v = new Map<string, tfc.Variable>();
  private readonly proj = new Map<string, { P: tfc.Tensor; left: boolean }>();

  constructor(private readonly tf: typeof tfc, readonly galore: GaLoreConfig) {
    if (!Number.isInteger(galore.rank) || galore.rank < 1) throw new LeanformerError('INVALID_ARGUMENT', `GaLore: rank must be a positive integer, got ${galore.rank}`);
    const gap = galore.updateProjGap ?? 200;
    if (!Number.isInteger(gap) || gap < 1) throw new LeanformerError('INVALID_ARGUMENT', `GaLore: updateProjGap must be a positive integer, got ${gap}`);
    if (!(galore.lr >= 0)) throw new LeanformerError('INVALID_ARGUMENT', `GaLore: lr must be a non-negative number, got ${galore.lr}`);
    this.config = { type: 'adamw', lr: galore.lr, beta1: galore.beta1, beta2: galore.beta2, eps: galore.eps, weightDecay: galore.weightDecay ?? 0 };
  }

  private projected(name: string, shape: readonly number[]): boolean {
    if (this.galore.project) return this.galore.project(name, shape);
    return shape.length === 2 && Math.min(shape[0]!, shape[1]!) > this.galore.rank;
  }

  /** The projection of `name` from gradient `g` ([in, out]): top-r left (in ≤ out) or right singular vectors. */
  private refresh(name: string, g: tfc.Tensor): void {
    const [inF, outF] = g.shape as [number, number];
    const { U, V, k } = svd(g.dataSync() as Float32Array, inF, outF);
    const r = Math.min(this.galore.rank, k);
    const left = inF <= outF;
    const rows = left ? inF : outF;
    const src = left ? U : V;
    const P = new Float32Array(rows * r);
    for (let i = 0; i < rows; i++) for (let j = 0; j < r; j++) P[i * r + j] = src[i * k + j]!;
    this.proj.get(name)?.P.dispose();
    this.proj.set(name, { P: this.tf.keep(this.tf.tensor2d(P, [rows, r])), left });
  }

  private slot(map: Map<string, tfc.Variable>, name: string, shape: readonly number[]): tfc.Variable {
    let s = map.get(name);
    if (!s) { s = this.tf.variable(this.tf.zeros([...shape]), false); map.set(name, s); }
    return s;
  }

  apply(vars: ReadonlyMap<string, tfc.Variable>, grads: ReadonlyMap<string, tfc.Tensor>, lr: number): void {
    const { tf } = this;
    const b1 = this.galore.beta1 ?? 0.9, b2 = this.galore.beta2 ?? 0.999, eps = this.galore.eps ?? 1e-8;
    const wd = this.galore.weightDecay ?? 0;
    const gap = this.galore.updateProjGap ?? 200;
    const scale = this.galore.scale ?? 0.25;
    const refreshNow = this.step % gap === 0;
    this.step++;
    const c1 = 1 - b1 ** this.step, c2 = 1 - b2 ** this.step;
    for (const [name, p] of vars) {
      const g = grads.get(name);
      if (!g) continue;
      const low = this.projected(name, p.shape);
      if (low && (refreshNow || !this.proj.has(name))) this.refresh(name, g);
      const pr = low ? this.proj.get(name)! : undefined;
      tf.tidy(() => {
        // R = Pᵀ·G (left) or G·Q (right): the gradient in the subspace.
        const R = pr ? (pr.left ? tf.matMul(pr.P, g, true, false) : tf.matMul(g, pr.P)) : g;
        const m = this.slot(this.m, name, R.shape), v = this.slot(this.v, name, R.shape);
        m.assign(tf.add(tf.mul(m, b1), tf.mul(R, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(R), 1 - b2)));
        const n = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        const update = pr ? tf.mul(pr.left ? tf.matMul(pr.P, n) : tf.matMul(n, pr.P, false, true), scale) : n;
        const decayed = wd ? tf.mul(p, 1 - lr * wd) : p;
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      });
    }
  }

  /** Number of float elements of optimizer state (moments and projections). */
  stateElements(): number {
    let n = 0;
    for (const t of [...this.m.values(), ...this.v.values()]) n += t.size;
    for (const { P } of this.proj.values()) n += P.size;
    return n;
  }

  state(): Map<string, tfc.Tensor> {
    const out = new Map<string, tfc.Tensor>();
    for (const [k, t] of this.m) out.set(`m/${k}`, t);
    for (const [k, t] of this.v) out.set(`v/${k}`, t);
    for (const [k, { P, left }] of this.proj) out.set(`${left ? 'projL' : 'projR'}/${k}`, P);
    return out;
  }

  restore(state: ReadonlyMap<string, tfc.Tensor>, step: number): void {
    for (const [key, t] of state) {
      const i = key.indexOf('/');
      const kind = key.slice(0, i), name = key.slice(i + 1);
      if (kind === 'm' || kind === 'v') this.slot(kind === 'm' ? this.m : this.v, name, t.shape).assign(t);
      else if (kind === 'projL' || kind === 'projR') {
        this.proj.get(name)?.P.dispose();
        this.proj.set(name, { P: this.tf.keep(this.tf.clone(t)), left: kind === 'projL' });
      } else throw new LeanformerError('INVALID_ARGUMENT', `GaLore state key '${key}' is not m/, v/, projL/ or projR/`);
    }
    this.step = step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    for (const { P } of this.proj.values()) P.dispose();
    this.m.clear(); this.v.clear(); this.proj.clear();
  }
}
