// @leanformer/models: Hugging Face checkpoints → IR (families as data), tokenizers, chat templates,
// generate(). Browser-safe: file access comes from the caller (see CheckpointFiles); Node helpers are
// in '@leanformer/models/node'.
export * from './families.js';
export * from './build.js';
export * from './checkpoint.js';
export * from './tokenizer.js';
export * from './pretrained.js';
