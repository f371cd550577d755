// ONNX lowering of leanformer.QMatMul's codebook form (input 5: a 2^bits-entry table, e.g. NF4):
// `Gather(codebook, codes) · scale` then MatMul, the core reference decomposition. It uses only
// default-domain ops (Cast, Floor, Gather, Mul, Reshape, Transpose, MatMul), so one form serves
// every target: ort cpu/cuda/wasm/webgpu/tensorrt and tfjs. (ORT's com.microsoft.MatMulBnb4 is a
// fused NF4 kernel on cpu/cuda, but it fixes bitsandbytes' codebook and layout; this form keeps
// any codebook the op carries.) Kept apart from the MatMulNBits/QDQ forms in qmatmul.ts so it can
// be slotted into a lowering capability table as its own entry, ahead of those forms.
import { decomposeQMatMul, type Node } from '@leanformer/core';

/** Why the codebook form does not apply to `node` (null: it applies, and it must be used). */
export function qmatmulCodebookApplies(node: Node): string | null {
  if (node.domain !== 'leanformer' || node.op !== 'QMatMul') return `${node.describe()} is not a leanformer::QMatMul`;
  return node.inputs[5] ? null : 'no codebook input (an affine weight: MatMulNBits, QDQ or the decomposition)';
}

/**
 * Lowers a codebook QMatMul (in place) to the lookup form for any target.
 *
 * @example
 * ```ts
 * if (qmatmulCodebookApplies(node) === null) lowerQMatMulCodebook(node);
 * ```
 */
export function lowerQMatMulCodebook(node: Node): void {
  const type = node.output(0).type;
  const y = decomposeQMatMul(node);
  // Keep the node's own output type: the builder's inferred one has a null dtype when A's type is
  // unknown, which would be written as value_info elem_type 0 (ONNX Runtime refuses the file).
  if (y.dtype === null) y.type = type;
}
