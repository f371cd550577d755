// What `npm run demo` prints for quantization: size and output error of a model quantized by
// each calibration-free method (plus GPTQ on the demo prompt), run on the caller's backend.
import type { Backend, Graph, Tensor } from '@leanformer/core';
import { cosine } from './linalg.js';
import { randomCalibrationFeeds } from './calibration.js';
import { initializerBytes, quantizeModel, type QuantizeOptions } from './quantize-model.js';

/** One row of the demo table. */
export interface QuantDemoRow {
  readonly label: string;
  readonly bytes: number;
  /** bytes / fp32 bytes */
  readonly ratio: number;
  /** Cosine of the first output against the fp32 model's. */
  readonly cosine: number;
  readonly maxAbsErr: number;
  /** Fraction of positions whose argmax (e.g. next token) is unchanged. */
  readonly top1Agreement: number;
}

/**
 * Quantizes `graph` several ways and measures size and error on `feeds` with `backend`
 * (GPTQ calibrates on 8 random batches, not on `feeds`).
 *
 * @example
 * ```ts
 * for (const r of await quantDemo({ graph, backend, feeds })) console.log(r.label, r.ratio, r.cosine);
 * ```
 */
export async function quantDemo(args: { graph: Graph; backend: Backend; feeds: Record<string, Tensor> }): Promise<QuantDemoRow[]> {
  const { graph, backend, feeds } = args;
  const out = async (g: Graph): Promise<{ y: Float32Array; last: number }> => {
    const exe = await backend.compile(g);
    try {
      const t = Object.values(await exe.run(feeds))[0]!;
      return { y: t.toFloat32(), last: t.shape[t.shape.length - 1] ?? 1 };
    } finally { await exe.dispose(); }
  };
  const ref = await out(graph);
  const before = initializerBytes(graph);
  const rows: QuantDemoRow[] = [{ label: 'fp32', bytes: before, ratio: 1, cosine: 1, maxAbsErr: 0, top1Agreement: 1 }];
  const configs: [string, QuantizeOptions][] = [
    ['fp16 weights', { method: 'fp16' }],
    ['rtn int8 per-channel', { method: 'rtn', bits: 8, blockSize: 0 }],
    ['rtn int4 block 32', { method: 'rtn', bits: 4, blockSize: 32 }],
    ['hqq int4 block 32', { method: 'hqq', bits: 4, blockSize: 32 }],
    ['gptq int4 block 32', { method: 'gptq', bits: 4, blockSize: 32, calibration: { backend, feeds: randomCalibrationFeeds(graph, 8, 1) } }],
    ['qserve w4a8 group 128', { method: 'qserve' }],
  ];
  for (const [label, opts] of configs) {
    const { graph: q, report } = await quantizeModel(graph, opts);
    const { y } = await out(q);
    let maxAbs = 0;
    for (let i = 0; i < y.length; i++) maxAbs = Math.max(maxAbs, Math.abs(y[i]! - ref.y[i]!));
    let agree = 0;
    const rowsN = Math.floor(y.length / ref.last);
    for (let r = 0; r < rowsN; r++) if (argmax(y, r * ref.last, ref.last) === argmax(ref.y, r * ref.last, ref.last)) agree++;
    rows.push({ label, bytes: report.bytesAfter, ratio: report.bytesAfter / before, cosine: cosine(y, ref.y), maxAbsErr: maxAbs, top1Agreement: rowsN ? agree / rowsN : 1 });
  }
  return rows;
}

function argmax(x: Float32Array, off: number, n: number): number {
  let b = 0;
  for (let i = 1; i < n; i++) if (x[off + i]! > x[off + b]!) b = i;
  return b;
}
