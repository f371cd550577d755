// Optimizers over tfjs variables, written out (not tf.train.*) so that weight decay is
// decoupled (AdamW), momentum follows PyTorch's SGD, and the state can be checkpointed by name.

import { LeanformerError } from '@leanformer/core';
import type * as tfc from '@tensorflow/tfjs-core';

/** AdamW (decoupled weight decay, Loshchilov & Hutter), PyTorch defaults. */
export interface AdamWConfig {
  readonly type: 'adamw';
  readonly lr: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  /** Decoupled weight decay (default 0.01, as torch.optim.AdamW). */
  readonly weightDecay?: number;
}

/** SGD with momentum as torch.optim.SGD: buf = μ·buf + (1−dampening)·g; step along buf (or g + μ·buf with Nesterov). */
export interface SgdConfig {
  readonly type: 'sgd';
  readonly lr: number;
  readonly momentum?: number;
  readonly dampening?: number;
  readonly nesterov?: boolean;
  /** L2 penalty added to the gradient (coupled, as torch SGD). */
  readonly weightDecay?: number;
}

/** Optimizer choice for {@link train}. */
export type OptimizerConfig = AdamWConfig | SgdConfig;

/** An optimizer with named state tensors (for checkpoints). */
export interface Optimizer {
  readonly config: OptimizerConfig;
  /** Steps taken so far. */
  readonly step: number;
  /** Applies one update with learning rate `lr` to `vars` given `grads` (same keys). */
  apply(vars: ReadonlyMap<string, tfc.Variable>, grads: ReadonlyMap<string, tfc.Tensor>, lr: number): void;
  /** State tensors by name (`<slot>/<variable>`), for checkpoints. */
  state(): Map<string, tfc.Tensor>;
  /** Restores state saved by `state()` and the step counter. */
  restore(state: ReadonlyMap<string, tfc.Tensor>, step: number): void;
  dispose(): void;
}

/**
 * Creates an optimizer from its config.
 *
 * @example
 * ```ts
 * const opt = createOptimizer(tf, { type: 'adamw', lr: 1e-3, weightDecay: 0 });
 * ```
 */
export function createOptimizer(tf: typeof tfc, config: OptimizerConfig): Optimizer {
  if (!(config.lr >= 0)) throw new LeanformerError('INVALID_ARGUMENT', `optimizer lr must be a non-negative number, got ${config.lr}`);
  if (config.type === 'adamw') return new AdamW(tf, config);
  if (config.type === 'sgd') return new Sgd(tf, config);
  throw new LeanformerError('INVALID_ARGUMENT', `unknown optimizer '${(config as { type: string }).type}'; allowed: adamw, sgd`);
}

abstract class Base implements Optimizer {
  protected slots = new Map<string, Map<string, tfc.Variable>>();
  step = 0;
  constructor(protected readonly tf: typeof tfc, readonly config: OptimizerConfig) {}
  abstract apply(vars: ReadonlyMap<string, tfc.Variable>, grads: ReadonlyMap<string, tfc.Tensor>, lr: number): void;

  protected slot(kind: string, name: string, like: tfc.Tensor): tfc.Variable {
    let m = this.slots.get(kind);
    if (!m) this.slots.set(kind, (m = new Map()));
    let v = m.get(name);
    if (!v) {
      const zeros = this.tf.zerosLike(like);
      v = this.tf.variable(zeros, false);
      zeros.dispose(); // the variable holds its own reference to the data

      m.set(name, v);
    }
    return v;
  }

  state(): Map<string, tfc.Tensor> {
    const out = new Map<string, tfc.Tensor>();
    for (const [kind, m] of this.slots) for (const [name, v] of m) out.set(`${kind}/${name}`, v);
    return out;
  }

  restore(state: ReadonlyMap<string, tfc.Tensor>, step: number): void {
    for (const [key, t] of state) {
      const i = key.indexOf('/');
      if (i < 0) throw new LeanformerError('INVALID_ARGUMENT', `optimizer state key '${key}' is not '<slot>/<variable>'`);
      this.slot(key.slice(0, i), key.slice(i + 1), t).assign(t);
    }
    this.step = step;
  }

  dispose(): void {
    for (const m of this.slots.values()) for (const v of m.values()) v.dispose();
    this.slots.clear();
  }
}

class AdamW extends Base {
  declare readonly config: AdamWConfig;
  apply(vars: ReadonlyMap<string, tfc.Variable>, grads: ReadonlyMap<string, tfc.Tensor>, lr: number): void {
    const { tf } = this;
    const b1 = this.config.beta1 ?? 0.9, b2 = this.config.beta2 ?? 0.999, eps = this.config.eps ?? 1e-8;
    const wd = this.config.weightDecay ?? 0.01;
    this.step++;
    const c1 = 1 - b1 ** this.step, c2 = 1 - b2 ** this.step;
    for (const [name, p] of vars) {
      const g = grads.get(name);
      if (!g) continue;
      const m = this.slot('m', name, p), v = this.slot('v', name, p);
      tf.tidy(() => {
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        const decayed = wd ? tf.mul(p, 1 - lr * wd) : p;
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      });
    }
  }
}

class Sgd extends Base {
  declare readonly config: SgdConfig;
  apply(vars: ReadonlyMap<string, tfc.Variable>, grads: ReadonlyMap<string, tfc.Tensor>, lr: number): void {
    const { tf } = this;
    const mu = this.config.momentum ?? 0, damp = this.config.dampening ?? 0, wd = this.config.weightDecay ?? 0;
    if (this.config.nesterov && (mu <= 0 || damp !== 0)) throw new LeanformerError('INVALID_ARGUMENT', 'Nesterov momentum needs momentum > 0 and dampening 0');
    this.step++;
    for (const [name, p] of vars) {
      const g0 = grads.get(name);
      if (!g0) continue;
      tf.tidy(() => {
        let g = wd ? tf.add(g0, tf.mul(p, wd)) : g0;
        if (mu) {
          // As torch: the buffer starts as the first gradient it sees.
          const first = !this.slots.get('momentum')?.has(name);
          const buf = this.slot('momentum', name, p);
          buf.assign(first ? g : tf.add(tf.mul(buf, mu), tf.mul(g, 1 - damp)));
          g = this.config.nesterov ? tf.add(g, tf.mul(buf, mu)) : buf;
        }
        p.assign(tf.sub(p, tf.mul(g, lr)));
      });
    }
  }
}
