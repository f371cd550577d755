// Token ids equal to Hugging Face `tokenizers` (Rust, Python bindings 0.23.2) on sentences with Unicode,
// emoji, tabs, newlines and repeated spaces; the chat template renders as transformers rendered it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LeanformerError } from '@leanformer/core';
import { loadTokenizer } from './tokenizer.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
const ref = JSON.parse(readFileSync(`${FIX}tokenizer-reference.json`, 'utf8')) as { sentences: { text: string; ids: number[] }[]; chat: { messages: { role: string; content: string }[]; text: string } };
const tok = loadTokenizer({
  tokenizerJson: readFileSync(`${FIX}llama/tokenizer.json`, 'utf8'),
  tokenizerConfig: readFileSync(`${FIX}llama/tokenizer_config.json`, 'utf8'),
  chatTemplate: readFileSync(`${FIX}llama/chat_template.jinja`, 'utf8'),
});

describe('tokenizer (@huggingface/tokenizers) against the Rust tokenizers', () => {
  for (const s of ref.sentences) {
    it(`encodes ${JSON.stringify(s.text)} to the same ids, and decodes back`, () => {
      expect(tok.encode(s.text)).toEqual(s.ids);
      expect(tok.decode(s.ids)).toBe(s.text);
    });
  }
  it('chat template (@huggingface/jinja) renders as transformers did', () => {
    expect(tok.applyChatTemplate(ref.chat.messages)).toBe(ref.chat.text);
  });
  it('a tokenizer.json that does not parse → DECODE_ERROR naming the file', () => {
    const e = (() => { try { loadTokenizer({ tokenizerJson: '{"model": ' }); } catch (x) { return x; } })() as LeanformerError;
    expect(e).toBeInstanceOf(LeanformerError);
    expect(e.code).toBe('DECODE_ERROR');
    expect(e.message).toContain('tokenizer.json');
  });
});
