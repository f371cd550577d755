// ONNX lowering of leanformer.QGather: com.microsoft.GatherBlockQuantized where ORT has a kernel
// for uint8-packed data (cpu, cuda, wasm, webgpu), else core's reference decomposition (gather
// packed rows, then unpack and dequantize only those rows).
import { attr, contribKernelProblem, DTypes, qgatherAttrs, type Node, type Target } from '@leanformer/core';
import { loweringContext, lowerWithForm, type LoweringForm, type OnnxLowering } from '../lowering-registry.js';

/** The ONNX forms QGather can take ('reference' is core's decomposition). */
export type QGatherForm = 'gatherblockquantized' | 'reference';

const GATHER_BLOCK_QUANTIZED: LoweringForm = {
  name: 'gatherblockquantized',
  applies(node, { target }) {
    const zp = node.inputs[3];
    return contribKernelProblem(target, 'GatherBlockQuantized')
      ?? (zp && zp.dtype !== DTypes.uint8 ? `GatherBlockQuantized takes uint8 zero points only (got ${zp.dtype?.name})` : null);
  },
  lower: (node) => toGatherBlockQuantized(node),
};

/** QGather's entry in the capability table: GatherBlockQuantized where ORT has it, else the reference decomposition. */
export const QGATHER_LOWERING: OnnxLowering = {
  domain: 'leanformer', op: 'QGather',
  forms: Object.fromEntries((['ort-cpu', 'ort-cuda', 'ort-wasm', 'ort-webgpu'] as const).map((t) => [t, [GATHER_BLOCK_QUANTIZED]])),
};

/**
 * Rewrites one leanformer.QGather node into the ONNX form for `target` (in place): the first form of
 * the capability table that applies, or `options.form`.
 *
 * @example
 * ```ts
 * lowerQGather(node, { runtime: 'ort', ep: 'cpu' }); // → com.microsoft.GatherBlockQuantized
 * ```
 */
export function lowerQGather(node: Node, target: Target, options: { form?: QGatherForm } = {}): QGatherForm {
  return lowerWithForm(node, loweringContext(target), options.form === 'gatherblockquantized' ? GATHER_BLOCK_QUANTIZED : options.form) as QGatherForm;
}

function toGatherBlockQuantized(node: Node): void {
  const { bits, blockSize } = qgatherAttrs(node);
  const zp = node.inputs[3] ?? null;
  const g = node.graph;
  g.opsets.set('com.microsoft', Math.max(1, g.opsets.get('com.microsoft') ?? 1));
  // One node for one: the new node produces the old output value (name, type and uses kept).
  g.replaceNode(node, {
    op: 'GatherBlockQuantized', domain: 'com.microsoft', name: node.name,
    inputs: zp ? [node.input(0), node.input(1), node.input(2), zp] : [node.input(0), node.input(1), node.input(2)],
    attrs: { gather_axis: attr.int(0), quantize_axis: attr.int(1), block_size: attr.int(blockSize), bits: attr.int(bits) },
  });
}
