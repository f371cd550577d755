// Sliding-window attention + an int4 KV cache on the retrieval task of @leanformer/attention.
// The model is the constructed 2-layer retrieval decoder (weights built, not trained; no downloads):
// layer 0's heads look at the previous token only, layer 1's induction heads must see the whole
// context. A prompt hides 16 (key, value) pairs in 512 tokens of filler and ends with one key; the
// first generated token must be that key's value.
//
//  1. Window patterns: retrieval accuracy with dense attention, a uniform window, and a window on
//     layer 0 only (the pattern this model allows).
//  2. Generation on ONNX Runtime CPU with the KV cache (`generateIds`: prefill + one run per token,
//     KV in preallocated ping-pong buffers), window 8 on layer 0; checked token for token against
//     recomputing the whole sequence every step.
//  3. The same generation with an int4 KV cache (`quantizeKV`, per token and head, fp16 scale and
//     min): every new K/V row is stored as 4-bit codes, layer 0 keeps only its 8-token window.
//     Bytes per token against fp16 (`kvBytesPerToken`), answers and tokens against the fp32 run.
//
//   npm run example:kv-int4-generate   # or, after a build: node examples/kv-int4-generate/main.mjs
import {
  argmaxAnswer, buildDecoderGraph, buildRetrievalDecoder, forwardChunk, makeRetrievalExamples, retrievalAccuracy,
} from '@leanformer/attention';
import { dequantizeKV, generateIds, generateByRecomputation, kvBytesPerToken, quantizeKV } from '@leanformer/kv-cache';
import { createOrtBackend } from '@leanformer/runtime-ort/node';

const LENGTH = 512; // prompt tokens
const EXAMPLES = 8; // prompts (evaluated and generated from)
const NEW_TOKENS = 6; // tokens generated per prompt
const WINDOW = 8; // layer 0's sliding window
const model = buildRetrievalDecoder({ maxLen: 1024 });
const { kvHeads: G, headDim: D } = model.layers[0];
const spec = { layers: model.layers.length, kvHeads: G, headDim: D };
const patterns = [{ kind: 'window', window: WINDOW }, { kind: 'dense' }];
const argmax = (x) => { let b = 0; for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i; return b; };

// 1. Which windows the task tolerates (TypeScript reference decoder, sparse kernels).
const examples = makeRetrievalExamples({ length: LENGTH, count: EXAMPLES, seed: 11 });
const accDense = retrievalAccuracy(model, examples);
const accUniform = retrievalAccuracy(model, examples, [{ kind: 'window', window: 128 }, { kind: 'window', window: 128 }]);
const accLayer0 = retrievalAccuracy(model, examples, patterns);
console.log(`retrieval accuracy over ${examples.length} prompts of ${LENGTH} tokens: dense ${accDense.toFixed(2)}, window 128 on both layers ${accUniform.toFixed(2)}, window ${WINDOW} on layer 0 + dense layer 1 ${accLayer0.toFixed(2)}`);
if (accDense !== 1 || accLayer0 !== 1) throw new Error('dense attention and the layer-0 window must answer every prompt');
if (!(accUniform < 1)) throw new Error('a 128-token window on the induction layer should miss needles further back');

// 2. fp32 KV cache on ORT CPU, window on layer 0.
const backend = createOrtBackend({ eps: ['cpu'], intraOpNumThreads: 2 });
const cached = await backend.compile(buildDecoderGraph(model, { kvCache: true, patterns, maxLen: 1024 }));
const plain = await backend.compile(buildDecoderGraph(model, { patterns, maxLen: 1024 }));
const fp32Runs = [];
let prefillMs = 0;
const stepMs = [];
for (const ex of examples) {
  const r = await generateIds(cached, ex.tokens, spec, { maxNewTokens: NEW_TOKENS });
  prefillMs += r.prefillMs;
  stepMs.push(...r.stepMs);
  fp32Runs.push(r.tokens);
}
const recomputed = await generateByRecomputation(plain, examples[0].tokens, NEW_TOKENS);
if (recomputed.join() !== fp32Runs[0].join()) throw new Error(`KV-cache decode [${fp32Runs[0]}] differs from recomputation [${recomputed}]`);
const fp32Correct = examples.filter((ex, i) => fp32Runs[i][0] === ex.answer).length;
const medianStep = [...stepMs].sort((a, b) => a - b)[stepMs.length >> 1];
console.log(`ORT ${cached.info.device}, fp32 KV: ${EXAMPLES} prompts × ${NEW_TOKENS} tokens = ${EXAMPLES * NEW_TOKENS} tokens generated; prefill ${(prefillMs / EXAMPLES).toFixed(1)} ms, decode ${medianStep.toFixed(2)} ms/token (median); answers ${fp32Correct}/${EXAMPLES}; same tokens as recomputation`);
console.log(`  e.g. answer ${examples[0].answer}: generated [${fp32Runs[0].join(', ')}]`);
if (fp32Correct !== EXAMPLES) throw new Error(`fp32 KV generation answered ${fp32Correct}/${EXAMPLES}`);

// 3. int4 KV cache: rows [kvHeads·n, headDim] quantized per token and head as they arrive.
const Q4 = { bits: 4 };
/**
 * A per-layer int4 cache of per-token entries; layer `l` keeps at most `keep[l]` tokens (its window):
 * older entries are dropped. Each entry holds that token's K and V for all kv heads, dequantized once
 * from its codes (a fused kernel would read the codes directly), and the bytes its codes + fp16 scales
 * and minimums take.
 */
function int4Cache(keep) {
  const layers = model.layers.map(() => []); // entries { pos, k: [G·D], v: [G·D], bytes }
  const provider = (s) => {
    const kq = quantizeKV(s.k, G * s.n, D, Q4); // rows: head-major [G, n] × D
    const vq = quantizeKV(s.v, G * s.n, D, Q4);
    const bytes = (q) => q.codes.length + 2 * q.scales.length + 2 * q.mins.length;
    const perToken = (bytes(kq) + bytes(vq)) / s.n;
    const k = dequantizeKV(kq);
    const v = dequantizeKV(vq);
    const entries = layers[s.layer];
    for (let t = 0; t < s.n; t++) {
      const e = { pos: s.position + t, k: new Float32Array(G * D), v: new Float32Array(G * D), bytes: perToken };
      for (let g = 0; g < G; g++) {
        e.k.set(k.subarray((g * s.n + t) * D, (g * s.n + t + 1) * D), g * D);
        e.v.set(v.subarray((g * s.n + t) * D, (g * s.n + t + 1) * D), g * D);
      }
      entries.push(e);
    }
    // Attend over the cached tokens ([G, kLen, D], absolute positions); the pattern masks per query.
    const kLen = entries.length;
    const kv = { k: new Float32Array(G * kLen * D), v: new Float32Array(G * kLen * D) };
    entries.forEach((e, j) => {
      for (let g = 0; g < G; g++) {
        kv.k.set(e.k.subarray(g * D, (g + 1) * D), (g * kLen + j) * D);
        kv.v.set(e.v.subarray(g * D, (g + 1) * D), (g * kLen + j) * D);
      }
    });
    const view = { ...kv, kLen, keyPositions: entries.map((e) => e.pos), pattern: patterns[s.layer] };
    // Evict what the window no longer reaches: the next query is at s.position + s.n.
    if (entries.length > keep[s.layer]) entries.splice(0, entries.length - keep[s.layer]);
    return view;
  };
  const bytesHeld = () => layers.reduce((sum, entries) => sum + entries.reduce((a, e) => a + e.bytes, 0), 0);
  return { provider, bytesHeld };
}

const t0 = performance.now();
let int4Correct = 0;
let sameTokens = 0;
let heldInt4 = 0;
for (const [i, ex] of examples.entries()) {
  const cache = int4Cache([WINDOW, Infinity]);
  const out = [];
  let pos = 0;
  let input = Array.from(ex.tokens);
  for (let step = 0; step < NEW_TOKENS; step++) {
    const logits = forwardChunk(model, input, pos, cache.provider);
    const tok = argmax(logits);
    if (step === 0 && argmaxAnswer(model, logits) === ex.answer && tok === ex.answer) int4Correct++;
    out.push(tok);
    pos += input.length;
    input = [tok];
  }
  if (out.join() === fp32Runs[i].join()) sameTokens++;
  heldInt4 = cache.bytesHeld();
}
const int4Ms = performance.now() - t0;
const totalTokens = LENGTH + NEW_TOKENS - 1; // tokens in the cache after the last step
const fp16PerTok = kvBytesPerToken(D, 'float16') * G; // per layer
const int4PerTok = kvBytesPerToken(D, Q4) * G;
const fp16Full = fp16PerTok * spec.layers * totalTokens;
console.log(`int4 KV (TypeScript decoder, ${(int4Ms / EXAMPLES).toFixed(0)} ms per prompt): answers ${int4Correct}/${EXAMPLES}, same ${NEW_TOKENS} tokens as fp32 KV for ${sameTokens}/${EXAMPLES} prompts`);
console.log(`  KV bytes per token per layer (${G} kv heads × ${D}): fp16 ${fp16PerTok}, int4 ${int4PerTok} (${(int4PerTok / fp16PerTok).toFixed(3)}×: codes + fp16 scale and min per head)`);
console.log(`  KV held after ${totalTokens} tokens: fp16 full cache ${fp16Full} B; int4 + layer-0 window ${heldInt4} B (${(heldInt4 / fp16Full).toFixed(3)}×)`);
if (int4Correct !== EXAMPLES) throw new Error(`int4 KV answered ${int4Correct}/${EXAMPLES}`);
if (!(int4PerTok / fp16PerTok < 0.3)) throw new Error(`int4 KV is ${int4PerTok / fp16PerTok} of fp16`);
if (heldInt4 !== int4PerTok * (WINDOW + totalTokens)) throw new Error(`held ${heldInt4} B, expected ${int4PerTok * (WINDOW + totalTokens)} B`);
await cached.dispose();
await plain.dispose();
console.log(`Summary: ${EXAMPLES * NEW_TOKENS} tokens generated; int4 KV with a ${WINDOW}-token window on layer 0 keeps ${(heldInt4 / fp16Full * 100).toFixed(1)}% of the fp16 cache and answers ${int4Correct}/${EXAMPLES}.`);
