import { LeanformerError, type Graph } from '@leanformer/core';
import { sparsifyModel, type SparsifyReport } from '@leanformer/quant';
import type { VisionModel } from './model.js';

/**
 * GPUSQ-ViT (Yu et al. 2023) as a recipe over `@leanformer/quant`: every linear layer of a ViT
 * is pruned to the 2:4 pattern (two non-zeros in each group of four along K, by magnitude) and
 * the survivors are quantized to symmetric int8 (blocks of 32 along K by default). Symmetric codes
 * make the result lowerable for ORT's TensorRT EP (blocked DequantizeLinear + MatMul, ONNX
 * domain only). The classifier head stays dense by default, as in the paper's deployment.
 * Accuracy here is a proxy (logit cosine vs the dense model); GPUSQ's distillation-based
 * fine-tuning is not part of this recipe.
 */

/** Options of {@link gpusqVit}. */
export interface GpusqOptions {
  /** Weight bits after pruning: 8 (default) or 4. */
  readonly bits?: 4 | 8;
  /**
   * Weights per scale along K (default 32, a block size every ORT kernel takes; 0 = one scale per
   * output channel, which ORT's MatMulNBits refuses when K rounds up past 256).
   */
  readonly blockSize?: number;
  /** Layers left dense (default: the classifier head, /^head/). */
  readonly exclude?: RegExp | string;
}

/**
 * Applies 2:4 sparsity + symmetric quantization to a ViT's linear layers.
 *
 * @example
 * ```ts
 * const { model, report } = gpusqVit(timmVit('small', { numClasses: 10 }));
 * report.sparsity; // 0.5 in the sparsified layers
 * ```
 */
export function gpusqVit(model: VisionModel, options: GpusqOptions = {}): { model: VisionModel; report: SparsifyReport } {
  const bits = options.bits ?? 8;
  if (bits !== 4 && bits !== 8) throw new LeanformerError('INVALID_ARGUMENT', `gpusqVit: bits must be 4 or 8, got ${String(bits)}`);
  const { graph, report } = sparsifyModel(model.graph, {
    pattern: '2:4',
    exclude: options.exclude ?? /^head/,
    quantize: { bits, blockSize: options.blockSize ?? 32, symmetric: true },
  });
  if (report.layersSparsified === 0) throw new LeanformerError('INVALID_ARGUMENT', `gpusqVit: '${model.name}' has no linear layer with K divisible by 4 to sparsify`);
  return { model: { ...model, name: `${model.name}_gpusq`, graph }, report };
}

/**
 * Checks that a graph lowered for `ort-tensorrt` holds only ONNX-domain ops (TensorRT's ONNX
 * parser takes no com.microsoft or leanformer ops). Returns the offending ops, if any.
 */
export function tensorRtForeignOps(lowered: Graph): string[] {
  const bad = new Set<string>();
  for (const n of lowered.allNodes()) if (n.domain !== '') bad.add(n.qualifiedOp);
  return [...bad].sort();
}
