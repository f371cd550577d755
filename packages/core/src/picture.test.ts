import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { benchHtml } from './bench.js';
import { crc32, encodePng, escapeXml, htmlDocument, svgBarChart } from './picture.js';

/** Splits a PNG into its chunks (independent of the encoder: reads the bytes as the PNG spec lays them out). */
function chunks(png: Uint8Array): { type: string; data: Uint8Array; crc: number; crcInput: Uint8Array }[] {
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out = [];
  for (let at = 8; at < png.length;) {
    const len = dv.getUint32(at);
    out.push({ type: String.fromCharCode(...png.subarray(at + 4, at + 8)), data: png.subarray(at + 8, at + 8 + len), crc: dv.getUint32(at + 8 + len), crcInput: png.subarray(at + 4, at + 8 + len) });
    at += 12 + len;
  }
  return out;
}

describe('crc32', () => {
  it('matches the published check value of CRC-32/ISO-HDLC', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('encodePng', () => {
  it('writes signature, IHDR, IDAT, IEND with valid CRCs, and IDAT inflates (node zlib) to the filtered rows', async () => {
    const width = 3, height = 2;
    const data = Uint8Array.from({ length: width * height * 4 }, (_, i) => (i * 37) & 255);
    const png = await encodePng({ width, height, data });
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const cs = chunks(png);
    expect(cs.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    for (const c of cs) expect(c.crc).toBe(crc32(c.crcInput));
    const ihdr = new DataView(cs[0]!.data.buffer, cs[0]!.data.byteOffset, 13);
    expect([ihdr.getUint32(0), ihdr.getUint32(4), ...cs[0]!.data.subarray(8)]).toEqual([3, 2, 8, 6, 0, 0, 0]);
    const raw = inflateSync(cs[1]!.data);
    const expected = [0, ...data.subarray(0, 12), 0, ...data.subarray(12)];
    expect([...raw]).toEqual(expected);
  });

  it('refuses a buffer of the wrong size and an empty image', async () => {
    await expect(encodePng({ width: 2, height: 2, data: new Uint8Array(15) })).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await expect(encodePng({ width: 0, height: 2, data: new Uint8Array(0) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('html pictures', () => {
  it('escapes labels and draws one bar per finite value, n/a for null', () => {
    const svg = svgBarChart({ title: 't<1>', items: [{ label: 'a&b', value: 2 }, { label: 'c', value: null }, { label: 'd', value: 4, low: 3, high: 5 }] });
    expect(svg).toContain('t&lt;1&gt;');
    expect(svg).toContain('a&amp;b');
    expect(svg.match(/<rect /g)).toHaveLength(2);
    expect(svg).toContain('n/a');
    expect(escapeXml(`<a href="x">'`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;');
  });

  it('a page loads nothing: a CSP that forbids fetches and scripts, and no external reference', () => {
    const html = htmlDocument('x', '<p>y</p>');
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/<script|<link|src=|url\(/i);
  });

  it('benchHtml charts figures of one unit side by side, ratios against 1, and tables every metric', () => {
    const html = benchHtml({ suite: 'vision', metrics: { m0_ms: 3, m0_ms_p25: 2.5, m0_ms_p75: 3.5, m0_timm_onnx_ms: 4, m0_vs_timm_onnx: 1.33, lonely_mb: 7, label: 'x<y', missing_vs_peer: null }, notes: ['peer & co'] } as never);
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g)!;
    expect(svgs).toHaveLength(2); // ratios, ms (a unit with one figure gets no chart)
    expect(svgs[0]).toContain('m0_vs_timm_onnx');
    expect(svgs[0]).toContain('stroke-dasharray'); // the 1× rule
    expect(svgs[1]).toContain('m0_timm_onnx_ms');
    expect(svgs[1]!.match(/<rect /g)).toHaveLength(2);
    expect(svgs[1]).toContain('<path'); // the p25–p75 whisker
    for (const k of ['m0_ms_p25', 'lonely_mb', 'x&lt;y', 'peer &amp; co']) expect(html).toContain(k);
    expect(benchHtml({ suite: 'peft', metrics: { a_ms: 1 }, notes: { a_ms: 'median of 10' } } as never)).toContain('<li>a_ms: median of 10</li>');
  });
});
