// Reference kernels for constant folding. Exact for data movement (any dtype, storage copied as is);
// arithmetic runs in float64 and is then cast to the output dtype. Integer results that float64
// cannot hold exactly (|x| > 2^53) are refused (undefined) rather than computed wrongly.
// The kernels live in ./kernels/ by category and are registered on first use (no import side effects).
import { LeanformerError } from '../errors.js';
import type { Node } from '../ir/graph.js';
import type { Tensor } from '../tensor.js';
import { Refuse, type Ctx, type Kernel } from './kernels/common.js';
import { registerElementwiseKernels } from './kernels/elementwise.js';
import { registerNnKernels } from './kernels/nn.js';
import { registerQuantKernels } from './kernels/quant.js';
import { registerReduceKernels } from './kernels/reduce.js';
import { registerShapeKernels } from './kernels/shape.js';

export { erf } from './kernels/elementwise.js';

let table: Map<string, Kernel> | undefined;
function kernels(): Map<string, Kernel> {
  if (!table) {
    const t = new Map<string, Kernel>();
    const def = (names: string | string[], k: Kernel) => { for (const n of [names].flat()) t.set(n, k); };
    registerElementwiseKernels(def);
    registerShapeKernels(def);
    registerReduceKernels(def);
    registerNnKernels(def);
    registerQuantKernels(def);
    table = t;
  }
  return table;
}

/** Options for {@link evaluateNode}. */
export interface EvaluateOptions {
  /** Largest output (elements) the evaluator will produce; larger results are refused. Default 1,048,576. */
  readonly maxElements?: number;
}

/**
 * Computes a node's outputs from constant inputs with reference (float64) kernels, for constant
 * folding. Returns undefined when the op (or this use of it) is not supported, a required input is
 * missing, or a result would exceed `maxElements`. Throws LeanformerError('EXECUTION_FAILED') when
 * the inputs are invalid for the op (e.g. a Reshape to an incompatible size).
 *
 * Outputs may share storage with inputs (Identity, Reshape, Squeeze, …): treat tensors as immutable.
 * Only the default domain is evaluated; `opset` selects version-dependent behaviour (e.g. Softmax's
 * 2-D coercion before 13, attribute vs input axes, legacy broadcasting before 7).
 *
 * @example
 * ```ts
 * const g = new Graph();
 * const n = g.addNode({ op: 'Add', inputs: [g.addInput('a', null), g.addInput('b', null)] });
 * evaluateNode(n, [Tensor.from('float32', [2], [1, 2]), Tensor.from('float32', [], [10])], 17);
 * // [Tensor<float32>[2]] with values [11, 12]
 * ```
 */
export function evaluateNode(node: Node, inputs: readonly (Tensor | undefined)[], opset: number, options: EvaluateOptions = {}): Tensor[] | undefined {
  if (node.domain !== '') return undefined;
  const k = kernels().get(node.op);
  if (!k) return undefined;
  for (let i = 0; i < node.inputs.length; i++) if (node.inputs[i] && !inputs[i]) return undefined;
  const ctx: Ctx = { node, opset, maxElements: options.maxElements ?? 1 << 20 };
  try {
    const res = k(ctx, inputs);
    if (res && res.some((t) => t.size > ctx.maxElements)) return undefined;
    return res;
  } catch (e) {
    if (e instanceof Refuse) return undefined;
    if (e instanceof LeanformerError && e.code === 'EXECUTION_FAILED') throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new LeanformerError('EXECUTION_FAILED', `evaluating ${node.describe()}: ${msg}`, { cause: e });
  }
}

/** The ops evaluateNode implements (default domain). */
export function evaluableOps(): string[] {
  return [...kernels().keys()];
}
