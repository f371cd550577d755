// @leanformer/models: Hugging Face checkpoints → IR (decoder and encoder families as data), tokenizers,
// chat templates, generate(). Browser-safe: file access comes from the caller (see CheckpointFiles); Node helpers are
// in '@leanformer/models/node'.
export * from './families.js';
export * from './encoders.js';
export * from './build.js';
export * from './checkpoint.js';
export * from './tokenizer.js';
export * from './pretrained.js';
export { readFolder, loadPretrained } from './load.js';
export type { ConvertedEncoderInfo, ConvertedModelInfo, EncoderFacts, FolderSource, LoadedKind, LoadPretrainedOptions, PretrainedEncoder, PretrainedKind, PretrainedModel, ReadFolderOptions } from './load.js';
