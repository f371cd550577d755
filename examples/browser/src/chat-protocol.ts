// Messages between the chat page (chat.ts) and its worker (chat-worker.ts). Every request carries an
// id; the worker answers with any number of 'progress' and 'token' messages, then one 'done' or 'error'.

/** The quantization the page offers (quantizeModel's options): int4 RTN, block 32, MatMulNBits for ort-wasm. */
export const CHAT_QUANTIZE = { method: 'rtn', bits: 4, blockSize: 32, target: 'ort-wasm' } as const;
/** Where server.mjs serves packages/models/fixtures/llama (a Hugging Face folder). */
export const BUILTIN_FOLDER = '/hf/llama/';

export type FolderChoice =
  | { readonly kind: 'builtin' }
  /** The files of `<input type=file webkitdirectory>` (File objects survive postMessage). */
  | { readonly kind: 'files'; readonly files: readonly File[] };

export type ChatRequest =
  | { readonly id: number; readonly cmd: 'load'; readonly folder: FolderChoice; readonly quantize: boolean }
  | { readonly id: number; readonly cmd: 'chat'; readonly text: string; readonly maxNewTokens: number }
  | { readonly id: number; readonly cmd: 'reset' };

/** What the worker loaded. */
export interface ChatLoadResult {
  readonly source: string;
  readonly modelType: string;
  readonly layers: number;
  readonly vocab: number;
  readonly maxPositions: number;
  /** Bytes of the folder's files read (config, tokenizer, safetensors). */
  readonly bytesRead: number;
  /** Reading, building, quantizing and compiling, in ms. */
  readonly loadMs: number;
  /** 'rtn int4 (block 32) for ort-wasm', or 'fp32'. */
  readonly weights: string;
  /** The execution provider that runs it. */
  readonly ep: string;
  readonly hasChatTemplate: boolean;
}

/** One answered turn. */
export interface ChatTurn {
  readonly user: string;
  /** The text the model saw: the chat template over the conversation so far (or the message itself without one). */
  readonly promptText: string;
  readonly promptIds: number[];
  readonly ids: number[];
  readonly reply: string;
  readonly prefillMs: number;
  readonly decodeTokensPerSecond: number;
}

export type ChatReply =
  | { readonly id: number; readonly type: 'progress'; readonly stage: string; readonly fraction?: number }
  | { readonly id: number; readonly type: 'token'; readonly tokenId: number; readonly text: string }
  | { readonly id: number; readonly type: 'done'; readonly result: ChatLoadResult | ChatTurn | null }
  | { readonly id: number; readonly type: 'error'; readonly message: string; readonly code?: string };
