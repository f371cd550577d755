// The page's main thread: buttons, rendering and progress. All computation happens in worker.ts.
// The latest results are also kept on `window.leanformerReport` (what the e2e test reads).
import type { LfpackResult, LoadResult, ModelSource, QuantizeResultMsg, Reply, Request, RunTiming } from './protocol.js';
import type { QuantSettings } from './shared.js';
import { $, esc, setStatus, showError, table } from './page.js';

declare global {
  interface Window {
    leanformerReport: { load?: LoadResult; quantize?: Omit<QuantizeResultMsg, 'model'>; lfpack?: LfpackResult; error?: string };
  }
}
window.leanformerReport = {};

const worker = new Worker('/app/worker.js', { type: 'module' });
let nextId = 1;
const pending = new Map<number, { resolve(r: unknown): void; reject(e: Error): void }>();

worker.onmessage = (ev: MessageEvent<Reply>) => {
  const m = ev.data;
  if (m.type === 'progress') { setStatus(m.stage, m.fraction); return; }
  const p = pending.get(m.id);
  if (!p) return;
  pending.delete(m.id);
  if (m.type === 'done') p.resolve(m.result);
  else p.reject(new Error(m.code ? `${m.code}: ${m.message}` : m.message));
};
worker.onerror = (ev) => fail(`the worker failed to start or crashed: ${ev.message || 'see the console'}`);

type Body<R> = R extends unknown ? Omit<R, 'id'> : never;
function call<T>(req: Body<Request>, transfer: Transferable[] = []): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
    worker.postMessage({ ...req, id }, transfer);
  });
}

function fail(message: string): void {
  window.leanformerReport.error = message;
  showError(message);
  busy(false);
}

const bytes = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`) + ` <span class="mono">(${n.toLocaleString('en')} B)</span>`;
const ms = (n: number) => `${n.toFixed(1)} ms`;

let modelLoaded = false;
function busy(on: boolean): void {
  for (const id of ['load-builtin', 'load-url-btn', 'lfpack']) $<HTMLButtonElement>(id).disabled = on;
  $<HTMLInputElement>('load-file').disabled = on;
  $<HTMLButtonElement>('quantize').disabled = on || !modelLoaded;
}

async function loadModel(source: ModelSource, transfer: Transferable[] = []): Promise<void> {
  busy(true);
  try {
    const r = await call<LoadResult>({ cmd: 'load', source }, transfer);
    window.leanformerReport = { load: r };
    modelLoaded = true;
    const f = r.facts;
    const ops = Object.entries(f.ops).sort((a, b) => b[1] - a[1]).map(([o, c]) => `${o}×${c}`).join(', ');
    $('facts').innerHTML = table([
      ['source', esc(r.source)],
      ['graph', `${esc(f.name)}, ${f.nodes} nodes, ${(f.params / 1e6).toFixed(3)} M parameters${f.producer ? `, made by ${esc(f.producer)}` : ''}`],
      ['file', `${bytes(f.fileBytes)}${r.downloadBytes !== f.fileBytes ? ` as ONNX, read as ${bytes(r.downloadBytes)} of .lfpack` : ''}, decoded in ${ms(r.decodeMs)}`],
      ['weights', Object.entries(f.initializerBytes).map(([d, n]) => `${d} ${bytes(n)}`).join('; ')],
      ['inputs', esc(f.inputs.join('; '))],
      ['outputs', esc(f.outputs.join('; '))],
      ['opsets', esc(Object.entries(f.opsets).map(([d, v]) => `${d} ${v}`).join(', '))],
      ['ops', esc(ops)],
      ['SHA-256', `<span class="mono" id="model-sha">${r.sha256}</span>`],
    ]);
    $('quant').innerHTML = '';
    setStatus(`loaded ${r.source}`, 1);
  } catch (e) {
    fail((e as Error).message);
  }
  busy(false);
}

function timingCells(t: RunTiming): string {
  return `<td>${t.ep}</td><td class="num">${ms(t.sessionMs)}</td><td class="num">${ms(t.firstMs)}</td><td class="num">${ms(t.meanMs)}</td><td class="num">${ms(t.medianMs)}</td><td class="num">${ms(t.minMs)}</td>`;
}

async function quantize(): Promise<void> {
  const settings: QuantSettings = {
    method: $<HTMLSelectElement>('q-method').value as 'rtn' | 'hqq',
    bits: Number($<HTMLSelectElement>('q-bits').value) as 4 | 8,
    blockSize: Number($<HTMLSelectElement>('q-block').value),
    target: 'ort-wasm',
  };
  busy(true);
  try {
    const r = await call<QuantizeResultMsg>({ cmd: 'quantize', settings, runs: Number($<HTMLSelectElement>('q-runs').value), webgpu: $<HTMLInputElement>('q-webgpu').checked });
    const { model, ...report } = r;
    window.leanformerReport.quantize = report;
    const url = URL.createObjectURL(new Blob([model as BlobPart], { type: 'application/octet-stream' }));
    const name = `${settings.method}-int${settings.bits}-${r.settings.target}.onnx`;
    const head = '<tr><th>model</th><th>file size</th><th>EP</th><th title="creating the session; the first one also instantiates onnxruntime-web\'s WebAssembly">session*</th><th>first run</th><th>mean</th><th>median</th><th>min</th></tr>';
    const rows = [
      `<tr><td>float32</td><td class="num">${bytes(r.floatBytes)}</td>${timingCells(r.float)}</tr>`,
      `<tr><td>${settings.method} int${settings.bits}</td><td class="num">${bytes(r.quantBytes)}</td>${timingCells(r.quant)}</tr>`,
    ];
    const agree = r.agreement.map((a) => `<tr><td>${esc(a.output)} [${a.shape.join(', ')}]</td><td class="num">${a.maxAbsDiff.toExponential(2)}</td><td class="num">${a.cosine.toFixed(5)}</td><td class="num">${(a.top1 * 100).toFixed(1)}%</td></tr>`).join('');
    $('quant').innerHTML = `
      <table id="quant-table">${head}${rows.join('')}</table>
      <p>${r.report.layersQuantized} layers quantized in ${ms(r.quantizeMs)} and lowered for ${r.settings.target}; weights ${bytes(r.report.bytesBefore)} → ${bytes(r.report.bytesAfter)};
        file ${(r.quantBytes / r.floatBytes).toFixed(3)}× the float file. Inputs: <span class="mono">${esc(r.feeds)}</span> (seeded), ${r.float.runs} timed runs each after an untimed first run.
        *The first session also instantiates onnxruntime-web's WebAssembly module.</p>
      <table><tr><th>output agreement</th><th>max |Δ|</th><th>cosine</th><th>same argmax</th></tr>${agree}</table>
      ${table([['quantized SHA-256', `<span class="mono" id="quant-sha">${r.quantSha256}</span>`], ['download', `<a href="${url}" download="${name}">${name}</a>`]])}
      ${r.notes.map((n) => `<p>note: ${esc(n)}</p>`).join('')}`;
    setStatus(`quantized and ran both models on onnxruntime-web (${r.quant.ep})`, 1);
  } catch (e) {
    fail((e as Error).message);
  }
  busy(false);
}

async function lfpack(): Promise<void> {
  busy(true);
  try {
    const r = await call<LfpackResult>({ cmd: 'lfpack', url: $<HTMLInputElement>('lf-url').value, plainUrl: $<HTMLInputElement>('lf-plain').value });
    window.leanformerReport.lfpack = r;
    $('lfpack-out').innerHTML = table([
      ['download', `${bytes(r.lfpackBytes)} instead of ${bytes(r.plainBytes)}: <b id="lf-saving">${(r.saving * 100).toFixed(1)}%</b> smaller`],
      ['decode', `${r.packedTensors} entropy-coded tensors decoded in ${ms(r.decodeMs)}`],
      ['bit-exact', r.bitExact
        ? `<span class="ok" id="lf-exact">yes</span>: all ${r.tensorsCompared} initializers equal the plain file's bytes, and the re-encoded model has its SHA-256`
        : `<span class="bad" id="lf-exact">no</span>: ${esc(r.mismatches.join(', ') || 'the re-encoded model differs')}`],
      ['SHA-256', `<span class="mono">${r.decodedSha256}</span>`],
    ]);
    setStatus('decoded the .lfpack model', 1);
  } catch (e) {
    fail((e as Error).message);
  }
  busy(false);
}

$('load-builtin').onclick = () => void loadModel({ kind: 'builtin' });
$('load-url-btn').onclick = () => void loadModel({ kind: 'url', url: $<HTMLInputElement>('load-url').value });
$<HTMLInputElement>('load-file').onchange = async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  if (!file) return;
  const buf = await file.arrayBuffer();
  await loadModel({ kind: 'bytes', name: file.name, bytes: new Uint8Array(buf) }, [buf]);
};
$('quantize').onclick = () => void quantize();
$('lfpack').onclick = () => void lfpack();
busy(false);
setStatus('ready', 0);
document.body.dataset.ready = 'true';
