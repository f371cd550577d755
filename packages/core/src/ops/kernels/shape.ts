// Data-movement kernels (exact for every dtype): shapes, reshapes, gathers, slices, scatters, padding.
import { DTypes, dtypeFromOnnx } from '../../dtype.js';
import { Tensor } from '../../tensor.js';
import { sliceDim } from '../onnx/shape.js';
import { broadcastIndex, iota, ints, isNumeric, sizeOf, strides, take } from '../kernels-util.js';
import { refuse, guard, fail, ai, ais, af, normAxis, i64, f64, result, broadcastIndexShape, joinStorage, transpose, forEachIndex, type Ctx, type Def } from './common.js';

function reshapeTo(ctx: Ctx, x: Tensor, target: number[], allowzero: boolean): Tensor {
  let infer = -1;
  const shape = target.map((t, i) => {
    if (t === -1) { if (infer >= 0) fail(ctx, 'more than one -1 in shape'); infer = i; return 1; }
    if (t === 0 && !allowzero) { if (i >= x.shape.length) fail(ctx, `shape entry ${i} copies a dim the input (rank ${x.shape.length}) does not have`); return x.shape[i]!; }
    if (t < -1) fail(ctx, `invalid shape entry ${t}`);
    return t;
  });
  if (infer >= 0) {
    const rest = sizeOf(shape);
    if (rest === 0 || x.size % rest !== 0) fail(ctx, `cannot reshape [${x.shape.join(', ')}] to [${target.join(', ')}]`);
    shape[infer] = x.size / rest;
  }
  if (sizeOf(shape) !== x.size) fail(ctx, `cannot reshape [${x.shape.join(', ')}] (${x.size} elements) to [${shape.join(', ')}]`);
  return x.reshape(shape);
}

/** Index map of a strided box: per axis a start and step, with output shape `shape`. */
function boxIndex(inShape: readonly number[], shape: readonly number[], starts: readonly number[], steps: readonly number[]): Int32Array {
  const st = strides(inShape);
  const n = sizeOf(shape);
  const idx = new Int32Array(n);
  const c = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let off = 0;
    for (let d = 0; d < shape.length; d++) off += (starts[d]! + c[d]! * steps[d]!) * st[d]!;
    idx[k] = off;
    for (let d = shape.length - 1; d >= 0; d--) { if (++c[d]! < shape[d]!) break; c[d] = 0; }
  }
  return idx;
}

function concat(ctx: Ctx, xs: Tensor[], axis: number): Tensor {
  const r = xs[0]!.shape.length;
  const ax = normAxis(ctx, axis, r);
  const shape = [...xs[0]!.shape];
  shape[ax] = 0;
  for (const t of xs) {
    if (t.shape.length !== r || t.dtype !== xs[0]!.dtype) fail(ctx, 'inputs must have the same rank and dtype');
    t.shape.forEach((d, i) => { if (i !== ax && d !== shape[i]) fail(ctx, `dim ${i} differs: ${d} vs ${shape[i]}`); });
    shape[ax] += t.shape[ax]!;
  }
  guard(ctx, shape);
  // Concatenate storage via a joined index over a virtual stacked tensor.
  const outer = sizeOf(shape.slice(0, ax));
  const parts: { t: Tensor; inner: number }[] = xs.map((t) => ({ t, inner: sizeOf(t.shape.slice(ax)) }));
  const offsets: number[] = [];
  let total = 0;
  for (const p of parts) { offsets.push(total); total += p.t.size; }
  const joined = joinStorage(xs);
  const idx: number[] = [];
  for (let o = 0; o < outer; o++) parts.forEach((p, j) => { for (let i = 0; i < p.inner; i++) idx.push(offsets[j]! + o * p.inner + i); });
  return take(joined, shape, idx);
}

const REDUCE: Record<string, (a: number, b: number) => number> = {
  none: (_a, b) => b, add: (a, b) => a + b, mul: (a, b) => a * b, max: Math.max, min: Math.min,
};

/** Writes `updates` into a float64 copy of `data` at flat offsets, with the ONNX reduction. */
function scatterInto(ctx: Ctx, data: Tensor, offsets: ArrayLike<number>, updates: Tensor): Tensor {
  const f = REDUCE[ctx.node.attr<string>('reduction', 'none')];
  if (!f) fail(ctx, `unsupported reduction '${ctx.node.attr<string>('reduction', '')}'; allowed: none, add, mul, max, min`);
  if (!isNumeric(data.dtype)) {
    // Exact path for any dtype without reduction: index into data ++ updates.
    if (ctx.node.attr<string>('reduction', 'none') !== 'none') return refuse();
    const joined = joinStorage([data, updates.reshape([updates.size])]);
    const map = iota(data.size);
    for (let k = 0; k < offsets.length; k++) map[offsets[k]!] = data.size + k;
    return take(joined, data.shape, map);
  }
  const o = f64(data).slice();
  const u = f64(updates);
  for (let k = 0; k < offsets.length; k++) o[offsets[k]!] = f(o[offsets[k]!]!, u[k]!);
  return result(data.dtype, data.shape, o);
}

/** Registers the shape kernels. */
export function registerShapeKernels(def: Def): void {
  def('Constant', (ctx) => {
    const n = ctx.node;
    const a = n.attrs.get('value') ?? n.attrs.get('value_float') ?? n.attrs.get('value_floats') ?? n.attrs.get('value_int') ?? n.attrs.get('value_ints') ?? n.attrs.get('value_string') ?? n.attrs.get('value_strings');
    if (!a) return undefined;
    switch (a.type) {
      case 'tensor': return [a.value];
      case 'float': return [Tensor.from(DTypes.float32, [], [a.value])];
      case 'floats': return [Tensor.from(DTypes.float32, [a.value.length], a.value)];
      case 'int': return [Tensor.from(DTypes.int64, [], [BigInt(a.value)])];
      case 'ints': return [Tensor.from(DTypes.int64, [a.value.length], a.value.map((v) => BigInt(v)))];
      case 'string': return [Tensor.from(DTypes.string, [], [a.value])];
      case 'strings': return [Tensor.from(DTypes.string, [a.value.length], a.value)];
      default: return undefined;
    }
  });

  def('Shape', (ctx, [x]) => {
    const r = x!.shape.length;
    const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
    const s = clamp(ai(ctx, 'start', 0));
    const e = clamp(ai(ctx, 'end', r));
    return [i64([Math.max(0, e - s)], x!.shape.slice(s, Math.max(s, e)))];
  });

  def('Size', (_c, [x]) => [i64([], [x!.size])]);
  def('Reshape', (ctx, [x, shape]) => [reshapeTo(ctx, x!, shape ? ints(shape) : ais(ctx, 'shape') ?? fail(ctx, 'no shape'), ai(ctx, 'allowzero', 0) !== 0)]);

  def('Flatten', (ctx, [x]) => {
    const r = x!.shape.length;
    let axis = ai(ctx, 'axis', 1);
    if (axis < -r || axis > r) fail(ctx, `axis ${axis} out of range for rank ${r}`);
    if (axis < 0) axis += r;
    return [x!.reshape([sizeOf(x!.shape.slice(0, axis)), sizeOf(x!.shape.slice(axis))])];
  });

  def('Squeeze', (ctx, [x, axesT]) => {
    const axes = ais(ctx, 'axes') ?? (axesT ? ints(axesT) : undefined);
    const r = x!.shape.length;
    const set = new Set((axes ?? x!.shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => normAxis(ctx, a, r)));
    for (const i of set) if (x!.shape[i] !== 1) fail(ctx, `cannot squeeze axis ${i} of size ${x!.shape[i]}`);
    return [x!.reshape(x!.shape.filter((_, i) => !set.has(i)))];
  });

  def('Unsqueeze', (ctx, [x, axesT]) => {
    const axes = ais(ctx, 'axes') ?? (axesT ? ints(axesT) : fail(ctx, 'no axes'));
    const r = x!.shape.length + axes.length;
    const set = new Set(axes.map((a) => normAxis(ctx, a, r)));
    if (set.size !== axes.length) fail(ctx, 'duplicate axes');
    const shape: number[] = [];
    let j = 0;
    for (let i = 0; i < r; i++) shape.push(set.has(i) ? 1 : x!.shape[j++]!);
    return [x!.reshape(shape)];
  });

  def('Transpose', (ctx, [x]) => {
    const r = x!.shape.length;
    const perm = (ais(ctx, 'perm') ?? x!.shape.map((_, i) => r - 1 - i)).map((p) => normAxis(ctx, p, r));
    if (perm.length !== r || new Set(perm).size !== r) fail(ctx, `perm [${perm.join(', ')}] is not a permutation of ${r} axes`);
    return [transpose(x!, perm)];
  });

  def('Concat', (ctx, xs) => [concat(ctx, xs.filter((t): t is Tensor => !!t), ai(ctx, 'axis', 0))]);

  def('Gather', (ctx, [x, ind]) => {
    const r = x!.shape.length;
    const axis = normAxis(ctx, ai(ctx, 'axis', 0), r);
    const idx = ints(ind!);
    const d = x!.shape[axis]!;
    const shape = [...x!.shape.slice(0, axis), ...ind!.shape, ...x!.shape.slice(axis + 1)];
    guard(ctx, shape);
    const outer = sizeOf(x!.shape.slice(0, axis));
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const map: number[] = [];
    for (let o = 0; o < outer; o++) for (const raw of idx) {
      const j = raw < 0 ? raw + d : raw;
      if (j < 0 || j >= d) fail(ctx, `index ${raw} is out of range for axis ${axis} of size ${d}`);
      for (let i = 0; i < inner; i++) map.push((o * d + j) * inner + i);
    }
    return [take(x!, shape, map)];
  });

  def('Slice', (ctx, [x, st, en, ax, sp]) => {
    const r = x!.shape.length;
    const starts = ctx.opset < 10 ? ais(ctx, 'starts')! : ints(st!);
    const ends = ctx.opset < 10 ? ais(ctx, 'ends')! : ints(en!);
    const axes = (ctx.opset < 10 ? ais(ctx, 'axes') : ax ? ints(ax) : undefined) ?? starts.map((_, i) => i);
    const steps = sp ? ints(sp) : starts.map(() => 1);
    const s0 = new Array<number>(r).fill(0);
    const step = new Array<number>(r).fill(1);
    const shape = [...x!.shape];
    axes.forEach((a, k) => {
      const i = normAxis(ctx, a, r);
      const d = x!.shape[i]!;
      const stp = steps[k]!;
      if (stp === 0) fail(ctx, 'steps must not be 0');
      let s = starts[k]!;
      s = s < 0 ? Math.max(s + d, stp < 0 ? -1 : 0) : Math.min(s, stp < 0 ? d - 1 : d);
      s0[i] = s;
      step[i] = stp;
      shape[i] = sliceDim(d, starts[k]!, ends[k]!, stp);
    });
    return [take(x!, shape, boxIndex(x!.shape, shape, s0, step))];
  });

  def('Range', (ctx, [s, l, d]) => {
    const [a, b, c] = [s!, l!, d!].map((t) => f64(t)[0]!) as [number, number, number];
    if (c === 0) fail(ctx, 'delta must not be 0');
    const n = Math.max(Math.ceil((b - a) / c), 0);
    guard(ctx, [n]);
    const o = new Float64Array(n);
    for (let i = 0; i < n; i++) o[i] = a + i * c;
    return [result(s!.dtype, [n], o)];
  });

  def('ConstantOfShape', (ctx, [shapeT]) => {
    const shape = ints(shapeT!);
    guard(ctx, shape);
    const v = ctx.node.attr<Tensor | undefined>('value', undefined) ?? Tensor.from(DTypes.float32, [1], [0]);
    return [take(v, shape, new Int32Array(sizeOf(shape)))];
  });

  def('Expand', (ctx, [x, shapeT]) => {
    let shape: number[] = [];
    try { shape = broadcastIndexShape([x!.shape, ints(shapeT!)]); } catch (e) { fail(ctx, (e as Error).message); }
    guard(ctx, shape);
    const { maps } = broadcastIndex([x!.shape, shape]);
    return [take(x!, shape, maps[0]!)];
  });

  def('Tile', (ctx, [x, rep]) => {
    const reps = ints(rep!);
    if (reps.length !== x!.shape.length) fail(ctx, `repeats has ${reps.length} entries for rank ${x!.shape.length}`);
    const shape = x!.shape.map((d, i) => d * reps[i]!);
    guard(ctx, shape);
    const st = strides(x!.shape);
    const n = sizeOf(shape);
    const idx = new Int32Array(n);
    const c = new Array<number>(shape.length).fill(0);
    for (let k = 0; k < n; k++) {
      let off = 0;
      for (let d = 0; d < shape.length; d++) off += (c[d]! % x!.shape[d]!) * st[d]!;
      idx[k] = off;
      for (let d = shape.length - 1; d >= 0; d--) { if (++c[d]! < shape[d]!) break; c[d] = 0; }
    }
    return [take(x!, shape, idx)];
  });

  def('Where', (ctx, [c, x, y]) => {
    let shape: number[] = [];
    try { shape = broadcastIndexShape([c!.shape, x!.shape, y!.shape]); } catch (e) { fail(ctx, (e as Error).message); }
    guard(ctx, shape);
    const { maps } = broadcastIndex([c!.shape, x!.shape, y!.shape]);
    const cond = c!.data as Uint8Array;
    const joined = joinStorage([x!, y!]);
    const idx = new Int32Array(sizeOf(shape));
    for (let k = 0; k < idx.length; k++) idx[k] = cond[maps[0]![k]!] ? maps[1]![k]! : x!.size + maps[2]![k]!;
    return [take(joined, shape, idx)];
  });

  def('Split', (ctx, [x, splitT]) => {
    const r = x!.shape.length;
    const axis = normAxis(ctx, ai(ctx, 'axis', 0), r);
    const n = ctx.node.outputs.length;
    const d = x!.shape[axis]!;
    let sizes = ais(ctx, 'split') ?? (splitT ? ints(splitT) : undefined);
    if (!sizes) {
      if (ctx.node.attrs.has('num_outputs')) { const c = Math.ceil(d / n); sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(c, d - c * i))); }
      else { if (d % n) fail(ctx, `dim ${d} does not split evenly into ${n}`); sizes = new Array<number>(n).fill(d / n); }
    }
    if (sizes.reduce((p, q) => p + q, 0) !== d) fail(ctx, `split [${sizes.join(', ')}] does not add up to ${d}`);
    let start = 0;
    return sizes.map((sz) => {
      const shape = x!.shape.map((v, i) => (i === axis ? sz : v));
      const s0 = x!.shape.map((_, i) => (i === axis ? start : 0));
      start += sz;
      return take(x!, shape, boxIndex(x!.shape, shape, s0, shape.map(() => 1)));
    });
  });

  def('GatherElements', (ctx, [x, ind]) => {
    const r = x!.shape.length;
    const axis = normAxis(ctx, ai(ctx, 'axis', 0), r);
    if (ind!.shape.length !== r) fail(ctx, 'indices must have the rank of data');
    return [take(x!, ind!.shape, elementOffsets(ctx, x!, ind!, axis))];
  });

  def('Trilu', (ctx, [x, kT]) => {
    const r = x!.shape.length;
    if (r < 2) fail(ctx, 'input must have rank ≥ 2');
    const k = kT ? ints(kT)[0]! : 0;
    const upper = ai(ctx, 'upper', 1) !== 0;
    const [n, m] = x!.shape.slice(-2) as [number, number];
    const zeroAt = x!.size; // index of an appended zero element
    const joined = joinStorage([x!, Tensor.zeros(x!.dtype, [1])]);
    const map = new Int32Array(x!.size);
    for (let p = 0; p < x!.size; p++) {
      const j = p % m;
      const i = Math.floor(p / m) % n;
      const keep = upper ? j - i >= k : j - i <= k;
      map[p] = keep ? p : zeroAt;
    }
    return [take(joined, x!.shape, map)];
  });

  def('EyeLike', (ctx, [x]) => {
    const [n, m] = x!.shape as [number, number];
    if (x!.shape.length !== 2) fail(ctx, 'input must be 2-D');
    const k = ai(ctx, 'k', 0);
    const dt = ctx.node.attrs.has('dtype') ? dtypeFromOnnx(ai(ctx, 'dtype', 1)) : x!.dtype;
    const o = new Float64Array(n * m);
    for (let i = 0; i < n; i++) { const j = i + k; if (j >= 0 && j < m) o[i * m + j] = 1; }
    return [result(dt, [n, m], o)];
  });

  def('OneHot', (ctx, [ind, depthT, values]) => {
    const depth = Math.trunc(f64(depthT!)[0]!);
    const r = ind!.shape.length;
    const axis = normAxis(ctx, ai(ctx, 'axis', -1), r + 1);
    const shape = [...ind!.shape];
    shape.splice(axis, 0, depth);
    guard(ctx, shape);
    const idx = f64(ind!);
    const outer = sizeOf(ind!.shape.slice(0, axis));
    const inner = sizeOf(ind!.shape.slice(axis));
    const map = new Int32Array(sizeOf(shape));
    for (let a = 0; a < outer; a++) for (let d = 0; d < depth; d++) for (let i = 0; i < inner; i++) {
      let j = Math.trunc(idx[a * inner + i]!);
      if (j < 0) j += depth;
      map[(a * depth + d) * inner + i] = j === d ? 1 : 0;
    }
    return [take(values!, shape, map)];
  });

  def('Pad', (ctx, [x, padsT, cval, axesT]) => {
    const r = x!.shape.length;
    const mode = ctx.node.attr<string>('mode', 'constant');
    const raw = ais(ctx, 'pads') ?? ais(ctx, 'paddings') ?? (padsT ? ints(padsT) : fail(ctx, 'no pads'));
    const axes = (axesT ? ints(axesT) : x!.shape.map((_, i) => i)).map((a) => normAxis(ctx, a, r));
    if (raw.length !== 2 * axes.length) fail(ctx, `pads has ${raw.length} entries; expected ${2 * axes.length}`);
    const begin = new Array<number>(r).fill(0);
    const end = new Array<number>(r).fill(0);
    axes.forEach((a, k) => { begin[a] = raw[k]!; end[a] = raw[k + axes.length]!; });
    const shape = x!.shape.map((d, i) => d + begin[i]! + end[i]!);
    if (shape.some((d) => d < 0)) fail(ctx, 'negative output dim');
    guard(ctx, shape);
    const xst = strides(x!.shape);
    const padAt = x!.size; // index of the appended constant value
    const value = cval ?? (ctx.opset < 11 ? Tensor.from(x!.dtype, [1], [af(ctx, 'value', 0)]) : Tensor.zeros(x!.dtype, [1]));
    if (value.dtype !== x!.dtype) fail(ctx, 'constant_value must have the input dtype');
    const joined = joinStorage([x!, value.reshape([value.size])]);
    const map = new Int32Array(sizeOf(shape));
    forEachIndex(shape, (idx, flat) => {
      let off = 0;
      for (let i = 0; i < r; i++) {
        const d = x!.shape[i]!;
        let q = idx[i]! - begin[i]!;
        if (q < 0 || q >= d) {
          if (mode === 'constant' || d === 0) { off = -1; break; }
          if (mode === 'edge') q = q < 0 ? 0 : d - 1;
          else if (mode === 'wrap') q = ((q % d) + d) % d;
          else if (mode === 'reflect') {
            if (d === 1) q = 0;
            else { const period = 2 * (d - 1); q = ((q % period) + period) % period; if (q >= d) q = period - q; }
          } else fail(ctx, `unsupported mode '${mode}'`);
        }
        off += q * xst[i]!;
      }
      map[flat] = off < 0 ? padAt : off;
    });
    return [take(joined, shape, map)];
  });

  def('GatherND', (ctx, [x, ind]) => {
    const b = ai(ctx, 'batch_dims', 0);
    const q = ind!.shape.length;
    const last = ind!.shape[q - 1]!;
    if (b + last > x!.shape.length) fail(ctx, `indices last dim ${last} plus batch_dims ${b} exceeds data rank ${x!.shape.length}`);
    const shape = [...ind!.shape.slice(0, -1), ...x!.shape.slice(b + last)];
    guard(ctx, shape);
    const idx = ints(ind!);
    const xst = strides(x!.shape);
    const slice = sizeOf(x!.shape.slice(b + last));
    const batchInner = sizeOf(ind!.shape.slice(b, -1)); // index tuples per batch entry
    const map: number[] = [];
    const tuples = idx.length / last;
    for (let t = 0; t < tuples; t++) {
      const batch = Math.floor(t / batchInner);
      let off = 0;
      let rest = batch;
      for (let d = b - 1; d >= 0; d--) { off += (rest % x!.shape[d]!) * xst[d]!; rest = Math.floor(rest / x!.shape[d]!); }
      for (let k = 0; k < last; k++) {
        const dim = x!.shape[b + k]!;
        let j = idx[t * last + k]!;
        if (j < 0) j += dim;
        if (j < 0 || j >= dim) fail(ctx, `index ${idx[t * last + k]} is out of range for dim ${b + k} of size ${dim}`);
        off += j * xst[b + k]!;
      }
      for (let i = 0; i < slice; i++) map.push(off + i);
    }
    return [take(x!, shape, map)];
  });

  def(['ScatterElements', 'Scatter'], (ctx, [x, ind, upd]) => {
    const r = x!.shape.length;
    const axis = normAxis(ctx, ai(ctx, 'axis', 0), r);
    if (ind!.shape.join() !== upd!.shape.join()) fail(ctx, 'indices and updates must have the same shape');
    return [scatterInto(ctx, x!, elementOffsets(ctx, x!, ind!, axis), upd!)];
  });

  def('ScatterND', (ctx, [x, ind, upd]) => {
    const q = ind!.shape.length;
    const last = ind!.shape[q - 1]!;
    const idx = ints(ind!);
    const xst = strides(x!.shape);
    const slice = sizeOf(x!.shape.slice(last));
    const tuples = idx.length / last;
    if (upd!.size !== tuples * slice) fail(ctx, `updates has ${upd!.size} elements; expected ${tuples * slice}`);
    const offs = new Int32Array(tuples * slice);
    for (let t = 0; t < tuples; t++) {
      let off = 0;
      for (let k = 0; k < last; k++) {
        const dim = x!.shape[k]!;
        let j = idx[t * last + k]!;
        if (j < 0) j += dim;
        if (j < 0 || j >= dim) fail(ctx, `index ${idx[t * last + k]} is out of range for dim ${k} of size ${dim}`);
        off += j * xst[k]!;
      }
      for (let i = 0; i < slice; i++) offs[t * slice + i] = off + i;
    }
    return [scatterInto(ctx, x!, offs, upd!)];
  });

  def('DepthToSpace', (ctx, [x]) => {
    if (x!.shape.length !== 4) fail(ctx, 'input must have rank 4');
    const [n, c, h, w] = x!.shape as [number, number, number, number];
    const b = ai(ctx, 'blocksize', 1);
    if (c % (b * b)) fail(ctx, `channels ${c} are not divisible by blocksize² ${b * b}`);
    const dcr = ctx.node.attr<string>('mode', 'DCR') === 'DCR';
    // DCR: [n, b, b, c/b², h, w] → [n, c/b², h, b, w, b]; CRD: [n, c/b², b, b, h, w] → same target.
    const t = x!.reshape(dcr ? [n, b, b, c / (b * b), h, w] : [n, c / (b * b), b, b, h, w]);
    const perm = dcr ? [0, 3, 4, 1, 5, 2] : [0, 1, 4, 2, 5, 3];
    return [transpose(t, perm).reshape([n, c / (b * b), h * b, w * b])];
  });
  def('SpaceToDepth', (ctx, [x]) => {
    if (x!.shape.length !== 4) fail(ctx, 'input must have rank 4');
    const [n, c, h, w] = x!.shape as [number, number, number, number];
    const b = ai(ctx, 'blocksize', 1);
    if (h % b || w % b) fail(ctx, `spatial dims ${h}×${w} are not divisible by blocksize ${b}`);
    const t = transpose(x!.reshape([n, c, h / b, b, w / b, b]), [0, 3, 5, 1, 2, 4]);
    return [t.reshape([n, c * b * b, h / b, w / b])];
  });
  def('Compress', (ctx, [x, cond]) => {
    const c = cond!.data as Uint8Array;
    if (!ctx.node.attrs.has('axis')) {
      const keep: number[] = [];
      for (let i = 0; i < Math.min(c.length, x!.size); i++) if (c[i]) keep.push(i);
      return [take(x!, [keep.length], keep)];
    }
    const r = x!.shape.length;
    const axis = normAxis(ctx, ai(ctx, 'axis', 0), r);
    const d = x!.shape[axis]!;
    const sel: number[] = [];
    for (let i = 0; i < Math.min(c.length, d); i++) if (c[i]) sel.push(i);
    const outer = sizeOf(x!.shape.slice(0, axis));
    const inner = sizeOf(x!.shape.slice(axis + 1));
    const map: number[] = [];
    for (let o = 0; o < outer; o++) for (const j of sel) for (let i = 0; i < inner; i++) map.push((o * d + j) * inner + i);
    return [take(x!, x!.shape.map((v, i) => (i === axis ? sel.length : v)), map)];
  });
  def('NonZero', (_ctx, [x]) => {
    if (!isNumeric(x!.dtype)) return refuse();
    const v = f64(x!);
    const st = strides(x!.shape);
    const hits: number[] = [];
    for (let i = 0; i < v.length; i++) if (v[i] !== 0) hits.push(i);
    const r = x!.shape.length;
    const o: number[] = new Array(r * hits.length);
    hits.forEach((flat, k) => { for (let d = 0; d < r; d++) o[d * hits.length + k] = Math.floor(flat / st[d]!) % x!.shape[d]!; });
    return [i64([r, hits.length], o)];
  });
  def('ReverseSequence', (ctx, [x, lens]) => {
    const r = x!.shape.length;
    const bAxis = normAxis(ctx, ai(ctx, 'batch_axis', 1), r);
    const tAxis = normAxis(ctx, ai(ctx, 'time_axis', 0), r);
    const L = ints(lens!);
    const st = strides(x!.shape);
    const map = new Int32Array(x!.size);
    forEachIndex(x!.shape, (idx, flat) => {
      const len = L[idx[bAxis]!]!;
      const t = idx[tAxis]!;
      const src = t < len ? len - 1 - t : t;
      map[flat] = flat + (src - t) * st[tAxis]!;
    });
    return [take(x!, x!.shape, map)];
  });
}

/**
 * GatherElements/ScatterElements addressing: for each element of `ind`, the flat offset into `x`
 * of the element it names (its own coordinates, with `axis` replaced by the index; negative
 * indices count from the end, out-of-range ones fail).
 */
function elementOffsets(ctx: Ctx, x: Tensor, ind: Tensor, axis: number): Int32Array {
  const r = x.shape.length;
  const idx = ints(ind);
  const xst = strides(x.shape);
  const ist = strides(ind.shape);
  const offs = new Int32Array(idx.length);
  for (let k = 0; k < idx.length; k++) {
    let off = 0;
    for (let d = 0; d < r; d++) {
      let c = Math.floor(k / ist[d]!) % ind.shape[d]!;
      if (d === axis) {
        c = idx[k]! < 0 ? idx[k]! + x.shape[d]! : idx[k]!;
        if (c < 0 || c >= x.shape[d]!) fail(ctx, `index ${idx[k]} is out of range for axis ${axis} of size ${x.shape[d]}`);
      }
      off += c * xst[d]!;
    }
    offs[k] = off;
  }
  return offs;
}
