// External data through the public entry points: every refused location, size checks before
// reading, per-tensor files, and saves that fail half-way leaving nothing behind.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DTypes, Graph, graphDiff, LeanformerError, Tensor, tensorType } from '@leanformer/core';
import { encodeModel } from './model.js';
import { loadModel, readTensorFile, saveModel } from './node.js';
import { encodeTensor } from './model.js';

const root = mkdtempSync(join(tmpdir(), 'lf-onnx-safety-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => { const d = join(root, `case${n++}`); mkdirSync(d); return d; };

function model(): Graph {
  const g = new Graph('m');
  g.opsets.set('', 21);
  const x = g.addInput('x', tensorType(DTypes.float32, [1, 64]));
  const w1 = g.addInitializer('layers.0/weight', Tensor.from('float32', [64, 64], Array.from({ length: 4096 }, (_, i) => i % 7)));
  const w2 = g.addInitializer('layers.1/weight', Tensor.from('float32', [64, 64], Array.from({ length: 4096 }, (_, i) => i % 5)));
  const h = g.addNode({ op: 'MatMul', inputs: [x, w1] }).output();
  g.addOutput(g.addNode({ op: 'MatMul', inputs: [h, w2], outputs: ['y'] }).output());
  return g;
}

/** A model file in `dir` whose one external tensor claims `location` at `offset`. */
function modelPointingAt(dir: string, location: string, offset = 0, length = 16): string {
  const g = new Graph('evil');
  g.addOutput(g.addInitializer('w', Tensor.from('float32', [4], [0, 0, 0, 0])));
  const path = join(dir, 'model.onnx');
  writeFileSync(path, encodeModel(g, { externalData: () => ({ location, offset, length }) }));
  return path;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { return e instanceof LeanformerError ? e.code : `not a LeanformerError: ${String(e)}`; }
  return 'no error';
}

describe('loadModel refuses external data outside the model folder', () => {
  const outside = join(root, 'secret.bin');
  writeFileSync(outside, new Uint8Array(64));

  it.each([
    ['a parent-directory segment', '../secret.bin'],
    ['a nested parent-directory segment', 'sub/../../secret.bin'],
    ['a backslash parent segment', '..\\secret.bin'],
    ['an absolute path', outside],
    ['a Windows drive path', 'C:\\secret.bin'],
  ])('%s', async (_what, location) => {
    const path = modelPointingAt(freshDir(), location);
    expect(await codeOf(loadModel(path))).toBe('UNSAFE_PATH');
    expect(await codeOf(loadModel(path, { externalData: 'lazy' }))).toBe('UNSAFE_PATH');
  });

  it('a symlink that resolves outside', async () => {
    const dir = freshDir();
    symlinkSync(outside, join(dir, 'link.bin'));
    expect(await codeOf(loadModel(modelPointingAt(dir, 'link.bin')))).toBe('UNSAFE_PATH');
  });

  it('a file under a symlinked folder that resolves outside', async () => {
    const dir = freshDir();
    symlinkSync(root, join(dir, 'up'));
    expect(await codeOf(loadModel(modelPointingAt(dir, 'up/secret.bin')))).toBe('UNSAFE_PATH');
  });

  it('but follows a symlink that stays inside', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'real.bin'), new Uint8Array(16));
    symlinkSync(join(dir, 'real.bin'), join(dir, 'alias.bin'));
    const g = await loadModel(modelPointingAt(dir, 'alias.bin'));
    expect(g.initializers.get('w')!.const!.toArray()).toEqual([0, 0, 0, 0]);
  });
});

describe('loadModel checks sizes before reading', () => {
  it('refuses ranges past the end of the data file, without allocating them', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'w.bin'), new Uint8Array(16));
    expect(await codeOf(loadModel(modelPointingAt(dir, 'w.bin', 8)))).toBe('EXTERNAL_DATA');
    expect(await codeOf(loadModel(modelPointingAt(dir, 'w.bin', 2 ** 50)))).toBe('EXTERNAL_DATA');
    expect(await codeOf(loadModel(modelPointingAt(dir, 'w.bin', 0, 2 ** 40)))).toMatch(/EXTERNAL_DATA|DECODE_ERROR/);
  });

  it('reports a missing data file', async () => {
    expect(await codeOf(loadModel(modelPointingAt(freshDir(), 'nowhere.bin')))).toBe('EXTERNAL_DATA');
  });
});

describe('saveModel with external data', () => {
  it('writes one file per tensor when asked, and reads it back', async () => {
    const dir = freshDir();
    const g = model();
    await saveModel(g, join(dir, 'm.onnx'), { externalData: { allTensorsToOneFile: false } });
    expect(readdirSync(dir).sort()).toEqual(['layers.0_weight', 'layers.1_weight', 'm.onnx']);
    const back = await loadModel(join(dir, 'm.onnx'));
    const g2 = model();
    g2.model = back.model;
    expect(graphDiff(g2, back)).toBeNull();
  });

  it('refuses a data location outside the model folder', async () => {
    const dir = freshDir();
    for (const location of ['../x.data', '/tmp/x.data', 'a/../../x.data']) {
      expect(await codeOf(saveModel(model(), join(dir, 'm.onnx'), { externalData: { location } }))).toBe('UNSAFE_PATH');
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('copies lazy tensors from their file and leaves nothing behind when a source disappears', async () => {
    const a = freshDir();
    await saveModel(model(), join(a, 'm.onnx'), { externalData: true });
    const lazy = await loadModel(join(a, 'm.onnx'), { externalData: 'lazy' });
    expect(lazy.initializers.get('layers.0/weight')!.const!.isLoaded).toBe(false);

    const b = freshDir();
    await saveModel(lazy, join(b, 'copy.onnx'), { externalData: true }); // copied by location, in chunks
    expect(lazy.initializers.get('layers.0/weight')!.const!.isLoaded).toBe(false);
    expect(graphDiff(await loadModel(join(a, 'm.onnx')), await loadModel(join(b, 'copy.onnx')))).toBeNull();

    rmSync(join(a, 'm.onnx.data'));
    const c = freshDir();
    expect(await codeOf(saveModel(lazy, join(c, 'broken.onnx'), { externalData: true }))).toBe('IO_ERROR');
    expect(readdirSync(c)).toEqual([]); // no partial model, data or temporary file
  });

  it('does not replace an existing model when the save fails', async () => {
    const dir = freshDir();
    const path = join(dir, 'm.onnx');
    await saveModel(model(), path);
    const bad = model();
    bad.addInitializer('s', Tensor.from('float32', [1], [1]));
    Object.defineProperty(bad.initializers.get('s')!.const!, 'bytes', { value: () => { throw new Error('disk on fire'); } });
    expect(await codeOf(saveModel(bad, path))).toBe('IO_ERROR');
    expect(readdirSync(dir)).toEqual(['m.onnx']);
    expect(graphDiff(model(), await loadModel(path).then((g) => { g.model = undefined; return g; }))).toBeNull();
  });
});

describe('size limits', () => {
  it('refuses to encode a model over 2 GiB inline (SIZE_LIMIT) without allocating it', () => {
    const g = new Graph('huge');
    const shared = Tensor.zeros('float32', [64, 1024, 1024]); // 256 MiB, shared by every initializer
    for (let i = 0; i < 9; i++) g.addOutput(g.addInitializer(`w${i}`, shared));
    let err: unknown;
    try { encodeModel(g); } catch (e) { err = e; }
    expect((err as LeanformerError).code).toBe('SIZE_LIMIT');
    expect((err as LeanformerError).message).toMatch(/external data/);
  });
});

describe('readTensorFile', () => {
  it('reads a TensorProto file', () => {
    const path = join(freshDir(), 't.pb');
    writeFileSync(path, encodeTensor(Tensor.from('int64', [2], [-1n, 5n]), 'input_0'));
    const { name, tensor } = readTensorFile(path);
    expect(name).toBe('input_0');
    expect(tensor.toArray()).toEqual([-1n, 5n]);
    expect(existsSync(path)).toBe(true);
  });
});
