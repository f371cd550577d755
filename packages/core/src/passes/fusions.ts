// Fusion rule sets for patternRewrite: LayerNormalization, GELU, RMSNorm.
import type { Node, Value } from '../ir/graph.js';
import { pat, scalarOf, constantOf, type Match, type RewriteRule } from './pattern-rewrite.js';

const FLOAT_TYPES = new Set(['float32', 'float16', 'bfloat16', 'float64']);

/** Relative closeness for constants that exporters write with varying precision (√2, 0.5…). */
function near(x: number | undefined, want: number, rel = 1e-4): boolean {
  return x !== undefined && Math.abs(x - want) <= rel * Math.abs(want);
}

function floatInput(v: Value): string | null {
  const d = v.dtype;
  if (!d) return `dtype of %${v.name} is unknown`;
  return FLOAT_TYPES.has(d.name) ? null : `%${v.name} is ${d.name}, not a float type`;
}

/**
 * The axes a ReduceMean reduces: from its `axes` attribute (opset < 18) or constant second input;
 * null when it reduces every axis; undefined when the axes are not constant.
 */
function reduceAxes(n: Node): number[] | null | undefined {
  const a = n.attrs.get('axes');
  if (a && a.type === 'ints') return a.value.map(Number);
  if (n.inputs.length > 1 && n.inputs[1]) {
    const t = constantOf(n.inputs[1]);
    return t ? t.toArray().map(Number) : undefined;
  }
  return null;
}

/** Why `n` is not a keepdims mean over the last axis of `x` (null when it is). */
function notLastAxisMean(n: Node, x: Value): string | null {
  if (Number(n.attr('keepdims', 1)) === 0) return `${n.describe()} has keepdims=0`;
  const axes = reduceAxes(n);
  const rank = x.shape?.length;
  if (axes === undefined) return `${n.describe()} has non-constant axes`;
  if (axes === null) {
    if (Number(n.attr('noop_with_empty_axes', 0)) !== 0) return `${n.describe()} reduces nothing (noop_with_empty_axes)`;
    return rank === 1 ? null : `${n.describe()} reduces all axes of a rank-${rank ?? '?'} input`;
  }
  if (axes.length !== 1) return `${n.describe()} reduces axes [${axes.join(', ')}], not only the last`;
  const ax = axes[0]!;
  if (ax === -1 || (rank !== undefined && ax === rank - 1)) return null;
  return `${n.describe()} reduces axis ${ax}, not the last (input rank ${rank ?? 'unknown'})`;
}

/** Why `p` cannot be the 1-D scale/bias of a norm over the last dim of `x` (null when it can). */
function notVectorParam(p: Value, x: Value, role: string): string | null {
  const s = p.shape;
  if (!s) return `${role} %${p.name} has unknown shape`;
  if (s.length !== 1) return `${role} %${p.name} has shape [${s.join(', ')}]; the fused op needs a 1-D ${role}`;
  const d = x.shape?.at(-1);
  if (typeof d === 'number' && typeof s[0] === 'number' && d !== s[0]) return `${role} %${p.name} has ${s[0]} elements but the last dim of %${x.name} is ${d}`;
  return null;
}

function firstReason(...reasons: (string | null)[]): string | null {
  return reasons.find((r) => r !== null) ?? null;
}

function opsetOf(m: Match, domain = ''): number {
  let g = m.root.graph;
  while (g.parent) g = g.parent;
  return g.opsets.get(domain) ?? 0;
}

// ---------------------------------------------------------------------------- LayerNormalization

/** The normalisation chain `(x − mean(x)) / √(mean((x − mean(x))²) + ε)` with shared bindings. */
function layerNormCore() {
  const x = pat.v('x');
  const d = pat.op('Sub', [x, pat.op('ReduceMean', [x], { bind: 'mean', extraInputs: true })], { bind: 'd' });
  const sq = pat.alt(pat.op('Pow', [d, pat.c('two')], { bind: 'pow' }), pat.op('Mul', [d, d]));
  const variance = pat.op('ReduceMean', [sq], { bind: 'var', extraInputs: true });
  return pat.op('Div', [d, pat.op('Sqrt', [pat.op('Add', [variance, pat.c('eps')])])]);
}

function checkLayerNorm(m: Match): string | null {
  const x = m.value('x');
  if (opsetOf(m) < 17) return `ai.onnx opset ${opsetOf(m)} < 17 has no LayerNormalization`;
  const eps = scalarOf(m.const('eps'));
  return firstReason(
    floatInput(x),
    notLastAxisMean(m.node('mean'), x),
    notLastAxisMean(m.node('var'), x),
    m.has('pow') && scalarOf(m.const('two')) !== 2 ? `exponent is ${scalarOf(m.const('two')) ?? 'not a scalar'}, not 2` : null,
    eps === undefined ? 'epsilon is not a scalar constant' : null,
    notVectorParam(m.value('gamma'), x, 'scale'),
    m.has('beta') ? notVectorParam(m.value('beta'), x, 'bias') : null,
    // LayerNormalization takes X, Scale and B of one type T.
    m.value('gamma').dtype !== x.dtype ? `scale is ${m.value('gamma').dtype?.name ?? 'of unknown dtype'} but x is ${x.dtype?.name}` : null,
    m.has('beta') && m.value('beta').dtype !== x.dtype ? `bias is ${m.value('beta').dtype?.name ?? 'of unknown dtype'} but x is ${x.dtype?.name}` : null,
  );
}

function rewriteLayerNorm(m: Match, b: Parameters<RewriteRule['rewrite']>[1]): Value {
  const ins = [m.value('x'), m.value('gamma')];
  if (m.has('beta')) ins.push(m.value('beta'));
  return b.op('LayerNormalization', ins, { axis: -1, epsilon: scalarOf(m.const('eps'))! });
}

/**
 * Fuses the decomposed layer norm (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add)
 * into ai.onnx LayerNormalization (opset ≥ 17) over the last axis.
 */
export const layerNormFusion: readonly RewriteRule[] = [
  // ((x − μ) / √(σ² + ε)) · γ + β  →  LayerNormalization(x, γ, β)
  { name: 'layer-norm', pattern: pat.op('Add', [pat.op('Mul', [layerNormCore(), pat.v('gamma')]), pat.v('beta')]), check: checkLayerNorm, rewrite: rewriteLayerNorm },
  // ((x − μ) / √(σ² + ε)) · γ  →  LayerNormalization(x, γ)
  { name: 'layer-norm-no-bias', pattern: pat.op('Mul', [layerNormCore(), pat.v('gamma')]), check: checkLayerNorm, rewrite: rewriteLayerNorm },
];

// ---------------------------------------------------------------------------- GELU

/** `1 + erf(x / √2)` (or `x · (1/√2)`), binding 'x', 's', 'one' and 'div' when the scale is a division. */
function onePlusErf() {
  const x = pat.v('x');
  const scaled = pat.alt(pat.op('Div', [x, pat.c('s')], { bind: 'div' }), pat.op('Mul', [x, pat.c('s')]));
  return { x, onePlus: pat.op('Add', [pat.op('Erf', [scaled]), pat.c('one')]) };
}

function checkGelu(m: Match): string | null {
  const s = scalarOf(m.const('s'));
  const wantS = m.has('div') ? Math.SQRT2 : Math.SQRT1_2;
  return firstReason(
    floatInput(m.value('x')),
    near(scalarOf(m.const('half')), 0.5) ? null : `scale constant is ${scalarOf(m.const('half')) ?? 'not a scalar'}, not 0.5`,
    near(scalarOf(m.const('one')), 1) ? null : `offset constant is ${scalarOf(m.const('one')) ?? 'not a scalar'}, not 1`,
    near(s, wantS) ? null : `erf argument is scaled by ${s ?? 'a non-scalar'}, not ${m.has('div') ? '1/√2 (as x / √2)' : '1/√2'}`,
  );
}

function rewriteGelu(m: Match, b: Parameters<RewriteRule['rewrite']>[1]): Value {
  // ai.onnx Gelu exists from opset 20; earlier models get ONNX Runtime's contrib op.
  if (b.opset >= 20) return b.op('Gelu', [m.value('x')]);
  return b.op('Gelu', [m.value('x')], {}, { domain: 'com.microsoft' });
}

function geluRules(): RewriteRule[] {
  const a = onePlusErf();
  const bb = onePlusErf();
  const c = onePlusErf();
  return [
    // (x · 0.5) · (1 + erf(x/√2))  →  Gelu(x)
    { name: 'gelu-half-x-first', pattern: pat.op('Mul', [pat.op('Mul', [a.x, pat.c('half')]), a.onePlus]), check: checkGelu, rewrite: rewriteGelu },
    // x · (0.5 · (1 + erf(x/√2)))  →  Gelu(x)
    { name: 'gelu-half-erf-first', pattern: pat.op('Mul', [bb.x, pat.op('Mul', [bb.onePlus, pat.c('half')])]), check: checkGelu, rewrite: rewriteGelu },
    // (x · (1 + erf(x/√2))) · 0.5  →  Gelu(x)
    { name: 'gelu-half-last', pattern: pat.op('Mul', [pat.op('Mul', [c.x, c.onePlus]), pat.c('half')]), check: checkGelu, rewrite: rewriteGelu },
  ];
}

/**
 * Fuses exact (erf) GELU in its common orderings into ai.onnx Gelu (opset ≥ 20) or
 * com.microsoft Gelu (earlier opsets; ONNX Runtime's contrib op).
 */
export const geluFusion: readonly RewriteRule[] = geluRules();

// ---------------------------------------------------------------------------- RMSNorm

function rmsNormPattern() {
  const x = pat.v('x');
  const sq = pat.alt(pat.op('Pow', [x, pat.c('two')], { bind: 'pow' }), pat.op('Mul', [x, x]));
  const std = pat.op('Sqrt', [pat.op('Add', [pat.op('ReduceMean', [sq], { bind: 'ms', extraInputs: true }), pat.c('eps')])], { bind: 'std' });
  const normed = pat.alt(
    pat.op('Div', [x, std]),
    pat.op('Mul', [x, pat.op('Reciprocal', [std])]),
    pat.op('Mul', [x, pat.op('Div', [pat.c('one'), std], { bind: 'inv' })]),
  );
  return pat.op('Mul', [normed, pat.v('gamma')]);
}

function checkRmsNorm(m: Match): string | null {
  const x = m.value('x');
  const eps = scalarOf(m.const('eps'));
  return firstReason(
    floatInput(x),
    notLastAxisMean(m.node('ms'), x),
    m.has('pow') && scalarOf(m.const('two')) !== 2 ? `exponent is ${scalarOf(m.const('two')) ?? 'not a scalar'}, not 2` : null,
    m.has('inv') && scalarOf(m.const('one')) !== 1 ? `numerator is ${scalarOf(m.const('one')) ?? 'not a scalar'}, not 1` : null,
    eps === undefined ? 'epsilon is not a scalar constant' : null,
    notVectorParam(m.value('gamma'), x, 'scale'),
  );
}

function rewriteRmsNorm(m: Match, b: Parameters<RewriteRule['rewrite']>[1]): Value {
  const attrs = { axis: -1, epsilon: scalarOf(m.const('eps'))! };
  // ONNX RMSNormalization exists from opset 23; before that ONNX Runtime's
  // SimplifiedLayerNormalization (registered by ORT in the default domain) computes the same.
  if (b.opset >= 23) return b.op('RMSNormalization', [m.value('x'), m.value('gamma')], attrs);
  return b.op('SimplifiedLayerNormalization', [m.value('x'), m.value('gamma')], attrs);
}

/**
 * Fuses RMS normalization `x / √(mean(x²) + ε) · γ` (with Div, Reciprocal·Mul or (1/…)·Mul)
 * into ONNX RMSNormalization at opset ≥ 23, else ONNX Runtime's SimplifiedLayerNormalization.
 */
export const rmsNormFusion: readonly RewriteRule[] = [
  // (x / √(mean(x²) + ε)) · γ  →  RMSNorm(x, γ)
  { name: 'rms-norm', pattern: rmsNormPattern(), check: checkRmsNorm, rewrite: rewriteRmsNorm },
];

/** Every fusion rule above, in a sensible order (norms before GELU). */
export const standardFusions: readonly RewriteRule[] = [...layerNormFusion, ...rmsNormFusion, ...geluFusion];
