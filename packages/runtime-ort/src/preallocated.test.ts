// Preallocated outputs (RunOptions.outputs, the KV buffers of the decode loop) on a runtime that does
// not write into them: onnxruntime-web's WebAssembly build binds a preallocated CPU fetch on its own
// heap and hands the untouched tensor back. Mimicked here over onnxruntime-node.
import * as ort from 'onnxruntime-node';
import { GraphBuilder, Tensor } from '@leanformer/core';
import { describe, expect, it } from 'vitest';
import { OrtBackend } from './backend.js';
import type { OrtModule } from './ort-types.js';

type Session = Awaited<ReturnType<typeof ort.InferenceSession.create>>;

/** onnxruntime-node, except that preallocated fetches come back as given (what onnxruntime-web does). */
const webLike = {
  ...ort,
  InferenceSession: {
    async create(model: Uint8Array, options: object) {
      const s: Session = await ort.InferenceSession.create(model, options);
      return new Proxy(s, {
        get(target, key) {
          if (key !== 'run') { const v = Reflect.get(target, key); return typeof v === 'function' ? v.bind(target) : v; }
          return async (feeds: Record<string, ort.Tensor>, fetches: Record<string, ort.Tensor | null>) => {
            const real = await target.run(feeds, Object.keys(fetches));
            return Object.fromEntries(Object.keys(fetches).map((n) => [n, fetches[n] ?? real[n]!]));
          };
        },
      });
    },
  },
} as unknown as OrtModule;

function doubler() {
  const b = new GraphBuilder('double');
  const x = b.input('x', 'float32', [2, 3]);
  b.output(b.add(x, x), 'y');
  return b.build();
}

describe('preallocated outputs', () => {
  const x = Tensor.from('float32', [2, 3], [1, 2, 3, 4, 5, 6]);
  it('are filled from the fetched output when the runtime does not write into them (writesPreallocatedOutputs: false)', async () => {
    const exe = await new OrtBackend({ ort: webLike, writesPreallocatedOutputs: false }).compile(doubler());
    const y = new Tensor('float32', [2, 3], new Float32Array(6));
    const out = await exe.run({ x }, { outputs: { y } });
    expect(out.y).toBe(y);
    expect([...y.toFloat32()]).toEqual([2, 4, 6, 8, 10, 12]);
    await exe.dispose();
  });

  it('stay as they were on such a runtime when bound in place (why ./web sets the option)', async () => {
    const exe = await new OrtBackend({ ort: webLike }).compile(doubler());
    const y = new Tensor('float32', [2, 3], new Float32Array(6));
    await exe.run({ x }, { outputs: { y } });
    expect([...y.toFloat32()]).toEqual([0, 0, 0, 0, 0, 0]);
    await exe.dispose();
  });

  it('are written in place by onnxruntime-node (the default)', async () => {
    const exe = await new OrtBackend({ ort: ort as unknown as OrtModule }).compile(doubler());
    const y = new Tensor('float32', [2, 3], new Float32Array(6));
    await exe.run({ x }, { outputs: { y } });
    expect([...y.toFloat32()]).toEqual([2, 4, 6, 8, 10, 12]);
    await exe.dispose();
  });
});
