// SmoothQuant+: smoothing scales with one α for the whole model, chosen by the summed calibration
// output error of every group (the paper's model-wide search).
import { quantizeSmoothQuantPlus } from '../methods.js';
import type { GroupJob, QuantMethodEntry } from './registry.js';

const opts = (g: GroupJob, alpha: number) => ({ bits: g.options.bits, blockSize: g.options.blockSize, symmetric: g.options.symmetric, clip: g.options.clip, alpha });

/** SmoothQuant+ (weight-only, model-wide α). */
export const smoothquant: QuantMethodEntry<'smoothquant'> = {
  name: 'smoothquant', summary: 'activation smoothing with one model-wide α, then group-wise weights', calibration: 'activations', bits: [4, 8], defaultBlockSize: 32,
  zeroPoints: 'optional', streams: true,
  search: {
    candidates: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
    error(g, alpha) {
      let e = 0;
      for (const r of quantizeSmoothQuantPlus(g.layers, g.rows, opts(g, alpha))) e += r.error;
      return e;
    },
    note: (alpha) => `smoothquant: model-wide α = ${alpha}`,
  },
  quantizeGroup: (g, alpha) => quantizeSmoothQuantPlus(g.layers, g.rows, opts(g, alpha ?? 0.5)),
};
