// Quantize a decoder to int4: build a small LLaMA-style decoder with the builder (seeded weights, no
// downloads), quantize its weights with RTN int4 (blocks of 32 along K; embedding and LM head int8,
// the default), then run fp32 and int4 on two runtimes: ONNX Runtime CPU (int4 lowered to
// com.microsoft.MatMulNBits / GatherBlockQuantized) and TensorFlow.js CPU (int4 dequantized on the
// fly with standard ops). Prints sizes and the logits cosine vs fp32 on each, and checks that the
// two runtimes agree on both models.
//
//   npm run example:quantize-int4      # or, after a build: node examples/quantize-int4/main.mjs
import { Tensor, analyzeGraph, cosine, maxAbsDiff, transformerDecoder } from '@leanformer/core';
import { initializerBytes, quantizeModel } from '@leanformer/quant';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';

const config = { vocabSize: 512, hidden: 128, layers: 4, heads: 4, kvHeads: 2, ffn: 344, seed: 7 };
const batch = 2;
const seq = 16;
const AGREE = 1e-4; // max |Δ logits| between ORT CPU and tfjs-cpu running the same model
const MIN_COSINE = 0.97; // int4 vs fp32 logits (the quant README measures 0.980 on this decoder)

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
function argmaxRows(x, width) {
  const out = [];
  for (let r = 0; r < x.length / width; r++) {
    let best = 0;
    for (let v = 1; v < width; v++) if (x[r * width + v] > x[r * width + best]) best = v;
    out.push(best);
  }
  return out;
}

// Seeded token ids (a small LCG), batch × seq.
const tokens = [];
let s = 12345;
for (let i = 0; i < batch * seq; i++) { s = (s * 1103515245 + 12345) % 2 ** 31; tokens.push(BigInt(s % config.vocabSize)); }
const feeds = { input_ids: Tensor.from('int64', [batch, seq], tokens) };

const fp32 = transformerDecoder(config);
const cost = analyzeGraph(fp32, { dims: { batch, seq } });
// accuracyLevel 0: ORT keeps float compute in MatMulNBits, so it computes what tfjs computes. (The default
// gives the int8 LM head accuracy_level 4 on ORT CPU — int8 activations, faster, ~5e-3 off tfjs here.)
const { graph: int4, report } = await quantizeModel(fp32, { method: 'rtn', bits: 4, blockSize: 32, accuracyLevel: 0 });
console.log(`decoder: ${(cost.params / 1e6).toFixed(2)} M parameters; RTN int4 / block 32 quantized ${report.layersQuantized} layers in ${(report.seconds * 1000).toFixed(0)} ms`);
console.log(`  weights fp32 ${kib(initializerBytes(fp32))} → int4 ${kib(initializerBytes(int4))} (${(initializerBytes(int4) / initializerBytes(fp32)).toFixed(3)}×)`);

const backends = [
  ['ORT CPU', createOrtBackend({ eps: ['cpu'], intraOpNumThreads: 2 })],
  ['tfjs-cpu', createTfjsBackend('cpu')],
];
const logits = {};
for (const [label, backend] of backends) {
  logits[label] = {};
  for (const [name, graph] of [['fp32', fp32], ['int4', int4]]) {
    const t0 = performance.now();
    const exe = await backend.compile(graph);
    const out = (await exe.run(feeds)).logits.toFloat32();
    const ms = performance.now() - t0;
    await exe.dispose();
    if (out.length !== batch * seq * config.vocabSize) throw new Error(`${label} ${name}: ${out.length} logits`);
    if (!out.every(Number.isFinite)) throw new Error(`${label} ${name}: non-finite logits`);
    logits[label][name] = { out, ms };
  }
  const { fp32: f, int4: q } = logits[label];
  const cos = cosine(q.out, f.out);
  const a = argmaxRows(f.out, config.vocabSize);
  const b = argmaxRows(q.out, config.vocabSize);
  const top1 = a.filter((t, i) => t === b[i]).length / a.length;
  logits[label].cos = cos;
  console.log(`${label.padEnd(8)}: int4 vs fp32 logits cosine ${cos.toFixed(5)}, same top-1 token ${(top1 * 100).toFixed(0)}% (compile+run fp32 ${f.ms.toFixed(0)} ms, int4 ${q.ms.toFixed(0)} ms)`);
  if (!(cos >= MIN_COSINE)) throw new Error(`${label}: int4 cosine ${cos} < ${MIN_COSINE}`);
}

// The two runtimes must compute the same thing, for the float model and for the int4 one.
const dFp32 = maxAbsDiff(logits['ORT CPU'].fp32.out, logits['tfjs-cpu'].fp32.out);
const dInt4 = maxAbsDiff(logits['ORT CPU'].int4.out, logits['tfjs-cpu'].int4.out);
console.log(`ORT CPU vs tfjs-cpu: max |Δ logits| fp32 ${dFp32.toExponential(2)}, int4 ${dInt4.toExponential(2)} (tolerance ${AGREE})`);
if (!(dFp32 <= AGREE)) throw new Error(`ORT and tfjs disagree on fp32: ${dFp32}`);
if (!(dInt4 <= AGREE)) throw new Error(`ORT and tfjs disagree on int4: ${dInt4}`);
const dCos = Math.abs(logits['ORT CPU'].cos - logits['tfjs-cpu'].cos);
if (!(dCos <= 1e-4)) throw new Error(`int4 cosine differs between runtimes by ${dCos}`);
console.log(`Summary: int4 weights are ${(initializerBytes(int4) / initializerBytes(fp32) * 100).toFixed(1)}% of fp32, logits cosine ${logits['ORT CPU'].cos.toFixed(4)}; both runtimes agree to ${Math.max(dFp32, dInt4).toExponential(1)}.`);
