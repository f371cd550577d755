// The three picture kinds, made by the CLI and rendered in headless Chromium (Debian's chromium package,
// driven by playwright-core): `quantize --report`, `bench <suite> --html`, `attention show --png|--svg`.
// Each page must load nothing from anywhere (every request but the file itself is counted and refused)
// and must not be blank; Chromium also decodes our PNG, pixel for pixel, as an independent decoder.
// Screenshots stay in memory; LEANFORMER_UPDATE_SCREENSHOT=1 writes them beside the package READMEs that
// show them (packages/{quant,cli,attention}/docs/), so a plain test run leaves the tree as it was.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transformerDecoder } from '@leanformer/core';
import { parsePatternSpec, patternImage } from '@leanformer/attention';
import { main } from '@leanformer/cli';
import { encodeModel } from '@leanformer/onnx';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env['LEANFORMER_CHROMIUM'] ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const UPDATE = process.env['LEANFORMER_UPDATE_SCREENSHOT'] === '1';
const VIEWPORT = { width: 1000, height: 760 };
const MOA = 'moa:4+0/8+0.125/2+0.25/0+0.5/16+0/1+0.75';

if (!haveChromium) console.warn(`pictures e2e: skipped, ${CHROMIUM} is missing; install Debian's chromium package (apt-get install chromium) or set LEANFORMER_CHROMIUM`);

async function leanformer(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(argv, { out: (t) => { out += t; }, err: (t) => { err += t; }, stderrIsTTY: false });
  return { code, out, err };
}

/**
 * Decodes a PNG in the page (createImageBitmap → canvas, Chromium's own decoder) and returns its size,
 * the share of pixels that differ from the most common colour (the background), the grey-level
 * variance, and, given the RGBA bytes it should hold, how many bytes differ. Computed in the page so
 * that only a few numbers cross the wire.
 */
async function decodeInPage(page: Page, png: Uint8Array, expected?: Uint8Array): Promise<{ width: number; height: number; ink: number; variance: number; differ: number | null }> {
  return page.evaluate(async ([b64, want64]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }), { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    const canvas = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(bmp, 0, 0);
    const d = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
    const counts = new Map<number, number>();
    const n = d.length / 4;
    let sum = 0, sum2 = 0;
    for (let i = 0; i < n; i++) {
      const key = (d[4 * i]! << 16) | (d[4 * i + 1]! << 8) | d[4 * i + 2]!;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const y = (d[4 * i]! + d[4 * i + 1]! + d[4 * i + 2]!) / 3;
      sum += y; sum2 += y * y;
    }
    let differ: number | null = null;
    if (want64) {
      const want = Uint8Array.from(atob(want64), (c) => c.charCodeAt(0));
      differ = want.length === d.length ? 0 : Math.abs(want.length - d.length);
      for (let i = 0; i < Math.min(want.length, d.length); i++) if (want[i] !== d[i]) differ++;
    }
    return { width: bmp.width, height: bmp.height, ink: 1 - Math.max(...counts.values()) / n, variance: sum2 / n - (sum / n) ** 2, differ };
  }, [Buffer.from(png).toString('base64'), expected ? Buffer.from(expected).toString('base64') : ''] as const);
}

describe.skipIf(!haveChromium)('pictures in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  const dir = mkdtempSync(join(tmpdir(), 'lf-pictures-'));
  const outside: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    const context = await browser.newContext({ viewport: VIEWPORT });
    // Self-contained means no request but the file itself: count and refuse everything else.
    await context.route('**/*', (r) => {
      const u = r.request().url();
      if (u.startsWith('file:') || u.startsWith('data:') || u === 'about:blank') return r.continue();
      outside.push(u);
      return r.abort();
    });
    page = await context.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens a file, checks that it loaded nothing else and is not blank; with LEANFORMER_UPDATE_SCREENSHOT=1 writes the screenshot into the tree. */
  async function shoot(file: string, minInk: number, screenshot?: string): Promise<void> {
    await page.goto(pathToFileURL(file).href);
    const png = await page.screenshot();
    const { ink, variance } = await decodeInPage(page, png);
    expect(ink, `${file}: share of non-background pixels`).toBeGreaterThan(minInk);
    expect(variance, `${file}: grey-level variance`).toBeGreaterThan(50);
    expect(outside, `${file} fetched from elsewhere`).toEqual([]);
    if (UPDATE && screenshot) {
      mkdirSync(join(root, screenshot, '..'), { recursive: true });
      writeFileSync(join(root, screenshot), png);
    }
  }

  it('quantize --report: the HTML report renders with its charts and table', async () => {
    const model = join(dir, 'decoder.onnx');
    writeFileSync(model, encodeModel(transformerDecoder({ vocabSize: 256, hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128, seed: 4 })));
    const html = join(dir, 'report.html');
    const r = await leanformer('quantize', model, '-o', join(dir, 'q.onnx'), '--method', 'rtn', '--bits', '4', '--report', html, '--json');
    expect(r.code, r.err).toBe(0);
    const { layersQuantized } = JSON.parse(r.out) as { layersQuantized: number };
    await shoot(html, 0.05, 'packages/quant/docs/quantize-report.png');
    expect(await page.locator('svg').count()).toBe(3);
    expect(await page.locator('table').last().locator('tbody tr').count()).toBe(layersQuantized); // one row per rewritten layer
  });

  it('bench --html: our figures beside the peer\'s from the same run', async () => {
    const html = join(dir, 'bench.html');
    const r = await leanformer('bench', 'ort-decoder', '--quick', '--html', html);
    expect(r.code, r.err).toBe(0);
    await shoot(html, 0.02, 'packages/cli/docs/bench-ort-decoder.png');
    const charts = page.locator('svg');
    expect(await charts.count()).toBe(2); // the ratio against 1×, and ir vs direct in ms
    expect(await charts.nth(1).locator('rect').count()).toBe(2);
  });

  it('attention show: the SVG renders one panel per MoA head, and Chromium decodes our PNG to exactly the mask', async () => {
    const svg = join(dir, 'moa.svg'), png = join(dir, 'moa.png');
    const r = await leanformer('attention', 'show', MOA, '--svg', svg, '--png', png, '--len', '32');
    expect(r.code, r.err).toBe(0);
    await shoot(svg, 0.1, 'packages/attention/docs/attention-moa.png');
    expect(await page.locator('text', { hasText: /^head \d/ }).count()).toBe(6);
    // Chromium's decoder against the raster the PNG was made from.
    const want = patternImage(parsePatternSpec(MOA), { heads: 6, len: 32 });
    const got = await decodeInPage(page, readFileSync(png), want.data);
    expect([got.width, got.height]).toEqual([want.width, want.height]);
    expect(got.differ).toBe(0);
    await shoot(png, 0.1); // the PNG as Chromium shows it: not blank either
  });
});
