import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parsePatternSpec, patternImage, patternPng, patternSvg } from './picture.js';

describe('parsePatternSpec', () => {
  it('reads every pattern kind', () => {
    expect(parsePatternSpec('dense')).toEqual({ kind: 'dense' });
    expect(parsePatternSpec('window:64')).toEqual({ kind: 'window', window: 64 });
    expect(parsePatternSpec('window:window=8')).toEqual({ kind: 'window', window: 8 });
    expect(parsePatternSpec('sinks-window:sinks=4,window=16')).toEqual({ kind: 'sinks-window', sinks: 4, window: 16 });
    expect(parsePatternSpec('block-sparse:block=16,local=2,stride=4,strided')).toEqual({ kind: 'block-sparse', blockSize: 16, localBlocks: 2, verticalStride: 4, strided: true });
    expect(parsePatternSpec('block-sparse:block=16,local=2,stride=4')).toMatchObject({ strided: false });
    expect(parsePatternSpec('moa:4+0/8+0.25/0+1')).toEqual({ kind: 'moa', spans: [{ alpha: 4, beta: 0 }, { alpha: 8, beta: 0.25 }, { alpha: 0, beta: 1 }] });
    expect(parsePatternSpec('topk:window=8,k=4')).toEqual({ kind: 'topk', window: 8, topK: 4 });
  });

  it('names what was wrong and the allowed forms', () => {
    expect(() => parsePatternSpec('dilated:2')).toThrow(/unknown kind 'dilated' \(kinds: dense, window, sinks-window, block-sparse, moa, topk\).*forms: dense \| window:<W>/);
    expect(() => parsePatternSpec('window:0')).toThrow(/window must be an integer ≥ 1, got '0'/);
    expect(() => parsePatternSpec('window:0x10')).toThrow(/window must be an integer ≥ 1, got '0x10'/);
    expect(() => parsePatternSpec('sinks-window:sinks=4')).toThrow(/missing window=<integer ≥ 1>/);
    expect(() => parsePatternSpec('block-sparse:block=4,local=1,stride=2,size=3')).toThrow(/unknown field 'size' \(allowed: block, local, stride, strided\)/);
    expect(() => parsePatternSpec('moa:4+0/x')).toThrow(/<alpha>\+<beta>.*got 'x'/);
    expect(() => parsePatternSpec('moa:4+2')).toThrow(/0 ≤ beta ≤ 1/);
    expect(() => parsePatternSpec('dense:1')).toThrow(/takes no fields/);
  });
});

const SEEN = [31, 78, 121], SKIPPED = [221, 227, 234], FUTURE = [255, 255, 255];

/** Colour of head h's (q, k) cell, read from the raster by the documented layout (GAP 16, cell px, ceil(sqrt(heads)) columns). */
function cellColor(img: { width: number; data: Uint8Array }, heads: number, len: number, cell: number, h: number, q: number, k: number): number[] {
  const cols = Math.ceil(Math.sqrt(heads)), panel = len * cell;
  const x = 16 + (h % cols) * (panel + 16) + k * cell, y = 16 + Math.floor(h / cols) * (panel + 16) + q * cell;
  const at = (y * img.width + x) * 4;
  return [...img.data.subarray(at, at + 3)];
}

describe('pattern pictures', () => {
  // Reference masks written out from each pattern's definition, not through `allowed`.
  const cases: [string, number, (h: number, q: number, k: number) => boolean][] = [
    ['window:3', 2, (_h, q, k) => q - k < 3],
    ['sinks-window:sinks=2,window=3', 1, (_h, q, k) => k < 2 || q - k < 3],
    ['moa:2+0/0+0.5', 2, (h, q, k) => q - k < (h === 0 ? 2 : Math.max(1, Math.floor(0.5 * (q + 1))))],
    // blocks of 2; local 1 block; stride 2 strided: head 0 sees key blocks 1, 3, …; head 1 blocks 0, 2, …
    ['block-sparse:block=2,local=1,stride=2,strided', 2, (h, q, k) => Math.floor(q / 2) === Math.floor(k / 2) || (Math.floor(k / 2) + 1 + h) % 2 === 0],
  ];
  for (const [spec, heads, seen] of cases) {
    it(`${spec}: every cell is seen, skipped or future as the definition says`, () => {
      const len = 9, cell = 2;
      const img = patternImage(parsePatternSpec(spec), { heads, len, cell });
      for (let h = 0; h < heads; h++) {
        for (let q = 0; q < len; q++) {
          for (let k = 0; k < len; k++) expect(cellColor(img, heads, len, cell, h, q, k), `${h} ${q} ${k}`).toEqual(k > q ? FUTURE : seen(h, q, k) ? SEEN : SKIPPED);
        }
      }
    });
  }

  it('the PNG holds exactly the raster (inflated by node zlib)', async () => {
    const p = parsePatternSpec('window:4');
    const img = patternImage(p, { heads: 3, len: 10, cell: 1 });
    const png = await patternPng(p, { heads: 3, len: 10, cell: 1 });
    const idatLen = new DataView(png.buffer, png.byteOffset).getUint32(33);
    const raw = inflateSync(png.subarray(41, 41 + idatLen));
    const stride = img.width * 4;
    for (let y = 0; y < img.height; y++) {
      expect(raw[y * (stride + 1)]).toBe(0);
      expect(Buffer.compare(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), Buffer.from(img.data.subarray(y * stride, (y + 1) * stride)))).toBe(0);
    }
  });

  it('the SVG has a panel per head, MoA spans in the labels, and refuses a head count that does not match the spans', () => {
    const p = parsePatternSpec('moa:2+0/0+0.5');
    const svg = patternSvg(p, { heads: 2, len: 8 }, 'moa:2+0/0+0.5');
    expect(svg.match(/>head \d/g)).toHaveLength(2);
    expect(svg).toContain('head 1 (span 0 + 0.5·L)');
    expect(() => patternSvg(p, { heads: 3, len: 8 })).toThrow(/2 spans for 3 heads/);
    expect(() => patternImage(parsePatternSpec('dense'), { heads: 1, len: 2000 })).toThrow(/len must be an integer in 1…1024/);
  });
});
