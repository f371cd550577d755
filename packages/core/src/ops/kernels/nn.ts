// Neural-network kernels: matmul/Gemm, convolution, pooling, normalizations, Resize.
import { DTypes, dtypeFromOnnx } from '../../dtype.js';
import { Tensor } from '../../tensor.js';
import { broadcastIndex, ints, isNumeric, rint, sizeOf, strides } from '../kernels-util.js';
import { refuse, guard, fail, ai, ais, af, normAxis, f64, result, broadcastIndexShape, transpose, forEachIndex, type Ctx, type Kernel, type Def } from './common.js';

/** numpy.matmul in float64 (1-D operands promoted, batch dims broadcast), cast to A's dtype. */
export function matmul(ctx: Ctx, a: Tensor, b: Tensor): Tensor {
  if (!isNumeric(a.dtype) || !isNumeric(b.dtype)) refuse();
  const A = a.shape.length === 1 ? [1, a.shape[0]!] : [...a.shape];
  const B = b.shape.length === 1 ? [b.shape[0]!, 1] : [...b.shape];
  const [m, k] = A.slice(-2) as [number, number];
  const [k2, n] = B.slice(-2) as [number, number];
  if (k !== k2) fail(ctx, `inner dims differ: [${a.shape.join(', ')}] × [${b.shape.join(', ')}]`);
  let batch: number[] = [];
  try { batch = broadcastIndexShape([A.slice(0, -2), B.slice(0, -2)]); } catch (e) { fail(ctx, (e as Error).message); }
  const outShape = [...batch, ...(a.shape.length === 1 ? [] : [m]), ...(b.shape.length === 1 ? [] : [n])];
  guard(ctx, outShape);
  const { maps } = broadcastIndex([A.slice(0, -2), B.slice(0, -2)]);
  const av = f64(a);
  const bv = f64(b);
  const nb = sizeOf(batch);
  const o = new Float64Array(nb * m * n);
  for (let p = 0; p < nb; p++) {
    const ao = maps[0]![p]! * m * k;
    const bo = maps[1]![p]! * k * n;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += av[ao + i * k + q]! * bv[bo + q * n + j]!;
      o[p * m * n + i * n + j] = s;
    }
  }
  return result(a.dtype, outShape, o);
}

/** Per spatial axis: begin/end pads, following auto_pad (SAME_* split the total pad, extra at the end for UPPER). */
function spatialPads(ctx: Ctx, inDims: readonly number[], kernel: readonly number[], stride: readonly number[], dil: readonly number[]): { begin: number[]; end: number[] } {
  const n = inDims.length;
  const autoPad = ctx.node.attr<string>('auto_pad', 'NOTSET');
  const pads = ais(ctx, 'pads') ?? new Array<number>(2 * n).fill(0);
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(inDims[i]! / stride[i]!);
      const total = Math.max(0, (out - 1) * stride[i]! + (kernel[i]! - 1) * dil[i]! + 1 - inDims[i]!);
      const small = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      end.push(autoPad === 'SAME_UPPER' ? total - small : small);
    }
    return { begin, end };
  }
  if (autoPad === 'VALID') return { begin: new Array<number>(n).fill(0), end: new Array<number>(n).fill(0) };
  return { begin: pads.slice(0, n), end: pads.slice(n, 2 * n) };
}

function poolK(kind: 'max' | 'avg' | 'lp'): Kernel {
  return (ctx, [x]) => {
    if (!x!.dtype.isFloat && kind !== 'max') return refuse();
    if (!isNumeric(x!.dtype)) return refuse();
    const [N, C] = x!.shape as [number, number];
    const inDims = x!.shape.slice(2);
    const nsp = inDims.length;
    const kernel = ais(ctx, 'kernel_shape') ?? fail(ctx, 'kernel_shape is required');
    if (x!.shape.length < 3 || kernel.length !== nsp) fail(ctx, `X must have rank ≥ 3 with one kernel dim per spatial dim; got [${x!.shape.join(', ')}] and kernel [${kernel.join(', ')}]`);
    const stride = ais(ctx, 'strides') ?? new Array<number>(nsp).fill(1);
    const dil = ais(ctx, 'dilations') ?? new Array<number>(nsp).fill(1);
    const ceil = ai(ctx, 'ceil_mode', 0) !== 0;
    const includePad = ai(ctx, 'count_include_pad', 0) !== 0;
    const p = ai(ctx, 'p', 2);
    const colMajor = ai(ctx, 'storage_order', 0) !== 0;
    const { begin, end } = spatialPads(ctx, inDims, kernel, stride, dil);
    const outDims = inDims.map((d, i) => {
      const total = d + begin[i]! + end[i]! - ((kernel[i]! - 1) * dil[i]! + 1);
      let o = (ceil ? Math.ceil(total / stride[i]!) : Math.floor(total / stride[i]!)) + 1;
      if (ceil && (o - 1) * stride[i]! >= d + begin[i]!) o--; // no window may start in the end padding
      return o;
    });
    const shape = [N, C, ...outDims];
    guard(ctx, shape);
    const xv = f64(x!);
    const xst = strides(x!.shape);
    const kIdx: number[][] = [];
    forEachIndex(kernel, (k) => kIdx.push([...k]));
    const o = new Float64Array(sizeOf(shape));
    const ind = new Float64Array(kind === 'max' ? o.length : 0);
    forEachIndex(shape, (idx, flat) => {
      const base = idx[0]! * xst[0]! + idx[1]! * xst[1]!;
      let acc = kind === 'max' ? -Infinity : 0;
      let arg = -1;
      let count = 0;
      let padded = 0;
      for (const k of kIdx) {
        let off = base;
        let inside = true;
        let inPadded = true;
        for (let i = 0; i < nsp; i++) {
          const q = idx[i + 2]! * stride[i]! + k[i]! * dil[i]! - begin[i]!;
          if (q < -begin[i]! || q >= inDims[i]! + end[i]!) inPadded = false;
          if (q < 0 || q >= inDims[i]!) inside = false;
          off += q * xst[i + 2]!;
        }
        if (inPadded) padded++;
        if (!inside) continue;
        const v = xv[off]!;
        count++;
        if (kind === 'max') { if (v > acc || arg < 0) { acc = v; arg = colMajor ? columnMajorIndex(off, x!.shape) : off; } } else if (kind === 'avg') acc += v; else acc += Math.abs(v) ** p;
      }
      o[flat] = kind === 'max' ? acc : kind === 'avg' ? acc / (includePad ? padded : count) : acc ** (1 / p);
      if (kind === 'max') ind[flat] = arg;
    });
    const outs = [result(x!.dtype, shape, o)];
    if (kind === 'max' && ctx.node.outputs.length > 1) outs.push(result(DTypes.int64, shape, ind));
    return outs;
  };
}

/** MaxPool Indices with storage_order 1: the spatial part of the flat index is column-major. */
function columnMajorIndex(rowMajor: number, shape: readonly number[]): number {
  const sp = shape.slice(2);
  const plane = sizeOf(sp);
  const nc = Math.floor(rowMajor / plane);
  let rest = rowMajor % plane;
  const coords = new Array<number>(sp.length);
  for (let i = sp.length - 1; i >= 0; i--) { coords[i] = rest % sp[i]!; rest = Math.floor(rest / sp[i]!); }
  let idx = 0;
  let mul = 1;
  for (let i = 0; i < sp.length; i++) { idx += coords[i]! * mul; mul *= sp[i]!; }
  return nc * plane + idx;
}

/** ONNX Resize coefficient functions: weights over the n nearest source indices for a fractional offset. */
function resizeCoeffs(mode: string, nearestMode: string, cubicA: number): (ratio: number) => number[] {
  if (mode === 'nearest') {
    return (r) => {
      if (Number.isInteger(r)) return [0, 1];
      switch (nearestMode) {
        case 'round_prefer_ceil': return [r < 0.5 ? 1 : 0, r >= 0.5 ? 1 : 0];
        case 'floor': return [1, 0];
        case 'ceil': return [0, 1];
        default: return [r <= 0.5 ? 1 : 0, r > 0.5 ? 1 : 0]; // round_prefer_floor
      }
    };
  }
  if (mode === 'linear') return (r) => [1 - r, r];
  const A = cubicA;
  return (r) => [
    ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
    ((A + 2) * r - (A + 3)) * r * r + 1,
    ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1,
    ((A * (2 - r) - 5 * A) * (2 - r) + 8 * A) * (2 - r) - 4 * A,
  ];
}

/** Per output index of one axis: source indices and weights (empty: extrapolation value). */
function resizeAxis(ctx: Ctx, inLen: number, outLen: number, scale: number, roi: [number, number] | undefined, coeffs: (r: number) => number[], excludeOutside: boolean): { idx: number[]; w: number[] }[] {
  const mode = ctx.opset < 11 ? 'asymmetric' : ctx.node.attr<string>('coordinate_transformation_mode', 'half_pixel');
  const res: { idx: number[]; w: number[] }[] = [];
  // ONNX maps coordinates with the real-valued output length scale·in (not the floored size).
  const outF = scale * inLen;
  for (let x = 0; x < outLen; x++) {
    let xo: number;
    switch (mode) {
      case 'half_pixel': xo = (x + 0.5) / scale - 0.5; break;
      case 'half_pixel_symmetric': {
        const adj = outLen / outF;
        xo = (inLen / 2) * (1 - adj) + (x + 0.5) / scale - 0.5;
        break;
      }
      case 'pytorch_half_pixel': xo = outF !== 1 ? (x + 0.5) / scale - 0.5 : -0.5; break;
      case 'align_corners': xo = outF === 1 ? 0 : (x * (inLen - 1)) / (outF - 1); break;
      case 'asymmetric': xo = x / scale; break;
      case 'tf_half_pixel_for_nn': xo = (x + 0.5) / scale; break; // Resize-11/12 only
      case 'tf_crop_and_resize': {
        const [s, e] = roi ?? [0, 1];
        xo = outF !== 1 ? s * (inLen - 1) + (x * (e - s) * (inLen - 1)) / (outF - 1) : 0.5 * (s + e) * (inLen - 1);
        if (xo < 0 || xo > inLen - 1) { res.push({ idx: [], w: [] }); continue; }
        break;
      }
      default: return fail(ctx, `unsupported coordinate_transformation_mode '${mode}'`);
    }
    const base = Math.floor(xo);
    const ratio = xo - base === 0 ? 1 : xo - base;
    const c = coeffs(ratio);
    const n = c.length;
    // The n nearest indices to xo (ties: lower index), over the edge-padded axis.
    const first = n === 2 ? (xo - base === 0 ? base - 1 : base) : xo - base === 0 ? base - 2 : base - 1;
    const idx: number[] = [];
    const w: number[] = [];
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const raw = first + j;
      let wt = c[j]!;
      if (excludeOutside && (raw < 0 || raw >= inLen)) wt = 0;
      idx.push(Math.min(inLen - 1, Math.max(0, raw)));
      w.push(wt);
      sum += wt;
    }
    if (excludeOutside && sum !== 0) for (let j = 0; j < n; j++) w[j]! /= sum;
    res.push({ idx, w });
  }
  return res;
}

/**
 * NegativeLogLikelihoodLoss on float64 log-probabilities [N, C, d…] and targets [N, d…]: returns
 * the per-element losses and the summed weights of the non-ignored targets (the "mean" divisor).
 */
/** Mean and 1/sqrt(variance + eps) of v[start … start+n−1] (two passes, float64). */
function meanInvStd(v: Float64Array, start: number, n: number, eps: number): [number, number] {
  let s = 0;
  for (let i = 0; i < n; i++) s += v[start + i]!;
  const mu = s / n;
  let q = 0;
  for (let i = 0; i < n; i++) q += (v[start + i]! - mu) ** 2;
  return [mu, 1 / Math.sqrt(q / n + eps)];
}

function nllLoss(ctx: Ctx, logp: Float64Array, shape: readonly number[], target: Tensor, weight: Tensor | undefined): { losses: Float64Array; wsum: number } {
  const [N, C] = shape as [number, number];
  const inner = sizeOf(shape.slice(2));
  if (target.shape.length !== shape.length - 1 || target.shape[0] !== N) fail(ctx, `target shape [${target.shape.join(', ')}] does not match input [${shape.join(', ')}]`);
  const t = ints(target);
  const w = weight ? f64(weight) : undefined;
  const ignore = ctx.node.attrs.has('ignore_index') ? ai(ctx, 'ignore_index', 0) : undefined;
  const losses = new Float64Array(N * inner);
  let wsum = 0;
  for (let n = 0; n < N; n++) for (let i = 0; i < inner; i++) {
    const c = t[n * inner + i]!;
    if (c === ignore) continue;
    if (c < 0 || c >= C) fail(ctx, `target ${c} is out of range for ${C} classes`);
    const wc = w ? w[c]! : 1;
    losses[n * inner + i] = -logp[(n * C + c) * inner + i]! * wc;
    wsum += wc;
  }
  return { losses, wsum };
}

/** Applies the loss reduction ('none' keeps the target's shape). */
function reduceLoss(ctx: Ctx, losses: Float64Array, wsum: number, targetShape: readonly number[]): { shape: number[]; v: Float64Array } {
  const reduction = ctx.node.attr<string>('reduction', 'mean');
  if (reduction === 'none') return { shape: [...targetShape], v: losses };
  const sum = losses.reduce((a, b) => a + b, 0);
  if (reduction === 'sum') return { shape: [], v: Float64Array.of(sum) };
  if (reduction !== 'mean') fail(ctx, `unsupported reduction '${reduction}'; allowed: none, sum, mean`);
  return { shape: [], v: Float64Array.of(sum / wsum) };
}

/** Registers the nn kernels. */
export function registerNnKernels(def: Def): void {
  def('MatMul', (ctx, [a, b]) => [matmul(ctx, a!, b!)]);

  def('Gemm', (ctx, [a, b, c]) => {
    const ta = ai(ctx, 'transA', 0) !== 0;
    const tb = ai(ctx, 'transB', 0) !== 0;
    if (a!.shape.length !== 2 || b!.shape.length !== 2) fail(ctx, 'A and B must be 2-D');
    const A = ta ? transpose(a!, [1, 0]) : a!;
    const B = tb ? transpose(b!, [1, 0]) : b!;
    const y = matmul(ctx, A, B);
    const alpha = af(ctx, 'alpha', 1);
    const beta = af(ctx, 'beta', 1);
    const yv = f64(y);
    const cv = c ? f64(c) : undefined;
    let cmap: Int32Array | undefined;
    if (c) {
      try { broadcastIndexShape([y.shape, c.shape]); } catch (e) { fail(ctx, (e as Error).message); }
      cmap = broadcastIndex([c.shape, y.shape]).maps[0];
    }
    const o = new Float64Array(yv.length);
    for (let i = 0; i < o.length; i++) o[i] = alpha * yv[i]! + (cv ? beta * cv[cmap![i]!]! : 0);
    return [result(a!.dtype, y.shape, o)];
  });

  def('Conv', (ctx, [x, w, b]) => {
    if (!x!.dtype.isFloat) return refuse();
    if (x!.shape.length < 3 || w!.shape.length !== x!.shape.length) fail(ctx, `X must have rank ≥ 3 and W the same rank; got [${x!.shape.join(', ')}] and [${w!.shape.join(', ')}]`);
    const [N, C] = x!.shape as [number, number];
    const inDims = x!.shape.slice(2);
    const nsp = inDims.length;
    const [M, Cg] = w!.shape as [number, number];
    const kernel = ais(ctx, 'kernel_shape') ?? w!.shape.slice(2);
    const stride = ais(ctx, 'strides') ?? new Array<number>(nsp).fill(1);
    const dil = ais(ctx, 'dilations') ?? new Array<number>(nsp).fill(1);
    const group = ai(ctx, 'group', 1);
    if (Cg * group !== C || M % group !== 0) fail(ctx, `channels do not match: X has ${C}, W expects ${Cg}×group ${group}`);
    const { begin, end } = spatialPads(ctx, inDims, kernel, stride, dil);
    const outDims = inDims.map((d, i) => Math.floor((d + begin[i]! + end[i]! - ((kernel[i]! - 1) * dil[i]! + 1)) / stride[i]!) + 1);
    const shape = [N, M, ...outDims];
    guard(ctx, shape);
    const xv = f64(x!);
    const wv = f64(w!);
    const bv = b ? f64(b) : undefined;
    const xst = strides(x!.shape);
    const kSize = sizeOf(kernel);
    const kIdx: number[][] = [];
    forEachIndex(kernel, (k) => kIdx.push([...k]));
    const o = new Float64Array(sizeOf(shape));
    const mPerG = M / group;
    const pos = new Array<number>(nsp);
    forEachIndex(shape, (idx, flat) => {
      const [n, m] = idx as [number, number];
      const g = Math.floor(m / mPerG);
      let s = bv ? bv[m]! : 0;
      for (let c = 0; c < Cg; c++) {
        const xBase = n * xst[0]! + (g * Cg + c) * xst[1]!;
        const wBase = (m * Cg + c) * kSize;
        for (let kk = 0; kk < kSize; kk++) {
          let off = xBase;
          let inside = true;
          for (let i = 0; i < nsp; i++) {
            pos[i] = idx[i + 2]! * stride[i]! + kIdx[kk]![i]! * dil[i]! - begin[i]!;
            if (pos[i]! < 0 || pos[i]! >= inDims[i]!) { inside = false; break; }
            off += pos[i]! * xst[i + 2]!;
          }
          if (inside) s += xv[off]! * wv[wBase + kk]!;
        }
      }
      o[flat] = s;
    });
    return [result(x!.dtype, shape, o)];
  });

  def('MaxPool', poolK('max'));
  def('AveragePool', poolK('avg'));
  def('LpPool', poolK('lp'));

  def(['GlobalAveragePool', 'GlobalMaxPool'], (ctx, [x]) => {
    if (!x!.dtype.isFloat) return refuse();
    const [N, C] = x!.shape as [number, number];
    const inner = sizeOf(x!.shape.slice(2));
    const v = f64(x!);
    const o = new Float64Array(N * C);
    const max = ctx.node.op === 'GlobalMaxPool';
    for (let k = 0; k < N * C; k++) {
      let acc = max ? -Infinity : 0;
      for (let i = 0; i < inner; i++) acc = max ? Math.max(acc, v[k * inner + i]!) : acc + v[k * inner + i]!;
      o[k] = max ? acc : acc / inner;
    }
    return [result(x!.dtype, [N, C, ...x!.shape.slice(2).map(() => 1)], o)];
  });

  def('ConvTranspose', (ctx, [x, w, b]) => {
    if (!x!.dtype.isFloat) return refuse();
    if (x!.shape.length < 3 || w!.shape.length !== x!.shape.length) fail(ctx, `X must have rank ≥ 3 and W the same rank; got [${x!.shape.join(', ')}] and [${w!.shape.join(', ')}]`);
    const [N, C] = x!.shape as [number, number];
    const inDims = x!.shape.slice(2);
    const nsp = inDims.length;
    const group = ai(ctx, 'group', 1);
    const Mg = w!.shape[1]!;
    const M = Mg * group;
    const Cg = C / group;
    if (w!.shape[0] !== C || !Number.isInteger(Cg)) fail(ctx, `W has ${w!.shape[0]} input channels; X has ${C} (group ${group})`);
    const kernel = ais(ctx, 'kernel_shape') ?? w!.shape.slice(2);
    const stride = ais(ctx, 'strides') ?? new Array<number>(nsp).fill(1);
    const dil = ais(ctx, 'dilations') ?? new Array<number>(nsp).fill(1);
    const opad = ais(ctx, 'output_padding') ?? new Array<number>(nsp).fill(0);
    const autoPad = ctx.node.attr<string>('auto_pad', 'NOTSET');
    let outShape = ais(ctx, 'output_shape')?.slice(-nsp);
    let begin = ais(ctx, 'pads')?.slice(0, nsp) ?? new Array<number>(nsp).fill(0);
    let end = ais(ctx, 'pads')?.slice(nsp) ?? new Array<number>(nsp).fill(0);
    if (!outShape && (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER')) outShape = inDims.map((d, i) => d * stride[i]!);
    if (outShape) {
      // Pads follow from the requested output size (ONNX: explicit pads are ignored then).
      const total = inDims.map((d, i) => stride[i]! * (d - 1) + opad[i]! + (kernel[i]! - 1) * dil[i]! + 1 - outShape![i]!);
      begin = total.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : t - Math.floor(t / 2)));
      end = total.map((t, i) => t - begin[i]!);
    } else {
      outShape = inDims.map((d, i) => stride[i]! * (d - 1) + opad[i]! + (kernel[i]! - 1) * dil[i]! + 1 - begin[i]! - end[i]!);
    }
    const shape = [N, M, ...outShape];
    guard(ctx, shape);
    const xv = f64(x!);
    const wv = f64(w!);
    const o = new Float64Array(sizeOf(shape));
    const ost = strides(shape);
    const kSize = sizeOf(kernel);
    const kIdx: number[][] = [];
    forEachIndex(kernel, (k) => kIdx.push([...k]));
    const inSize = sizeOf(inDims);
    const inIdx: number[][] = [];
    forEachIndex(inDims, (p) => inIdx.push([...p]));
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg);
      for (let p = 0; p < inSize; p++) {
        const xval = xv[(n * C + c) * inSize + p]!;
        if (xval === 0) continue;
        for (let m = 0; m < Mg; m++) {
          const wBase = (c * Mg + m) * kSize;
          const oBase = n * ost[0]! + (g * Mg + m) * ost[1]!;
          for (let kk = 0; kk < kSize; kk++) {
            let off = oBase;
            let inside = true;
            for (let i = 0; i < nsp; i++) {
              const q = inIdx[p]![i]! * stride[i]! + kIdx[kk]![i]! * dil[i]! - begin[i]!;
              if (q < 0 || q >= outShape[i]!) { inside = false; break; }
              off += q * ost[i + 2]!;
            }
            if (inside) o[off]! += xval * wv[wBase + kk]!;
          }
        }
      }
    }
    if (b) { const bv = f64(b); const plane = sizeOf(outShape); for (let k = 0; k < o.length; k++) o[k]! += bv[Math.floor(k / plane) % M]!; }
    return [result(x!.dtype, shape, o)];
  });

  def(['Resize', 'Upsample'], (ctx, xs) => {
    const x = xs[0]!;
    if (!x.dtype.isFloat && !(isNumeric(x.dtype))) return refuse();
    if (ai(ctx, 'antialias', 0) !== 0) return refuse(); // antialiased filters are not implemented
    const r = x.shape.length;
    const isOld = ctx.node.op === 'Upsample' || ctx.opset < 11;
    const roiT = isOld ? undefined : xs[1];
    const scalesT = isOld ? xs[1] : xs[2];
    const sizesT = isOld ? undefined : xs[3];
    const axes = (ais(ctx, 'axes') ?? x.shape.map((_, i) => i)).map((a) => normAxis(ctx, a, r));
    const scale = new Array<number>(r).fill(1);
    const outShape = [...x.shape];
    const attrScales = ctx.node.attr<readonly number[] | undefined>('scales', undefined);
    if (sizesT && sizesT.size) {
      const sizes = ints(sizesT);
      const policy = ctx.node.attr<string>('keep_aspect_ratio_policy', 'stretch');
      if (policy === 'stretch') axes.forEach((a, k) => { outShape[a] = sizes[k]!; scale[a] = sizes[k]! / x.shape[a]!; });
      else {
        const ratios = axes.map((a, k) => sizes[k]! / x.shape[a]!);
        const s = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
        axes.forEach((a) => { scale[a] = s; outShape[a] = Math.round(s * x.shape[a]!); });
      }
    } else {
      const sc = attrScales ?? (scalesT ? Array.from(scalesT.toFloat32()) : fail(ctx, 'needs scales or sizes'));
      axes.forEach((a, k) => { scale[a] = sc[k]!; outShape[a] = Math.floor(x.shape[a]! * sc[k]! + 1e-9); });
    }
    guard(ctx, outShape);
    const mode = ctx.node.attr<string>('mode', 'nearest');
    if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic') fail(ctx, `unsupported mode '${mode}'`);
    const nearestMode = isOld ? 'floor' : ctx.node.attr<string>('nearest_mode', 'round_prefer_floor');
    const coeffs = resizeCoeffs(mode, nearestMode, af(ctx, 'cubic_coeff_a', -0.75));
    const roi = roiT && roiT.size ? Array.from(roiT.toFloat64()) : undefined;
    const exclude = ai(ctx, 'exclude_outside', 0) !== 0;
    const roiFor = (a: number): [number, number] | undefined => {
      if (!roi) return undefined;
      const k = roi.length === 2 * r ? a : axes.indexOf(a);
      const n = roi.length / 2;
      return [roi[k]!, roi[k + n]!];
    };
    const plans = x.shape.map((d, a) => resizeAxis(ctx, d, outShape[a]!, scale[a]!, roiFor(a), coeffs, exclude));
    const extrapolation = af(ctx, 'extrapolation_value', 0);
    const v = f64(x);
    const xst = strides(x.shape);
    const o = new Float64Array(sizeOf(outShape));
    forEachIndex(outShape, (idx, flat) => {
      const ps = idx.map((i, a) => plans[a]![i]!);
      if (ps.some((p) => p.idx.length === 0)) { o[flat] = extrapolation; return; }
      // Tensor product of the per-axis weights.
      let acc = 0;
      const pos = new Array<number>(r).fill(0);
      for (;;) {
        let wt = 1;
        let off = 0;
        for (let a = 0; a < r; a++) { wt *= ps[a]!.w[pos[a]!]!; off += ps[a]!.idx[pos[a]!]! * xst[a]!; }
        if (wt !== 0) acc += wt * v[off]!;
        let a = r - 1;
        for (; a >= 0; a--) { if (++pos[a]! < ps[a]!.idx.length) break; pos[a] = 0; }
        if (a < 0) break;
      }
      o[flat] = acc;
    });
    return [result(x.dtype, outShape, x.dtype.isInteger ? o.map((q) => rint(q)) : o)];
  });

  def('LayerNormalization', (ctx, [x, scale, bias]) => {
    if (!x!.dtype.isFloat) return refuse();
    const r = x!.shape.length;
    const axis = normAxis(ctx, ai(ctx, 'axis', -1), r);
    const eps = af(ctx, 'epsilon', 1e-5);
    const outer = sizeOf(x!.shape.slice(0, axis));
    const inner = sizeOf(x!.shape.slice(axis));
    const v = f64(x!);
    const { maps: [sm] } = broadcastIndex([scale!.shape, x!.shape.slice(axis)]);
    const bm = bias ? broadcastIndex([bias.shape, x!.shape.slice(axis)]).maps[0] : undefined;
    const sv = f64(scale!);
    const bv = bias ? f64(bias) : undefined;
    const o = new Float64Array(v.length);
    const mean = new Float64Array(outer);
    const inv = new Float64Array(outer);
    for (let a = 0; a < outer; a++) {
      const [mu, rs] = meanInvStd(v, a * inner, inner, eps);
      mean[a] = mu;
      inv[a] = rs;
      for (let i = 0; i < inner; i++) o[a * inner + i] = (v[a * inner + i]! - mu) * rs * sv[sm![i]!]! + (bv ? bv[bm![i]!]! : 0);
    }
    const statShape = x!.shape.map((d, i) => (i < axis ? d : 1));
    const stash = dtypeFromOnnx(ai(ctx, 'stash_type', 1));
    return [result(x!.dtype, x!.shape, o), result(stash, statShape, mean), result(stash, statShape, inv)];
  });

  def('BatchNormalization', (ctx, [x, scale, b, mean, vr]) => {
    // Inference mode only (training mode updates running statistics).
    if (ai(ctx, 'training_mode', 0) !== 0 || ctx.node.outputs.filter(Boolean).length > 1 || !x!.dtype.isFloat) return refuse();
    const eps = af(ctx, 'epsilon', 1e-5);
    const c = x!.shape[1] ?? 1;
    const inner = sizeOf(x!.shape.slice(2));
    const [v, sv, bv, mv, vv] = [x!, scale!, b!, mean!, vr!].map(f64) as Float64Array[];
    const o = new Float64Array(v!.length);
    for (let k = 0; k < o.length; k++) {
      const ch = Math.floor(k / inner) % c;
      o[k] = ((v![k]! - mv![ch]!) / Math.sqrt(vv![ch]! + eps)) * sv![ch]! + bv![ch]!;
    }
    return [result(x!.dtype, x!.shape, o)];
  });

  def('InstanceNormalization', (ctx, [x, scale, b]) => {
    if (!x!.dtype.isFloat) return refuse();
    const [N, C] = x!.shape as [number, number];
    const inner = sizeOf(x!.shape.slice(2));
    const eps = af(ctx, 'epsilon', 1e-5);
    const v = f64(x!);
    const sv = f64(scale!);
    const bv = f64(b!);
    const o = new Float64Array(v.length);
    for (let k = 0; k < N * C; k++) {
      const c = k % C;
      const [mu, rs] = meanInvStd(v, k * inner, inner, eps);
      for (let i = 0; i < inner; i++) o[k * inner + i] = (v[k * inner + i]! - mu) * rs * sv[c]! + bv[c]!;
    }
    return [result(x!.dtype, x!.shape, o)];
  });

  def(['SimplifiedLayerNormalization', 'RMSNormalization'], (ctx, [x, scale]) => {
    if (!x!.dtype.isFloat) return refuse();
    const r = x!.shape.length;
    const axis = normAxis(ctx, ai(ctx, 'axis', -1), r);
    const eps = af(ctx, 'epsilon', 1e-5);
    const outer = sizeOf(x!.shape.slice(0, axis));
    const inner = sizeOf(x!.shape.slice(axis));
    const v = f64(x!);
    const { maps: [sm] } = broadcastIndex([scale!.shape, x!.shape.slice(axis)]);
    const sv = f64(scale!);
    const o = new Float64Array(v.length);
    const inv = new Float64Array(outer);
    for (let a = 0; a < outer; a++) {
      let q = 0;
      for (let i = 0; i < inner; i++) q += v[a * inner + i]! ** 2;
      const rs = 1 / Math.sqrt(q / inner + eps);
      inv[a] = rs;
      for (let i = 0; i < inner; i++) o[a * inner + i] = v[a * inner + i]! * rs * sv[sm![i]!]!;
    }
    const outs = [result(scale!.dtype, x!.shape, o)];
    if (ctx.node.op === 'SimplifiedLayerNormalization') outs.push(result(dtypeFromOnnx(ai(ctx, 'stash_type', 1)), x!.shape.map((d, i) => (i < axis ? d : 1)), inv));
    return outs;
  });

  def('NegativeLogLikelihoodLoss', (ctx, [x, target, weight]) => {
    if (!x!.dtype.isFloat) return refuse();
    const { losses, wsum } = nllLoss(ctx, f64(x!), x!.shape, target!, weight);
    const { shape, v } = reduceLoss(ctx, losses, wsum, target!.shape);
    return [result(x!.dtype, shape, v)];
  });
  def('SoftmaxCrossEntropyLoss', (ctx, [x, labels, weight]) => {
    if (!x!.dtype.isFloat) return refuse();
    // log_softmax over the class axis (1), in float64.
    const [N, C] = x!.shape as [number, number];
    const inner = sizeOf(x!.shape.slice(2));
    const v = f64(x!);
    const logp = new Float64Array(v.length);
    for (let n = 0; n < N; n++) for (let i = 0; i < inner; i++) {
      const at = (c: number) => (n * C + c) * inner + i;
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, v[at(c)]!);
      let sum = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(v[at(c)]! - m);
      const lse = m + Math.log(sum);
      for (let c = 0; c < C; c++) logp[at(c)] = v[at(c)]! - lse;
    }
    const { losses, wsum } = nllLoss(ctx, logp, x!.shape, labels!, weight);
    const { shape, v: loss } = reduceLoss(ctx, losses, wsum, labels!.shape);
    const outs = [result(x!.dtype, shape, loss)];
    if (ctx.node.outputs.length > 1) outs.push(result(x!.dtype, x!.shape, logp));
    return outs;
  });

  def('MeanVarianceNormalization', (ctx, [x]) => {
    if (!x!.dtype.isFloat) return refuse();
    const r = x!.shape.length;
    const axes = new Set((ais(ctx, 'axes') ?? [0, 2, 3]).map((a) => normAxis(ctx, a, r)));
    const v = f64(x!);
    // Group elements by their position on the non-normalized axes.
    const keyShape = x!.shape.map((d, i) => (axes.has(i) ? 1 : d));
    const kst = strides(keyShape);
    const groups = sizeOf(keyShape);
    const sum = new Float64Array(groups);
    const sq = new Float64Array(groups);
    const count = sizeOf(x!.shape) / groups;
    const keyOf = new Int32Array(v.length);
    forEachIndex(x!.shape, (idx, flat) => {
      let k = 0;
      for (let d = 0; d < r; d++) if (!axes.has(d)) k += idx[d]! * kst[d]!;
      keyOf[flat] = k;
      sum[k]! += v[flat]!;
    });
    for (let i = 0; i < v.length; i++) sq[keyOf[i]!]! += (v[i]! - sum[keyOf[i]!]! / count) ** 2;
    const o = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) { const k = keyOf[i]!; o[i] = (v[i]! - sum[k]! / count) / (Math.sqrt(sq[k]! / count) + 1e-9); }
    return [result(x!.dtype, x!.shape, o)];
  });
  def('LRN', (ctx, [x]) => {
    if (!x!.dtype.isFloat) return refuse();
    const size = ai(ctx, 'size', 1);
    const alpha = af(ctx, 'alpha', 0.0001);
    const beta = af(ctx, 'beta', 0.75);
    const bias = af(ctx, 'bias', 1);
    const [N, C] = x!.shape as [number, number];
    const inner = sizeOf(x!.shape.slice(2));
    const v = f64(x!);
    const o = new Float64Array(v.length);
    const lo = Math.floor((size - 1) / 2);
    const hi = Math.ceil((size - 1) / 2);
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let j = Math.max(0, c - lo); j <= Math.min(C - 1, c + hi); j++) s += v[(n * C + j) * inner + i]! ** 2;
      o[(n * C + c) * inner + i] = v[(n * C + c) * inner + i]! / (bias + (alpha / size) * s) ** beta;
    }
    return [result(x!.dtype, x!.shape, o)];
  });
  def('Einsum', (ctx, xs) => {
    const ins = xs.filter((t): t is Tensor => t !== undefined);
    if (!ins.every((t) => isNumeric(t.dtype))) return refuse();
    const eq = ctx.node.attr<string>('equation', '').replace(/\s/g, '');
    const [lhs, rhs] = eq.split('->') as [string, string | undefined];
    const terms = lhs.split(',');
    if (terms.length !== ins.length) fail(ctx, `equation has ${terms.length} operands for ${ins.length} inputs`);
    // Expand '...' into fresh upper-case letters (right-aligned broadcast dims).
    const ellRank = Math.max(0, ...terms.map((t, k) => (t.includes('...') ? ins[k]!.shape.length - t.replace('...', '').length : 0)));
    const ellLetters = Array.from({ length: ellRank }, (_, i) => String.fromCharCode(65 + i)).join('');
    const expand = (t: string, rank: number) => t.replace('...', ellLetters.slice(ellRank - (rank - t.replace('...', '').length)));
    const full = terms.map((t, k) => expand(t, ins[k]!.shape.length));
    const counts = new Map<string, number>();
    for (const t of full) for (const c of t) counts.set(c, (counts.get(c) ?? 0) + 1);
    const outTerm = rhs !== undefined ? rhs.replace('...', ellLetters) : ellLetters + [...counts].filter(([c, n]) => n === 1 && !ellLetters.includes(c)).map(([c]) => c).sort().join('');
    const dims = new Map<string, number>();
    full.forEach((t, k) => [...t].forEach((c, i) => {
      const d = ins[k]!.shape[i]!;
      const prev = dims.get(c);
      if (prev === undefined || prev === 1) dims.set(c, d);
      else if (d !== 1 && d !== prev) fail(ctx, `dimension '${c}' is ${prev} in one operand and ${d} in another`);
    }));
    const letters = [...new Set([...outTerm, ...full.join('')])];
    const outShape = [...outTerm].map((c) => dims.get(c)!);
    guard(ctx, outShape);
    const sumLetters = letters.filter((c) => !outTerm.includes(c));
    const sumShape = sumLetters.map((c) => dims.get(c)!);
    const vals = ins.map(f64);
    const sts = ins.map((t) => strides(t.shape));
    const o = new Float64Array(sizeOf(outShape));
    const pos = new Map<string, number>();
    forEachIndex(outShape, (oi, flat) => {
      [...outTerm].forEach((c, i) => pos.set(c, oi[i]!));
      let acc = 0;
      forEachIndex(sumShape, (si) => {
        sumLetters.forEach((c, i) => pos.set(c, si[i]!));
        let prod = 1;
        for (let k = 0; k < ins.length; k++) {
          let off = 0;
          const t = full[k]!;
          for (let i = 0; i < t.length; i++) off += (ins[k]!.shape[i] === 1 ? 0 : pos.get(t[i]!)!) * sts[k]![i]!;
          prod *= vals[k]![off]!;
        }
        acc += prod;
      });
      o[flat] = acc;
    });
    return [result(ins[0]!.dtype, outShape, o)];
  });
}
