// GraphBuilder and block helpers.
export * from './builder.js';
export * from './rng.js';
export * from './blocks.js';
