import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Graph, Tensor, graphDiff, tensorType, DTypes } from '@leanformer/core';
import { loadModelSync, saveModelSync, resolveExternalPath } from './node.js';
import { decodeModel, encodeModel } from './model.js';

const dir = mkdtempSync(join(tmpdir(), 'lf-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function model(): Graph {
  const g = new Graph('ext');
  const x = g.addInput('x', tensorType(DTypes.float32, [1, 256]));
  const w = g.addInitializer('w', Tensor.from('float32', [256, 4], Array.from({ length: 1024 }, (_, i) => Math.sin(i))));
  const b = g.addInitializer('b', Tensor.from('float32', [4], [1, 2, 3, 4])); // below the threshold: stays inline
  const mm = g.addNode({ op: 'MatMul', inputs: [x, w] }).output();
  g.addOutput(g.addNode({ op: 'Add', inputs: [mm, b], outputs: ['y'] }).output());
  g.opsets.set('', 17);
  return g;
}

describe('external data', () => {
  it('writes and reads back a model with external data, eagerly and lazily', () => {
    const g = model();
    const path = join(dir, 'm.onnx');
    saveModelSync(g, path, { externalData: true });
    expect(readdirSync(dir).sort()).toEqual(['m.onnx', 'm.onnx.data']);
    const ref = decodeModel(encodeModel(g)); // the same graph as a file would carry it (with model info)
    for (const mode of ['eager', 'lazy'] as const) {
      const back = loadModelSync(path, { externalData: mode });
      expect(back.initializers.get('w')!.const!.isLoaded).toBe(mode === 'eager');
      expect(graphDiff(ref, back)).toBeNull();
    }
  });

  it('refuses locations that escape the model folder', () => {
    const inner = join(dir, 'inner');
    mkdirSync(inner);
    writeFileSync(join(dir, 'secret.bin'), new Uint8Array(16));
    symlinkSync(join(dir, 'secret.bin'), join(inner, 'link.bin'));
    expect(() => resolveExternalPath(inner, '../secret.bin')).toThrowError(/must not contain '\.\.'/);
    expect(() => resolveExternalPath(inner, join(dir, 'secret.bin'))).toThrowError(/relative path/);
    expect(() => resolveExternalPath(inner, 'link.bin')).toThrowError(/outside the model's folder/);
  });

  it('checks offsets and lengths against the data file before reading', () => {
    const g = model();
    const sub = join(dir, 'short');
    mkdirSync(sub);
    const path = join(sub, 'm.onnx');
    saveModelSync(g, path, { externalData: true });
    writeFileSync(join(sub, 'm.onnx.data'), new Uint8Array(100)); // truncated data file
    expect(() => loadModelSync(path)).toThrowError(expect.objectContaining({ code: 'EXTERNAL_DATA' }));
  });

  it('leaves no partial file when saving fails', () => {
    const g = model();
    g.addNode({ op: 'Relu', inputs: [g.value('y')] });
    const badPath = join(dir, 'no-such-dir', 'm.onnx');
    const before = readdirSync(dir).sort();
    expect(() => saveModelSync(g, badPath)).toThrowError(expect.objectContaining({ code: 'IO_ERROR' }));
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
