// The chat page's worker: reads a Hugging Face folder (the server's tiny Llama by URL, or the files of
// a folder picker), builds the decoder with loadPretrained (optionally int4 RTN), compiles it on
// onnxruntime-web (WebAssembly) and streams generate()'s tokens back to the page.
import { isLeanformerError } from '@leanformer/core';
import { generate, loadPretrained, type ChatMessage, type PretrainedModel } from '@leanformer/models';
import { createOrtBackend } from '@leanformer/runtime-ort/web';
import { BUILTIN_FOLDER, CHAT_QUANTIZE, type ChatLoadResult, type ChatReply, type ChatRequest, type ChatTurn } from './chat-protocol.js';

// As in worker.ts: onnxruntime-web's .wasm from this server, one thread (no cross-origin isolation needed).
const backend = createOrtBackend({ eps: ['wasm'], wasm: { wasmPaths: new URL('/ort/', self.location.href).href, numThreads: 1 } });

let model: PretrainedModel | undefined;
let history: ChatMessage[] = [];

const post = (m: ChatReply) => (self as unknown as Worker).postMessage(m);
const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;

async function load(req: Extract<ChatRequest, { cmd: 'load' }>): Promise<ChatLoadResult> {
  await model?.dispose();
  model = undefined;
  history = [];
  const t0 = performance.now();
  const source = req.folder.kind === 'builtin' ? new URL(BUILTIN_FOLDER, self.location.href) : req.folder.files;
  let bytesRead = 0;
  const m = await loadPretrained(source, {
    backend,
    ...(req.quantize ? { quantize: CHAT_QUANTIZE } : {}),
    onProgress: ({ done, total, item }) => {
      bytesRead = done;
      post({ id: req.id, type: 'progress', stage: `reading the folder${item ? ` (${item})` : ''}: ${mb(done)}${total ? ` of ${mb(total)}` : ''}`, ...(total ? { fraction: done / total } : {}) });
      if (total !== null && done === total) post({ id: req.id, type: 'progress', stage: `building the decoder${req.quantize ? ', quantizing to int4' : ''} and compiling it for onnxruntime-web` });
    },
  });
  if (!m.tokenizer) { await m.dispose(); throw new Error('this folder has no tokenizer.json: the chat needs one'); }
  model = m;
  const files = req.folder.kind === 'files' ? req.folder.files : [];
  return {
    source: req.folder.kind === 'builtin' ? `${BUILTIN_FOLDER} (packages/models/fixtures/llama)` : (files[0]?.webkitRelativePath.split('/')[0] || `${files.length} files`),
    modelType: m.modelType, layers: m.layers, vocab: m.vocab, maxPositions: m.maxPositions, bytesRead,
    loadMs: performance.now() - t0,
    weights: req.quantize ? `${CHAT_QUANTIZE.method} int${CHAT_QUANTIZE.bits} (block ${CHAT_QUANTIZE.blockSize}) for ${CHAT_QUANTIZE.target}` : 'fp32',
    ep: (m.executor.info as { device?: string }).device ?? 'wasm',
    hasChatTemplate: m.tokenizer.hasChatTemplate,
  };
}

async function chat(req: Extract<ChatRequest, { cmd: 'chat' }>): Promise<ChatTurn> {
  if (!model?.tokenizer) throw new Error('load a model folder first');
  const tok = model.tokenizer;
  const messages = [...history, { role: 'user', content: req.text }];
  const promptText = tok.hasChatTemplate ? tok.applyChatTemplate(messages) : req.text;
  const promptIds = tok.encode(promptText);
  const room = model.maxPositions - promptIds.length;
  if (room < 1) throw new Error(`the conversation (${promptIds.length} tokens) fills the model's ${model.maxPositions} positions: press "New chat"`);
  const ids: number[] = [];
  let reply = '';
  let prefillMs = 0;
  let decodeMs = 0;
  for await (const t of generate(model, tok, { promptIds, maxNewTokens: Math.min(req.maxNewTokens, room) })) {
    if (ids.length === 0) prefillMs = t.ms; else decodeMs += t.ms;
    ids.push(t.id);
    reply += t.text;
    post({ id: req.id, type: 'token', tokenId: t.id, text: t.text });
  }
  history = [...messages, { role: 'assistant', content: reply }];
  return { user: req.text, promptText, promptIds, ids, reply, prefillMs, decodeTokensPerSecond: ids.length > 1 ? (ids.length - 1) / (decodeMs / 1000) : 0 };
}

self.onmessage = async (ev: MessageEvent<ChatRequest>) => {
  const req = ev.data;
  try {
    let result: ChatLoadResult | ChatTurn | null = null;
    if (req.cmd === 'load') result = await load(req);
    else if (req.cmd === 'chat') result = await chat(req);
    else history = [];
    post({ id: req.id, type: 'done', result });
  } catch (e) {
    post({ id: req.id, type: 'error', message: e instanceof Error ? e.message : String(e), ...(isLeanformerError(e) ? { code: e.code } : {}) });
  }
};
