import { describe, expect, it } from 'vitest';
import { DTypes, Graph, Tensor, graphDiff, tensorType } from '@leanformer/core';
import { decodeModel, encodeModel } from './model.js';

/** Initializers of several storage widths, each large enough for a multi-byte length prefix. */
function model(): Graph {
  const g = new Graph('align');
  g.opsets.set('', 21);
  const x = g.addInput('x', tensorType(DTypes.float32, [64]));
  let y = x;
  const make = (name: string, dtype: 'float32' | 'float16' | 'int64' | 'float64' | 'int8', n: number) =>
    g.addInitializer(name, Tensor.from(dtype, [n], Array.from({ length: n }, (_, i) => (dtype === 'int64' ? BigInt(i - 7) : (i % 13) - 6))));
  // Odd-length names shift each payload to a different offset modulo 8.
  for (const [i, dt] of (['float32', 'float16', 'int64', 'float64', 'int8', 'float32', 'int64'] as const).entries()) {
    const w = make(`w${'_'.repeat(i)}`, dt, 4096 + i);
    y = g.addNode({ op: 'Identity', inputs: [w] }).output();
  }
  g.addOutput(y);
  return g;
}

describe('decodeModel({ mayMutateInput })', () => {
  it('aligns misaligned raw_data in place, so initializers view the input buffer', () => {
    const bytes = encodeModel(model());
    const reference = decodeModel(bytes.slice()); // copies where misaligned
    const g = decodeModel(bytes, { mayMutateInput: true });
    expect(graphDiff(reference, g)).toBeNull();
    let views = 0;
    for (const v of g.initializers.values()) {
      const b = v.const!.bytes();
      if (b.buffer === bytes.buffer) views++;
    }
    expect(views).toBe(g.initializers.size);
  });

  it('works on a view that starts inside a larger buffer', () => {
    const encoded = encodeModel(model());
    const host = new Uint8Array(encoded.length + 13);
    host.set(encoded, 5);
    const g = decodeModel(host.subarray(5, 5 + encoded.length), { mayMutateInput: true });
    expect(graphDiff(decodeModel(encoded), g)).toBeNull();
    expect([...g.initializers.values()].every((v) => v.const!.bytes().buffer === host.buffer)).toBe(true);
  });

  it('leaves the input untouched without the option', () => {
    const bytes = encodeModel(model());
    const copy = bytes.slice();
    decodeModel(bytes);
    expect(Buffer.compare(bytes, copy)).toBe(0);
  });
});
