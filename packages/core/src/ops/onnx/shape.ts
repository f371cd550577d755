// Shape and data-movement ops. Inference uses constant inputs (shape, starts/ends, repeats, pads…) when known.
import { DTypes } from '../../dtype.js';
import type { Dim } from '../../ir/types.js';
import type { Tensor } from '../../tensor.js';
import {
  attrInt, attrInts, broadcastShapes, constInts, dimProduct, dtypeAttr, hasInput, I64,
  inDtype, inShape, mergeDim, normAxis, out, sameAs, shapeInts, unknownShape,
} from '../infer-util.js';
import type { InferenceContext, InferFn, OpSchema } from '../schema.js';
import { a, ALL, FLOAT, IDX, NUM, schemas, type OpDef } from './define.js';

/** Axes from the attribute (older opsets) or from constant input `i`; null when not known. Undefined: none given. */
function axesOf(ctx: InferenceContext, i: number): number[] | null | undefined {
  const attr = attrInts(ctx, 'axes');
  if (attr) return attr;
  if (hasInput(ctx, i)) return constInts(ctx, i) ?? null;
  return undefined;
}

/** Length of a 1-D input when its shape is static (e.g. the rank a shape tensor describes). */
function staticLength(ctx: InferenceContext, i: number): number | null {
  const s = inShape(ctx, i);
  return s && s.length === 1 && typeof s[0] === 'number' ? s[0] : null;
}

const shapeInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  if (!s) return [out(I64, [null])];
  const r = s.length;
  const clamp = (x: number) => Math.min(r, Math.max(0, x < 0 ? x + r : x));
  const start = clamp(attrInt(ctx, 'start', 0)!);
  const end = clamp(attrInt(ctx, 'end', r)!);
  return [out(I64, [Math.max(0, end - start)])];
};

/**
 * Resolves a Reshape target against the input shape: 0 copies the input dim (unless allowzero),
 * -1 is inferred, other numbers are sizes; symbolic or unknown (null) entries are taken as dims.
 */
export function reshapeTarget(ctx: InferenceContext, input: readonly Dim[] | null, target: readonly Dim[], allowzero: boolean): Dim[] {
  let inferAt = -1;
  const res: Dim[] = target.map((t, i) => {
    if (typeof t !== 'number') return t;
    if (t === -1) {
      if (inferAt >= 0) ctx.fail('shape has more than one -1 entry');
      inferAt = i;
      return null;
    }
    if (t === 0 && !allowzero) {
      if (input && i >= input.length) ctx.fail(`shape entry ${i} is 0 (copy) but the input has rank ${input.length}`);
      return input ? input[i]! : null;
    }
    if (t < -1) ctx.fail(`shape entry ${i} is ${t}; allowed: -1, 0 or a positive size`);
    return t;
  });
  if (inferAt >= 0 && input) {
    // Cancel equal symbols between input and output; the static parts divide. A single symbol
    // left over with a static ratio of 1 is the inferred dim; anything else unknown stays null.
    const numSyms = input.filter((d): d is string => typeof d === 'string');
    const denSyms = res.filter((d, i): d is string => i !== inferAt && typeof d === 'string');
    const hasNull = input.includes(null) || res.some((d, i) => i !== inferAt && d === null);
    for (let j = denSyms.length - 1; j >= 0; j--) {
      const k = numSyms.indexOf(denSyms[j]!);
      if (k >= 0) { numSyms.splice(k, 1); denSyms.splice(j, 1); }
    }
    const pn = input.reduce<number>((p, d) => (typeof d === 'number' ? p * d : p), 1);
    const pd = res.reduce<number>((p, d, i) => (i !== inferAt && typeof d === 'number' ? p * d : p), 1);
    if (!hasNull && denSyms.length === 0 && pd !== 0) {
      if (numSyms.length === 0) {
        if (pn % pd !== 0) ctx.fail(`cannot reshape [${input.join(', ')}] to [${target.join(', ')}]: ${pn} is not divisible by ${pd}`);
        res[inferAt] = pn / pd;
      } else if (numSyms.length === 1 && pn === pd) res[inferAt] = numSyms[0]!;
    } else if (!hasNull && pn === 0 && numSyms.length === 0 && pd !== 0) res[inferAt] = 0;
  }
  const pIn = input ? dimProduct(input) : null;
  const pOut = dimProduct(res);
  if (pIn !== null && pOut !== null && pIn !== pOut) ctx.fail(`cannot reshape [${input!.join(', ')}] (${pIn} elements) to [${res.join(', ')}] (${pOut} elements)`);
  return res;
}

const reshapeInfer: InferFn = (ctx) => {
  const dt = inDtype(ctx, 0);
  const attrShape = attrInts(ctx, 'shape');
  const target = attrShape ?? shapeInts(ctx, 1);
  if (!target) return [out(dt, unknownShape(staticLength(ctx, 1)))];
  return [out(dt, reshapeTarget(ctx, inShape(ctx, 0), target, attrInt(ctx, 'allowzero', 0) !== 0))];
};

const flattenInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  if (!s) return [out(inDtype(ctx, 0), [null, null])];
  let axis = attrInt(ctx, 'axis', 1)!;
  if (axis < -s.length || axis > s.length) ctx.fail(`axis ${axis} is out of range for rank ${s.length}`);
  if (axis < 0) axis += s.length;
  const prod = (dims: readonly Dim[]): Dim => (dims.length === 1 ? dims[0]! : dimProduct(dims));
  return [out(inDtype(ctx, 0), [axis === 0 ? 1 : prod(s.slice(0, axis)), axis === s.length ? 1 : prod(s.slice(axis))])];
};

const squeezeInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  const axes = axesOf(ctx, 1);
  if (!s || axes === null) return [out(dt, null)];
  if (axes === undefined || axes.length === 0) {
    if (s.some((d) => typeof d !== 'number')) return [out(dt, null)];
    return [out(dt, s.filter((d) => d !== 1))];
  }
  const set = new Set(axes.map((x) => normAxis(ctx, x, s.length, 'axes entry')));
  for (const i of set) if (typeof s[i] === 'number' && s[i] !== 1) ctx.fail(`cannot squeeze axis ${i} of size ${s[i]}`);
  return [out(dt, s.filter((_, i) => !set.has(i)))];
};

const unsqueezeInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  const axes = axesOf(ctx, 1);
  if (!s || !axes) return [out(dt, null)];
  const r = s.length + axes.length;
  const set = new Set(axes.map((x) => normAxis(ctx, x, r, 'axes entry')));
  if (set.size !== axes.length) ctx.fail('axes has duplicate entries');
  const res: Dim[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) res.push(set.has(i) ? 1 : s[j++]!);
  return [out(dt, res)];
};

const transposeInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  if (!s) return [out(dt, null)];
  const perm = attrInts(ctx, 'perm') ?? s.map((_, i) => s.length - 1 - i);
  if (perm.length !== s.length) ctx.fail(`perm has ${perm.length} entries but the input has rank ${s.length}`);
  return [out(dt, perm.map((p) => s[normAxis(ctx, p, s.length, 'perm entry')]!))];
};

const concatInfer: InferFn = (ctx) => {
  let res: Dim[] | null = null;
  let dt = null;
  let axis = attrInt(ctx, 'axis', 0)!;
  let sum: Dim = 0;
  for (let i = 0; i < ctx.node.inputs.length; i++) {
    dt ??= inDtype(ctx, i);
    const s = inShape(ctx, i);
    if (!s) { sum = null; continue; }
    if (!res) { axis = normAxis(ctx, axis, s.length); res = [...s]; }
    else {
      if (s.length !== res.length) ctx.fail(`input ${i} has rank ${s.length}, expected ${res.length}`);
      for (let k = 0; k < s.length; k++) if (k !== axis) res[k] = mergeDim(res[k]!, s[k]!);
    }
    sum = typeof sum === 'number' && typeof s[axis] === 'number' ? sum + (s[axis] as number) : null;
  }
  if (res) res[axis] = sum;
  return [out(dt, res)];
};

const splitInfer: InferFn = (ctx) => {
  const n = ctx.node.outputs.length;
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  if (!s) return Array.from({ length: n }, () => out(dt, null));
  const axis = normAxis(ctx, attrInt(ctx, 'axis', 0)!, s.length);
  const split = attrInts(ctx, 'split') ?? (hasInput(ctx, 1) ? constInts(ctx, 1) ?? null : undefined);
  const d = s[axis]!;
  let sizes: Dim[];
  if (split === null) sizes = new Array<Dim>(n).fill(null);
  else if (split) {
    if (split.length !== n) ctx.fail(`split has ${split.length} entries but the node has ${n} outputs`);
    if (typeof d === 'number' && split.reduce((x, y) => x + y, 0) !== d) ctx.fail(`split sizes [${split.join(', ')}] do not add up to dim ${d}`);
    sizes = split;
  } else if (typeof d !== 'number') sizes = new Array<Dim>(n).fill(null);
  else if (hasNumOutputs(ctx)) {
    const chunk = Math.ceil(d / n);
    sizes = Array.from({ length: n }, (_, i) => (i < n - 1 ? chunk : d - chunk * (n - 1)));
  } else {
    if (d % n !== 0) ctx.fail(`dim ${d} cannot be split evenly into ${n} outputs`);
    sizes = new Array<Dim>(n).fill(d / n);
  }
  return sizes.map((z) => out(dt, s.map((x, i) => (i === axis ? z : x))));
};
const hasNumOutputs = (ctx: InferenceContext) => ctx.node.attrs.has('num_outputs');

/** Output dim of a slice of `d` from start to end by step (ONNX clamping rules). */
export function sliceDim(d: number, start: number, end: number, step: number): number {
  const clampS = (x: number) => (x < 0 ? Math.max(x + d, step < 0 ? -1 : 0) : Math.min(x, step < 0 ? d - 1 : d));
  const s = clampS(start);
  const e = end < 0 ? Math.max(end + d, step < 0 ? -1 : 0) : Math.min(end, step < 0 ? d - 1 : d);
  return Math.max(0, Math.ceil((e - s) / step));
}

const sliceInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  if (!s) return [out(dt, null)];
  const fromAttr = ctx.opset < 10;
  const starts = fromAttr ? attrInts(ctx, 'starts') : constInts(ctx, 1);
  const ends = fromAttr ? attrInts(ctx, 'ends') : constInts(ctx, 2);
  const axesRaw = fromAttr ? attrInts(ctx, 'axes') : hasInput(ctx, 3) ? constInts(ctx, 3) ?? null : undefined;
  const steps = fromAttr ? undefined : hasInput(ctx, 4) ? constInts(ctx, 4) ?? null : undefined;
  if (!starts || !ends || axesRaw === null || steps === null) {
    // Which axes change is unknown unless axes are known: the rank is kept.
    if (axesRaw) {
      const set = new Set(axesRaw.map((x) => normAxis(ctx, x, s.length, 'axes entry')));
      return [out(dt, s.map((d, i) => (set.has(i) ? null : d)))];
    }
    return [out(dt, unknownShape(s.length))];
  }
  if (starts.length !== ends.length) ctx.fail(`starts has ${starts.length} entries but ends has ${ends.length}`);
  const axes = axesRaw ?? starts.map((_, i) => i);
  const res: Dim[] = [...s];
  axes.forEach((ax, k) => {
    const i = normAxis(ctx, ax, s.length, 'axes entry');
    const step = steps ? steps[k]! : 1;
    if (step === 0) ctx.fail('steps must not be 0');
    const d = s[i]!;
    if (typeof d === 'number') res[i] = sliceDim(d, starts[k]!, ends[k]!, step);
    else res[i] = starts[k] === 0 && step === 1 && ends[k]! >= 2 ** 31 - 1 ? d : null;
  });
  return [out(dt, res)];
};

const gatherInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const idx = inShape(ctx, 1);
  const dt = inDtype(ctx, 0);
  if (!s || !idx) return [out(dt, null)];
  const axis = normAxis(ctx, attrInt(ctx, 'axis', 0)!, s.length);
  return [out(dt, [...s.slice(0, axis), ...idx, ...s.slice(axis + 1)])];
};

const gatherNDInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const idx = inShape(ctx, 1);
  const dt = inDtype(ctx, 0);
  if (!s || !idx) return [out(dt, null)];
  const b = attrInt(ctx, 'batch_dims', 0)!;
  const last = idx[idx.length - 1];
  if (typeof last !== 'number') return [out(dt, null)];
  if (b + last > s.length) ctx.fail(`indices last dim ${last} plus batch_dims ${b} exceeds data rank ${s.length}`);
  return [out(dt, [...idx.slice(0, -1), ...s.slice(b + last)])];
};

const expandInfer: InferFn = (ctx) => {
  const dt = inDtype(ctx, 0);
  const target = shapeInts(ctx, 1);
  const s = inShape(ctx, 0);
  if (target) return [out(dt, broadcastShapes(s, target))];
  const n = staticLength(ctx, 1);
  if (n === null || !s) return [out(dt, null)];
  const rank = Math.max(n, s.length);
  return [out(dt, Array.from({ length: rank }, (_, i) => {
    const d = i < rank - s.length ? 1 : s[i - (rank - s.length)]!;
    return typeof d === 'number' && d !== 1 ? d : null;
  }))];
};

const tileInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  if (!s) return [out(dt, null)];
  const reps = constInts(ctx, 1);
  if (!reps) return [out(dt, unknownShape(s.length))];
  if (reps.length !== s.length) ctx.fail(`repeats has ${reps.length} entries but the input has rank ${s.length}`);
  return [out(dt, s.map((d, i) => (reps[i] === 1 ? d : typeof d === 'number' ? d * reps[i]! : null)))];
};

const padInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  if (!s) return [out(dt, null)];
  const pads = attrInts(ctx, 'pads') ?? attrInts(ctx, 'paddings') ?? constInts(ctx, 1);
  const axesRaw = hasInput(ctx, 3) ? constInts(ctx, 3) ?? null : undefined;
  if (!pads || axesRaw === null) return [out(dt, unknownShape(s.length))];
  const axes = (axesRaw ?? s.map((_, i) => i)).map((x) => normAxis(ctx, x, s.length, 'axes entry'));
  if (pads.length !== 2 * axes.length) ctx.fail(`pads has ${pads.length} entries; expected ${2 * axes.length}`);
  const res: Dim[] = [...s];
  axes.forEach((ax, k) => {
    const d = s[ax]!;
    const add = pads[k]! + pads[k + axes.length]!;
    res[ax] = add === 0 ? d : typeof d === 'number' ? d + add : null;
  });
  return [out(dt, res)];
};

const constantOfShapeInfer: InferFn = (ctx) => {
  const v = ctx.attr<Tensor | undefined>('value', undefined);
  const dt = v ? v.dtype : DTypes.float32;
  const shape = shapeInts(ctx, 0);
  return [out(dt, shape ?? unknownShape(staticLength(ctx, 0)))];
};

const rangeInfer: InferFn = (ctx) => {
  const dt = inDtype(ctx, 0) ?? inDtype(ctx, 1);
  const [st, li, de] = [0, 1, 2].map((i) => ctx.constInput(i));
  if (st && li && de) {
    const [s, l, d] = [st, li, de].map((t) => Number(t.toArray()[0]));
    if (d === 0) ctx.fail('delta must not be 0');
    return [out(dt, [Math.max(Math.ceil((l! - s!) / d!), 0)])];
  }
  return [out(dt, [null])];
};

const constantInfer: InferFn = (ctx) => {
  const n = ctx.node;
  const v = n.attrs.get('value');
  if (v?.type === 'tensor') return [out(v.value.dtype, v.value.shape)];
  if (n.attrs.has('value_float')) return [out(DTypes.float32, [])];
  if (n.attrs.has('value_int')) return [out(DTypes.int64, [])];
  if (n.attrs.has('value_string')) return [out(DTypes.string, [])];
  const fl = n.attrs.get('value_floats');
  if (fl?.type === 'floats') return [out(DTypes.float32, [fl.value.length])];
  const il = n.attrs.get('value_ints');
  if (il?.type === 'ints') return [out(DTypes.int64, [il.value.length])];
  const sl = n.attrs.get('value_strings');
  if (sl?.type === 'strings') return [out(DTypes.string, [sl.value.length])];
  return [null];
};

const oneHotInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 2);
  if (!s) return [out(dt, null)];
  const depth = constInts(ctx, 1);
  const axis = normAxis(ctx, attrInt(ctx, 'axis', -1)!, s.length + 1);
  const res: Dim[] = [...s];
  res.splice(axis, 0, depth ? depth[0]! : null);
  return [out(dt, res)];
};

const compressInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  const axis = attrInt(ctx, 'axis');
  if (axis === undefined || !s) return [out(dt, axis === undefined ? [null] : null)];
  const ax = normAxis(ctx, axis, s.length);
  return [out(dt, s.map((d, i) => (i === ax ? null : d)))];
};

const uniqueInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  const axis = attrInt(ctx, 'axis');
  if (axis === undefined) {
    const total = s ? dimProduct(s) : null;
    return [out(dt, [null]), out(I64, [null]), out(I64, [total]), out(I64, [null])];
  }
  if (!s) return [out(dt, null), out(I64, [null]), out(I64, [null]), out(I64, [null])];
  const ax = normAxis(ctx, axis, s.length);
  return [out(dt, s.map((d, i) => (i === ax ? null : d))), out(I64, [null]), out(I64, [s[ax]!]), out(I64, [null])];
};

const topKInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  if (!s) return [out(dt, null), out(I64, null)];
  const axis = normAxis(ctx, attrInt(ctx, 'axis', -1)!, s.length);
  const k = ctx.opset < 10 ? attrInt(ctx, 'k') : constInts(ctx, 1)?.[0];
  const res = s.map((d, i) => (i === axis ? k ?? null : d));
  return [out(dt, res), out(I64, res)];
};

const depthToSpaceInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const b = attrInt(ctx, 'blocksize')!;
  if (!s) return [out(inDtype(ctx, 0), null)];
  if (s.length !== 4) ctx.fail(`input must have rank 4, got ${s.length}`);
  const [n, c, h, w] = s as Dim[];
  const f = (d: Dim, g: (x: number) => number) => (typeof d === 'number' ? g(d) : null);
  return [out(inDtype(ctx, 0), [n!, f(c!, (x) => x / (b * b)), f(h!, (x) => x * b), f(w!, (x) => x * b)])];
};

const spaceToDepthInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const b = attrInt(ctx, 'blocksize')!;
  if (!s) return [out(inDtype(ctx, 0), null)];
  if (s.length !== 4) ctx.fail(`input must have rank 4, got ${s.length}`);
  const [n, c, h, w] = s as Dim[];
  const f = (d: Dim, g: (x: number) => number) => (typeof d === 'number' ? g(d) : null);
  return [out(inDtype(ctx, 0), [n!, f(c!, (x) => x * b * b), f(h!, (x) => x / b), f(w!, (x) => x / b)])];
};

const resizeInfer: InferFn = (ctx) => {
  const s = inShape(ctx, 0);
  const dt = inDtype(ctx, 0);
  if (!s) return [out(dt, null)];
  const axes = (attrInts(ctx, 'axes') ?? s.map((_, i) => i)).map((x) => normAxis(ctx, x, s.length, 'axes entry'));
  const isUpsample = ctx.node.op === 'Upsample';
  const scalesIdx = isUpsample || ctx.opset < 11 ? 1 : 2;
  const sizes = !isUpsample && ctx.opset >= 11 ? constInts(ctx, 3) : undefined;
  const res: Dim[] = [...s];
  if (sizes && sizes.length) {
    const policy = ctx.attr<string>('keep_aspect_ratio_policy', 'stretch');
    if (policy !== 'stretch') {
      const ratios = axes.map((ax, k) => (typeof s[ax] === 'number' ? sizes[k]! / (s[ax] as number) : NaN));
      if (ratios.some(Number.isNaN)) return [out(dt, s.map((d, i) => (axes.includes(i) ? null : d)))];
      const r = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      axes.forEach((ax) => { res[ax] = Math.round(r * (s[ax] as number)); });
    } else axes.forEach((ax, k) => { res[ax] = sizes[k]!; });
    return [out(dt, res)];
  }
  const scales = ctx.attr<readonly number[] | undefined>('scales', undefined) ?? (hasInput(ctx, scalesIdx) ? constFloats(ctx, scalesIdx) : undefined);
  if (scales && scales.length) {
    axes.forEach((ax, k) => {
      const d = s[ax]!;
      res[ax] = scales[k] === 1 ? d : typeof d === 'number' ? Math.floor(d * scales[k]! + 1e-9) : null;
    });
    return [out(dt, res)];
  }
  return [out(dt, s.map((d, i) => (axes.includes(i) ? null : d)))];
};

function constFloats(ctx: InferenceContext, i: number): number[] | undefined {
  const t = ctx.constInput(i);
  return t ? Array.from(t.toFloat32()) : undefined; // scales are float32: ONNX computes floor(d * float32 scale)
}

/** Einsum output shape from the equation (explicit `->` or implicit sorted-once-letters form). */
const einsumInfer: InferFn = (ctx) => {
  const eq = (ctx.attr<string>('equation', '') ?? '').replace(/\s/g, '');
  const dt = inDtype(ctx, 0);
  const [lhs, rhs] = eq.split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  if (terms.length !== ctx.node.inputs.length) ctx.fail(`equation has ${terms.length} operands but the node has ${ctx.node.inputs.length} inputs`);
  const dims = new Map<string, Dim>();
  const counts = new Map<string, number>();
  let ell: Dim[] | null = [];
  for (let k = 0; k < terms.length; k++) {
    const s = inShape(ctx, k);
    const term = terms[k]!;
    const letters = term.replace('...', '');
    for (const c of letters) counts.set(c, (counts.get(c) ?? 0) + 1);
    if (!s) { ell = term.includes('...') ? null : ell; continue; }
    const ellRank = s.length - letters.length;
    if (ellRank < 0 || (ellRank > 0 && !term.includes('...'))) ctx.fail(`operand ${k} has rank ${s.length}, which does not match '${term}'`);
    let j = 0;
    for (let p = 0; p < term.length; p++) {
      if (term.startsWith('...', p)) {
        if (ell) ell = broadcastShapes(ell, s.slice(j, j + ellRank));
        j += ellRank; p += 2; continue;
      }
      const c = term[p]!;
      const d = s[j++]!;
      dims.set(c, dims.has(c) ? (d === 1 ? dims.get(c)! : dims.get(c) === 1 ? d : mergeDim(dims.get(c)!, d)) : d);
    }
  }
  const outTerm = rhs ?? `${lhs.includes('...') ? '...' : ''}${[...counts].filter(([, n]) => n === 1).map(([c]) => c).sort().join('')}`;
  const res: Dim[] = [];
  for (let p = 0; p < outTerm.length; p++) {
    if (outTerm.startsWith('...', p)) { if (!ell) return [out(dt, null)]; res.push(...ell); p += 2; continue; }
    res.push(dims.get(outTerm[p]!) ?? null);
  }
  return [out(dt, res)];
};

const eyeLikeInfer: InferFn = (ctx) => [out(dtypeAttr(ctx, 'dtype') ?? inDtype(ctx, 0), inShape(ctx, 0))];

const nonZeroInfer: InferFn = (ctx) => [out(I64, [inShape(ctx, 0)?.length ?? null, null])];

const DEFS: OpDef[] = [
  { name: 'Shape', since: [1, 13, 15, 19, 21, 23], inputs: ['data:T'], outputs: ['shape:tensor(int64)'], attrs: { start: a.int(0), end: a.int() }, types: { T: ALL }, infer: shapeInfer },
  { name: 'Size', since: [1, 13, 19, 21, 23], inputs: ['data:T'], outputs: ['size:tensor(int64)'], types: { T: ALL }, infer: () => [out(I64, [])] },
  { name: 'Reshape', since: [1], inputs: ['data:T'], outputs: ['reshaped:T'], attrs: { shape: a.ints() }, types: { T: ALL }, infer: reshapeInfer },
  { name: 'Reshape', since: [5, 13, 14, 19, 21, 23], inputs: ['data:T', 'shape:tensor(int64)'], outputs: ['reshaped:T'], attrs: { allowzero: a.int(0) }, types: { T: ALL }, infer: reshapeInfer },
  { name: 'Flatten', since: [1, 9, 11, 13, 21, 23], inputs: ['input:T'], outputs: ['output:T'], attrs: { axis: a.int(1) }, types: { T: ALL }, infer: flattenInfer },
  { name: 'Squeeze', since: [1, 11], inputs: ['data:T'], outputs: ['squeezed:T'], attrs: { axes: a.ints() }, types: { T: ALL }, infer: squeezeInfer },
  { name: 'Squeeze', since: [13, 21, 23], inputs: ['data:T', 'axes?:tensor(int64)'], outputs: ['squeezed:T'], types: { T: ALL }, infer: squeezeInfer },
  { name: 'Unsqueeze', since: [1, 11], inputs: ['data:T'], outputs: ['expanded:T'], attrs: { axes: a.reqInts() }, types: { T: ALL }, infer: unsqueezeInfer },
  { name: 'Unsqueeze', since: [13, 21, 23], inputs: ['data:T', 'axes:tensor(int64)'], outputs: ['expanded:T'], types: { T: ALL }, infer: unsqueezeInfer },
  { name: 'Transpose', since: [1, 13, 21, 23], inputs: ['data:T'], outputs: ['transposed:T'], attrs: { perm: a.ints() }, types: { T: ALL }, infer: transposeInfer },
  { name: 'Concat', since: [1, 4, 11, 13], inputs: ['inputs+:T'], outputs: ['concat_result:T'], attrs: { axis: a.int() }, types: { T: ALL }, infer: concatInfer },
  { name: 'Split', since: [1], inputs: ['input:T', 'split?:T'], outputs: ['outputs+:T'], attrs: { axis: a.int(0), split: a.ints() }, types: { T: ALL }, infer: splitInfer },
  { name: 'Split', since: [2, 11], inputs: ['input:T'], outputs: ['outputs+:T'], attrs: { axis: a.int(0), split: a.ints() }, types: { T: ALL }, infer: splitInfer },
  { name: 'Split', since: [13], inputs: ['input:T', 'split?:tensor(int64)'], outputs: ['outputs+:T'], attrs: { axis: a.int(0) }, types: { T: ALL }, infer: splitInfer },
  { name: 'Split', since: [18], inputs: ['input:T', 'split?:tensor(int64)'], outputs: ['outputs+:T'], attrs: { axis: a.int(0), num_outputs: a.int() }, types: { T: ALL }, infer: splitInfer },
  { name: 'Slice', since: [1], inputs: ['data:T'], outputs: ['output:T'], attrs: { starts: a.reqInts(), ends: a.reqInts(), axes: a.ints() }, types: { T: ALL }, infer: sliceInfer },
  { name: 'Slice', since: [10, 11, 13], inputs: ['data:T', 'starts:Tind', 'ends:Tind', 'axes?:Tind', 'steps?:Tind'], outputs: ['output:T'], types: { T: ALL, Tind: IDX }, infer: sliceInfer },
  { name: 'Gather', since: [1, 11, 13], inputs: ['data:T', 'indices:Tind'], outputs: ['output:T'], attrs: { axis: a.int(0) }, types: { T: ALL, Tind: IDX }, infer: gatherInfer },
  { name: 'GatherElements', since: [11, 13], inputs: ['data:T', 'indices:Tind'], outputs: ['output:T'], attrs: { axis: a.int(0) }, types: { T: ALL, Tind: IDX }, infer: (ctx) => [out(inDtype(ctx, 0), inShape(ctx, 1))] },
  { name: 'GatherND', since: [11, 12, 13], inputs: ['data:T', 'indices:tensor(int64)'], outputs: ['output:T'], attrs: { batch_dims: a.int(0) }, types: { T: ALL }, infer: gatherNDInfer },
  { name: 'Scatter', since: [9, 11], inputs: ['data:T', 'indices:Tind', 'updates:T'], outputs: ['output:T'], attrs: { axis: a.int(0) }, types: { T: ALL, Tind: IDX }, infer: sameAs(0) },
  { name: 'ScatterElements', since: [11, 13, 16, 18], inputs: ['data:T', 'indices:Tind', 'updates:T'], outputs: ['output:T'], attrs: { axis: a.int(0), reduction: a.str('none') }, types: { T: ALL, Tind: IDX }, infer: sameAs(0) },
  { name: 'ScatterND', since: [11, 13, 16, 18], inputs: ['data:T', 'indices:tensor(int64)', 'updates:T'], outputs: ['output:T'], attrs: { reduction: a.str('none') }, types: { T: ALL }, infer: sameAs(0) },
  { name: 'Expand', since: [8, 13], inputs: ['input:T', 'shape:tensor(int64)'], outputs: ['output:T'], types: { T: ALL }, infer: expandInfer },
  { name: 'Tile', since: [1, 6, 13], inputs: ['input:T', 'repeats:T1'], outputs: ['output:T'], types: { T: ALL, T1: ['int64'] }, infer: tileInfer },
  { name: 'Pad', since: [1, 2], inputs: ['data:T'], outputs: ['output:T'], attrs: { mode: a.str('constant'), pads: a.ints(), paddings: a.ints(), value: a.float(0) }, types: { T: FLOAT }, infer: padInfer },
  { name: 'Pad', since: [11, 13, 18, 19, 21, 23], inputs: ['data:T', 'pads:tensor(int64)', 'constant_value?:T', 'axes?:Tind'], outputs: ['output:T'], attrs: { mode: a.str('constant') }, types: { T: ALL, Tind: IDX }, infer: padInfer },
  { name: 'ConstantOfShape', since: [9, 20, 21, 23], inputs: ['input:T1'], outputs: ['output:T2'], attrs: { value: a.tensor() }, types: { T1: ['int64'], T2: ALL }, infer: constantOfShapeInfer },
  { name: 'Range', since: [11], inputs: ['start:T', 'limit:T', 'delta:T'], outputs: ['output:T'], types: { T: ['float32', 'float64', 'int16', 'int32', 'int64'] }, infer: rangeInfer },
  { name: 'Constant', since: [1, 9, 11, 12, 13, 19, 21, 23], inputs: [], outputs: ['output:T'], attrs: { value: a.tensor(), value_float: a.float(), value_floats: a.floats(), value_int: a.int(), value_ints: a.ints(), value_string: a.str(), value_strings: a.strings() }, types: { T: ALL }, infer: constantInfer },
  { name: 'OneHot', since: [9, 11], inputs: ['indices:T1', 'depth:T2', 'values:T3'], outputs: ['output:T3'], attrs: { axis: a.int(-1) }, types: { T1: NUM, T2: NUM, T3: ALL }, infer: oneHotInfer },
  { name: 'Compress', since: [9, 11], inputs: ['input:T', 'condition:T1'], outputs: ['output:T'], attrs: { axis: a.int() }, types: { T: ALL, T1: ['bool'] }, infer: compressInfer },
  { name: 'NonZero', since: [9, 13], inputs: ['X:T'], outputs: ['Y:tensor(int64)'], types: { T: ALL }, infer: nonZeroInfer },
  { name: 'Unique', since: [11], inputs: ['X:T'], outputs: ['Y:T', 'indices?:tensor(int64)', 'inverse_indices?:tensor(int64)', 'counts?:tensor(int64)'], attrs: { axis: a.int(), sorted: a.int(1) }, types: { T: ALL }, infer: uniqueInfer },
  { name: 'TopK', since: [1], inputs: ['X:T'], outputs: ['Values:T', 'Indices:I'], attrs: { axis: a.int(-1), k: a.reqInt() }, types: { T: NUM, I: ['int64'] }, infer: topKInfer },
  { name: 'TopK', since: [10, 11], inputs: ['X:T', 'K:tensor(int64)'], outputs: ['Values:T', 'Indices:I'], attrs: { axis: a.int(-1), largest: a.int(1), sorted: a.int(1) }, types: { T: NUM, I: ['int64'] }, infer: topKInfer },
  { name: 'DepthToSpace', since: [1, 11, 13], inputs: ['input:T'], outputs: ['output:T'], attrs: { blocksize: a.reqInt(), mode: a.str('DCR') }, types: { T: ALL }, infer: depthToSpaceInfer },
  { name: 'SpaceToDepth', since: [1, 13], inputs: ['input:T'], outputs: ['output:T'], attrs: { blocksize: a.reqInt() }, types: { T: ALL }, infer: spaceToDepthInfer },
  { name: 'Upsample', since: [7], inputs: ['X:T'], outputs: ['Y:T'], attrs: { mode: a.str('nearest'), scales: a.floats() }, types: { T: ALL }, infer: resizeInfer },
  { name: 'Upsample', since: [9, 10], inputs: ['X:T', 'scales:tensor(float)'], outputs: ['Y:T'], attrs: { mode: a.str('nearest') }, types: { T: ALL }, infer: resizeInfer },
  { name: 'Resize', since: [10], inputs: ['X:T', 'scales:tensor(float)'], outputs: ['Y:T'], attrs: { mode: a.str('nearest') }, types: { T: ALL }, infer: resizeInfer },
  {
    name: 'Resize', since: [11, 13, 18, 19], inputs: ['X:T1', 'roi?:T2', 'scales?:tensor(float)', 'sizes?:tensor(int64)'], outputs: ['Y:T1'],
    attrs: { antialias: a.int(0), axes: a.ints(), coordinate_transformation_mode: a.str('half_pixel'), cubic_coeff_a: a.float(-0.75), exclude_outside: a.int(0), extrapolation_value: a.float(0), keep_aspect_ratio_policy: a.str('stretch'), mode: a.str('nearest'), nearest_mode: a.str('round_prefer_floor') },
    types: { T1: ALL, T2: FLOAT }, infer: resizeInfer,
  },
  { name: 'ReverseSequence', since: [10], inputs: ['input:T', 'sequence_lens:tensor(int64)'], outputs: ['Y:T'], attrs: { batch_axis: a.int(1), time_axis: a.int(0) }, types: { T: ALL }, infer: sameAs(0) },
  { name: 'Einsum', since: [12], inputs: ['Inputs+:T'], outputs: ['Output:T'], attrs: { equation: a.reqStr() }, types: { T: NUM }, infer: einsumInfer },
  { name: 'EyeLike', since: [9, 22], inputs: ['input:T1'], outputs: ['output:T2'], attrs: { dtype: a.int(), k: a.int(0) }, types: { T1: [...NUM, 'bool'], T2: [...NUM, 'bool'] }, infer: eyeLikeInfer },
  { name: 'Trilu', since: [14], inputs: ['input:T', 'k?:tensor(int64)'], outputs: ['output:T'], attrs: { upper: a.int(1) }, types: { T: ALL }, infer: sameAs(0) },
  { name: 'Det', since: [11, 22], inputs: ['X:T'], outputs: ['Y:T'], types: { T: FLOAT }, infer: (ctx) => [out(inDtype(ctx, 0), inShape(ctx, 0)?.slice(0, -2) ?? null)] },
  { name: 'CenterCropPad', since: [18], inputs: ['input_data:T', 'shape:Tind'], outputs: ['output_data:T'], attrs: { axes: a.ints() }, types: { T: ALL, Tind: IDX }, infer: (ctx) => {
    const s = inShape(ctx, 0);
    const dt = inDtype(ctx, 0);
    if (!s) return [out(dt, null)];
    const target = constInts(ctx, 1);
    const axes = (attrInts(ctx, 'axes') ?? s.map((_, i) => i)).map((x) => normAxis(ctx, x, s.length, 'axes entry'));
    return [out(dt, s.map((d, i) => (axes.includes(i) ? (target ? target[axes.indexOf(i)]! : null) : d)))];
  } },
];

/** Shape and data-movement op schemas of the default domain. */
export const shapeSchemas: OpSchema[] = schemas(DEFS);
