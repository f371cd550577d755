// @leanformer/vision: efficient vision and video blocks and model builders on the leanformer IR.
export { Net, numel, mulDim, shapeOf, dimOf, TIMM_TRANSPOSED } from './net.js';
export type { Shape, Init } from './net.js';
export * from './layers.js';
export { modelCost, cosineSimilarity } from './model.js';
export type { VisionModel, ModelOptions } from './model.js';
export * from './efficientvit.js';
export * from './fasternet.js';
export * from './timm.js';
export * from './vit.js';
export * from './hired.js';
export * from './patnet.js';
export * from './squeezetime.js';
export * from './zoo.js';
export * from './gpusq.js';
