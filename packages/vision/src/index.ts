// @leanformer/vision: efficient vision and video blocks and model builders on core's GraphBuilder.
export { TIMM_TRANSPOSED, TIMM_SHAPE, makeDivisible } from './timm-layers.js';
export type { VisionBlockInit } from './timm-layers.js';
export { modelCost } from './model.js';
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
