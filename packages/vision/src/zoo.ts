import { analyzeGraph, LeanformerError, type Graph } from '@leanformer/core';
import { efficientvit, EFFICIENTVIT_CONFIGS, type EfficientVitVariant } from './efficientvit.js';
import { fasternet, FASTERNET_CONFIGS, type FasterNetVariant } from './fasternet.js';
import type { VisionModel } from './model.js';
import { patnet, type PatNetVariant } from './patnet.js';
import { squeezetime } from './squeezetime.js';
import { timmVit, TIMM_VIT_CONFIGS } from './vit.js';

/** What {@link zoo} reports about a model: parameters and MACs ("FLOPs", as the papers count them) at batch 1. */
export interface ZooReport {
  readonly name: string;
  readonly params: number;
  /** Multiply-accumulates of one input (batch 1). */
  readonly flops: number;
  /** Input shape at batch 1 (the graph itself keeps a symbolic batch dim). */
  readonly inputShape: readonly number[];
}

/** Options of {@link zoo}. */
export interface ZooOptions {
  /** Classifier classes (default: 1000 for images, 400 for video; 0 = features only). */
  readonly numClasses?: number;
  readonly seed?: number;
}

const BUILDERS: Record<string, (o: ZooOptions) => VisionModel> = {};
for (const v of Object.keys(EFFICIENTVIT_CONFIGS)) BUILDERS[`efficientvit_${v}`] = (o) => efficientvit(v as EfficientVitVariant, o);
for (const v of Object.keys(FASTERNET_CONFIGS)) BUILDERS[`fasternet_${v}`] = (o) => fasternet(v as FasterNetVariant, o);
for (const v of ['t0', 't1', 't2']) BUILDERS[`patnet_${v}`] = (o) => patnet(v as PatNetVariant, o);
for (const v of Object.keys(TIMM_VIT_CONFIGS)) BUILDERS[`vit_${v}`] = (o) => timmVit(v as keyof typeof TIMM_VIT_CONFIGS, o);
BUILDERS.squeezetime = (o) => squeezetime(undefined, o);

/** Names {@link zoo} accepts. */
export function zooNames(): string[] {
  return Object.keys(BUILDERS);
}

/**
 * Builds a named model and reports its size and cost.
 *
 * @example
 * ```ts
 * const { graph, report } = zoo('efficientvit_m0', { numClasses: 1000 });
 * report; // { name: 'efficientvit_m0', params: 2349436, flops: 79193600, inputShape: [1, 3, 224, 224] }
 * ```
 */
export function zoo(name: string, options: ZooOptions = {}): { graph: Graph; model: VisionModel; report: ZooReport } {
  const build = BUILDERS[name];
  if (!build) throw new LeanformerError('INVALID_ARGUMENT', `zoo: unknown model '${name}'; available: ${zooNames().join(', ')}`);
  if (options.numClasses !== undefined && (!Number.isInteger(options.numClasses) || options.numClasses < 0)) {
    throw new LeanformerError('INVALID_ARGUMENT', `zoo: numClasses must be a non-negative integer, got ${options.numClasses}`);
  }
  const model = build(options);
  const cost = analyzeGraph(model.graph, { dims: { batch: 1 } });
  if (cost.uncounted.length) throw new LeanformerError('INVALID_GRAPH', `zoo: could not count every op of '${name}': ${cost.uncounted.slice(0, 3).join('; ')}`);
  const inputShape = model.inputShape.map((d) => (typeof d === 'number' ? d : 1));
  return { graph: model.graph, model, report: { name, params: cost.params, flops: cost.flops, inputShape } };
}
