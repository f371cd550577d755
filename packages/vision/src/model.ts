import { analyzeGraph, type Dim, type Graph } from '@leanformer/core';

/** A built vision model: its graph and the facts a caller needs to feed it. */
export interface VisionModel {
  /** Registry name, e.g. `efficientvit_m0`. */
  readonly name: string;
  readonly graph: Graph;
  /** Name of the single image (or clip) input. */
  readonly inputName: string;
  /** Input shape with the batch dim as `batch` (symbolic) or a number. */
  readonly inputShape: readonly Dim[];
  /** Name of the main output (`logits`, or `features` with no classifier head). */
  readonly outputName: string;
}

/** Options every model builder takes. */
export interface ModelOptions {
  /** Classifier classes (0 drops the head and outputs pooled features). Default 1000. */
  readonly numClasses?: number;
  /** Seed of the parameter initialisation (same seed → identical weights). Default 0. */
  readonly seed?: number;
  /** Batch dim of the input: a number or a symbolic name. Default `'batch'`. */
  readonly batch?: number | string;
  /**
   * 'seeded' (default) draws every parameter from the seeded generator; 'zeros' leaves random-init
   * parameters at zero, for structure-only builds (counting params and MACs) that must be fast.
   */
  readonly weights?: 'seeded' | 'zeros';
}

/** Parameter and MAC ("FLOPs", as the papers count them) totals of a model at batch 1. */
export function modelCost(model: VisionModel): { params: number; flops: number } {
  const cost = analyzeGraph(model.graph, { dims: { batch: 1 } });
  return { params: cost.params, flops: cost.flops };
}
