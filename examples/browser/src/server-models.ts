// Node side of the example: the files server.mjs serves under /models/. Built with the same
// library calls as the page, so the page's built-in model and /models/demo.onnx are the same bytes.
import { encodeModel, decodeModel } from '@leanformer/onnx';
import { lfpackStats, packModel } from '@leanformer/quant';
import { demoModelBytes } from './shared.js';

/** The demo model as plain ONNX and as .lfpack (its float32 weights entropy-coded, lossless). */
export function demoFiles(): { onnx: Uint8Array; lfpack: Uint8Array; stats: ReturnType<typeof lfpackStats> } {
  const onnx = demoModelBytes();
  const lfpack = packModel(decodeModel(onnx), { encode: encodeModel, decode: decodeModel });
  return { onnx, lfpack, stats: lfpackStats(lfpack) };
}
