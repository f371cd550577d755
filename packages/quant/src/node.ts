// Node-only entry: streaming passes over models stored with external data (they read and write files).
export * from './stream/index.js';
