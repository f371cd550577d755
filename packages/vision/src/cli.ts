import { intFlag, UsageError, type CommandContext, type CommandIo, type CommandSpec } from '@leanformer/core';
import { checkOutputPath, writeFileAtomic } from '@leanformer/core/node';
import { encodeModel, lowerToOnnx } from '@leanformer/onnx';
import { visionFixturesDir } from './fixtures.js';
import { zoo, zooNames } from './zoo.js';

/**
 * CLI commands of @leanformer/vision, as plain objects shaped like the CLI's `Command`
 * (name, summary, positionals, options, run(ctx) → exit code), for the `leanformer` command
 * registry to register. Node only.
 */

/** Where a command writes (core's CommandIo). */
export type VisionIo = CommandIo;
/** What `run` receives (core's CommandContext). */
export type VisionCommandContext = CommandContext;
/** A vision command: core's CommandSpec plus a one-line usage. */
export interface VisionCommand extends CommandSpec {
  readonly usage: string;
}

export { visionFixturesDir, zoo };

/** The most classifier classes `zoo` builds (ImageNet-21k has 21,843), so a typo is an error, not a multi-GB allocation. */
const MAX_CLASSES = 100_000;

/**
 * `leanformer zoo <name> [--num-classes N] -o <out.onnx> [--json]`: builds a named model (seeded
 * random init), writes it as ONNX for ORT CPU, and prints its parameter and MAC counts.
 */
export function zooCommand(): VisionCommand {
  return {
    name: 'zoo',
    summary: 'Build a vision model (EfficientViT, FasterNet, PATNet, SqueezeTime, ViT) and write it as ONNX',
    usage: 'leanformer zoo <name> [--num-classes N] -o <out.onnx> [--json]',
    positionals: ['<name>'],
    options: {
      'num-classes': { type: 'string', arg: '<N>', description: `classifier classes, 0 to ${MAX_CLASSES} (default 1000; 400 for squeezetime; 0 = features)` },
      output: { type: 'string', short: 'o', arg: '<out.onnx>', description: 'where to write the ONNX model' },
      seed: { type: 'string', arg: '<n>', description: 'seed of the parameter initialisation (default 0)' },
      json: { type: 'boolean', description: 'print { name, params, flops, inputShape } as JSON' },
    },
    details: `Models: ${zooNames().join(', ')}.\nflops are multiply-accumulates at batch 1, as the papers count them.`,
    async run(ctx) {
      const name = ctx.positionals[0];
      if (!name || !zooNames().includes(name)) throw new UsageError(`zoo: ${name ? `unknown model '${name}'` : 'a model name is required'}; available: ${zooNames().join(', ')}`);
      const out = ctx.values.output;
      if (typeof out !== 'string' || !out) throw new UsageError('zoo: -o <out.onnx> is required', 'output');
      checkOutputPath(out); // before building the model (zoo reads no file, so nothing to alias)
      const numClasses = intFlag('num-classes', ctx.values['num-classes'], { min: 0, max: MAX_CLASSES });
      const seed = intFlag('seed', ctx.values.seed, { min: 0 });
      const { graph, report } = zoo(name, { ...(numClasses !== undefined ? { numClasses } : {}), ...(seed !== undefined ? { seed } : {}) });
      writeFileAtomic(out, encodeModel(lowerToOnnx(graph, { runtime: 'ort', ep: 'cpu' })));
      if (ctx.values.json) ctx.io.out(`${JSON.stringify(report)}\n`);
      else ctx.io.out(`${report.name}: ${(report.params / 1e6).toFixed(2)}M params, ${(report.flops / 1e6).toFixed(1)}M MACs at input [${report.inputShape.join(', ')}] → ${out}\n`);
      return 0;
    },
  };
}

/**
 * Every command this package contributes.
 *
 * @example
 * ```ts
 * for (const c of visionCommands()) registerCommand(c);
 * ```
 */
export function visionCommands(): VisionCommand[] {
  return [zooCommand()];
}
