// IR utilities.
export * from './equal.js';
export * from './clone.js';
