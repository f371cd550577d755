// Reductions, arg-max/min, softmax family, cumulative sum and top-k.
import { DTypes } from '../../dtype.js';
import { Tensor } from '../../tensor.js';
import { ints, isNumeric, sizeOf, strides, take } from '../kernels-util.js';
import { refuse, fail, ai, ais, normAxis, i64, f64, result, type Ctx, type Kernel, type Def } from './common.js';

function reduceAxes(ctx: Ctx, x: Tensor, axesIn: Tensor | undefined): number[] | null {
  const r = x.shape.length;
  let axes = ais(ctx, 'axes');
  if (!axes && axesIn) axes = ints(axesIn);
  if (!axes || axes.length === 0) {
    if (ai(ctx, 'noop_with_empty_axes', 0) && (ctx.node.op !== 'ReduceSum' ? ctx.opset >= 18 : ctx.opset >= 13)) return null;
    return x.shape.map((_, i) => i);
  }
  return axes.map((a) => normAxis(ctx, a, r));
}

/** Groups input elements by reduced position; calls `fold` on each output cell's values. */
function reduceK(init: number, step: (acc: number, v: number) => number, finish: (acc: number, count: number) => number = (a) => a): Kernel {
  return (ctx, [x, axesT]) => {
    if (!isNumeric(x!.dtype)) return refuse();
    const axes = reduceAxes(ctx, x!, axesT);
    const keep = ai(ctx, 'keepdims', 1) !== 0;
    const v = f64(x!);
    if (axes === null) {
      const o = new Float64Array(v.length);
      for (let i = 0; i < v.length; i++) o[i] = finish(step(init, v[i]!), 1);
      return [result(x!.dtype, x!.shape, o)];
    }
    const set = new Set(axes);
    const outShapeKeep = x!.shape.map((d, i) => (set.has(i) ? 1 : d));
    const ost = strides(outShapeKeep);
    const acc = new Float64Array(sizeOf(outShapeKeep)).fill(init);
    const count = x!.shape.reduce((p, d, i) => (set.has(i) ? p * d : p), 1);
    const c = new Array<number>(x!.shape.length).fill(0);
    for (let k = 0; k < v.length; k++) {
      let o = 0;
      for (let d = 0; d < c.length; d++) if (!set.has(d)) o += c[d]! * ost[d]!;
      acc[o] = step(acc[o]!, v[k]!);
      for (let d = c.length - 1; d >= 0; d--) { if (++c[d]! < x!.shape[d]!) break; c[d] = 0; }
    }
    for (let i = 0; i < acc.length; i++) acc[i] = finish(acc[i]!, count);
    const shape = keep ? outShapeKeep : x!.shape.filter((_, i) => !set.has(i));
    return [result(x!.dtype, shape, acc)];
  };
}

function argK(max: boolean): Kernel {
  return (ctx, [x]) => {
    if (!isNumeric(x!.dtype)) return refuse();
    const r = x!.shape.length;
    const axis = normAxis(ctx, ai(ctx, 'axis', 0), r);
    const keep = ai(ctx, 'keepdims', 1) !== 0;
    const last = ai(ctx, 'select_last_index', 0) !== 0;
    const v = f64(x!);
    const outer = sizeOf(x!.shape.slice(0, axis));
    const d = x!.shape[axis]!;
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const res: number[] = [];
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
      let best = 0;
      let bv = v[o * d * inner + i]!;
      for (let j = 1; j < d; j++) {
        const y = v[o * d * inner + j * inner + i]!;
        if (max ? y > bv || (last && y === bv) : y < bv || (last && y === bv)) { bv = y; best = j; }
      }
      res.push(best);
    }
    const shape = keep ? x!.shape.map((s, i) => (i === axis ? 1 : s)) : x!.shape.filter((_, i) => i !== axis);
    return [i64(shape, res)];
  };
}

function softmaxK(kind: 'softmax' | 'log' | 'hard'): Kernel {
  return (ctx, [x]) => {
    if (!x!.dtype.isFloat) return refuse();
    const r = x!.shape.length;
    const axis = normAxis(ctx, ai(ctx, 'axis', ctx.opset >= 13 ? -1 : 1), r);
    const v = f64(x!);
    // Before opset 13 the input is coerced to 2-D at `axis`; from 13 the op works along `axis`.
    const outer = sizeOf(x!.shape.slice(0, axis));
    const d = ctx.opset >= 13 ? x!.shape[axis]! : sizeOf(x!.shape.slice(axis));
    const inner = ctx.opset >= 13 ? sizeOf(x!.shape.slice(axis + 1)) : 1;
    const o = new Float64Array(v.length);
    for (let b = 0; b < outer; b++) for (let i = 0; i < inner; i++) {
      const at = (j: number) => b * d * inner + j * inner + i;
      let m = -Infinity;
      let arg = 0;
      for (let j = 0; j < d; j++) if (v[at(j)]! > m) { m = v[at(j)]!; arg = j; }
      if (kind === 'hard') { for (let j = 0; j < d; j++) o[at(j)] = j === arg ? 1 : 0; continue; }
      let s = 0;
      for (let j = 0; j < d; j++) s += Math.exp(v[at(j)]! - m);
      for (let j = 0; j < d; j++) o[at(j)] = kind === 'log' ? v[at(j)]! - m - Math.log(s) : Math.exp(v[at(j)]! - m) / s;
    }
    return [result(x!.dtype, x!.shape, o)];
  };
}

/** Registers the reduce kernels. */
export function registerReduceKernels(def: Def): void {
  // reductions
  def('ReduceSum', reduceK(0, (a, v) => a + v));
  def('ReduceMean', reduceK(0, (a, v) => a + v, (a, n) => a / n));
  def('ReduceMax', reduceK(-Infinity, (a, v) => (Number.isNaN(a) || v > a || Number.isNaN(v) ? v : a)));
  def('ReduceMin', reduceK(Infinity, (a, v) => (Number.isNaN(a) || v < a || Number.isNaN(v) ? v : a)));
  def('ReduceProd', reduceK(1, (a, v) => a * v));
  def('ReduceL1', reduceK(0, (a, v) => a + Math.abs(v)));
  def('ReduceL2', reduceK(0, (a, v) => a + v * v, (a) => Math.sqrt(a)));
  def('ReduceSumSquare', reduceK(0, (a, v) => a + v * v));
  def('ReduceLogSum', reduceK(0, (a, v) => a + v, (a) => Math.log(a)));
  def('ReduceLogSumExp', reduceK(0, (a, v) => a + Math.exp(v), (a) => Math.log(a)));
  def(['ArgMax'], argK(true));
  def(['ArgMin'], argK(false));
  def('Softmax', softmaxK('softmax'));
  def('LogSoftmax', softmaxK('log'));
  def('Hardmax', softmaxK('hard'));

  def('CumSum', (ctx, [x, axisT]) => {
    if (!isNumeric(x!.dtype)) return refuse();
    const r = x!.shape.length;
    const axis = normAxis(ctx, ints(axisT!)[0]!, r);
    const excl = ai(ctx, 'exclusive', 0) !== 0;
    const rev = ai(ctx, 'reverse', 0) !== 0;
    const v = f64(x!);
    const outer = sizeOf(x!.shape.slice(0, axis));
    const d = x!.shape[axis]!;
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const o = new Float64Array(v.length);
    for (let a = 0; a < outer; a++) for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let jj = 0; jj < d; jj++) {
        const j = rev ? d - 1 - jj : jj;
        const at = (a * d + j) * inner + i;
        if (excl) { o[at] = s; s += v[at]!; } else { s += v[at]!; o[at] = s; }
      }
    }
    return [result(x!.dtype, x!.shape, o)];
  });

  def('TopK', (ctx, [x, kT]) => {
    if (!isNumeric(x!.dtype)) return refuse();
    const r = x!.shape.length;
    const axis = normAxis(ctx, ai(ctx, 'axis', -1), r);
    const k = ctx.opset < 10 ? ai(ctx, 'k', 1) : ints(kT!)[0]!;
    const largest = ai(ctx, 'largest', 1) !== 0;
    const d = x!.shape[axis]!;
    if (k < 0 || k > d) fail(ctx, `k = ${k} is out of range for axis ${axis} of size ${d}`);
    const outer = sizeOf(x!.shape.slice(0, axis));
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const v = f64(x!);
    const shape = x!.shape.map((s, i) => (i === axis ? k : s));
    const vals = new Int32Array(sizeOf(shape));
    const idxs = new Float64Array(sizeOf(shape));
    const order = Array.from({ length: d }, (_, i) => i);
    for (let a = 0; a < outer; a++) for (let i = 0; i < inner; i++) {
      const at = (j: number) => (a * d + j) * inner + i;
      // Ties keep the lower index first (ONNX: "the element with the lower index appears first").
      order.sort((p, q) => { const diff = largest ? v[at(q)]! - v[at(p)]! : v[at(p)]! - v[at(q)]!; return diff !== 0 && !Number.isNaN(diff) ? diff : p - q; });
      for (let j = 0; j < k; j++) { vals[(a * k + j) * inner + i] = at(order[j]!); idxs[(a * k + j) * inner + i] = order[j]!; }
    }
    return [take(x!, shape, vals), result(DTypes.int64, shape, idxs)];
  });
}
