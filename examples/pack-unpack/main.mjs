// Lossless weight packing: cast a decoder's weights to bf16 and to fp16 (seeded weights, no
// downloads), pack each to a .lfpack file (the exponent field Huffman-coded, sign + mantissa raw;
// DFloat11-style), write it to a temp dir, read it back, unpack, and check that every weight is
// bit-for-bit the one that was packed. Prints the file sizes against the plain .onnx file, and the
// pack/unpack times. Finally runs the original and the unpacked bf16 model on ONNX Runtime CPU.
//
//   npm run example:pack-unpack        # or, after a build: node examples/pack-unpack/main.mjs
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, transformerDecoder } from '@leanformer/core';
import { decodeModel, encodeModel } from '@leanformer/onnx';
import { isLfpack, lfpackStats, packModel, quantizeModel, readLfpackManifest, unpackModel } from '@leanformer/quant';
import { createOrtBackend } from '@leanformer/runtime-ort/node';

const config = { vocabSize: 4096, hidden: 256, layers: 4, heads: 8, kvHeads: 4, ffn: 688, seed: 5 };
const codec = { encode: encodeModel, decode: decodeModel };
// .lfpack vs the plain .onnx of the same weights. bf16 keeps 8 raw bits (sign + 7 mantissa) and codes the
// 8-bit exponent in ~2.7 bits; fp16 keeps 11 raw bits and codes a 5-bit exponent, so it saves less.
const MAX_RATIO = { bf16: 0.75, fp16: 0.9 };
const mib = (n) => `${(n / 2 ** 20).toFixed(2)} MiB`;

/** Every initializer of `b` has the same dtype, shape and bytes as in `a`; returns the bytes compared. */
function assertSameWeights(a, b, label) {
  if (a.initializers.size !== b.initializers.size) throw new Error(`${label}: ${b.initializers.size} initializers, expected ${a.initializers.size}`);
  let bytes = 0;
  for (const [name, v] of a.initializers) {
    const w = b.initializers.get(name);
    if (!w) throw new Error(`${label}: initializer '${name}' is missing after unpacking`);
    const x = v.const;
    const y = w.const;
    if (x.dtype.name !== y.dtype.name || x.shape.join() !== y.shape.join()) throw new Error(`${label}: '${name}' is ${y.dtype.name}[${y.shape}], expected ${x.dtype.name}[${x.shape}]`);
    const xb = x.bytes();
    const yb = y.bytes();
    if (xb.length !== yb.length) throw new Error(`${label}: '${name}' has ${yb.length} bytes, expected ${xb.length}`);
    for (let i = 0; i < xb.length; i++) if (xb[i] !== yb[i]) throw new Error(`${label}: '${name}' differs at byte ${i}`);
    bytes += xb.length;
  }
  return bytes;
}

const fp32 = transformerDecoder(config);
const dir = mkdtempSync(join(tmpdir(), 'lf-pack-unpack-'));
try {
  const results = {};
  for (const dtype of ['bf16', 'fp16']) {
    const { graph } = await quantizeModel(fp32, { method: dtype }); // cast the weights to 16 bits (no quantization)
    const onnxFile = join(dir, `decoder-${dtype}.onnx`);
    writeFileSync(onnxFile, encodeModel(graph));

    const t0 = performance.now();
    const packed = packModel(graph, codec);
    const packMs = performance.now() - t0;
    const packFile = join(dir, `decoder-${dtype}.lfpack`);
    writeFileSync(packFile, packed);

    const bytes = readFileSync(packFile);
    if (!isLfpack(bytes)) throw new Error(`${packFile} does not start with the .lfpack magic`);
    const t1 = performance.now();
    const unpacked = unpackModel(bytes, codec);
    const unpackMs = performance.now() - t1;
    const checked = assertSameWeights(graph, unpacked, dtype);

    const onnxSize = statSync(onnxFile).size;
    const packSize = statSync(packFile).size;
    const ratio = packSize / onnxSize;
    const stats = lfpackStats(bytes);
    const manifest = readLfpackManifest(bytes);
    console.log(`${dtype}: .onnx ${mib(onnxSize)} → .lfpack ${mib(packSize)} (${ratio.toFixed(3)}×; packed tensors alone ${stats.ratio.toFixed(3)}×, ${manifest.tensors.length} of ${graph.initializers.size} initializers coded)`);
    console.log(`      pack ${packMs.toFixed(0)} ms, unpack ${unpackMs.toFixed(0)} ms; ${mib(checked)} of weights bit-identical after the round trip`);
    if (!(ratio <= MAX_RATIO[dtype])) throw new Error(`${dtype}: .lfpack is ${ratio.toFixed(3)}× of the .onnx file, expected ≤ ${MAX_RATIO[dtype]}`);
    results[dtype] = { graph, unpacked, ratio };
  }

  // The unpacked model is the same model: the same logits on ONNX Runtime, to the bit.
  const backend = createOrtBackend({ eps: ['cpu'], intraOpNumThreads: 2 });
  const feeds = { input_ids: Tensor.from('int64', [1, 8], [1n, 5n, 9n, 300n, 2n, 4000n, 17n, 64n]) };
  const logitsOf = async (g) => {
    const exe = await backend.compile(g);
    const out = (await exe.run(feeds)).logits.toFloat32();
    await exe.dispose();
    return out;
  };
  const before = await logitsOf(results.bf16.graph);
  const after = await logitsOf(results.bf16.unpacked);
  let diff = 0;
  for (let i = 0; i < before.length; i++) diff = Math.max(diff, Math.abs(before[i] - after[i]));
  console.log(`ORT CPU logits of the bf16 model before packing vs after unpacking: max |Δ| = ${diff}`);
  if (diff !== 0 || !before.every(Number.isFinite)) throw new Error(`unpacked model's logits differ by ${diff}`);
  console.log(`Summary: lossless packing stores the bf16 model in ${(results.bf16.ratio * 100).toFixed(1)}% and the fp16 model in ${(results.fp16.ratio * 100).toFixed(1)}% of its .onnx size, bit-exact.`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
