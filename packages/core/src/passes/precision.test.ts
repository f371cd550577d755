import { describe, expect, it } from 'vitest';
import { attr, DTypes, GraphBuilder, Tensor } from '../index.js';
import { computePrecisionPass } from './precision.js';

/** x (float32 [2]) → Mul by a float32 weight → Cast(to float32) → Add ConstantOfShape(0.5) → y; plus a past passthrough. */
function small() {
  const b = new GraphBuilder('p');
  const x = b.input('x', 'float32', [2]);
  const past = b.input('past', 'float32', [2]);
  const w = b.param('w', Tensor.from('float32', [2], [1.5, -2]));
  const m = b.op('Cast', [b.mul(x, w)], { to: attr.int(1) });
  const c = b.op('ConstantOfShape', [b.shape(x)], { value: attr.tensor(Tensor.from('float32', [1], [0.5])) });
  b.output(b.add(m, c), 'y');
  b.output(b.add(past, x), 'present');
  return b.build();
}

describe('computePrecisionPass', () => {
  it('fp16: initializers, value types, Cast.to and tensor attributes narrowed; kept IO stays float32 behind Casts', () => {
    const g = small();
    const { modified } = computePrecisionPass({ precision: 'fp16', keep: ['x', 'y'] }).run(g, {});
    expect(modified).toBe(true);
    const io = Object.fromEntries([...g.inputs, ...g.outputs].map((v) => [v.name, v.dtype?.name]));
    expect(io).toEqual({ x: 'float32', past: 'float16', y: 'float32', present: 'float16' });
    expect(g.initializers.get('w')!.const!.dtype).toBe(DTypes.float16);
    expect([...g.initializers.get('w')!.const!.toFloat32()]).toEqual([1.5, -2]);
    const casts = g.nodes.filter((n) => n.op === 'Cast').map((n) => n.attr<number>('to'));
    // the kept input's Cast to fp16, the model's own Cast (now to fp16), the kept output's Cast back
    expect(casts).toEqual([10, 10, 1]);
    expect(g.nodes[0]!.op).toBe('Cast'); // before the first consumer of x
    const cos = g.nodes.find((n) => n.op === 'ConstantOfShape')!;
    expect(cos.attr<Tensor>('value').dtype).toBe(DTypes.float16);
    expect(g.outputs.find((v) => v.name === 'y')!.producer!.op).toBe('Cast');
    for (const n of g.nodes) for (const v of n.outputs) if (v?.dtype?.isFloat && !(n.op === 'Cast' && n.attr('to') === 1)) expect(v.dtype).toBe(DTypes.float16);
  });

  it('bf16 narrows to bfloat16; fp32 changes nothing', () => {
    const g = small();
    computePrecisionPass({ precision: 'bf16' }).run(g, {});
    expect(g.initializers.get('w')!.const!.dtype).toBe(DTypes.bfloat16);
    expect(g.inputs[0]!.dtype).toBe(DTypes.bfloat16);
    const h = small();
    expect(computePrecisionPass({ precision: 'fp32' }).run(h, {}).modified).toBe(false);
    expect(h.initializers.get('w')!.const!.dtype).toBe(DTypes.float32);
  });

  it('refuses an unknown precision and keep names that are not graph inputs/outputs', () => {
    expect(() => computePrecisionPass({ precision: 'fp8' as 'fp16' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/fp32, fp16, bf16/) }));
    expect(() => computePrecisionPass({ precision: 'fp16', keep: ['logits'] }).run(small(), {})).toThrow(/'logits', which are not graph inputs or outputs \(x, past, y, present\)/);
  });
});
