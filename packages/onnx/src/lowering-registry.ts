// The lowering capability table: for each op and each target (core's targetName), an ordered list of
// forms; lowering takes the first whose `applies` returns null, and every earlier form says why it
// did not. Core's reference decomposition is the last form of every list. EP facts the forms check
// (kernels, zero points, symmetric-only, precisions) come from core's ep-facts, shared with quant.
// Kept apart from lower.ts so per-op lowering files can register without an import cycle.
import {
  LeanformerError, TARGET_NAMES, decompose, getDecomposition, normalizeDomain, parseTarget, targetName,
  type Node, type Target, type TargetName,
} from '@leanformer/core';

/** What a form sees besides the node: the target, parsed and in its CLI spelling. */
export interface LoweringContext {
  readonly target: Target;
  readonly targetName: TargetName;
}

/**
 * One way to lower an op. `applies` says why the form cannot take the node (one sentence naming
 * the fact that rules it out), or null when it can; `lower` then rewrites the node in place:
 * inserts the replacement before it, points its outputs' uses at the new values, removes it.
 */
export interface LoweringForm {
  readonly name: string;
  applies(node: Node, ctx: LoweringContext): string | null;
  lower(node: Node, ctx: LoweringContext): void;
  /**
   * When this form does not apply, lowering stops with LOWERING_FAILED and its reason instead of
   * trying later forms: for targets where falling back would hide a broken request (TensorRT's
   * quantized weights must be symmetric; dequantizing them to float would defeat the target).
   */
  readonly required?: boolean;
}

/** The forms of one op (`domain::op`), per target, in order of preference. */
export interface OnnxLowering {
  readonly domain: string;
  readonly op: string;
  /** Ordered forms per target; a target not listed goes straight to the reference decomposition. */
  readonly forms: Partial<Readonly<Record<TargetName, readonly LoweringForm[]>>>;
}

/** Name of the last form of every list: core's reference decomposition into standard ops. */
export const REFERENCE_FORM_NAME = 'reference';

/** Core's reference decomposition, the last form for every op on every target. */
const REFERENCE_FORM: LoweringForm = {
  name: REFERENCE_FORM_NAME,
  applies: (node) => (getDecomposition(node.domain, node.op) ? null : `core has no reference decomposition of ${normalizeDomain(node.domain)}::${node.op} (registerDecomposition in @leanformer/core)`),
  lower: (node) => { decompose({ filter: (n) => n === node }).run(node.graph, {}); },
};

const key = (domain: string, op: string) => `${normalizeDomain(domain)}::${op}`;
const table = new Map<string, OnnxLowering>();

/** The capability table, keyed `domain::op` ('' is ai.onnx). Read-only: add entries with {@link registerOnnxLowering}. */
export const ONNX_LOWERINGS: ReadonlyMap<string, OnnxLowering> = table;

/**
 * Adds forms to the table for `domain::op`. A later registration appends its forms after the ones
 * already listed for a target (before the reference decomposition, which is always last). A form
 * name listed twice for one op and target throws, as does the reserved name 'reference': a silent
 * override would change what every lowering produces.
 *
 * @example
 * ```ts
 * registerOnnxLowering({ domain: 'leanformer', op: 'Swish', forms: { 'ort-cpu': [swishFused], 'ort-cuda': [swishFused] } });
 * ```
 */
export function registerOnnxLowering(lowering: OnnxLowering): void {
  const k = key(lowering.domain, lowering.op);
  const prev = table.get(k);
  const forms: Partial<Record<TargetName, readonly LoweringForm[]>> = { ...prev?.forms };
  for (const [t, list] of Object.entries(lowering.forms) as [string, readonly LoweringForm[]][]) {
    if (!(TARGET_NAMES as readonly string[]).includes(t)) throw new LeanformerError('INVALID_ARGUMENT', `registerOnnxLowering(${k}): unknown target '${t}'; allowed: ${TARGET_NAMES.join(', ')}`);
    const have = forms[t as TargetName] ?? [];
    for (const f of list) {
      if (f.name === REFERENCE_FORM_NAME) throw new LeanformerError('INVALID_ARGUMENT', `registerOnnxLowering(${k}): the form name '${REFERENCE_FORM_NAME}' is reserved for core's decomposition, which ends every list`);
      if ([...have, ...list.slice(0, list.indexOf(f))].some((h) => h.name === f.name)) {
        throw new LeanformerError('INVALID_ARGUMENT', `An ONNX lowering form '${f.name}' for ${k} on ${t} is already registered`);
      }
    }
    forms[t as TargetName] = [...have, ...list];
  }
  table.set(k, { domain: normalizeDomain(lowering.domain), op: lowering.op, forms });
}

/** The registered lowering of `domain::op`, if any. */
export function getOnnxLowering(domain: string, op: string): OnnxLowering | undefined {
  return table.get(key(domain, op));
}

/**
 * The ordered forms of `domain::op` on `target`: the registered ones, then core's reference
 * decomposition. Ops outside the leanformer domain with no registered forms have none (they pass
 * through to the runtime as they are).
 */
export function formsFor(domain: string, op: string, target: Target): readonly LoweringForm[] {
  const listed = table.get(key(domain, op))?.forms[targetName(target)];
  if (!listed && normalizeDomain(domain) !== 'leanformer') return [];
  return [...(listed ?? []), REFERENCE_FORM];
}

/** A form that was passed over, and why. */
export interface SkippedForm {
  readonly form: string;
  readonly reason: string;
}

/** Which form a node takes on a target, and why each earlier form did not apply. */
export interface FormChoice {
  /** The chosen form, or null when none applies (then `refusal` says why lowering fails). */
  readonly form: LoweringForm | null;
  readonly skipped: readonly SkippedForm[];
  /** Set when no form applies: the reason of a `required` form, or of the last one. */
  readonly refusal?: string;
}

/** The context forms see for `target`. */
export function loweringContext(target: Target | TargetName): LoweringContext {
  const t = typeof target === 'string' ? parseTarget(target) : target;
  return { target: t, targetName: targetName(t) };
}

/**
 * Walks the forms of `node`'s op on `ctx`'s target in order and returns the first that applies,
 * with the reasons the earlier ones gave. A `required` form that does not apply ends the walk.
 * Pure: reads the node, changes nothing (`leanformer inspect --lowering` prints this).
 */
export function chooseForm(node: Node, ctx: LoweringContext): FormChoice {
  const skipped: SkippedForm[] = [];
  for (const f of formsFor(node.domain, node.op, ctx.target)) {
    const reason = f.applies(node, ctx);
    if (reason === null) return { form: f, skipped };
    skipped.push({ form: f.name, reason });
    if (f.required) return { form: null, skipped, refusal: reason };
  }
  return { form: null, skipped, ...(skipped.length ? { refusal: skipped[skipped.length - 1]!.reason } : {}) };
}

/**
 * Lowers one node in place: with `form` when given (a form object, or the name of a form on the
 * target's list, e.g. 'reference'), else with the first form of the list that applies (see
 * {@link chooseForm}). Throws LOWERING_FAILED naming the node, target and reason when the form does
 * not apply, or when none does. Returns the name of the form used. The per-op `lowerQMatMul`,
 * `lowerQGather` and `lowerAttention` are this with their own form names.
 *
 * @example
 * ```ts
 * lowerWithForm(node, loweringContext('ort-cpu')); // 'matmulnbits' for a QMatMul
 * ```
 */
export function lowerWithForm(node: Node, ctx: LoweringContext, form?: LoweringForm | string): string {
  const fail = (why: string): never => {
    throw new LeanformerError('LOWERING_FAILED', `${node.describe()} cannot be lowered for ${ctx.targetName}: ${why}`, { details: { op: key(node.domain, node.op), target: ctx.targetName } });
  };
  let pick: LoweringForm;
  if (form === undefined) {
    const c = chooseForm(node, ctx);
    if (!c.form) return fail(`form '${c.skipped[c.skipped.length - 1]?.form ?? '(none)'}': ${c.refusal ?? 'no form is registered'}`);
    pick = c.form;
  } else {
    const named = typeof form === 'string' ? formsFor(node.domain, node.op, ctx.target).find((f) => f.name === form) : form;
    if (!named) return fail(`unknown form '${String(form)}'`);
    const why = named.applies(node, ctx);
    if (why !== null) fail(why);
    pick = named;
  }
  pick.lower(node, ctx);
  return pick.name;
}
