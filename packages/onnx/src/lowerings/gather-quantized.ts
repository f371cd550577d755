// ONNX lowering of leanformer.QGather, per target: com.microsoft.GatherBlockQuantized where
// ORT has a kernel for uint8-packed data (cpu, cuda, wasm, webgpu), else the core reference
// decomposition (gather packed rows, then unpack and dequantize only those rows).
import { attr, decomposeQGather, DTypes, LeanformerError, qgatherAttrs, type Node, type Target } from '@leanformer/core';

/** The ONNX forms QGather can take. */
export type QGatherForm = 'gatherblockquantized' | 'decompose';

/** Default form per target (`ort-<ep>` or `tfjs`). */
export const QGATHER_FORMS: Readonly<Record<string, QGatherForm>> = Object.freeze({
  'ort-cpu': 'gatherblockquantized',
  'ort-cuda': 'gatherblockquantized',
  'ort-wasm': 'gatherblockquantized',
  'ort-webgpu': 'gatherblockquantized',
  'ort-tensorrt': 'decompose',
  tfjs: 'decompose',
});

function targetKey(t: Target): string { return t.runtime === 'ort' ? `ort-${t.ep}` : 'tfjs'; }

/**
 * Rewrites one leanformer.QGather node into the ONNX form for `target` (in place).
 *
 * @example
 * ```ts
 * lowerQGather(node, { runtime: 'ort', ep: 'cpu' }); // → com.microsoft.GatherBlockQuantized
 * ```
 */
export function lowerQGather(node: Node, target: Target, options: { form?: QGatherForm } = {}): void {
  const form = options.form ?? QGATHER_FORMS[targetKey(target)] ?? 'decompose';
  if (form === 'decompose') { decomposeQGather(node); return; }
  const { bits, blockSize } = qgatherAttrs(node);
  const zp = node.inputs[3] ?? null;
  if (zp && zp.dtype !== DTypes.uint8) {
    throw new LeanformerError('LOWERING_FAILED', `${node.describe()}: GatherBlockQuantized takes uint8 zero points only (got ${zp.dtype?.name}); use form 'decompose'`, { details: { op: 'leanformer::QGather', target: targetKey(target) } });
  }
  const g = node.graph;
  g.opsets.set('com.microsoft', Math.max(1, g.opsets.get('com.microsoft') ?? 1));
  const old = node.output(0);
  const n = g.insertBefore(node, {
    op: 'GatherBlockQuantized', domain: 'com.microsoft', name: node.name,
    inputs: [node.input(0), node.input(1), node.input(2), zp],
    outputs: [g.uniqueName(`${old.name}_gbq`)],
    attrs: { gather_axis: attr.int(0), quantize_axis: attr.int(1), block_size: attr.int(blockSize), bits: attr.int(bits) },
  });
  if (!zp) n.truncateInputs(3);
  const y = n.output(0);
  y.type = old.type;
  old.replaceAllUsesWith(y);
  g.removeNode(node, true);
  if (!g.lookup(old.name)) y.name = old.name;
}
