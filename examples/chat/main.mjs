// Streaming chat in the terminal with a Hugging Face checkpoint folder: tokenizer.json through
// @huggingface/tokenizers, the checkpoint's chat template through @huggingface/jinja, the model built
// in memory and run on ONNX Runtime CPU with a KV cache, tokens printed as they are generated.
//
// By default it chats with the tiny Llama in packages/models/fixtures/llama-trained (919 K parameters,
// trained for a minute on this repository's sources by packages/models/fixtures/make_trained_llama.py:
// it answers in TypeScript-flavoured fragments, not conversation, but every step is the real one).
// Point it at your own folder:
//
//   node examples/chat/main.mjs [<hf-dir>] [--interactive]
//
// Without --interactive it runs a scripted two-turn conversation and exits.
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import { generate } from '@leanformer/models';
import { loadPretrained } from '@leanformer/models/node';

const args = process.argv.slice(2);
const interactive = args.includes('--interactive');
const dir = args.find((a) => !a.startsWith('--')) ?? fileURLToPath(new URL('../../packages/models/fixtures/llama-trained', import.meta.url));

const model = await loadPretrained(dir);
const tok = model.tokenizer;
if (!tok?.hasChatTemplate) throw new Error(`${dir} has no tokenizer.json with a chat template`);
const messages = [];

async function reply(text) {
  messages.push({ role: 'user', content: text });
  const prompt = tok.applyChatTemplate(messages);
  process.stdout.write(`user> ${text}\nassistant> `);
  let out = '';
  let n = 0;
  const t0 = performance.now();
  for await (const t of generate(model, tok, { prompt, maxNewTokens: 24, sampling: { kind: 'top-p', p: 0.9, temperature: 0.8 }, seed: 7, repetitionPenalty: 1.1 })) {
    process.stdout.write(t.text);
    out += t.text;
    n++;
  }
  const s = (performance.now() - t0) / 1000;
  process.stdout.write(`\n  (${n} tokens, ${(n / s).toFixed(0)} tokens/s, prompt ${tok.encode(prompt).length} tokens)\n`);
  messages.push({ role: 'assistant', content: out });
}

if (interactive) {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  for (;;) {
    const line = (await rl.question('> ')).trim();
    if (!line || line === '/exit') break;
    await reply(line);
  }
  rl.close();
} else {
  await reply('Hello! Who are you?');
  await reply('Tell me a story about a fox.');
}
await model.dispose();
