// The page's worker: everything heavy (decoding, quantizing, .lfpack decoding, ONNX Runtime sessions)
// runs here, off the main thread, and reports progress as it goes (see protocol.ts).
import { isLeanformerError, readSource, type Graph } from '@leanformer/core';
import { decodeModel, encodeModel } from '@leanformer/onnx';
import { isLfpack, lfpackStats, unpackModel } from '@leanformer/quant';
import { createOrtBackend } from '@leanformer/runtime-ort/web';
import type { LfpackResult, LoadResult, QuantizeResultMsg, Reply, Request, RunTiming } from './protocol.js';
import { agreement, demoModelBytes, modelFacts, quantizeOnnx, seededFeeds, sha256Hex } from './shared.js';

// onnxruntime-web's .wasm binaries are served by examples/browser/server.mjs from the package's dist
// folder under /ort/ (nothing is fetched from a CDN). One thread: no SharedArrayBuffer (and so no
// COOP/COEP headers) needed, and latency is comparable between runs on a loaded machine.
const WASM = { wasmPaths: new URL('/ort/', self.location.href).href, numThreads: 1 } as const;

interface Loaded { readonly name: string; readonly bytes: Uint8Array; readonly graph: Graph }
let current: Loaded | undefined;

const post = (m: Reply, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

/** Reads a URL (relative ones against the page) with core's readSource, reporting download progress. */
function download(id: number, url: string): Promise<Uint8Array> {
  return readSource(url, { onProgress: ({ done, total }) => post({ id, type: 'progress', stage: `downloading ${url}`, ...(total ? { fraction: done / total } : {}) }) });
}

async function load(req: Extract<Request, { cmd: 'load' }>): Promise<LoadResult> {
  const src = req.source;
  let name: string, bytes: Uint8Array;
  if (src.kind === 'builtin') {
    post({ id: req.id, type: 'progress', stage: 'building the demo model (transformerDecoder, seeded)' });
    name = 'built-in demo model';
    bytes = demoModelBytes();
  } else if (src.kind === 'bytes') {
    name = src.name;
    bytes = src.bytes;
  } else {
    name = src.url;
    bytes = await download(req.id, src.url);
  }
  const t0 = performance.now();
  let graph: Graph;
  const downloadBytes = bytes.length;
  if (isLfpack(bytes)) {
    // An .lfpack file: decode its entropy-coded weights; from here on the model is its plain ONNX form.
    post({ id: req.id, type: 'progress', stage: 'decoding .lfpack' });
    graph = unpackModel(bytes, { encode: encodeModel, decode: decodeModel });
    bytes = encodeModel(graph);
  } else {
    post({ id: req.id, type: 'progress', stage: 'decoding ONNX' });
    graph = decodeModel(bytes);
  }
  const decodeMs = performance.now() - t0;
  current = { name, bytes, graph };
  return { source: name, sha256: await sha256Hex(bytes), facts: modelFacts(graph, bytes.length), decodeMs, downloadBytes };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Opens a session on onnxruntime-web and times `runs` runs after a first, untimed one. */
async function time(id: number, label: string, bytes: Uint8Array, feeds: ReturnType<typeof seededFeeds>, runs: number, eps: readonly ('wasm' | 'webgpu')[]) {
  post({ id, type: 'progress', stage: `${label}: creating an onnxruntime-web session` });
  const backend = createOrtBackend({ eps, wasm: WASM });
  let t = performance.now();
  const exe = await backend.createExecutorFromBytes(bytes);
  const sessionMs = performance.now() - t;
  try {
    t = performance.now();
    const outputs = await exe.run(feeds);
    const firstMs = performance.now() - t;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      post({ id, type: 'progress', stage: `${label}: run ${i + 1} of ${runs}`, fraction: (i + 1) / runs });
      t = performance.now();
      await exe.run(feeds);
      times.push(performance.now() - t);
    }
    const timing: RunTiming = {
      ep: exe.info.device, sessionMs, firstMs, runs,
      meanMs: times.reduce((a, b) => a + b, 0) / times.length, medianMs: median(times), minMs: Math.min(...times),
    };
    return { outputs, timing };
  } finally {
    await exe.dispose();
  }
}

async function quantize(req: Extract<Request, { cmd: 'quantize' }>, eps: readonly ('wasm' | 'webgpu')[]): Promise<QuantizeResultMsg> {
  if (!current) throw new Error('load a model first');
  const { runs, id } = req;
  // WebGPU's MatMulNBits takes uint8 zero points only: lower for ort-webgpu when WebGPU may run the
  // model (that form also runs on the WebAssembly fallback).
  const settings = eps.includes('webgpu') ? { ...req.settings, target: 'ort-webgpu' as const } : req.settings;
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs must be a positive integer, got ${runs}`);
  const t0 = performance.now();
  const q = await quantizeOnnx(current.bytes, settings, (e) => post({ id, type: 'progress', stage: `quantizing ${e.item ?? ''}`, fraction: e.total ? e.done / e.total : 0 }));
  const quantizeMs = performance.now() - t0;
  const feeds = seededFeeds(current.graph);
  const before = await time(id, 'float model', current.bytes, feeds, runs, eps);
  const after = await time(id, `${settings.method} int${settings.bits} model`, q.bytes, feeds, runs, eps);
  return {
    settings, report: q.report, notes: q.notes, quantizeMs,
    floatBytes: current.bytes.length, quantBytes: q.bytes.length,
    floatSha256: await sha256Hex(current.bytes), quantSha256: await sha256Hex(q.bytes),
    feeds: Object.entries(feeds).map(([k, v]) => `${k} ${v.dtype.name}[${v.shape.join(', ')}]`).join('; '),
    float: before.timing, quant: after.timing,
    agreement: agreement(before.outputs, after.outputs),
    model: q.bytes,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function lfpack(req: Extract<Request, { cmd: 'lfpack' }>): Promise<LfpackResult> {
  const packed = await download(req.id, req.url);
  const plain = await download(req.id, req.plainUrl);
  post({ id: req.id, type: 'progress', stage: 'decoding .lfpack (entropy-coded weights)' });
  const codec = { encode: encodeModel, decode: decodeModel };
  const t0 = performance.now();
  const decoded = unpackModel(packed, codec);
  const decodeMs = performance.now() - t0;
  post({ id: req.id, type: 'progress', stage: 'comparing with the plain file, tensor by tensor' });
  const reference = decodeModel(plain);
  const mismatches: string[] = [];
  for (const [name, v] of reference.initializers) {
    const d = decoded.initializers.get(name)?.const;
    if (!d) { mismatches.push(`${name}: missing`); continue; }
    if (d.dtype !== v.const!.dtype || !sameBytes(d.bytes(), v.const!.bytes())) mismatches.push(name);
  }
  if (decoded.initializers.size !== reference.initializers.size) mismatches.push(`initializer count ${decoded.initializers.size} vs ${reference.initializers.size}`);
  const plainSha256 = await sha256Hex(plain);
  const decodedSha256 = await sha256Hex(encodeModel(decoded));
  return {
    url: req.url, plainUrl: req.plainUrl, lfpackBytes: packed.length, plainBytes: plain.length,
    saving: 1 - packed.length / plain.length, packedTensors: lfpackStats(packed).tensors, decodeMs,
    bitExact: mismatches.length === 0 && plainSha256 === decodedSha256,
    tensorsCompared: reference.initializers.size, mismatches: mismatches.slice(0, 10), plainSha256, decodedSha256,
  };
}

/** WebGPU where the browser offers an adapter (checked once), WebAssembly otherwise or as fallback. */
let epsPromise: Promise<readonly ('wasm' | 'webgpu')[]> | undefined;
function availableEps(): Promise<readonly ('wasm' | 'webgpu')[]> {
  epsPromise ??= (async () => {
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    try { return gpu && (await gpu.requestAdapter()) ? ['webgpu', 'wasm'] as const : ['wasm'] as const; } catch { return ['wasm'] as const; }
  })();
  return epsPromise;
}

self.onmessage = async (ev: MessageEvent<Request>) => {
  const req = ev.data;
  try {
    let result;
    if (req.cmd === 'load') result = await load(req);
    else if (req.cmd === 'quantize') result = await quantize(req, req.webgpu ? await availableEps() : ['wasm']);
    else result = await lfpack(req);
    post({ id: req.id, type: 'done', result });
  } catch (e) {
    post({ id: req.id, type: 'error', message: e instanceof Error ? e.message : String(e), ...(isLeanformerError(e) ? { code: e.code } : {}) });
  }
};
