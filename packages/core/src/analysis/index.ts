// FLOP (multiply-accumulate) and parameter counting over the IR.
export { analyzeGraph, isParameter, formatCount } from './cost.js';
export type { GraphCost, OpCost, AnalyzeOptions } from './cost.js';
export { costAnalysisPass, COST_META_KEY } from './pass.js';
export { findEmbeddings, findLinearLayers, weightsAsInitializers, weightsAsInitializersPass } from './linear.js';
export type { EmbeddingLayer, FindLinearOptions, LinearLayer } from './linear.js';
