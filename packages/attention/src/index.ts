// @leanformer/attention: attention patterns, reference kernels, the retrieval harness and the attention block builder.
export * from './pattern.js';
export * from './reference.js';
export * from './rope.js';
export * from './retrieval.js';
export * from './builder.js';
export * from './moa.js';
export * from './lower.js';
export * from './picture.js';
