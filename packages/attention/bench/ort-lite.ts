// Bench-only ORT CPU backend: lowers leanformer.Attention with @leanformer/onnx's attention lowering,
// encodes the graph, and runs it on onnxruntime-node. It prefers @leanformer/onnx's encodeModel when
// that exists; until then a minimal ModelProto writer below (standard ops + com.microsoft nodes,
// tensor types, raw initializers) is enough for these graphs.
import * as ort from 'onnxruntime-node';
import { Tensor, type Attribute, type Backend, type Executor, type Graph, type ValueType } from '@leanformer/core';
import { lowerAttention, type AttentionForm } from '../../onnx/src/lowerings/attention.js';

class Pb {
  private out: number[] = [];
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    do { const b = Number(x & 0x7fn); x >>= 7n; this.out.push(x > 0n ? b | 0x80 : b); } while (x > 0n);
    return this;
  }
  key(field: number, wire: number): this { return this.varint(field * 8 + wire); }
  i(field: number, v: number | bigint): this { return this.key(field, 0).varint(v); }
  b(field: number, bytes: Uint8Array): this { this.key(field, 2).varint(bytes.length); for (let k = 0; k < bytes.length; k++) this.out.push(bytes[k]!); return this; }
  s(field: number, text: string): this { return this.b(field, new TextEncoder().encode(text)); }
  m(field: number, sub: Pb): this { return this.b(field, sub.bytes()); }
  f(field: number, v: number): this { const d = new DataView(new ArrayBuffer(4)); d.setFloat32(0, v, true); this.key(field, 5); for (let k = 0; k < 4; k++) this.out.push(d.getUint8(k)); return this; }
  bytes(): Uint8Array { return Uint8Array.from(this.out); }
}

const tensorProto = (t: Tensor, name: string): Pb => { const p = new Pb(); t.shape.forEach((d) => p.i(1, d)); return p.i(2, t.dtype.onnx).s(8, name).b(9, t.bytes()); };

function typeProto(name: string, t: ValueType | null): Pb {
  const p = new Pb().s(1, name);
  if (t?.kind !== 'tensor') return p;
  const tt = new Pb();
  if (t.dtype) tt.i(1, t.dtype.onnx);
  if (t.shape) { const sh = new Pb(); t.shape.forEach((d) => sh.m(1, typeof d === 'number' ? new Pb().i(1, d) : typeof d === 'string' ? new Pb().s(2, d) : new Pb())); tt.m(2, sh); }
  return p.m(2, new Pb().m(1, tt));
}

function attrProto(name: string, a: Attribute): Pb {
  const p = new Pb().s(1, name);
  switch (a.type) {
    case 'float': return p.f(2, a.value).i(20, 1);
    case 'int': return p.i(3, a.value).i(20, 2);
    case 'string': return p.s(4, a.value).i(20, 3);
    case 'tensor': return p.m(5, tensorProto(a.value, '')).i(20, 4);
    case 'floats': a.value.forEach((v) => p.f(7, v)); return p.i(20, 6);
    case 'ints': a.value.forEach((v) => p.i(8, v)); return p.i(20, 7);
    default: throw new Error(`ort-lite writer: attribute type ${a.type} is not written`);
  }
}

/** Minimal ModelProto writer (see the file comment). */
export function writeModelForBench(g: Graph): Uint8Array { return writeModel(g); }

function writeModel(g: Graph): Uint8Array {
  const gp = new Pb().s(2, g.name);
  for (const n of g.nodes) {
    const np = new Pb();
    n.inputs.forEach((v) => np.s(1, v?.name ?? ''));
    n.outputs.forEach((v) => np.s(2, v?.name ?? ''));
    if (n.name) np.s(3, n.name);
    np.s(4, n.op);
    if (n.domain) np.s(7, n.domain);
    for (const [k, a] of n.attrs) np.m(5, attrProto(k, a));
    gp.m(1, np);
  }
  for (const [name, v] of g.initializers) gp.m(5, tensorProto(v.const!, name));
  for (const v of g.inputs) if (!g.initializers.has(v.name)) gp.m(11, typeProto(v.name, v.type));
  for (const v of g.outputs) gp.m(12, typeProto(v.name, v.type));
  const mp = new Pb().i(1, 10);
  const opsets = new Map(g.opsets);
  if (!opsets.has('')) opsets.set('', 21);
  for (const [d, v] of opsets) mp.m(8, new Pb().s(1, d).i(2, v));
  return mp.m(7, gp).bytes();
}

async function encode(g: Graph): Promise<Uint8Array> {
  const onnx = (await import('@leanformer/onnx')) as Record<string, unknown>;
  if (typeof onnx.encodeModel === 'function') return (onnx.encodeModel as (g: Graph) => Uint8Array)(g);
  return writeModel(g);
}

/** ORT CPU as a core Backend; `form` forces the attention lowering form (default: the forms table). */
export function ortCpuBackend(o: { form?: AttentionForm; chunkSize?: number; threads?: number; ftz?: boolean } = {}): Backend {
  return {
    name: `ort-cpu${o.form ? `(${o.form})` : ''}`,
    async compile(graph: Graph): Promise<Executor> {
      for (const n of [...graph.nodes]) if (n.domain === 'leanformer' && n.op === 'Attention') lowerAttention(n, { runtime: 'ort', ep: 'cpu' }, { ...(o.form ? { form: o.form } : {}), ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}) });
      const session = await ort.InferenceSession.create(await encode(graph), { executionProviders: ['cpu'], ...(o.threads ? { intraOpNumThreads: o.threads } : {}), ...(o.ftz ? { extra: { session: { set_denormal_as_zero: '1' } } } : {}) });
      return {
        info: { backend: 'ort', device: 'cpu' },
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        async run(feeds) {
          const inputs: Record<string, ort.Tensor> = {};
          for (const [k, t] of Object.entries(feeds)) inputs[k] = new ort.Tensor(t.dtype.ort as 'float32', t.data as Float32Array, [...t.shape]);
          const res = await session.run(inputs);
          const out: Record<string, Tensor> = {};
          for (const [k, v] of Object.entries(res)) out[k] = new Tensor(v.type as 'float32', v.dims as number[], v.data as Float32Array);
          return out;
        },
        async dispose() { await session.release(); },
      };
    },
  };
}
