// The tfjs kernel this package adds: leanformer.PaCALinear with PaCA's memory-saving backward.

import { ensurePaCALinearSchema } from '@leanformer/core';
import { getKernel, registerBuiltinKernels, registerKernel, type KernelContext } from '@leanformer/runtime-tfjs';
import type * as tfc from '@tensorflow/tfjs-core';

/**
 * PaCALinear on tfjs. Inference: `X · W'`. Training: a custom gradient whose forward keeps only
 * `X[..., idx]` (k of `in` input features) for the backward pass, which computes
 * `dX = dY · W'ᵀ` and `dP = X[..., idx]ᵀ · dY` — no adapter matmuls, and no full weight gradient.
 * W' (W with rows idx replaced by P) is rebuilt in the backward pass rather than kept.
 */
function pacaKernel(ctx: KernelContext): tfc.Tensor {
  const { tf } = ctx;
  const x = ctx.t(0);
  const w = ctx.t(1);
  const idx = ctx.ints(2);
  const p = ctx.t(3);
  if (!idx) ctx.fail('idx is required');
  const [inF, outF] = w.shape as [number, number];
  const seen = new Set<number>();
  idx.forEach((r, j) => {
    if (!(Number.isInteger(r) && r >= 0 && r < inF)) ctx.fail(`idx[${j}] = ${r} is outside [0, ${inF})`);
    if (seen.has(r)) ctx.fail(`idx holds row ${r} twice; rows must be distinct`);
    seen.add(r);
  });
  // W' as row blocks of W and P joined by one concat (contiguous copies; a per-element gather is
  // several times slower on tfjs-cpu). Rebuilt in the backward pass instead of being kept.
  const order = Array.from(idx.keys()).sort((a, b) => idx[a]! - idx[b]!);
  const weff = (pp: tfc.Tensor) => tf.tidy(() => {
    const parts: tfc.Tensor[] = [];
    let next = 0;
    for (const j of order) {
      const r = idx[j]!;
      if (r > next) parts.push(tf.slice(w, [next, 0], [r - next, outF]));
      parts.push(tf.slice(pp, [j, 0], [1, outF]));
      next = r + 1;
    }
    if (next < inF) parts.push(tf.slice(w, [next, 0], [inF - next, outF]));
    return parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
  });
  const lead = x.shape.slice(0, -1);
  if (!ctx.training) return tf.tidy(() => tf.reshape(tf.matMul(tf.reshape(x, [-1, inF]), weff(p)), [...lead, outF]));
  const f = tf.customGrad(((xx: tfc.Tensor, pp: tfc.Tensor, save: (t: tfc.Tensor[]) => void) => {
    const x2 = tf.reshape(xx, [-1, inF]);
    save([tf.gather(x2, tf.tensor1d(Int32Array.from(idx), 'int32'), 1)]);
    const value = tf.reshape(tf.matMul(x2, weff(pp)), [...lead, outF]);
    return {
      value,
      gradFunc: (dy: tfc.Tensor, saved: tfc.Tensor[]) => {
        const dy2 = tf.reshape(dy, [-1, outF]);
        const dx = tf.reshape(tf.matMul(dy2, weff(pp), false, true), xx.shape);
        const dp = tf.matMul(saved[0]!, dy2, true, false);
        return [dx, dp];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, p) as tfc.Tensor;
}

/**
 * Registers the tfjs kernel of leanformer.PaCALinear (idempotent; skipped when another package
 * registered one). Called by finetune; call it before training a PaCA graph with runtime-tfjs directly.
 */
export function registerPeftKernels(): void {
  ensurePaCALinearSchema();
  registerBuiltinKernels();
  if (!getKernel('leanformer', 'PaCALinear')) registerKernel('PaCALinear', pacaKernel, 'leanformer');
}
