// The ONNX lowering table: which leanformer op (or any op) takes which form on which ORT EP.
// Kept apart from lower.ts so per-op lowering files can register without an import cycle.
import { LeanformerError, normalizeDomain, type Node, type OrtEp, type Target } from '@leanformer/core';

/**
 * Rewrites one node in place for `target`: inserts the replacement nodes before it, points its
 * outputs' uses at the new values and removes it. A lowering that leaves the node where it is
 * declines, and the node falls back to its reference decomposition.
 */
export type LowerFn = (node: Node, target: Target) => void;

/** How one op is lowered to ONNX: per EP (`targets`), or one function for every target (`lower`). */
export interface OnnxLowering {
  readonly domain: string;
  readonly op: string;
  /** Lowering per ORT execution provider; an EP not listed uses `lower`, else the decomposition. */
  readonly targets?: Partial<Readonly<Record<OrtEp, LowerFn>>>;
  /** Lowering for every target without an entry in `targets` (it may pick a form per target itself). */
  readonly lower?: LowerFn;
}

const key = (domain: string, op: string) => `${normalizeDomain(domain)}::${op}`;
const table = new Map<string, OnnxLowering>();

/** The capability table, keyed `domain::op` ('' is ai.onnx). Read-only: add entries with {@link registerOnnxLowering}. */
export const ONNX_LOWERINGS: ReadonlyMap<string, OnnxLowering> = table;

/**
 * Registers the ONNX lowering of `domain::op`. A second registration for the same op may add EPs
 * the first did not cover; covering an EP twice (or `lower` twice) throws, since a silent override
 * would change what every lowering produces.
 *
 * @example
 * ```ts
 * registerOnnxLowering({ domain: 'leanformer', op: 'Swish', targets: { cpu: lowerSwishCpu, cuda: lowerSwishCuda } });
 * registerOnnxLowering({ domain: 'leanformer', op: 'QMatMul', lower: (node, target) => lowerQMatMul(node, target) });
 * ```
 */
export function registerOnnxLowering(lowering: OnnxLowering): void {
  if (!lowering.lower && !lowering.targets) throw new LeanformerError('INVALID_ARGUMENT', `registerOnnxLowering(${key(lowering.domain, lowering.op)}): give 'targets' (per EP) or 'lower'`);
  const k = key(lowering.domain, lowering.op);
  const prev = table.get(k);
  if (!prev) { table.set(k, { ...lowering, domain: normalizeDomain(lowering.domain) }); return; }
  const clash = (prev.lower && lowering.lower) || Object.keys(lowering.targets ?? {}).find((ep) => prev.targets?.[ep as OrtEp]);
  if (clash) throw new LeanformerError('INVALID_ARGUMENT', `An ONNX lowering for ${k}${typeof clash === 'string' ? ` on EP '${clash}'` : ''} is already registered`);
  table.set(k, { domain: prev.domain, op: prev.op, lower: prev.lower ?? lowering.lower, targets: { ...prev.targets, ...lowering.targets } });
}

/** The registered lowering of `domain::op`, if any. */
export function getOnnxLowering(domain: string, op: string): OnnxLowering | undefined {
  return table.get(key(domain, op));
}

/** The function that lowers `node` for `target`, if the table has one. */
export function lowerFnFor(node: Node, target: Target): LowerFn | undefined {
  const l = table.get(key(node.domain, node.op));
  if (!l) return undefined;
  return (target.runtime === 'ort' ? l.targets?.[target.ep] : undefined) ?? l.lower;
}
