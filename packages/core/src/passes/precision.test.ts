import { describe, expect, it } from 'vitest';
import { attr, DTypes, GraphBuilder, Tensor, type Graph } from '../index.js';
import { runReference } from '../ops/evaluate.test-support.js';
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

/** `g`'s outputs by name, from core's reference kernels. */
function run(g: Graph, feeds: Record<string, Tensor>): Record<string, Float32Array> {
  const ys = runReference(g, feeds);
  return Object.fromEntries(g.outputs.map((v, i) => [v.name, ys[i]!.toFloat32()]));
}

describe('computePrecisionPass: what stays float32', () => {
  // RoPE-style angles: positions 4000…4007 times inverse frequencies, then Sin/Cos. In fp16 an angle near
  // 4000 is rounded to a multiple of 2 (|sin| error up to ~1); kept float32, only the Cast of sin/cos to
  // fp16 remains (≤ 2⁻¹¹ relative). Reference: float64 Math.sin/cos.
  it('trigonometric arguments computed from positions stay float32; sin/cos within fp16 rounding of float64', () => {
    const b = new GraphBuilder('rope');
    const pos = b.input('pos', 'int64', [8]);
    const inv = [1, 0.1, 0.01, 0.001];
    const angles = b.mul(b.unsqueeze(b.cast(pos, 'float32'), [1]), b.constant(Tensor.from('float32', [4], inv)));
    b.output(b.sin(angles), 'sin');
    b.output(b.cos(angles), 'cos');
    const g = b.build();
    computePrecisionPass({ precision: 'fp16' }).run(g, {});
    expect(g.nodes.find((n) => n.op === 'Sin')!.inputs[0]!.dtype).toBe(DTypes.float32);
    expect(g.outputs.map((v) => v.dtype)).toEqual([DTypes.float16, DTypes.float16]);
    const p = Array.from({ length: 8 }, (_, i) => 4000 + i);
    const y = run(g, { pos: Tensor.from('int64', [8], p.map(BigInt)) });
    let worst = 0;
    p.forEach((t, i) => inv.forEach((f, j) => {
      const a = Math.fround(Math.fround(t) * Math.fround(f));
      worst = Math.max(worst, Math.abs(y.sin![i * 4 + j]! - Math.sin(a)), Math.abs(y.cos![i * 4 + j]! - Math.cos(a)));
    }));
    expect(worst).toBeLessThan(1e-3);
  });

  // RMSNorm of activations around 1000 (real checkpoints' residual streams reach thousands): x² = 1e6
  // overflows fp16 (max 65504), so a 16-bit mean square is inf and the output 0. Kept float32: the
  // output is within fp16 rounding of the float64 RMSNorm.
  it('RMSNorm statistics stay float32: activations of 1000 normalize without overflow', () => {
    const b = new GraphBuilder('rms');
    const x = b.input('x', 'float32', [2, 4]);
    b.output(b.rmsNorm(x, b.param('w', Tensor.from('float32', [4], [1, 1, 1, 1])), { epsilon: 1e-6 }), 'y');
    const g = b.build();
    computePrecisionPass({ precision: 'fp16', keep: ['x', 'y'] }).run(g, {});
    expect(g.nodes.find((n) => n.op === 'Pow')!.outputs[0]!.dtype).toBe(DTypes.float32);
    expect(g.nodes.find((n) => n.op === 'Div')!.inputs.map((v) => v!.dtype)).toEqual([DTypes.float16, DTypes.float16]);
    const xs = [1000, -2000, 1500, 500, 3, -4, 1, 2];
    const y = run(g, { x: Tensor.from('float32', [2, 4], xs) }).y!;
    for (let r = 0; r < 2; r++) {
      const row = xs.slice(r * 4, r * 4 + 4);
      const rms = Math.sqrt(row.reduce((a, v) => a + v * v, 0) / 4 + 1e-6);
      row.forEach((v, i) => expect(Math.abs(y[r * 4 + i]! - v / rms)).toBeLessThan(2e-3 * Math.max(1, Math.abs(v / rms))));
    }
  });

  it('float32Ops: the named ops compute in float32 between Casts; everything else is 16-bit', () => {
    const b = new GraphBuilder('ops');
    const x = b.input('x', 'float32', [3]);
    b.output(b.mul(b.op('Sigmoid', [b.add(x, x)]), x), 'y');
    const g = b.build();
    computePrecisionPass({ precision: 'bf16', float32Ops: ['Sigmoid'] }).run(g, {});
    const sig = g.nodes.find((n) => n.op === 'Sigmoid')!;
    expect([sig.inputs[0]!.dtype, sig.outputs[0]!.dtype]).toEqual([DTypes.float32, DTypes.float32]);
    expect(sig.inputs[0]!.producer!.op).toBe('Cast');
    expect(sig.outputs[0]!.uses.map((u) => u.node.op)).toEqual(['Cast']);
    expect(g.nodes.find((n) => n.op === 'Mul')!.inputs.map((v) => v!.dtype)).toEqual([DTypes.bfloat16, DTypes.bfloat16]);
    const y = run(g, { x: Tensor.from('bfloat16', [3], [0.5, -1, 2]) }).y!;
    [0.5, -1, 2].forEach((v, i) => expect(y[i]).toBeCloseTo(v / (1 + Math.exp(-2 * v)), 2));
  });
});
