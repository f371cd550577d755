// A small static server for the browser example. On start it bundles the page (src/main.ts and
// src/worker.ts, with leanformer's packages taken from their sources) with esbuild for the browser,
// builds /models/demo.onnx and /models/demo.lfpack in Node, and then serves only these routes:
//
//   /                      index.html (quantize & compare)
//   /chat.html             chat.html (load a model folder → quantize → chat)
//   /app/<file>            the esbuild bundles (in memory)
//   /ort/<file>            onnxruntime-web's .wasm/.mjs files, read from node_modules (no CDN)
//   /models/demo.onnx      the demo model (the same bytes the page's "Built-in demo model" builds)
//   /models/demo.lfpack    the same model with entropy-coded float weights
//   /hf/llama/<file>       packages/models/fixtures/llama, a tiny Hugging Face Llama folder (read per request)
//
//   node examples/browser/server.mjs [--port N]     # 127.0.0.1, an ephemeral port unless --port
//
// Tests call startServer() and close() it when done.
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
const llamaDir = join(root, 'packages/models/fixtures/llama');

const MIME = { '.json': 'application/json', '.jinja': 'text/plain; charset=utf-8', '.safetensors': 'application/octet-stream', '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.map': 'application/json', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream', '.lfpack': 'application/octet-stream' };
const mimeOf = (name) => MIME[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';

/** esbuild options shared by both bundles: '@leanformer/*' resolves to packages/<name>/src (tsconfig paths). */
const common = { bundle: true, write: false, format: 'esm', tsconfig: join(root, 'tsconfig.base.json'), logLevel: 'silent', legalComments: 'none' };

/**
 * Keeps Node-only modules out of the browser bundle: a static import of one (or of onnxruntime-node)
 * fails the build, naming the importer. A dynamic `import('node:fs')` inside a function only Node
 * callers reach (quant's streaming quantizer over files) is left to esbuild, which maps it to an
 * empty module through that package's `browser` field, or fails the build where a package has no
 * such mapping. Those sites are listed in `dynamicNodeImports`.
 */
function nodeGuard(dynamicNodeImports) {
  const builtins = new Set(builtinModules);
  return {
    name: 'leanformer-node-guard',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const bare = args.path.replace(/^node:/, '');
        if (!args.path.startsWith('node:') && !builtins.has(bare) && args.path !== 'onnxruntime-node') return undefined;
        const where = `${args.importer.replace(`${root}/`, '')} imports '${args.path}'`;
        if (args.kind === 'dynamic-import' && args.path !== 'onnxruntime-node') {
          dynamicNodeImports.push(where);
          return undefined;
        }
        return { errors: [{ text: `Node-only module in the browser bundle: ${where}` }] };
      });
    },
  };
}

/** Bundles the page and its worker for the browser; returns { '/app/main.js': bytes, … }. */
async function bundlePage(log) {
  const dynamicNodeImports = [];
  const r = await build({
    ...common,
    plugins: [nodeGuard(dynamicNodeImports)],
    entryPoints: { main: join(here, 'src/main.ts'), worker: join(here, 'src/worker.ts'), chat: join(here, 'src/chat.ts'), 'chat-worker': join(here, 'src/chat-worker.ts') },
    outdir: '/app',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
  });
  if (dynamicNodeImports.length) log(`note: call-time Node imports mapped to empty modules by their package's browser field (never reached by the page): ${dynamicNodeImports.join('; ')}`);
  return Object.fromEntries(r.outputFiles.map((f) => [f.path, f.contents]));
}

/** Builds the demo model files in Node (the same library code as the page, bundled for Node). */
async function buildModels() {
  const r = await build({ ...common, entryPoints: [join(here, 'src/server-models.ts')], platform: 'node', target: 'node20', outfile: 'models.mjs' });
  const mod = await import(`data:text/javascript;base64,${Buffer.from(r.outputFiles[0].contents).toString('base64')}`);
  return mod.demoFiles();
}

/**
 * Starts the server. Resolves once the bundles and models are ready and the port is bound.
 *
 * @param {{ port?: number, log?: (line: string) => void }} [options]
 * @returns {Promise<{ url: string, models: { onnx: Uint8Array, lfpack: Uint8Array, stats: object }, close(): Promise<void> }>}
 */
export async function startServer({ port = 0, log = () => {} } = {}) {
  const t0 = performance.now();
  const [app, models] = await Promise.all([bundlePage(log), buildModels()]);
  log(`bundled the page and built the demo models in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const ortFiles = new Set(readdirSync(ortDist).filter((f) => /^ort-wasm[\w.-]*\.(wasm|mjs)$/.test(f)));
  const llamaFiles = new Set(readdirSync(llamaDir));
  const files = new Map([
    ['/', { body: readFileSync(join(here, 'index.html')), type: MIME['.html'] }],
    ['/index.html', { body: readFileSync(join(here, 'index.html')), type: MIME['.html'] }],
    ['/chat.html', { body: readFileSync(join(here, 'chat.html')), type: MIME['.html'] }],
    ['/models/demo.onnx', { body: models.onnx, type: MIME['.onnx'] }],
    ['/models/demo.lfpack', { body: models.lfpack, type: MIME['.lfpack'] }],
    ...Object.entries(app).map(([p, body]) => [p, { body, type: mimeOf(p) }]),
  ]);

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { Allow: 'GET, HEAD' }).end(); return; }
    let file = files.get(path);
    if (!file && path.startsWith('/ort/') && ortFiles.has(path.slice(5))) {
      file = { body: readFileSync(join(ortDist, path.slice(5))), type: mimeOf(path) };
    } else if (!file && path.startsWith('/hf/llama/') && llamaFiles.has(path.slice(10))) {
      file = { body: readFileSync(join(llamaDir, path.slice(10))), type: mimeOf(path) };
    }
    if (!file) { res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${path}\n`); return; }
    res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length, 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
  const url = `http://127.0.0.1:${server.address().port}/`;
  return {
    url,
    models,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) { console.error(`--port must be 0…65535, got '${process.argv[i + 1]}'`); process.exit(2); }
  const s = await startServer({ port, log: (l) => console.log(l) });
  const { onnx, lfpack } = s.models;
  console.log(`/models/demo.onnx ${onnx.length} B, /models/demo.lfpack ${lfpack.length} B (${((1 - lfpack.length / onnx.length) * 100).toFixed(1)}% smaller)`);
  console.log(`leanformer browser example: open ${s.url}   (Ctrl-C stops)`);
}
