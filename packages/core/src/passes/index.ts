// Common passes.
export * from './shape-inference.js';
export * from './dce.js';
export * from './constant-folding.js';
export * from './cse.js';
export * from './initializer-dedup.js';
export * from './topological-sort.js';
export * from './pattern-rewrite.js';
export * from './fusions.js';
export * from './decompose.js';
export * from './presets.js';
export { NONDETERMINISTIC_OPS, implicitInputs, tensorsEqual } from './util.js';
export * from './precision.js';
