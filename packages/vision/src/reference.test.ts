import { describe, expect, it } from 'vitest';
import { GraphBuilder, rng, Tensor, type Graph } from '@leanformer/core';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';
import { attentionBiasIndex, localWindowAttention } from './efficientvit.js';
import { fasterNetBlock } from './fasternet.js';
import { markConstants } from './timm-layers.js';

/*
 * Blocks against independent float64 references written straight from timm's forward code
 * (loops over NCHW arrays), run on tfjs-cpu. Every initializer gets seeded random values first
 * (BN variances positive) so no branch is zero-initialised away.
 */

type Arr = Float64Array;
const TOL = 1e-4;

function randomize(graph: Graph, seed: number): void {
  let s = seed >>> 0;
  const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
  for (const v of graph.initializers.values()) {
    if (v.meta.get('leanformer.param') === false) continue;
    const t = v.const!;
    const isVar = v.name.endsWith('running_var');
    const data = new Float32Array(t.size).map(() => (isVar ? 0.5 + rnd() : rnd() * 2 - 1) * (v.name.endsWith('weight') && t.shape.length > 1 ? 0.5 : 1));
    graph.setInitializer(v, new Tensor('float32', t.shape, data));
  }
}

const get = (g: Graph, name: string): Arr => {
  const v = g.initializers.get(name);
  if (!v) throw new Error(`no initializer ${name}`);
  return v.const!.toFloat64();
};

/** conv2d on [C, H, W] (one image): weight [O, C/g, k, k], zero padding. */
function conv(x: Arr, c: number, h: number, w: number, wt: Arr, o: number, k: number, stride: number, pad: number, groups: number): { y: Arr; h: number; w: number } {
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  const cg = c / groups, og = o / groups;
  const y = new Float64Array(o * oh * ow);
  for (let oc = 0; oc < o; oc++) {
    const g = Math.floor(oc / og);
    for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
      let acc = 0;
      for (let ic = 0; ic < cg; ic++) for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) {
        const yy = i * stride + a - pad, xx = j * stride + b - pad;
        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        acc += x[(g * cg + ic) * h * w + yy * w + xx]! * wt[((oc * cg + ic) * k + a) * k + b]!;
      }
      y[oc * oh * ow + i * ow + j] = acc;
    }
  }
  return { y, h: oh, w: ow };
}

function bn(x: Arr, c: number, g: Graph, p: string): Arr {
  const [sc, bi, mu, va] = ['weight', 'bias', 'running_mean', 'running_var'].map((n) => get(g, `${p}.${n}`)) as [Arr, Arr, Arr, Arr];
  const hw = x.length / c;
  return x.map((v, i) => { const ch = Math.floor(i / hw); return (v - mu[ch]!) / Math.sqrt(va[ch]! + 1e-5) * sc[ch]! + bi[ch]!; });
}

function convNorm(x: Arr, c: number, h: number, w: number, g: Graph, p: string, o: number, k: number, pad: number, groups: number): Arr {
  return bn(conv(x, c, h, w, get(g, `${p}.conv.weight`), o, k, 1, pad, groups).y, o, g, `${p}.bn`);
}

/** timm CascadedGroupAttention.forward on one window [C, r, r]. */
function cgaRef(x: Arr, g: Graph, p: string, dim: number, kd: number, nh: number, vd: number, r: number, kernels: number[]): Arr {
  const n = r * r;
  const { index } = attentionBiasIndex(r);
  const biases = get(g, `${p}.attention_biases`);
  const offsets = biases.length / nh;
  const cin = dim / nh;
  const outs: Arr[] = [];
  let feat = x.slice(0, cin * n);
  for (let i = 0; i < nh; i++) {
    if (i > 0) feat = feat.map((v, j) => v + x[i * cin * n + j]!);
    const qkv = convNorm(feat, cin, r, r, g, `${p}.qkvs.${i}`, 2 * kd + vd, 1, 0, 1);
    const q = convNorm(qkv.slice(0, kd * n), kd, r, r, g, `${p}.dws.${i}`, kd, kernels[i]!, Math.floor(kernels[i]! / 2), kd);
    const k = qkv.slice(kd * n, 2 * kd * n);
    const v = qkv.slice(2 * kd * n);
    const out = new Float64Array(vd * n);
    for (let a = 0; a < n; a++) {
      const row = new Float64Array(n);
      for (let b = 0; b < n; b++) {
        let s = 0;
        for (let c = 0; c < kd; c++) s += q[c * n + a]! * k[c * n + b]!;
        row[b] = s * kd ** -0.5 + biases[i * offsets + Number(index[a * n + b])]!;
      }
      const m = Math.max(...row);
      const e = row.map((z) => Math.exp(z - m));
      const z = e.reduce((s2, t) => s2 + t, 0);
      for (let c = 0; c < vd; c++) {
        let s = 0;
        for (let b = 0; b < n; b++) s += v[c * n + b]! * e[b]! / z;
        out[c * n + a] = s;
      }
    }
    outs.push(out);
    feat = out;
  }
  const cat = new Float64Array(vd * nh * n);
  outs.forEach((o, i) => cat.set(o.map((t) => Math.max(0, t)), i * vd * n));
  return convNorm(cat, vd * nh, r, r, g, `${p}.proj.1`, dim, 1, 0, 1);
}

async function runTfjs(graph: Graph, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const exe = await createTfjsBackend('cpu').compile(graph);
  const out = await exe.run({ [graph.inputs[0]!.name]: new Tensor('float32', shape, x) });
  await exe.dispose();
  return Object.values(out)[0]!.toFloat32();
}

function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('blocks vs float64 references (tfjs-cpu)', () => {
  it('local window attention with padding (5×5 map, window 3) matches timm\'s CGA forward', async () => {
    const [C, H, W, win] = [8, 5, 5, 3];
    const b = new GraphBuilder('lwa', { opset: 17 });
    const x = b.input('x', 'float32', [1, C, H, W]);
    b.output(localWindowAttention(b, x, { prefix: 'attn', rng: rng(0), dim: C, keyDim: 2, numHeads: 2, attnRatio: 2, window: win, kernels: [3, 1] }), 'y');
    markConstants(b);
    const net = { graph: b.build() };
    randomize(net.graph, 11);
    const input = Float32Array.from({ length: C * H * W }, (_, i) => Math.sin(i * 0.37));
    const got = await runTfjs(net.graph, input, [1, C, H, W]);
    // Reference: zero-pad to 6×6, attend each 3×3 window, crop.
    const P = 6;
    const padded = new Float64Array(C * P * P);
    for (let c = 0; c < C; c++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) padded[c * P * P + i * P + j] = input[c * H * W + i * W + j]!;
    const want = new Float64Array(C * H * W);
    for (let wy = 0; wy < 2; wy++) for (let wx = 0; wx < 2; wx++) {
      const win3 = new Float64Array(C * 9);
      for (let c = 0; c < C; c++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) win3[c * 9 + i * 3 + j] = padded[c * P * P + (wy * 3 + i) * P + wx * 3 + j]!;
      const y = cgaRef(win3, net.graph, 'attn.attn', C, 2, 2, 4, 3, [3, 1]);
      for (let c = 0; c < C; c++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
        const yy = wy * 3 + i, xx = wx * 3 + j;
        if (yy < H && xx < W) want[c * H * W + yy * W + xx] = y[c * 9 + i * 3 + j]!;
      }
    }
    expect(maxErr(got, want)).toBeLessThan(TOL * Math.max(1, ...Array.from(want, Math.abs)));
  });

  it('FasterNet block (PConv on C/4 channels + MLP) matches timm\'s forward', async () => {
    const [C, H, W] = [8, 4, 4];
    const b = new GraphBuilder('fb', { opset: 17 });
    const x = b.input('x', 'float32', [1, C, H, W]);
    b.output(fasterNetBlock(b, x, { prefix: 'blk', rng: rng(0), nDiv: 4, mlpRatio: 2, act: 'gelu' }), 'y');
    markConstants(b);
    const net = { graph: b.build() };
    randomize(net.graph, 5);
    const input = Float32Array.from({ length: C * H * W }, (_, i) => Math.cos(i * 0.21));
    const got = await runTfjs(net.graph, input, [1, C, H, W]);
    const g = net.graph;
    const xin = Float64Array.from(input);
    const cp = C / 4;
    const mixed = xin.slice();
    mixed.set(conv(xin.slice(0, cp * H * W), cp, H, W, get(g, 'blk.spatial_mixing.partial_conv3.weight'), cp, 3, 1, 1, 1).y, 0);
    let h = conv(mixed, C, H, W, get(g, 'blk.mlp.0.weight'), 2 * C, 1, 1, 0, 1).y;
    const erf = (z: number) => { // Numerical Recipes' Chebyshev erfc fit, |error| < 1.2e-7
      const t = 1 / (1 + 0.5 * Math.abs(z));
      const y = 1 - t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
      return z >= 0 ? y : -y;
    };
    h = bn(h, 2 * C, g, 'blk.mlp.1').map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
    const y = conv(h, 2 * C, H, W, get(g, 'blk.mlp.3.weight'), C, 1, 1, 0, 1).y.map((v, i) => v + xin[i]!);
    expect(maxErr(got, y)).toBeLessThan(TOL * Math.max(1, ...Array.from(y, Math.abs)));
  });
});
