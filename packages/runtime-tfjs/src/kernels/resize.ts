// Resize (opset 10–19) and Upsample as separable per-axis gathers: for every output position the
// source coordinate is computed on the host (shapes are static), then nearest picks one tap and
// linear / cubic blend two / four taps along that axis. Every coordinate_transformation_mode is
// covered; antialias is not.
import type * as tfc from '@tensorflow/tfjs-core';
import type { Kernel, KernelContext } from '../kernel.js';

type T = tfc.Tensor;

interface Plan { taps: number[][]; weights: number[][]; outside: boolean[] }

/**
 * Output coordinate → input coordinate. `outLen` is the resized length as ONNX's reference
 * defines it: in·scale as a float when scales were given (so align_corners with scale 0.6 on 4
 * uses 2.4 − 1), the requested size otherwise; `outInt` is the integer output length.
 */
function sourceCoord(mode: string, x: number, scale: number, inLen: number, outLen: number, outInt: number, roi: [number, number]): number {
  switch (mode) {
    case 'tf_half_pixel_for_nn': return (x + 0.5) / scale;
    case 'half_pixel': return (x + 0.5) / scale - 0.5;
    case 'half_pixel_symmetric': {
      const adj = outInt / outLen;
      return (inLen / 2) * (1 - adj) + (x + 0.5) / scale - 0.5;
    }
    case 'pytorch_half_pixel': return outLen > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case 'align_corners': return outLen === 1 ? 0 : (x * (inLen - 1)) / (outLen - 1);
    case 'asymmetric': return x / scale;
    case 'tf_crop_and_resize': {
      const [s, e] = roi;
      return outLen > 1 ? s * (inLen - 1) + (x * (e - s) * (inLen - 1)) / (outLen - 1) : 0.5 * (s + e) * (inLen - 1);
    }
    default: throw new Error(`coordinate_transformation_mode '${mode}' is not supported`);
  }
}

function cubicWeights(t: number, a: number): number[] {
  const w = (d: number) => {
    const x = Math.abs(d);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
  };
  return [w(t + 1), w(t), w(1 - t), w(2 - t)];
}

function planAxis(c: KernelContext, mode: string, coordMode: string, inLen: number, outLen: number, outFloat: number, scale: number, roi: [number, number], nearestDefault: string): Plan {
  const nearest = c.attr('nearest_mode', nearestDefault);
  const a = c.attr('cubic_coeff_a', -0.75);
  const exclude = !!c.attr('exclude_outside', 0);
  const plan: Plan = { taps: [], weights: [], outside: [] };
  const clamp = (i: number) => Math.min(Math.max(i, 0), inLen - 1);
  for (let x = 0; x < outLen; x++) {
    const src = sourceCoord(coordMode, x, scale, inLen, outFloat, outLen, roi);
    plan.outside.push(coordMode === 'tf_crop_and_resize' && (src < 0 || src > inLen - 1));
    if (mode === 'nearest') {
      let i: number;
      if (nearest === 'round_prefer_floor') i = src === Math.floor(src) + 0.5 ? Math.floor(src) : Math.round(src);
      else if (nearest === 'round_prefer_ceil') i = Math.round(src);
      else if (nearest === 'floor') i = Math.floor(src);
      else if (nearest === 'ceil') i = Math.ceil(src);
      else throw new Error(`nearest_mode '${nearest}' is not supported`);
      plan.taps.push([clamp(i)]);
      plan.weights.push([1]);
    } else if (mode === 'linear') {
      const s = coordMode === 'tf_crop_and_resize' ? src : Math.min(Math.max(src, 0), inLen - 1);
      const f = Math.floor(s);
      const t = s - f;
      plan.taps.push([clamp(f), clamp(f + 1)]);
      plan.weights.push([1 - t, t]);
    } else if (mode === 'cubic') {
      const f = Math.floor(src);
      const t = src - f;
      let w = cubicWeights(t, a);
      const idx = [f - 1, f, f + 1, f + 2];
      if (exclude) {
        w = w.map((v, k) => (idx[k]! < 0 || idx[k]! >= inLen ? 0 : v));
        const sum = w.reduce((p, q) => p + q, 0);
        w = w.map((v) => v / sum);
      }
      plan.taps.push(idx.map(clamp));
      plan.weights.push(w);
    } else throw new Error(`mode '${mode}' is not supported; allowed: nearest, linear, cubic`);
  }
  return plan;
}

function resize(c: KernelContext, upsample: boolean): T {
  const { tf } = c;
  let x = c.t(0);
  const r = x.rank;
  if (c.attr('antialias', 0)) c.fail('antialias is not supported');
  const mode = c.attr('mode', 'nearest');
  let coordMode = c.attr('coordinate_transformation_mode', 'half_pixel');
  let scales: number[] | undefined, sizes: number[] | undefined, roi: number[] | undefined;
  if (upsample) {
    coordMode = 'asymmetric';
    scales = c.opset < 9 ? c.attr<number[]>('scales') : c.host(1)!.data.slice();
  } else if (c.opset < 11) {
    coordMode = 'asymmetric';
    scales = c.host(1)!.data.slice();
  } else {
    roi = c.has(1) && c.host(1)!.size ? c.host(1)!.data.slice() : undefined;
    scales = c.has(2) && c.host(2)!.size ? c.host(2)!.data.slice() : undefined;
    sizes = c.has(3) && c.host(3)!.size ? c.host(3)!.data.slice() : undefined;
  }
  const axes = (c.attr<number[] | undefined>('axes', undefined) ?? Array.from({ length: r }, (_, i) => i)).map((a) => c.axis(a, r));
  const outShape = [...x.shape];
  const axisScale = x.shape.map(() => 1);
  const outFloat = x.shape.map((d) => d);
  if (sizes) {
    const policy = c.attr('keep_aspect_ratio_policy', 'stretch');
    let ratios = axes.map((a, k) => sizes![k]! / x.shape[a]!);
    if (policy !== 'stretch') {
      const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      ratios = ratios.map(() => s);
    }
    axes.forEach((a, k) => {
      axisScale[a] = ratios[k]!;
      outShape[a] = policy === 'stretch' ? sizes![k]! : Math.round(x.shape[a]! * ratios[k]!);
      outFloat[a] = outShape[a]!;
    });
  } else if (scales) {
    axes.forEach((a, k) => { axisScale[a] = scales![k]!; outShape[a] = Math.floor(x.shape[a]! * scales![k]!); outFloat[a] = x.shape[a]! * scales![k]!; });
  } else c.fail('needs scales or sizes');
  const extrapolation = c.attr('extrapolation_value', 0.0);
  for (let a = 0; a < r; a++) {
    const inLen = x.shape[a]!, outLen = outShape[a]!;
    const k = axes.indexOf(a);
    const roiPair: [number, number] = roi && k >= 0 ? [roi[k]!, roi[k + axes.length]!] : [0, 1];
    if (inLen === outLen && axisScale[a] === 1 && coordMode !== 'tf_crop_and_resize') continue;
    // Upsample's nearest rounds down (floor of x / scale).
    const plan = planAxis(c, mode, coordMode, inLen, outLen, outFloat[a]!, axisScale[a]!, roiPair, upsample ? 'floor' : 'round_prefer_floor');
    const nTaps = plan.taps[0]?.length ?? 1;
    const bshape = x.shape.map((d, i) => (i === a ? outLen : 1));
    let y: T | undefined;
    for (let j = 0; j < nTaps; j++) {
      const g = tf.gather(x, tf.tensor1d(plan.taps.map((t) => t[j]!), 'int32'), a);
      const term = nTaps === 1 ? g : tf.mul(g, tf.reshape(tf.tensor1d(plan.weights.map((w) => w[j]!)), bshape));
      y = y ? tf.add(y, term) : term;
    }
    if (plan.outside.some(Boolean)) {
      y = tf.where(tf.reshape(tf.tensor1d(plan.outside.map((o) => (o ? 1 : 0)), 'bool'), bshape), tf.fill(y!.shape, extrapolation), y!);
    }
    x = y!;
  }
  return x;
}

export const resizeKernels: Record<string, Kernel> = {
  Resize: (c) => resize(c, false),
  Upsample: (c) => resize(c, true),
};
