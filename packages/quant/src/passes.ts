// The quant transforms as core Pass factories, so they compose with other passes in one PassManager.
// Quantization is asynchronous (calibration runs a backend; RTN may use worker threads), so its pass
// is an AsyncPass: run the manager with runAsync().
import type { AsyncPass, Pass } from '@leanformer/core';
import { quantizeModel, sparsifyModel, type QuantizeOptions, type SparsifyOptions } from './quantize-model.js';

/**
 * `quantizeModel` as an AsyncPass (modified when a layer was quantized); the report is logged through `ctx.log`.
 *
 * @example
 * ```ts
 * const { graph } = await new PassManager([quantizePass({ method: 'rtn', bits: 4 }), deadCodeElimination()]).runAsync(model);
 * ```
 */
export function quantizePass(options: QuantizeOptions): AsyncPass {
  return {
    name: `quantize-${options.method}`,
    async run(graph, ctx) {
      const { graph: g, report, notes } = await quantizeModel(graph, options);
      ctx.log?.(`quantize: ${report.layersQuantized} layers, ${report.bytesBefore} → ${report.bytesAfter} bytes${notes.length ? `; ${notes.join('; ')}` : ''}`);
      return { graph: g, modified: report.layersQuantized > 0 };
    },
  };
}

/**
 * `sparsifyModel` (2:4 pruning) as a Pass (modified when a layer was pruned).
 *
 * @example
 * ```ts
 * const { graph } = new PassManager([sparsifyPass({ pattern: '2:4' })]).run(model);
 * ```
 */
export function sparsifyPass(options: SparsifyOptions): Pass {
  return {
    name: 'sparsify-2:4',
    run(graph) {
      const { graph: g, report } = sparsifyModel(graph, options);
      return { graph: g, modified: report.layersSparsified > 0 };
    },
  };
}
