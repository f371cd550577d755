// Attention patterns as text specs (for CLIs) and as pictures: which query sees which key, one panel
// per head. Browser-safe: the SVG is a string, the raster an RGBA buffer for core's encodePng.
import { LeanformerError, encodePng, escapeXml, type RgbaImage } from '@leanformer/core';
import { allowed, patternDensity, PATTERN_KINDS, validatePattern, type AttentionPattern, type HeadSpan } from './pattern.js';

/** The text forms {@link parsePatternSpec} reads, one per pattern kind: `[form, what it means]`. */
export const PATTERN_SPEC_FORMS: readonly (readonly [string, string])[] = [
  ['dense', 'every earlier key'],
  ['window:<W>', 'the last W keys'],
  ['sinks-window:sinks=<S>,window=<W>', 'StreamingLLM: the first S keys and the last W'],
  ['block-sparse:block=<B>,local=<L>,stride=<V>[,strided]', 'ORT SparseAttention local + vertical-stride blocks'],
  ['moa:<alpha>+<beta>/<alpha>+<beta>/…', 'MoA: one elastic span alpha + beta·L per head'],
  ['topk:window=<W>,k=<K>', 'ALISA: drawn by its window part (the top-k keys depend on the scores)'],
];

function specError(spec: string, why: string): LeanformerError {
  return new LeanformerError('INVALID_ARGUMENT', `attention pattern spec '${spec}': ${why}; forms: ${PATTERN_SPEC_FORMS.map(([f]) => f).join(' | ')}`, { details: { argument: 'pattern' } });
}

/** `key=value,…` (bare words are flags) with only the allowed keys. */
function fields(spec: string, body: string, keys: readonly string[], flags: readonly string[] = []): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of body.split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0 ? !flags.includes(k) : !keys.includes(k)) throw specError(spec, `unknown field '${k}' (allowed: ${[...keys, ...flags].join(', ')})`);
    if (m.has(k)) throw specError(spec, `field '${k}' given twice`);
    m.set(k, eq < 0 ? 'true' : part.slice(eq + 1));
  }
  return m;
}

function int(spec: string, raw: string | undefined, name: string, min: number): number {
  if (raw === undefined) throw specError(spec, `missing ${name}=<integer ≥ ${min}>`);
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw specError(spec, `${name} must be an integer ≥ ${min}, got '${raw}'`);
  return Number(raw);
}

/**
 * Parses a pattern spec (see {@link PATTERN_SPEC_FORMS}) into an {@link AttentionPattern}, checked by
 * `validatePattern`. Throws `INVALID_ARGUMENT` naming what was wrong and the allowed forms.
 *
 * @example
 * ```ts
 * parsePatternSpec('window:64');                                // { kind: 'window', window: 64 }
 * parsePatternSpec('block-sparse:block=16,local=2,stride=4,strided');
 * parsePatternSpec('moa:4+0/8+0.25/0+1');                       // three heads
 * ```
 */
export function parsePatternSpec(spec: string): AttentionPattern {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const body = colon < 0 ? '' : spec.slice(colon + 1);
  let p: AttentionPattern;
  switch (kind) {
    case 'dense':
      if (body) throw specError(spec, "'dense' takes no fields");
      p = { kind: 'dense' };
      break;
    case 'window':
      p = { kind: 'window', window: int(spec, /^\d/.test(body) ? body : fields(spec, body, ['window']).get('window'), 'window', 1) };
      break;
    case 'sinks-window': {
      const f = fields(spec, body, ['sinks', 'window']);
      p = { kind: 'sinks-window', sinks: int(spec, f.get('sinks'), 'sinks', 0), window: int(spec, f.get('window'), 'window', 1) };
      break;
    }
    case 'block-sparse': {
      const f = fields(spec, body, ['block', 'local', 'stride'], ['strided']);
      p = { kind: 'block-sparse', blockSize: int(spec, f.get('block'), 'block', 1), localBlocks: int(spec, f.get('local'), 'local', 1), verticalStride: int(spec, f.get('stride'), 'stride', 1), strided: f.has('strided') };
      break;
    }
    case 'moa': {
      if (!body) throw specError(spec, "'moa' needs one <alpha>+<beta> span per head, separated by '/'");
      const spans: HeadSpan[] = body.split('/').map((s) => {
        const m = /^(\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?)$/.exec(s);
        if (!m) throw specError(spec, `a MoA span must be <alpha>+<beta> (decimal numbers), got '${s}'`);
        return { alpha: Number(m[1]), beta: Number(m[2]) };
      });
      p = { kind: 'moa', spans };
      break;
    }
    case 'topk': {
      const f = fields(spec, body, ['window', 'k']);
      p = { kind: 'topk', window: int(spec, f.get('window'), 'window', 1), topK: int(spec, f.get('k'), 'k', 0) };
      break;
    }
    default:
      throw specError(spec, `unknown kind '${kind}' (kinds: ${PATTERN_KINDS.join(', ')})`);
  }
  validatePattern(p);
  return p;
}

/** What a pattern picture shows. */
export interface PatternPictureOptions {
  /** Heads drawn (MoA: must equal its span count). */
  readonly heads: number;
  /** Sequence length: queries and keys 0 … len-1. */
  readonly len: number;
  /** Pixels per query/key cell (default: the grid about 1000 px wide, cells of 1 to 12 px). */
  readonly cell?: number;
}

/** Colours: a seen key, a causal key the pattern skips, a future key (never seen), the page. */
const SEEN = [31, 78, 121] as const, SKIPPED = [221, 227, 234] as const, FUTURE = [255, 255, 255] as const;
const GAP = 16;

function layout(p: AttentionPattern, o: PatternPictureOptions) {
  if (!Number.isInteger(o.heads) || o.heads < 1 || o.heads > 64) throw new LeanformerError('INVALID_ARGUMENT', `pattern picture: heads must be an integer in 1…64, got ${o.heads}`, { details: { argument: 'heads' } });
  if (!Number.isInteger(o.len) || o.len < 1 || o.len > 1024) throw new LeanformerError('INVALID_ARGUMENT', `pattern picture: len must be an integer in 1…1024, got ${o.len}`, { details: { argument: 'len' } });
  validatePattern(p, p.kind === 'moa' ? o.heads : undefined);
  const cols = Math.ceil(Math.sqrt(o.heads));
  // About 1000 px across the grid, cells of 1…12 px.
  const cell = o.cell ?? Math.min(12, Math.max(1, Math.floor((1000 / cols - GAP) / o.len)));
  const rows = Math.ceil(o.heads / cols);
  const panel = o.len * cell;
  return { cell, cols, rows, panel };
}

/**
 * The pattern as an RGBA raster: one `len × len` panel per head (rows = queries top to bottom,
 * columns = keys left to right), dark where the query sees the key, grey where causality would allow
 * it but the pattern skips it, white for future keys; panels in a grid, row-major by head.
 * `topk` shows its window part (the top-k keys depend on the scores).
 *
 * @example
 * ```ts
 * const img = patternImage(parsePatternSpec('window:8'), { heads: 4, len: 32 });
 * const png = await encodePng(img);
 * ```
 */
export function patternImage(p: AttentionPattern, o: PatternPictureOptions): RgbaImage {
  const { cell, cols, rows, panel } = layout(p, o);
  const width = cols * panel + (cols + 1) * GAP, height = rows * panel + (rows + 1) * GAP;
  const data = new Uint8Array(width * height * 4).fill(255);
  for (let h = 0; h < o.heads; h++) {
    const x0 = GAP + (h % cols) * (panel + GAP), y0 = GAP + Math.floor(h / cols) * (panel + GAP);
    for (let q = 0; q < o.len; q++) {
      for (let k = 0; k < o.len; k++) {
        const c = k > q ? FUTURE : allowed(p, h, q, k) ? SEEN : SKIPPED;
        for (let dy = 0; dy < cell; dy++) {
          let at = ((y0 + q * cell + dy) * width + x0 + k * cell) * 4;
          for (let dx = 0; dx < cell; dx++, at += 4) { data[at] = c[0]; data[at + 1] = c[1]; data[at + 2] = c[2]; }
        }
      }
    }
  }
  return { width, height, data };
}

/**
 * {@link patternImage} as a PNG file (our encoder: zlib deflate through CompressionStream, CRC-32 chunks).
 *
 * @example
 * ```ts
 * writeFileSync('moa.png', await patternPng(parsePatternSpec('moa:4+0/0+0.5'), { heads: 2, len: 64 }));
 * ```
 */
export function patternPng(p: AttentionPattern, o: PatternPictureOptions): Promise<Uint8Array> {
  return encodePng(patternImage(p, o));
}

/**
 * The pattern as a standalone SVG: the same grid as {@link patternImage}, with a title (the spec and
 * the density of computed scores), a label per head (MoA: its span) and the axes named; runs of seen
 * keys are one rectangle each.
 *
 * @example
 * ```ts
 * const svg = patternSvg(parsePatternSpec('sinks-window:sinks=4,window=16'), { heads: 4, len: 64 }, 'sinks-window:sinks=4,window=16');
 * ```
 */
export function patternSvg(p: AttentionPattern, o: PatternPictureOptions, title: string = p.kind): string {
  const { cell, cols, rows, panel } = layout(p, o);
  const head = 40, label = 16;
  const width = cols * panel + (cols + 1) * GAP, height = head + rows * (panel + label) + (rows + 1) * GAP;
  const rgb = (c: readonly number[]): string => `rgb(${c.join(',')})`;
  const density = patternDensity(p, o.len, o.heads);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12" shape-rendering="crispEdges">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${GAP}" y="18" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${GAP}" y="34" fill="#555">${o.heads} head${o.heads > 1 ? 's' : ''}, ${o.len} tokens: rows = queries ↓, columns = keys →; dark = seen, grey = skipped (density ${(density * 100).toFixed(1)}% of causal scores)${p.kind === 'topk' ? '; top-k keys depend on the scores and are not drawn' : ''}</text>`,
  ];
  for (let h = 0; h < o.heads; h++) {
    const x0 = GAP + (h % cols) * (panel + GAP), y0 = head + GAP + Math.floor(h / cols) * (panel + label + GAP);
    const span = p.kind === 'moa' ? ` (span ${p.spans[h]!.alpha} + ${p.spans[h]!.beta}·L)` : '';
    out.push(`<text x="${x0}" y="${y0 + 12}">head ${h}${escapeXml(span)}</text>`);
    const py = y0 + label;
    // The causal triangle in grey (row q: keys 0…q), then the seen runs over it.
    out.push(`<path d="${Array.from({ length: o.len }, (_, q) => `M${x0} ${py + q * cell}h${(q + 1) * cell}v${cell}h${-(q + 1) * cell}Z`).join('')}" fill="${rgb(SKIPPED)}"/>`);
    out.push(`<rect x="${x0}" y="${py}" width="${panel}" height="${panel}" fill="none" stroke="#bbb"/>`);
    const runs: string[] = [];
    for (let q = 0; q < o.len; q++) {
      for (let k = 0; k <= q;) {
        if (!allowed(p, h, q, k)) { k++; continue; }
        let e = k;
        while (e + 1 <= q && allowed(p, h, q, e + 1)) e++;
        runs.push(`M${x0 + k * cell} ${py + q * cell}h${(e - k + 1) * cell}v${cell}h${-(e - k + 1) * cell}Z`);
        k = e + 1;
      }
    }
    out.push(`<path d="${runs.join('')}" fill="${rgb(SEEN)}"/>`);
  }
  out.push('</svg>');
  return out.join('\n');
}
