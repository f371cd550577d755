// leanformer RTN against ONNX Runtime's own quantizer (MatMulNBitsQuantizer), on the fixture
// written by packages/quant/fixtures/make_rtn_fixture.py on the GPU machine. Until that fixture
// is committed these tests are reported as skipped (never silently passed); the float64
// reference of the same formula in blockwise.test.ts covers RTN meanwhile.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DTypes } from '@leanformer/core';
import { decodeModel } from '@leanformer/onnx';
import { dequantize, packMatMulNBits, quantizeRtn, unpackMatMulNBits, type QuantBits } from './blockwise.js';

const dir = fileURLToPath(new URL('../fixtures/', import.meta.url));
const manifestPath = `${dir}fixture.json`;
const have = existsSync(manifestPath) && existsSync(`${dir}rtn_fp32.onnx`);
interface Entry { file: string | null; bits: number; blockSize: number; symmetric: boolean; error?: string }
const manifest: { K: number; N: number; models: Entry[] } = have ? JSON.parse(readFileSync(manifestPath, 'utf8')) : { K: 0, N: 0, models: [] };

describe.skipIf(!have)("RTN vs onnxruntime.quantization's MatMulNBitsQuantizer (fixture)", () => {
  const fp32 = have ? decodeModel(readFileSync(`${dir}rtn_fp32.onnx`)) : null;
  for (const m of manifest.models.filter((e) => e.file)) {
    it(`${m.file}: identical codes, scales and zero points`, () => {
      const g = decodeModel(readFileSync(`${dir}${m.file}`));
      const node = g.nodes.find((n) => n.op === 'MatMulNBits')!;
      expect(node).toBeDefined();
      const K = Number(node.attr('K')), N = Number(node.attr('N'));
      expect([K, N]).toEqual([manifest.K, manifest.N]);
      expect(Number(node.attr('block_size'))).toBe(m.blockSize);
      const w = fp32!.initializers.get('W')!.const!.toFloat32();
      const ours = packMatMulNBits(quantizeRtn(w, K, N, { bits: m.bits as QuantBits, blockSize: m.blockSize, symmetric: m.symmetric }));
      const B = node.input(1).const!.data as Uint8Array;
      const scales = node.input(2).const!.toFloat32();
      const zp = node.inputs[3]?.const;
      // Dequantized weights must agree exactly, or differ by at most one quantization step
      // where float32 rounding of w·(1/scale) lands on the other side of a tie.
      const theirs = dequantize(unpackMatMulNBits({ B, scales, zeroPoints: zp ? (zp.dtype === DTypes.uint8 ? zp.data as Uint8Array : zp.toFloat32()) : null }, K, N, m.bits as QuantBits, m.blockSize));
      const mine = dequantize(unpackMatMulNBits(ours, K, N, m.bits as QuantBits, m.blockSize));
      let differing = 0;
      for (let i = 0; i < mine.length; i++) {
        if (mine[i] === theirs[i]) continue;
        differing++;
        const s = Math.abs(scales[(i % N) * Math.ceil(K / m.blockSize) + Math.floor(Math.floor(i / N) / m.blockSize)]!);
        expect(Math.abs(mine[i]! - theirs[i]!)).toBeLessThanOrEqual(s * 1.0001);
      }
      expect(Array.from(ours.scales)).toEqual(Array.from(scales));
      if (zp) expect(Buffer.from(ours.zeroPoints as Uint8Array).equals(Buffer.from(zp.data as Uint8Array))).toBe(true);
      else expect(ours.zeroPoints).toBeNull();
      // The acceptance allows a documented one-step rounding difference; it must stay rare.
      expect(differing).toBeLessThanOrEqual(Math.ceil(K * N * 0.01));
      if (differing === 0) expect(Buffer.from(ours.B).equals(Buffer.from(B))).toBe(true);
    });
  }
});
