import type { Pass } from './pass.js';
import { constantFolding, type ConstantFoldingOptions } from './constant-folding.js';
import { commonSubexpressionElimination } from './cse.js';
import { deadCodeElimination } from './dce.js';
import { standardFusions } from './fusions.js';
import { initializerDedup } from './initializer-dedup.js';
import { patternRewrite, type RewriteRule } from './pattern-rewrite.js';
import { topologicalSort } from './topological-sort.js';

/** Options of {@link optimizationPasses}. */
export interface OptimizationPassesOptions {
  /** Fusion rules to apply (default {@link standardFusions}; `[]` for none). */
  readonly fusions?: readonly RewriteRule[];
  readonly constantFolding?: ConstantFoldingOptions;
}

/**
 * The common clean-up and fusion pipeline, in an order where each pass feeds the next:
 * sort → fold constants → merge equal initializers → CSE → fusions → dead-code elimination.
 * Run it with a `PassManager`, to a fixed point if wanted.
 *
 * @example
 * ```ts
 * const { graph: optimized } = new PassManager(optimizationPasses(), { fixedPoint: true }).run(graph);
 * ```
 */
export function optimizationPasses(options: OptimizationPassesOptions = {}): Pass[] {
  const fusions = options.fusions ?? standardFusions;
  return [
    topologicalSort(),
    constantFolding(options.constantFolding),
    initializerDedup(),
    commonSubexpressionElimination(),
    ...(fusions.length ? [patternRewrite(fusions, { name: 'fusions' })] : []),
    deadCodeElimination(),
  ];
}
