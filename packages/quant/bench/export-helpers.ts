// Re-exports for the bench scripts (one import site for the quant package).
export { quantizeModel, sparsifyModel } from '@leanformer/quant';
export { randomCalibrationFeeds as randomCalibrationFeedsFor } from '@leanformer/quant';
