// Streaming passes over models stored with ONNX external data (Node-only at call time: node:fs
// is imported when a pass runs, so importing this package stays browser-safe).
export { quantizeModelStreaming, sparsifyModelStreaming } from './quantize-stream.js';
export type { StreamDeps, StreamPlacer, StreamQuantMethod, StreamQuantizeOptions, StreamQuantizeReport, StreamSparsifyOptions, StreamSparsifyReport, StreamTarget } from './quantize-stream.js';
export { StreamedActivations } from './activations.js';
export type { StreamCalibration } from './activations.js';
export { AtomicModelOutput } from './output.js';
export type { NodeFs, Placement } from './output.js';
export { writeSyntheticDecoder, syntheticDecoderBytes } from './synthetic-decoder.js';
export type { SyntheticDecoderConfig, SyntheticDecoderFiles } from './synthetic-decoder.js';
export { packModelStreaming, unpackModelStreaming } from './lfpack-stream.js';
export type { StreamPackDeps, StreamPackReport, StreamUnpackDeps } from './lfpack-stream.js';
export { ReuseReader, writtenTensor } from './output.js';
