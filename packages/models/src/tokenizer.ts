// Tokenizers through Hugging Face's pure-JS `@huggingface/tokenizers` (tokenizer.json as written by
// the Rust `tokenizers` library) and chat templates through `@huggingface/jinja`; nothing of our own.
import { LeanformerError } from '@leanformer/core';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { parseJsonFile } from './checkpoint.js';

/** One chat message for {@link TextTokenizer.applyChatTemplate}. */
export interface ChatMessage { readonly role: string; readonly content: string }

/** Text ⇄ token ids, plus the checkpoint's chat template when it has one. */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[], options?: { readonly skipSpecialTokens?: boolean }): string;
  /** Renders messages with the chat template (`add_generation_prompt` on by default); NOT_SUPPORTED without a template. */
  applyChatTemplate(messages: readonly ChatMessage[], options?: { readonly addGenerationPrompt?: boolean }): string;
  readonly hasChatTemplate: boolean;
}

/** The texts of a checkpoint's tokenizer files (`tokenizer.json` required). */
export interface TokenizerFiles {
  readonly tokenizerJson: string;
  readonly tokenizerConfig?: string;
  /** `chat_template.jinja` (transformers ≥ 4.5x writes the template there instead of into tokenizer_config.json). */
  readonly chatTemplate?: string;
}

function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/**
 * A tokenizer from a checkpoint's files. A `tokenizer.json` that does not parse, or that the library
 * cannot build (unknown model or pre-tokenizer), fails with DECODE_ERROR naming the file.
 *
 * @example
 * ```ts
 * const tok = loadTokenizer({ tokenizerJson: readFileSync('tokenizer.json', 'utf8') });
 * tok.encode('Hello world'); // [446, 434]
 * ```
 */
export function loadTokenizer(files: TokenizerFiles): TextTokenizer {
  const json = parseJsonFile(files.tokenizerJson, 'tokenizer.json');
  const config = files.tokenizerConfig !== undefined ? parseJsonFile(files.tokenizerConfig, 'tokenizer_config.json') : {};
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, config);
  } catch (e) {
    throw new LeanformerError('DECODE_ERROR', `tokenizer.json: @huggingface/tokenizers cannot build it (${(e as Error).message})`, { details: { file: 'tokenizer.json' } });
  }
  const source = files.chatTemplate ?? (typeof config['chat_template'] === 'string' ? config['chat_template'] : undefined);
  let template: Template | undefined;
  if (source !== undefined) {
    try { template = new Template(source); } catch (e) {
      throw new LeanformerError('DECODE_ERROR', `chat template: does not parse (${(e as Error).message})`, { details: { file: files.chatTemplate !== undefined ? 'chat_template.jinja' : 'tokenizer_config.json', field: 'chat_template' } });
    }
  }
  return {
    hasChatTemplate: template !== undefined,
    encode: (text) => tok.encode(text).ids,
    // tokenizers.js refuses an empty list; the empty sequence decodes to ''.
    decode: (ids, o = {}) => (ids.length === 0 ? '' : tok.decode([...ids], { skip_special_tokens: o.skipSpecialTokens ?? false })),
    applyChatTemplate(messages, o = {}) {
      if (!template) throw new LeanformerError('NOT_SUPPORTED', 'this checkpoint has no chat template (tokenizer_config.json chat_template or chat_template.jinja)');
      return template.render({
        messages, add_generation_prompt: o.addGenerationPrompt ?? true,
        bos_token: tokenText(config['bos_token']) ?? '', eos_token: tokenText(config['eos_token']) ?? '',
      });
    },
  };
}
