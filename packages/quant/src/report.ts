// What a quantization did, layer by layer, and a self-contained HTML page of it (`quantize --report`).
// Browser-safe: the page is a string built with core's picture helpers.
import { DTypes, escapeXml, formatFigure, htmlDocument, htmlTable, svgBarChart, type Graph, type Node, type Value } from '@leanformer/core';
import { dequantize, unpackMatMulNBits, type QuantBits } from './blockwise.js';
import type { QuantizeReport } from './quantize-model.js';

/** One quantized (or cast) layer: the error of the weight it now computes with, and its bytes. */
export interface QuantLayerStat {
  /** The float weight's initializer name. */
  readonly name: string;
  readonly kind: 'linear' | 'embedding' | 'cast';
  /** Weight shape as [K, N] (linear: inputs × outputs; embedding: dim × vocabulary). */
  readonly K: number;
  readonly N: number;
  readonly bits: number;
  /** Weights per scale along K; 0 for casts. */
  readonly blockSize: number;
  /**
   * Relative Frobenius error ‖Ŵ − W‖ / ‖W‖ (float64 sums), Ŵ the dequantized weight as the runtime sees it,
   * input scales (AWQ, SmoothQuant+) folded back in: what `x·Ŵ` computes in place of `x·W`.
   */
  readonly relError: number;
  /** max |Ŵ − W|. */
  readonly maxAbsError: number;
  /** Bytes of the float weight, and of the tensors that replace it (codes, scales, zero points, codebook). */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

/** Everything {@link quantReportHtml} draws: the run's report, its per-layer figures and bytes by dtype. */
export interface QuantReportData {
  readonly report: QuantizeReport;
  readonly layers: readonly QuantLayerStat[];
  /** Initializer bytes per dtype before and after. */
  readonly bytesByDtype: { readonly before: Readonly<Record<string, number>>; readonly after: Readonly<Record<string, number>> };
  /** The options as given (method, bits, block size, target, …), shown as they are. */
  readonly options?: Readonly<Record<string, unknown>>;
  readonly notes?: readonly string[];
  /** Input and output file names, shown in the title. */
  readonly input?: string;
  readonly output?: string;
}

/**
 * Relative Frobenius and max-abs error of `approx` against `ref` (same length), in float64.
 * `rowScale` (length K, for [K, N] row-major weights) multiplies `approx`'s row k first: the input
 * scale a quantized layer reads its input through.
 *
 * @example
 * ```ts
 * weightError(Float32Array.of(1, 2), Float32Array.of(1, 2.5)); // { relError: 0.2236…, maxAbsError: 0.5 }
 * ```
 */
export function weightError(ref: ArrayLike<number>, approx: ArrayLike<number>, rowScale?: ArrayLike<number>): { relError: number; maxAbsError: number } {
  const N = rowScale ? ref.length / rowScale.length : 1;
  let num = 0, den = 0, max = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = rowScale ? approx[i]! * rowScale[Math.floor(i / N)]! : approx[i]!;
    const d = a - ref[i]!;
    num += d * d;
    den += ref[i]! * ref[i]!;
    if (Math.abs(d) > max) max = Math.abs(d);
  }
  return { relError: den > 0 ? Math.sqrt(num / den) : Math.sqrt(num), maxAbsError: max };
}

/**
 * Initializer bytes per dtype name.
 *
 * @example
 * ```ts
 * bytesByDtype(graph); // { float32: 1048576, uint8: 131072 }
 * ```
 */
export function bytesByDtype(graph: Graph): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of graph.initializers.values()) out[v.const!.dtype.name] = (out[v.const!.dtype.name] ?? 0) + v.const!.byteLength;
  return out;
}

/**
 * The figures of one rewritten layer, read back from the tensors its QMatMul (B, scales, zero points,
 * codebook at inputs 1, 2, 3, 5) or QGather (data, scales, zero points at 0, 2, 3) node now holds, so
 * they describe what the runtime will compute with. `ref` is the float weight as [K, N] row-major.
 * Internal to quantizeModel's `measureLayers`.
 */
export function measureQuantizedNode(kind: 'linear' | 'embedding', name: string, node: Node, ref: Float32Array, K: number, N: number, bytesBefore: number, rowScale?: Float32Array): QuantLayerStat {
  const bits = Number(node.attrs.get('bits')?.value) as QuantBits;
  const blockSize = Number(node.attrs.get('block_size')?.value);
  const at = (i: number): Value | null => node.inputs[i] ?? null;
  const [b, s, z, c] = kind === 'linear' ? [at(1)!, at(2)!, at(3), at(5)] : [at(0)!, at(2)!, at(3), null];
  const zt = z?.const;
  const q = unpackMatMulNBits({ B: b.const!.data as Uint8Array, scales: s.const!.toFloat32(), zeroPoints: zt ? (zt.dtype === DTypes.uint8 ? zt.data as Uint8Array : zt.toFloat32()) : null }, K, N, bits, blockSize);
  const w = dequantize(c?.const ? { ...q, codebook: c.const.toFloat32() } : q);
  const bytesAfter = [b, s, z, c].reduce((n, v) => n + (v?.const?.byteLength ?? 0), 0);
  return { name, kind, K, N, bits, blockSize, ...weightError(ref, w, rowScale), bytesBefore, bytesAfter };
}

const mb = (n: number): string => `${(n / 1e6).toFixed(n < 1e5 ? 4 : 2)} MB`;

/**
 * A self-contained HTML page of a quantization: method and options, total and per-dtype bytes before
 * and after, a bar chart of every layer's relative weight error and one of its bytes before/after, and
 * the full per-layer table. No script and nothing fetched at view time.
 *
 * @example
 * ```ts
 * const r = await quantizeModel(graph, { method: 'rtn', bits: 4, measureLayers: true });
 * writeFileSync('report.html', quantReportHtml({ report: r.report, layers: r.layers!, bytesByDtype: r.bytesByDtype! }));
 * ```
 */
export function quantReportHtml(d: QuantReportData): string {
  const r = d.report;
  const title = `${r.method} ${r.bits}-bit quantization report${d.input ? ` — ${d.input}` : ''}`;
  const opts = d.options ?? { method: r.method, bits: r.bits, blockSize: r.blockSize, target: r.target };
  const dtypes = [...new Set([...Object.keys(d.bytesByDtype.before), ...Object.keys(d.bytesByDtype.after)])].sort();
  const worst = [...d.layers].sort((a, b) => b.relError - a.relError)[0];
  const body = [
    `<h1>${escapeXml(title)}</h1>`,
    `<p>${r.layersQuantized} layers quantized for ${escapeXml(r.target)}: ${mb(r.bytesBefore)} → ${mb(r.bytesAfter)}${r.bytesBefore > 0 ? ` (${(r.bytesAfter / r.bytesBefore).toFixed(3)}×)` : ''} in ${r.seconds} s${d.output ? ` → ${escapeXml(d.output)}` : ''}.` +
      (worst ? ` Largest relative weight error: ${formatFigure(worst.relError)} (${escapeXml(worst.name)}).` : '') + '</p>',
    r.reason ? `<p><b>Nothing quantized:</b> ${escapeXml(r.reason)}</p>` : '',
    d.layers.length ? '<h2>per layer</h2>' : '',
    d.layers.length ? svgBarChart({ title: 'relative weight error ‖Ŵ − W‖ / ‖W‖ per layer', items: d.layers.map((l) => ({ label: l.name, value: l.relError })) }) : '',
    d.layers.length ? svgBarChart({ title: 'layer size after / before', unit: '×', items: d.layers.map((l) => ({ label: l.name, value: l.bytesBefore > 0 ? l.bytesAfter / l.bytesBefore : null })) }) : '',
    `<h2>bytes by dtype</h2>${htmlTable(['dtype', 'before', 'after'], dtypes.map((t) => [t, String(d.bytesByDtype.before[t] ?? 0), String(d.bytesByDtype.after[t] ?? 0)]))}`,
    svgBarChart({ title: 'bytes by dtype, before | after', unit: 'MB', items: dtypes.flatMap((t) => [{ label: `${t} before`, value: (d.bytesByDtype.before[t] ?? 0) / 1e6 }, { label: `${t} after`, value: (d.bytesByDtype.after[t] ?? 0) / 1e6 }]) }),
    `<h2>options</h2>${htmlTable(['option', 'value'], Object.entries(opts).filter(([, v]) => v !== undefined).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))}`,
    d.layers.length ? '<h2>every layer</h2>' + htmlTable(['layer', 'kind', 'K × N', 'bits', 'block', 'rel. error', 'max |Δ|', 'bytes before', 'bytes after'],
      d.layers.map((l) => [l.name, l.kind, `${l.K} × ${l.N}`, String(l.bits), l.blockSize ? String(l.blockSize) : '—', formatFigure(l.relError), formatFigure(l.maxAbsError), String(l.bytesBefore), String(l.bytesAfter)])) : '',
    d.notes?.length ? `<h2>notes</h2><ul>${d.notes.map((n) => `<li>${escapeXml(n)}</li>`).join('')}</ul>` : '',
  ].join('\n');
  return htmlDocument(title, body);
}
