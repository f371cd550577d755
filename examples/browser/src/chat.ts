// The chat page's main thread: folder choice, the conversation, progress. The work is in chat-worker.ts.
// The latest results are also kept on `window.leanformerChat` (what the e2e test reads).
import type { ChatLoadResult, ChatReply, ChatRequest, ChatTurn, FolderChoice } from './chat-protocol.js';
import { $, esc, setStatus, showError, table } from './page.js';

declare global {
  interface Window { leanformerChat: { load?: ChatLoadResult; turns: ChatTurn[]; error?: string } }
}
window.leanformerChat = { turns: [] };

const worker = new Worker('/app/chat-worker.js', { type: 'module' });
let nextId = 1;
const pending = new Map<number, { resolve(r: unknown): void; reject(e: Error): void; onToken?(text: string): void }>();

worker.onmessage = (ev: MessageEvent<ChatReply>) => {
  const m = ev.data;
  if (m.type === 'progress') { setStatus(m.stage, m.fraction); return; }
  const p = pending.get(m.id);
  if (!p) return;
  if (m.type === 'token') { p.onToken?.(m.text); return; }
  pending.delete(m.id);
  if (m.type === 'done') p.resolve(m.result);
  else p.reject(new Error(m.code ? `${m.code}: ${m.message}` : m.message));
};
worker.onerror = (ev) => fail(`the worker failed to start or crashed: ${ev.message || 'see the console'}`);

type Body<R> = R extends unknown ? Omit<R, 'id'> : never;
function call<T>(req: Body<ChatRequest>, onToken?: (text: string) => void): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (r: unknown) => void, reject, ...(onToken ? { onToken } : {}) });
    worker.postMessage({ ...req, id });
  });
}

function fail(message: string): void {
  window.leanformerChat.error = message;
  showError(message);
  busy(false);
}


let loaded = false;
function busy(on: boolean): void {
  $<HTMLButtonElement>('load-builtin').disabled = on;
  $<HTMLInputElement>('load-folder').disabled = on;
  for (const id of ['send', 'new-chat', 'prompt']) ($(id) as HTMLButtonElement | HTMLInputElement).disabled = on || !loaded;
}

function addMessage(cls: string, text: string): HTMLElement {
  const el = document.createElement('div');
  el.className = `msg ${cls}`;
  el.textContent = text;
  $('log').append(el);
  return el;
}

async function load(folder: FolderChoice): Promise<void> {
  busy(true);
  try {
    const r = await call<ChatLoadResult>({ cmd: 'load', folder, quantize: $<HTMLInputElement>('quantize').checked });
    window.leanformerChat = { load: r, turns: [] };
    loaded = true;
    $('log').innerHTML = '';
    $('facts').innerHTML = table([
      ['folder', esc(r.source)],
      ['model', `${esc(r.modelType)}, ${r.layers} layers, vocabulary ${r.vocab}, ${r.maxPositions} positions${r.hasChatTemplate ? ', chat template' : ''}`],
      ['weights', `<span id="weights">${esc(r.weights)}</span>`],
      ['loaded', `${(r.bytesRead / 1e6).toFixed(2)} MB read, built and compiled in ${(r.loadMs / 1000).toFixed(2)} s on onnxruntime-web (${esc(r.ep)})`],
    ]);
    setStatus('ready to chat', 1);
  } catch (e) {
    fail((e as Error).message);
  }
  busy(false);
}

async function send(): Promise<void> {
  const text = $<HTMLInputElement>('prompt').value.trim();
  if (!text) return;
  busy(true);
  addMessage('user', text);
  const out = addMessage('assistant', '');
  setStatus('generating…');
  try {
    const turn = await call<ChatTurn>({ cmd: 'chat', text, maxNewTokens: Number($<HTMLInputElement>('max-new').value) }, (t) => { out.textContent += t; });
    window.leanformerChat.turns.push(turn);
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = `${turn.ids.length} tokens · prefill ${turn.promptIds.length} tokens in ${turn.prefillMs.toFixed(1)} ms · ${turn.decodeTokensPerSecond.toFixed(1)} tokens/s · ids ${turn.ids.join(' ')}`;
    $('log').append(meta);
    setStatus('ready', 1);
  } catch (e) {
    fail((e as Error).message);
  }
  busy(false);
}

$('load-builtin').onclick = () => void load({ kind: 'builtin' });
$<HTMLInputElement>('load-folder').onchange = (ev) => {
  const files = Array.from((ev.target as HTMLInputElement).files ?? []);
  if (files.length) void load({ kind: 'files', files });
};
$('send').onclick = () => void send();
$<HTMLInputElement>('prompt').onkeydown = (ev) => { if (ev.key === 'Enter') void send(); };
$('new-chat').onclick = async () => { await call({ cmd: 'reset' }); $('log').innerHTML = ''; window.leanformerChat.turns = []; };
busy(false);
setStatus('ready: choose a model folder', 0);
document.body.dataset.ready = 'true';
