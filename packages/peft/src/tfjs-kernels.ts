// The tfjs kernel this package adds: leanformer.PaCALinear with PaCA's cheap backward.

import { ensurePaCALinearSchema } from '@leanformer/core';
import { getKernel, registerBuiltinKernels, registerKernel, type KernelContext } from '@leanformer/runtime-tfjs';
import type * as tfc from '@tensorflow/tfjs-core';

/**
 * The tfjs-level op behind PaCALinear in training: inputs `x` `[T, in]` and `p` `[k, out]` (the
 * trained rows), attributes `idx` (k distinct rows) and `w` (the frozen `[in, out]` weight, held by
 * reference: it is a constant that outlives the step, and not being an input it is never
 * differentiated or cloned onto the tape); outputs `y = x·W'` and `xP = x[:, idx]`, where W' is W
 * with rows idx replaced by P. Its gradient is registered with tfjs so that each input's gradient
 * is computed only when the tape asks for it (a `tf.customGrad` computes all of them):
 * `dx = dy·W'ᵀ` only where something upstream is trained, and `dp = xPᵀ·dy` from the saved `xP`
 * (k of `in` input features; `x` itself is not kept).
 */
const PACA_MATMUL = 'LeanformerPaCAMatMul';

interface PacaAttrs { readonly idx: readonly number[]; readonly w: tfc.Tensor }

/**
 * W' = W with rows `idx` replaced by P, as a new tensor (W is left alone): on tfjs-cpu one copy of
 * W plus k row writes on the host arrays (`dataSync` there returns the backend's array, no
 * transfer), measured cheapest there. Other backends never build W' (see {@link pacaProduct}).
 */
function effectiveWeightCpu(tf: typeof tfc, w: tfc.Tensor, p: tfc.Tensor, idx: readonly number[]): tfc.Tensor {
  const [inF, outF] = w.shape as [number, number];
  const out = new Float32Array(w.dataSync() as Float32Array);
  const pd = p.dataSync() as Float32Array;
  idx.forEach((r, j) => out.set(pd.subarray(j * outF, (j + 1) * outF), r * outF));
  return tf.tensor2d(out, [inF, outF], 'float32');
}

/**
 * `x·W'` and, for the backward pass, `dy·W'ᵀ`. tfjs-cpu: through W' built on the host. Elsewhere
 * (webgpu, wasm) without building W', since W' = W + Sᵀ·(P − W[idx]): `x·W + x[:, idx]·(P − W[idx])`
 * and `dy·Wᵀ + (dy·(P − W[idx])ᵀ)·S` — the full matmul plus k-wide ones, all on the device.
 */
function pacaProduct(tf: typeof tfc, w: tfc.Tensor, p: tfc.Tensor, idx: readonly number[], a: tfc.Tensor, transposed: boolean, aP?: tfc.Tensor): tfc.Tensor {
  return tf.tidy(() => {
    if (tf.getBackend() === 'cpu') return tf.matMul(a, effectiveWeightCpu(tf, w, p, idx), false, transposed);
    const rows = tf.tensor1d(Int32Array.from(idx), 'int32');
    const delta = tf.sub(p, tf.gather(w, rows, 0)); // [k, out]
    if (!transposed) return tf.add(tf.matMul(a, w), tf.matMul(aP ?? selectedInputs(tf, a, idx), delta));
    const select = tf.cast(tf.oneHot(rows, w.shape[0]!), 'float32'); // S [k, in]
    return tf.add(tf.matMul(a, w, false, true), tf.matMul(tf.matMul(a, delta, false, true), select));
  });
}

/** `x[:, idx]` of a 2-D `x`: on tfjs-cpu a host loop over the k columns, elsewhere `tf.gather`. */
function selectedInputs(tf: typeof tfc, x: tfc.Tensor, idx: readonly number[]): tfc.Tensor {
  const [T, inF] = x.shape as [number, number];
  if (tf.getBackend() !== 'cpu') return tf.gather(x, tf.tensor1d(Int32Array.from(idx), 'int32'), 1);
  const xd = x.dataSync() as Float32Array;
  const k = idx.length;
  const out = new Float32Array(T * k);
  for (let t = 0; t < T; t++) for (let j = 0; j < k; j++) out[t * k + j] = xd[t * inF + idx[j]!]!;
  return tf.tensor2d(out, [T, k], 'float32');
}

/** Registers the PaCA matmul for the active tfjs backend, and its gradient (once per process). */
function ensurePacaMatMul(tf: typeof tfc): void {
  const backendName = tf.getBackend();
  if (!tf.getKernel(PACA_MATMUL, backendName)) {
    tf.registerKernel({
      kernelName: PACA_MATMUL,
      backendName,
      // Runs below the tape (kernel depth > 0): W' and the gather are not recorded, so autograd
      // sees one op with the gradient below, not a weight-sized scatter it would differentiate.
      kernelFunc: ({ inputs, attrs }) => {
        const { x, p } = inputs as unknown as Record<'x' | 'p', tfc.Tensor>;
        const { idx, w } = attrs as unknown as PacaAttrs;
        return tf.tidy(() => {
          const xP = selectedInputs(tf, x, idx);
          return [pacaProduct(tf, w, p, idx, x, false, xP), xP];
        }) as unknown as tfc.TensorInfo[];
      },
    });
  }
  if (!tf.getGradient(PACA_MATMUL)) {
    tf.registerGradient({
      kernelName: PACA_MATMUL,
      inputsToSave: ['p'],
      outputsToSave: [false, true],
      gradFunc: (dys, saved, attrs) => {
        const dy = (dys as tfc.Tensor[])[0]!;
        const [p, xP] = saved as [tfc.Tensor, tfc.Tensor];
        const { idx, w } = attrs as unknown as PacaAttrs;
        return {
          // W' is not kept from the forward pass: no weight-sized tensor per layer lives from
          // forward to backward.
          x: () => pacaProduct(tf, w, p, idx, dy, true),
          p: () => tf.matMul(xP, dy, true, false),
        };
      },
    });
  }
}

/**
 * PaCALinear on tfjs. Inference: `X · W'`. Training: the PaCA matmul above — forward one matmul
 * with W' (rebuilt from W and the current P each pass), backward `dX = dY · W'ᵀ` (when needed)
 * and `dP = X[..., idx]ᵀ · dY`: no adapter matmuls, no full weight gradient, and only the k
 * selected input features of X kept for the backward pass.
 */
function pacaKernel(ctx: KernelContext): tfc.Tensor {
  const { tf } = ctx;
  const x = ctx.t(0);
  const w = ctx.t(1);
  const idx = ctx.ints(2);
  const p = ctx.t(3);
  if (!idx) ctx.fail('idx is required');
  const [inF, outF] = w.shape as [number, number];
  if (p.shape.length !== 2 || p.shape[0] !== idx.length || p.shape[1] !== outF) ctx.fail(`P must be [${idx.length}, ${outF}], got [${p.shape.join(', ')}]`);
  const seen = new Set<number>();
  idx.forEach((r, j) => {
    if (!(Number.isInteger(r) && r >= 0 && r < inF)) ctx.fail(`idx[${j}] = ${r} is outside [0, ${inF})`);
    if (seen.has(r)) ctx.fail(`idx holds row ${r} twice; rows must be distinct`);
    seen.add(r);
  });
  const lead = x.shape.slice(0, -1);
  const x2 = tf.reshape(x, [-1, inF]);
  if (!ctx.training) return tf.tidy(() => tf.reshape(pacaProduct(tf, w, p, idx, x2, false), [...lead, outF]));
  ensurePacaMatMul(tf);
  const [y] = tf.engine().runKernel(PACA_MATMUL, { x: x2, p }, { idx, w } as unknown as tfc.NamedAttrMap) as tfc.Tensor[];
  return tf.reshape(y!, [...lead, outF]);
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
