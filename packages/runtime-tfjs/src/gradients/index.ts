// runtime-tfjs's own gradient definitions, written against the public @tensorflow/tfjs-core API and
// registered into the user's tfjs-core (tfjs-core's bundles carry none; the @tensorflow/tfjs umbrella
// adds tfjs' own). Only kernels without a gradient get ours, so tfjs' own (umbrella) stay as they are
// and tfjs never warns about overriding one.
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig } from '@tensorflow/tfjs-core';
import { binaryGradients, unaryGradients, zeroGradients } from './elementwise.js';
import { linalgGradients } from './linalg.js';
import { poolGradients } from './pool.js';
import { reduceGradients } from './reduce.js';
import { shapeGradients } from './shape.js';

/** Every gradient runtime-tfjs defines, one per tfjs kernel. */
export const GRADIENTS: readonly GradConfig[] = [...unaryGradients, ...zeroGradients, ...binaryGradients, ...reduceGradients, ...shapeGradients, ...linalgGradients, ...poolGradients];

/**
 * The tfjs kernels runtime-tfjs defines a gradient for, sorted: training can differentiate through
 * these (and through any other kernel whose gradient the user's tfjs already has).
 *
 * @example
 * ```ts
 * tfjsGradientKernels().includes('BatchMatMul'); // true
 * ```
 */
export function tfjsGradientKernels(): string[] {
  return GRADIENTS.map((g) => g.kernelName).sort();
}

/**
 * Registers runtime-tfjs's gradients into the user's `@tensorflow/tfjs-core` for every kernel that has
 * no gradient yet (idempotent; tfjs keeps one process-global registry). `useTfjsBackend` calls it.
 *
 * @example
 * ```ts
 * registerTfjsGradients();
 * tf.grad((x) => tf.sum(tf.square(x)))(tf.tensor1d([1, 2])); // [2, 4]
 * ```
 */
export function registerTfjsGradients(): void {
  for (const g of GRADIENTS) if (!tf.getGradient(g.kernelName)) tf.registerGradient(g);
}
