// End-to-end: examples/browser in headless Chromium (Debian's chromium package, driven by
// playwright-core). The page builds the demo model, quantizes it to int4 in a Web Worker, runs both
// models on onnxruntime-web (wasm) and decodes an .lfpack download; this test checks the numbers it
// reports against Node: the same model bytes, the same int4 bytes as `leanformer quantize`, and a
// bit-exact .lfpack decode. It takes a screenshot into a temp folder; LEANFORMER_UPDATE_SCREENSHOT=1
// writes it to examples/browser/screenshot.png instead (the README shows that one), so a test run
// leaves the working tree as it was.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '@leanformer/cli';
import { decodeModel } from '@leanformer/onnx';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { agreement, seededFeeds } from '../examples/browser/src/shared.js';
import { startServer, type BrowserExampleServer } from '../examples/browser/server.mjs';
import type { LfpackResult, LoadResult, QuantizeResultMsg } from '../examples/browser/src/protocol.js';
import { CHAT_QUANTIZE, type ChatLoadResult, type ChatTurn } from '../examples/browser/src/chat-protocol.js';
import { generate, type PretrainedModel } from '@leanformer/models';
import { loadPretrained } from '@leanformer/models/node';

/** What the page keeps on `window.leanformerReport` (see examples/browser/src/main.ts). */
interface PageReport { load?: LoadResult; quantize?: Omit<QuantizeResultMsg, 'model'>; lfpack?: LfpackResult; error?: string }
/** What the chat page keeps on `window.leanformerChat` (see examples/browser/src/chat.ts). */
interface ChatReport { load?: ChatLoadResult; turns: ChatTurn[]; error?: string }

const root = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env['LEANFORMER_CHROMIUM'] ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const SCREENSHOT = process.env['LEANFORMER_UPDATE_SCREENSHOT'] === '1'
  ? join(root, 'examples/browser/screenshot.png')
  : join(mkdtempSync(join(tmpdir(), 'lf-browser-shot-')), 'screenshot.png');
const CHAT_SCREENSHOT = process.env['LEANFORMER_UPDATE_SCREENSHOT'] === '1' ? join(root, 'examples/browser/chat.png') : join(dirname(SCREENSHOT), 'chat.png');
const VIEWPORT = { width: 1200, height: 900 };
const LLAMA = join(root, 'packages/models/fixtures/llama');
const MAX_NEW = 24;

if (!haveChromium) console.warn(`browser e2e: skipped, ${CHROMIUM} is missing; install Debian's chromium package (apt-get install chromium) or set LEANFORMER_CHROMIUM`);

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Runs the `leanformer` CLI in-process (the same code as the binary) and captures its output. */
async function leanformer(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(argv, { out: (t) => { out += t; }, err: (t) => { err += t; }, stderrIsTTY: false });
  return { code, out, err };
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!sig.every((b, i) => bytes[i] === b)) throw new Error('not a PNG file');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}

describe.skipIf(!haveChromium)('examples/browser in headless Chromium', () => {
  let server: BrowserExampleServer;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    server = await startServer();
    profile = mkdtempSync(join(tmpdir(), 'leanformer-chromium-'));
    // A persistent context is how playwright takes a fresh --user-data-dir of our choosing.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: VIEWPORT,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = context.pages()[0] ?? await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    // Bounded: the page may reach only its own server.
    await context.route((u) => !u.href.startsWith(server.url), (r) => r.abort());
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (!SCREENSHOT.startsWith(root)) rmSync(dirname(SCREENSHOT), { recursive: true, force: true });
  });

  it('quantizes the built-in model to the bytes `leanformer quantize` writes, runs both on wasm, decodes .lfpack bit-exactly', async () => {
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="true"]');

    await page.click('#load-builtin');
    await page.waitForSelector('#model-sha', { timeout: 30_000 });
    await page.click('#quantize'); // defaults: RTN, 4 bits, block 32, target ort-wasm
    await page.waitForSelector('#quant-sha, .bad', { timeout: 60_000 });
    await page.click('#lfpack');
    await page.waitForSelector('#lf-exact', { timeout: 30_000 });
    const report = await page.evaluate(() => (window as unknown as { leanformerReport: PageReport }).leanformerReport);
    expect(report.error).toBeUndefined();

    // The page's built-in model is byte-identical to the one Node builds (and the server serves).
    const onnx = server.models.onnx;
    expect(report.load!.sha256).toBe(sha256(onnx));
    expect(report.load!.facts.fileBytes).toBe(onnx.length);
    expect(report.load!.facts.inputs).toEqual(['input_ids int64[batch, seq]']);

    // `leanformer quantize` in Node on that file gives the same bytes as the page.
    let quantized = new Uint8Array();
    const dir = mkdtempSync(join(tmpdir(), 'leanformer-browser-'));
    try {
      writeFileSync(join(dir, 'demo.onnx'), onnx);
      const cli = await leanformer('quantize', join(dir, 'demo.onnx'), '-o', join(dir, 'demo-int4.onnx'), '--method', 'rtn', '--bits', '4', '--block-size', '32', '--target', 'ort-wasm', '--json');
      expect(cli.code, cli.err).toBe(0);
      const nodeBytes = readFileSync(join(dir, 'demo-int4.onnx'));
      quantized = nodeBytes;
      const q = report.quantize!;
      expect(q.quantSha256).toBe(sha256(nodeBytes));
      expect(q.quantBytes).toBe(nodeBytes.length);
      const nodeReport = JSON.parse(cli.out) as { layersQuantized: number; bytesBefore: number; bytesAfter: number };
      expect(q.report).toMatchObject({ method: 'rtn', bits: 4, blockSize: 32, target: 'ort-wasm', layersQuantized: nodeReport.layersQuantized, bytesBefore: nodeReport.bytesBefore, bytesAfter: nodeReport.bytesAfter });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // Both ran on onnxruntime-web's WebAssembly EP, with real timings, and agree as int4 should.
    const q = report.quantize!;
    for (const t of [q.float, q.quant]) {
      expect(t.ep).toBe('wasm');
      expect(t.runs).toBe(10);
      expect(t.meanMs).toBeGreaterThan(0);
      expect(t.minMs).toBeLessThanOrEqual(t.medianMs);
      expect(t.minMs).toBeLessThanOrEqual(t.meanMs);
      expect(Number.isFinite(t.sessionMs)).toBe(true);
    }
    expect(q.quantBytes / q.floatBytes).toBeLessThan(0.25); // int4 weights with fp16 scales (int8 edge layers)
    const [logits] = q.agreement;
    expect(logits!.output).toBe('logits');
    expect(logits!.shape).toEqual([1, 16, 512]);
    expect(logits!.maxAbsDiff).toBeGreaterThan(0); // it really is a different (quantized) model …
    expect(logits!.cosine).toBeGreaterThan(0.95); // … that still follows the float one
    // onnxruntime-node CPU, fed the same seeded inputs, sees the same agreement: the wasm runs are right.
    const ort = createOrtBackend({ eps: ['cpu'] });
    const feeds = seededFeeds(decodeModel(onnx));
    const outs = [];
    for (const bytes of [onnx, quantized]) {
      const exe = await ort.createExecutorFromBytes(bytes);
      outs.push(await exe.run(feeds));
      await exe.dispose();
    }
    const [nodeLogits] = agreement(outs[0]!, outs[1]!);
    expect(Math.abs(nodeLogits!.cosine - logits!.cosine)).toBeLessThan(1e-4);
    expect(Math.abs(nodeLogits!.top1 - logits!.top1)).toBeLessThanOrEqual(1 / 16); // one row of 16 may flip on a near tie

    // .lfpack: the page's decode is bit-exact and the download is smaller than the plain file.
    const lf = report.lfpack!;
    expect(lf.bitExact).toBe(true);
    expect(lf.mismatches).toEqual([]);
    expect(lf.tensorsCompared).toBeGreaterThan(0);
    expect(lf.decodedSha256).toBe(sha256(onnx));
    expect(lf.lfpackBytes).toBe(server.models.lfpack.length);
    expect(lf.plainBytes).toBe(onnx.length);
    expect(lf.saving).toBeGreaterThan(0.1);
    expect(await page.textContent('#lf-saving')).toBe(`${(lf.saving * 100).toFixed(1)}%`);

    expect(consoleErrors).toEqual([]);

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = readFileSync(SCREENSHOT);
    const size = pngSize(png);
    expect(size.width).toBe(VIEWPORT.width);
    expect(size.height).toBeGreaterThanOrEqual(VIEWPORT.height);
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(50_000);
    console.log(`browser e2e: ${JSON.stringify({ float: q.float, quant: q.quant, floatBytes: q.floatBytes, quantBytes: q.quantBytes, quantizeMs: Math.round(q.quantizeMs), agreement: q.agreement, lfpack: { lfpackBytes: lf.lfpackBytes, plainBytes: lf.plainBytes, saving: lf.saving, decodeMs: lf.decodeMs } })}`);
  }, 90_000);

  it('loads a model from a URL and from a file input; HQQ int4 runs (WebGPU asked for, wasm where the browser has no adapter)', async () => {
    const onnx = server.models.onnx;
    await page.goto(server.url); // a fresh page: this test does not depend on the one before
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill('#load-url', '/models/demo.onnx');
    await page.click('#load-url-btn');
    await page.waitForFunction(() => (window as unknown as { leanformerReport: PageReport }).leanformerReport.load?.source === '/models/demo.onnx');
    const viaUrl = await page.evaluate(() => (window as unknown as { leanformerReport: PageReport }).leanformerReport.load!);
    expect(viaUrl.sha256).toBe(sha256(onnx));

    await page.setInputFiles('#load-file', { name: 'picked.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(onnx) });
    await page.waitForFunction(() => (window as unknown as { leanformerReport: PageReport }).leanformerReport.load?.source === 'picked.onnx');
    const viaFile = await page.evaluate(() => (window as unknown as { leanformerReport: PageReport }).leanformerReport.load!);
    expect(viaFile.sha256).toBe(sha256(onnx));
    expect(viaFile.facts.params).toBe(viaUrl.facts.params);

    // The model loader also takes .lfpack files: decoded in the page, the same model as the plain file.
    await page.fill('#load-url', '/models/demo.lfpack');
    await page.click('#load-url-btn');
    await page.waitForFunction(() => (window as unknown as { leanformerReport: PageReport }).leanformerReport.load?.source === '/models/demo.lfpack');
    const viaPack = await page.evaluate(() => (window as unknown as { leanformerReport: PageReport }).leanformerReport.load!);
    expect(viaPack.sha256).toBe(sha256(onnx));
    expect(viaPack.downloadBytes).toBe(server.models.lfpack.length);

    await page.selectOption('#q-method', 'hqq');
    await page.selectOption('#q-runs', '5');
    await page.check('#q-webgpu');
    await page.click('#quantize');
    await page.waitForSelector('#quant-sha, .bad', { timeout: 60_000 });
    const r = await page.evaluate(() => (window as unknown as { leanformerReport: PageReport }).leanformerReport);
    expect(r.error).toBeUndefined();
    const q = r.quantize!;
    expect(q.report).toMatchObject({ method: 'hqq', bits: 4, blockSize: 32 });
    const gpu = await page.evaluate(async () => Boolean(await (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu?.requestAdapter().catch(() => null)));
    expect(q.quant.ep).toBe(gpu ? 'webgpu' : 'wasm');
    expect(q.report.target).toBe(gpu ? 'ort-webgpu' : 'ort-wasm'); // WebGPU needs uint8 zero points
    expect(q.quant.runs).toBe(5);
    expect(q.agreement[0]!.cosine).toBeGreaterThan(0.95);
    expect(consoleErrors).toEqual([]);
    console.log(`browser e2e (hqq): ${JSON.stringify({ quant: q.quant, quantBytes: q.quantBytes, quantizeMs: Math.round(q.quantizeMs), agreement: q.agreement })}`);
  }, 90_000);

  it('chat page: loads the built-in Hugging Face folder, quantizes to int4, streams the same greedy ids as Node (ORT CPU); and a picked folder in fp32', async () => {
    await page.goto(`${server.url}chat.html`);
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.isChecked('#quantize')).toBe(true);
    await page.click('#load-builtin');
    await page.waitForSelector('#weights, .bad', { timeout: 60_000 });
    const prompt = 'Hello! What can you do?';
    const ask = async (text: string): Promise<ChatTurn> => {
      const before = await page.evaluate(() => (window as unknown as { leanformerChat: ChatReport }).leanformerChat.turns.length);
      await page.fill('#prompt', text);
      await page.fill('#max-new', String(MAX_NEW));
      await page.click('#send');
      await page.waitForFunction((n) => { const c = (window as unknown as { leanformerChat: ChatReport }).leanformerChat; return c.turns.length > n || c.error !== undefined; }, before, { timeout: 60_000 });
      const c = await page.evaluate(() => (window as unknown as { leanformerChat: ChatReport }).leanformerChat);
      expect(c.error).toBeUndefined();
      return c.turns.at(-1)!;
    };
    const turn = await ask(prompt);
    const report = await page.evaluate(() => (window as unknown as { leanformerChat: ChatReport }).leanformerChat);
    expect(report.load).toMatchObject({ modelType: 'llama', layers: 2, vocab: 512, ep: 'wasm', weights: 'rtn int4 (block 32) for ort-wasm', hasChatTemplate: true });
    expect(report.load!.bytesRead).toBeGreaterThan(statSync(join(LLAMA, 'model.safetensors')).size);

    // Node: the same folder, the same quantization, ORT CPU; the same chat template and greedy decoding.
    const node = await loadPretrained(LLAMA, { quantize: CHAT_QUANTIZE });
    const nodeGreedy = async (m: PretrainedModel, messages: { role: string; content: string }[]) => {
      const promptIds = m.tokenizer!.encode(m.tokenizer!.applyChatTemplate(messages));
      const ids: number[] = [];
      let text = '';
      for await (const t of generate(m, m.tokenizer, { promptIds, maxNewTokens: MAX_NEW })) { ids.push(t.id); text += t.text; }
      return { promptIds, ids, text };
    };
    try {
      const want = await nodeGreedy(node, [{ role: 'user', content: prompt }]);
      expect(turn.promptIds).toEqual(want.promptIds);
      expect(turn.ids).toEqual(want.ids);
      expect(turn.reply).toBe(want.text);
      // The page streamed the reply: the chat log shows it, and the tokens came one by one.
      expect(await page.textContent('.msg.assistant')).toBe(want.text);
      expect(turn.ids.length).toBe(MAX_NEW); // the tiny random model never says EOS this soon
      // A second turn sees the first (the template over the whole conversation).
      const second = await ask('Tell me more.');
      const want2 = await nodeGreedy(node, [{ role: 'user', content: prompt }, { role: 'assistant', content: want.text }, { role: 'user', content: 'Tell me more.' }]);
      expect(second.promptIds).toEqual(want2.promptIds);
      expect(second.ids).toEqual(want2.ids);
    } finally { await node.dispose(); }
    await page.screenshot({ path: CHAT_SCREENSHOT, fullPage: true });
    expect(pngSize(readFileSync(CHAT_SCREENSHOT)).width).toBe(VIEWPORT.width);

    // The folder picker (webkitdirectory): the same folder's files, this time in fp32.
    await page.uncheck('#quantize');
    await page.setInputFiles('#load-folder', LLAMA);
    await page.waitForFunction(() => (window as unknown as { leanformerChat: ChatReport }).leanformerChat.load?.weights === 'fp32' || (window as unknown as { leanformerChat: ChatReport }).leanformerChat.error !== undefined, undefined, { timeout: 60_000 });
    const picked = await page.evaluate(() => (window as unknown as { leanformerChat: ChatReport }).leanformerChat);
    expect(picked.error).toBeUndefined();
    expect(picked.load!.source).toBe('llama');
    const fp32Turn = await ask(prompt);
    const fp32 = await loadPretrained(LLAMA);
    try {
      expect(fp32Turn.ids).toEqual((await nodeGreedy(fp32, [{ role: 'user', content: prompt }])).ids);
      expect(fp32Turn.ids).not.toEqual(turn.ids); // int4 and fp32 really were different models
    } finally { await fp32.dispose(); }
    expect(consoleErrors).toEqual([]);
    console.log(`browser e2e (chat): ${JSON.stringify({ load: report.load, int4: { promptTokens: turn.promptIds.length, prefillMs: turn.prefillMs, decodeTokensPerSecond: turn.decodeTokensPerSecond, ids: turn.ids }, fp32: { loadMs: picked.load!.loadMs, decodeTokensPerSecond: fp32Turn.decodeTokensPerSecond } })}`);
  }, 120_000);
});

// What a user's bundler sees: the built packages (dist, through their package.json exports and
// browser fields, as installed from npm) bundle for a browser with no Node-only module inside.
// @leanformer/quant's streaming quantizer imports node:fs at call time; its browser field maps
// fs/path to nothing, so a browser bundle carries no Node module (and never calls that path).
const built = ['core', 'onnx', 'quant', 'runtime-ort'].every((p) => existsSync(join(root, `packages/${p}/dist/index.js`))) && existsSync(join(root, 'packages/runtime-ort/dist/web.js'));
if (!built) console.warn('browser bundle of dist: skipped, packages are not built; run `npx nx run-many -t build` first (npm test does)');

describe.skipIf(!built)('built packages in a browser bundle', () => {
  it('core, onnx, quant and runtime-ort/web bundle for the browser without Node-only modules', async () => {
    const r = await build({
      stdin: {
        contents: "export * as core from '@leanformer/core'; export * as onnx from '@leanformer/onnx'; export * as quant from '@leanformer/quant'; export * as ort from '@leanformer/runtime-ort/web';",
        resolveDir: root, loader: 'js',
      },
      bundle: true, write: false, platform: 'browser', format: 'esm', metafile: true, logLevel: 'silent',
    });
    const inputs = Object.keys(r.metafile!.inputs);
    expect(inputs.filter((p) => /(^|[/:])(node:|onnxruntime-node)/.test(p) || (!p.includes('/') && !p.startsWith('(disabled)') && p !== '<stdin>'))).toEqual([]);
    expect(inputs).toContain('node_modules/onnxruntime-web/dist/ort.bundle.min.mjs');
    expect(inputs.some((p) => p.startsWith('packages/quant/dist/'))).toBe(true);
  });
});

describe("createOrtBackend's wasm options (@leanformer/runtime-ort/web)", () => {
  it('sets onnxruntime-web env.wasm before the first session and refuses a bad thread count', async () => {
    const web = await import('@leanformer/runtime-ort/web');
    const ortWebModule = await import('onnxruntime-web');
    web.createOrtBackend({ eps: ['wasm'], wasm: { wasmPaths: '/ort/', numThreads: 1, proxy: false } });
    expect(ortWebModule.env.wasm.wasmPaths).toBe('/ort/');
    expect(ortWebModule.env.wasm.numThreads).toBe(1);
    expect(ortWebModule.env.wasm.proxy).toBe(false);
    expect(() => web.createOrtBackend({ wasm: { numThreads: -1 } })).toThrow(/wasm\.numThreads must be a non-negative integer.*got -1/);
  });
});
