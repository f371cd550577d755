import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { graphDiff } from '@leanformer/core';
import { decodeModel, decodeTensor, encodeModel } from '../src/index.js';

const ROOT = '/usr/share/libonnx-testdata/data';
const SUITES = ['node', 'simple', 'pytorch-converted', 'pytorch-operator'];
const present = existsSync(ROOT);
if (!present) console.warn(`[onnx] ${ROOT} is missing: install Debian's libonnx-testdata to run the round-trip suite`);

describe.skipIf(!present)('ONNX round trip over libonnx-testdata', () => {
  for (const suite of SUITES) {
    it(`decode → encode → decode gives equal graphs for every ${suite} model`, () => {
      const dir = join(ROOT, suite);
      const failures: string[] = [];
      let count = 0;
      for (const name of readdirSync(dir).sort()) {
        const modelPath = join(dir, name, 'model.onnx');
        if (!existsSync(modelPath)) continue;
        count++;
        const a = decodeModel(readFileSync(modelPath));
        const b = decodeModel(encodeModel(a));
        const diff = graphDiff(a, b);
        if (diff) failures.push(`${name}: ${diff}`);
        const data = join(dir, name, 'test_data_set_0');
        if (existsSync(data)) {
          // input_i / output_i hold TensorProto only where the model's i-th input / output is a tensor
          // (sequence and optional values use other messages).
          const feeds = a.inputs.filter((v) => !v.isInitializer);
          for (const f of readdirSync(data)) {
            const m = /^(input|output)_(\d+)\.pb$/.exec(f);
            if (!m) continue;
            const v = (m[1] === 'input' ? feeds : a.outputs)[Number(m[2])];
            if (v?.type?.kind !== 'tensor') continue;
            const { tensor } = decodeTensor(readFileSync(join(data, f)));
            // ONNX 1.12's bfloat16 cases store their data as uint16 (a known quirk of that test data).
            const bf16Quirk = v.dtype?.name === 'bfloat16' && tensor.dtype.name === 'uint16';
            if (v.dtype && tensor.dtype !== v.dtype && !bf16Quirk) failures.push(`${name}/${f}: dtype ${tensor.dtype.name}, model says ${v.dtype.name}`);
          }
        }
      }
      expect(count).toBeGreaterThan(0);
      expect(failures).toEqual([]);
    });
  }
});
