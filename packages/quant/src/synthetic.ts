// Seeded synthetic data shaped like LLM weights and activations, for tests, benches and
// demos: weights ~ N(0, σ²) with σ varying per output row (as in trained linears), and
// activations with a few persistent outlier channels (the SmoothQuant/AWQ observation:
// a handful of channels are 10–100× larger than the rest, on every token).
import { DTypes, float32ToBfloat16Bits, Graph, rng, Tensor, tensorType, type Rng as CoreRng } from '@leanformer/core';

/**
 * A seeded source with a Gaussian helper: uniforms from core's `rng`, and its own Box–Muller
 * `normal()` (a different formula from core's `normal()`, kept so seeded data stays the same).
 */
export class Rng {
  private readonly u: CoreRng;
  private spare: number | null = null;
  constructor(seed = 1) { this.u = rng(seed); }
  /** Uniform in [0, 1). */
  next(): number { return this.u.uniform(); }
  /** Standard normal (Box–Muller). */
  normal(): number {
    if (this.spare !== null) { const v = this.spare; this.spare = null; return v; }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/**
 * A [K, N] weight like a trained linear layer's: Gaussian with std `std`·(0.5…1.5 per
 * output column), plus rare heavy-tailed entries (0.1% at 6–10σ).
 */
export function syntheticWeight(K: number, N: number, seed = 1, std = 0.02): Float32Array {
  const rng = new Rng(seed);
  const colStd = Float64Array.from({ length: N }, () => std * (0.5 + rng.next()));
  const w = new Float32Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      let v = rng.normal() * colStd[n]!;
      if (rng.next() < 0.001) v = Math.sign(v || 1) * colStd[n]! * (6 + 4 * rng.next());
      w[k * N + n] = v;
    }
  }
  return w;
}

/**
 * Activations [M, K] with `outliers` persistent outlier channels scaled by `outlierScale`
 * (default 4 channels at 50×), the pattern SmoothQuant and AWQ exploit. Channels are
 * correlated like hidden states (a rank-K/8 latent mixed into all channels, plus 30%
 * independent noise), so second-order methods (GPTQ) have structure to use.
 */
export function syntheticActivations(M: number, K: number, seed = 2, outliers = 4, outlierScale = 50): { x: Float32Array; outlierChannels: number[] } {
  const rng = new Rng(seed);
  const chans: number[] = [];
  while (chans.length < Math.min(outliers, K)) {
    const c = Math.floor(rng.next() * K);
    if (!chans.includes(c)) chans.push(c);
  }
  const chanScale = Float64Array.from({ length: K }, () => 0.5 + rng.next());
  for (const c of chans) chanScale[c] = outlierScale * (0.7 + 0.6 * rng.next());
  const r = Math.max(1, Math.floor(K / 8));
  const mix = Float64Array.from({ length: r * K }, () => rng.normal() / Math.sqrt(r));
  // The row stream uses its own generator so a longer draw extends a shorter one (held-out rows).
  const rows = new Rng(seed * 7919 + 1);
  const x = new Float32Array(M * K);
  const g = new Float64Array(r);
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < r; j++) g[j] = rows.normal();
    for (let k = 0; k < K; k++) {
      let v = 0;
      for (let j = 0; j < r; j++) v += g[j]! * mix[j * K + k]!;
      x[m * K + k] = (0.95 * v + 0.3 * rows.normal()) * chanScale[k]!;
    }
  }
  return { x, outlierChannels: chans };
}

/** bfloat16 bit patterns of `syntheticWeight`-like values (for packing tests and benches). */
export function syntheticBf16Weights(count: number, seed = 3, std = 0.02): Uint16Array {
  const rng = new Rng(seed);
  const out = new Uint16Array(count);
  const rows = 4096;
  let rowStd = std;
  for (let i = 0; i < count; i++) {
    if (i % rows === 0) rowStd = std * (0.5 + rng.next());
    let v = rng.normal() * rowStd;
    if (rng.next() < 0.001) v *= 8;
    out[i] = float32ToBfloat16Bits(v);
  }
  return out;
}

/** A stack of `layers` MatMuls [1, w] · [w, w] with seeded N(0, 0.02) weights (the quant bench's model). */
export function matmulStack(width: number, layers: number, seed = 1): Graph {
  const g = new Graph('matmul_stack');
  g.opsets.set('', 21);
  let x = g.addInput('x', tensorType(DTypes.float32, [1, width]));
  const rng = new Rng(seed);
  for (let i = 0; i < layers; i++) {
    const w = new Float32Array(width * width);
    for (let j = 0; j < w.length; j++) w[j] = rng.normal() * 0.02;
    const wv = g.addInitializer(`layers.${i}.weight`, new Tensor(DTypes.float32, [width, width], w));
    const n = g.addNode({ op: 'MatMul', name: `layers.${i}`, inputs: [x, wv], outputs: [i === layers - 1 ? 'y' : `h${i}`] });
    n.output(0).type = tensorType(DTypes.float32, [1, width]);
    x = n.output(0);
  }
  g.addOutput(x);
  return g;
}
