// Pictures a person can glance at: self-contained HTML pages with inline SVG (bar charts, tables) and a
// small PNG encoder. Browser-safe string builders: no DOM, no Node API, no network at view time (every
// page carries a Content-Security-Policy that forbids loading anything). Used by `quantize --report`,
// `bench --html` and `attention show --png|--svg`.
import { LeanformerError } from './errors.js';

/**
 * Escapes text for HTML/XML content and attribute values.
 *
 * @example
 * ```ts
 * escapeXml('a < b & "c"'); // 'a &lt; b &amp; &quot;c&quot;'
 * ```
 */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * A number for people: integers as they are, else up to 4 significant digits (exponent form outside
 * [1e-3, 1e7)); 'n/a' for null or undefined.
 *
 * @example
 * ```ts
 * formatFigure(3.14159); // '3.142'
 * ```
 */
export function formatFigure(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return v === null || v === undefined ? 'n/a' : String(v);
  if (v === 0 || Number.isInteger(v) && Math.abs(v) < 1e7) return String(v);
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e7 ? String(Number(v.toPrecision(4))) : v.toExponential(3);
}

/** One bar of {@link svgBarChart}. */
export interface BarItem {
  readonly label: string;
  /** null: not measured (drawn as "n/a", no bar). */
  readonly value: number | null;
  /** Optional spread (e.g. p25–p75), drawn as a whisker over the bar. */
  readonly low?: number;
  readonly high?: number;
}

/** Options of {@link svgBarChart}. */
export interface BarChartOptions {
  readonly title: string;
  readonly items: readonly BarItem[];
  /** Appended to each value label (e.g. 'ms'). */
  readonly unit?: string;
  /** A vertical rule at this value (e.g. 1 for ratios). Bars keep one colour: whether more is better depends on the metric. */
  readonly reference?: number;
  /** Total width in px (default 720). */
  readonly width?: number;
}

const COLORS = { bar: '#3b6ea8', rule: '#444', text: '#222', muted: '#888' } as const;

/**
 * A horizontal bar chart as an inline `<svg>` string: one row per item, label on the left, value on
 * the right, all bars on one linear scale from 0 (negative values are drawn from 0 leftwards).
 *
 * @example
 * ```ts
 * const svg = svgBarChart({ title: 'ms per run', unit: 'ms', items: [{ label: 'ours', value: 3.1 }, { label: 'timm', value: 4.2 }] });
 * ```
 */
export function svgBarChart(o: BarChartOptions): string {
  const width = o.width ?? 720;
  const row = 22, top = 28, labelW = Math.min(300, Math.max(80, ...o.items.map((i) => i.label.length * 7 + 10))), valueW = 110;
  const plotW = width - labelW - valueW;
  const vals = o.items.flatMap((i) => [i.value, i.high, i.low, o.reference].filter((v): v is number => typeof v === 'number' && Number.isFinite(v)));
  const max = Math.max(0, ...vals), min = Math.min(0, ...vals);
  const span = max - min || 1;
  const x = (v: number): number => labelW + ((v - min) / span) * plotW;
  const height = top + o.items.length * row + 8;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(o.title)}" font-family="system-ui, sans-serif" font-size="12">`,
    `<text x="4" y="16" font-weight="bold" fill="${COLORS.text}">${escapeXml(o.title)}</text>`,
  ];
  o.items.forEach((it, i) => {
    const y = top + i * row;
    parts.push(`<text x="${labelW - 6}" y="${y + 14}" text-anchor="end" fill="${COLORS.text}">${escapeXml(it.label)}</text>`);
    if (it.value === null || !Number.isFinite(it.value)) {
      parts.push(`<text x="${labelW + 4}" y="${y + 14}" fill="${COLORS.muted}">n/a</text>`);
      return;
    }
    const x0 = x(Math.min(0, it.value)), x1 = x(Math.max(0, it.value));
    parts.push(`<rect x="${x0.toFixed(1)}" y="${y + 3}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${row - 8}" fill="${COLORS.bar}"><title>${escapeXml(`${it.label}: ${formatFigure(it.value)}${o.unit ? ` ${o.unit}` : ''}`)}</title></rect>`);
    if (it.low !== undefined && it.high !== undefined) {
      const ym = y + row / 2 - 1;
      parts.push(`<path d="M${x(it.low).toFixed(1)} ${ym}H${x(it.high).toFixed(1)}M${x(it.low).toFixed(1)} ${ym - 4}v8M${x(it.high).toFixed(1)} ${ym - 4}v8" stroke="${COLORS.rule}" fill="none"/>`);
    }
    parts.push(`<text x="${width - valueW + 6}" y="${y + 14}" fill="${COLORS.text}">${escapeXml(formatFigure(it.value))}${o.unit ? ` ${escapeXml(o.unit)}` : ''}</text>`);
  });
  if (o.reference !== undefined) {
    const rx = x(o.reference).toFixed(1);
    parts.push(`<line x1="${rx}" x2="${rx}" y1="${top - 4}" y2="${height - 4}" stroke="${COLORS.rule}" stroke-dasharray="4 3"/>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

/**
 * An HTML `<table>`: a header row and body rows of already-formatted cells (escaped here).
 *
 * @example
 * ```ts
 * htmlTable(['layer', 'error'], [['fc1', '0.012']]);
 * ```
 */
export function htmlTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const tr = (cells: readonly string[], tag: 'td' | 'th'): string => `<tr>${cells.map((c) => `<${tag}>${escapeXml(c)}</${tag}>`).join('')}</tr>`;
  return `<table><thead>${tr(headers, 'th')}</thead><tbody>${rows.map((r) => tr(r, 'td')).join('')}</tbody></table>`;
}

/**
 * A whole self-contained HTML document: inline CSS, the given body (trusted HTML: build it from
 * {@link escapeXml}, {@link svgBarChart}, {@link htmlTable}), and a Content-Security-Policy that
 * forbids every fetch and script, so the file shows the same offline and can run nothing.
 *
 * @example
 * ```ts
 * const html = htmlDocument('quantization report', `<h1>report</h1>${svgBarChart(chart)}`);
 * ```
 */
export function htmlDocument(title: string, body: string): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${escapeXml(title)}</title>`,
    '<style>',
    'body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fff;max-width:1100px}',
    'h1{font-size:20px}h2{font-size:16px;margin-top:28px}',
    'table{border-collapse:collapse;font-size:12px;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;max-width:760px;overflow-wrap:anywhere}',
    'th{background:#f0f3f7}td.num{text-align:right;font-variant-numeric:tabular-nums}',
    '.muted{color:#777;font-size:12px}svg{display:block;margin:8px 0}',
    '</style></head><body>',
    body,
    '</body></html>',
    '',
  ].join('\n');
}

/** An 8-bit RGBA raster, row-major, 4 bytes a pixel. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

let crcTable: Uint32Array | undefined;

/**
 * CRC-32 (IEEE 802.3, the polynomial of PNG, zip and gzip) of `bytes`.
 *
 * @example
 * ```ts
 * crc32(new TextEncoder().encode('123456789')); // 0xcbf43926
 * ```
 */
export function crc32(bytes: Uint8Array, seed = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~seed >>> 0;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** zlib-format deflate (RFC 1950) through the platform's CompressionStream (browsers, Node ≥ 18). */
async function zlibDeflate(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Encodes an RGBA image as a PNG file (colour type 6, 8 bits, no interlace, filter 0 on every row):
 * signature, IHDR, one IDAT of the zlib-deflated scanlines, IEND, each chunk with its CRC-32.
 *
 * @example
 * ```ts
 * const png = await encodePng({ width: 2, height: 1, data: new Uint8Array([255, 0, 0, 255, 0, 0, 255, 255]) });
 * ```
 */
export async function encodePng(img: RgbaImage): Promise<Uint8Array> {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 0x7fffffff || height > 0x7fffffff) {
    throw new LeanformerError('INVALID_ARGUMENT', `encodePng: width and height must be integers ≥ 1, got ${width}×${height}`);
  }
  if (data.length !== width * height * 4) throw new LeanformerError('SHAPE_MISMATCH', `encodePng: ${width}×${height} RGBA needs ${width * height * 4} bytes, got ${data.length}`);
  const stride = width * 4;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1); // filter byte 0 = None
  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  ihdr.set([8, 6, 0, 0, 0], 8); // bit depth 8, colour type RGBA, deflate, filter method 0, no interlace
  const chunks = [chunk('IHDR', ihdr), chunk('IDAT', await zlibDeflate(raw)), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(8 + chunks.reduce((s, c) => s + c.length, 0));
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let at = 8;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

/** length, type, data, CRC-32 over type and data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const c = new Uint8Array(12 + data.length);
  const v = new DataView(c.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) c[4 + i] = type.charCodeAt(i);
  c.set(data, 8);
  v.setUint32(8 + data.length, crc32(c.subarray(4, 8 + data.length)));
  return c;
}
