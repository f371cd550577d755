// Test-only ONNX writer: IR Graph → ModelProto bytes for onnxruntime-node, enough for graphs of
// standard ops with tensor types. The parity test prefers @leanformer/onnx's encodeModel when it exists.
import type { Attribute, Graph, Tensor, ValueType } from '@leanformer/core';

class W {
  private parts: number[] = [];
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) { this.parts.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
    this.parts.push(Number(x));
    return this;
  }
  tag(no: number, wire: number): this { return this.varint((no << 3) | wire); }
  int(no: number, v: number | bigint): this { return this.tag(no, 0).varint(v); }
  bytes(no: number, b: Uint8Array): this { this.tag(no, 2).varint(b.length); for (const x of b) this.parts.push(x); return this; }
  str(no: number, s: string): this { return this.bytes(no, new TextEncoder().encode(s)); }
  msg(no: number, w: W): this { return this.bytes(no, w.done()); }
  f32(no: number, v: number): this { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); this.tag(no, 5); for (const x of b) this.parts.push(x); return this; }
  done(): Uint8Array { return Uint8Array.from(this.parts); }
}

function tensor(t: Tensor, name: string): W {
  const w = new W();
  for (const d of t.shape) w.int(1, d);
  w.int(2, t.dtype.onnx).str(8, name);
  return w.bytes(9, t.bytes());
}

function valueInfo(name: string, type: ValueType | null): W {
  const w = new W().str(1, name);
  if (type && type.kind === 'tensor') {
    const tt = new W();
    if (type.dtype) tt.int(1, type.dtype.onnx);
    if (type.shape) {
      const sh = new W();
      for (const d of type.shape) sh.msg(1, typeof d === 'number' ? new W().int(1, d) : typeof d === 'string' ? new W().str(2, d) : new W());
      tt.msg(2, sh);
    }
    w.msg(2, new W().msg(1, tt));
  }
  return w;
}

function attribute(name: string, a: Attribute): W {
  const w = new W().str(1, name);
  switch (a.type) {
    case 'float': return w.f32(2, a.value).int(20, 1);
    case 'int': return w.int(3, a.value).int(20, 2);
    case 'string': return w.str(4, a.value).int(20, 3);
    case 'tensor': return w.msg(5, tensor(a.value, '')).int(20, 4);
    case 'floats': a.value.forEach((v) => w.f32(7, v)); return w.int(20, 6);
    case 'ints': a.value.forEach((v) => w.int(8, v)); return w.int(20, 7);
    case 'strings': a.value.forEach((v) => w.str(9, v)); return w.int(20, 8);
    default: throw new Error(`test writer: attribute type ${a.type} not handled`);
  }
}

/** Graph → ModelProto bytes (IR version 10). */
export function writeModel(g: Graph): Uint8Array {
  const gw = new W().str(2, g.name);
  for (const n of g.nodes) {
    const nw = new W();
    for (const v of n.inputs) nw.str(1, v?.name ?? '');
    for (const v of n.outputs) nw.str(2, v?.name ?? '');
    if (n.name) nw.str(3, n.name);
    nw.str(4, n.op);
    if (n.domain) nw.str(7, n.domain);
    for (const [k, a] of n.attrs) nw.msg(5, attribute(k, a));
    gw.msg(1, nw);
  }
  for (const [name, v] of g.initializers) gw.msg(5, tensor(v.const!, name));
  for (const v of g.inputs) if (!g.initializers.has(v.name)) gw.msg(11, valueInfo(v.name, v.type));
  for (const v of g.outputs) gw.msg(12, valueInfo(v.name, v.type));
  const mw = new W().int(1, 10);
  const opsets = new Map(g.opsets);
  if (!opsets.has('')) opsets.set('', 21);
  for (const [d, v] of opsets) mw.msg(8, new W().str(1, d).int(2, v));
  return mw.msg(7, gw).done();
}
