// Test-only ONNX reader: just enough of ModelProto/TensorProto to load the ONNX node-test
// cases into the IR. It stands in while @leanformer/onnx's decoder is not available; the
// conformance test prefers @leanformer/onnx's decodeModel/decodeTensor when they exist.
import { attr, dtypeFromOnnx, Graph, Tensor, tensorType, type Attribute, type Dim, type ValueType } from '@leanformer/core';

type Field = { no: number; wire: number; v: bigint | Uint8Array };

function* fields(b: Uint8Array): Generator<Field> {
  let p = 0;
  const varint = (): bigint => {
    let r = 0n, s = 0n;
    for (;;) { const x = b[p++]!; r |= BigInt(x & 0x7f) << s; if (!(x & 0x80)) return r; s += 7n; }
  };
  while (p < b.length) {
    const key = Number(varint());
    const no = key >>> 3, wire = key & 7;
    if (wire === 0) yield { no, wire, v: varint() };
    else if (wire === 2) { const n = Number(varint()); yield { no, wire, v: b.subarray(p, p + n) }; p += n; }
    else if (wire === 5) { yield { no, wire, v: b.subarray(p, p + 4) }; p += 4; }
    else if (wire === 1) { yield { no, wire, v: b.subarray(p, p + 8) }; p += 8; }
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

const str = (v: Uint8Array) => new TextDecoder().decode(v);
const int = (v: bigint) => BigInt.asIntN(64, v);
function packedVarints(f: Field): bigint[] {
  if (f.wire === 0) return [int(f.v as bigint)];
  return [...fields(prefixVarints(f.v as Uint8Array))].map((x) => int(x.v as bigint));
}
// Re-wrap packed varints as field-1 varints so `fields` can walk them.
function prefixVarints(b: Uint8Array): Uint8Array {
  const out: number[] = [];
  let p = 0;
  while (p < b.length) { out.push(8); do { out.push(b[p]!); } while (b[p++]! & 0x80); }
  return new Uint8Array(out);
}
function packedFixed(f: Field, size: 4 | 8, kind: 'f32' | 'f64'): number[] {
  const u = f.v as Uint8Array;
  const dv = new DataView(u.buffer, u.byteOffset, u.byteLength);
  const out: number[] = [];
  for (let i = 0; i + size <= u.byteLength; i += size) out.push(kind === 'f32' ? dv.getFloat32(i, true) : dv.getFloat64(i, true));
  return out;
}

/** TensorProto → {name, tensor}. */
export function readTensor(b: Uint8Array): { name: string; tensor: Tensor } {
  const dims: number[] = [];
  let dt = 1, name = '', raw: Uint8Array | undefined;
  const floats: number[] = [], ints: bigint[] = [], doubles: number[] = [], strings: string[] = [];
  for (const f of fields(b)) {
    if (f.no === 1) dims.push(...packedVarints(f).map(Number));
    else if (f.no === 2) dt = Number(f.v);
    else if (f.no === 4) floats.push(...(f.wire === 5 ? packedFixed(f, 4, 'f32') : packedFixed(f, 4, 'f32')));
    else if (f.no === 5 || f.no === 7 || f.no === 11) ints.push(...packedVarints(f));
    else if (f.no === 6) strings.push(str(f.v as Uint8Array));
    else if (f.no === 8) name = str(f.v as Uint8Array);
    else if (f.no === 9) raw = f.v as Uint8Array;
    else if (f.no === 10) doubles.push(...packedFixed(f, 8, 'f64'));
  }
  const t = dtypeFromOnnx(dt);
  if (raw) return { name, tensor: Tensor.fromBytes(t, dims, raw.slice()) };
  if (t.storage === 'string') return { name, tensor: Tensor.from(t, dims, strings) };
  const n = dims.reduce((a, c) => a * c, 1);
  if (t.name === 'float32') return { name, tensor: Tensor.from(t, dims, floats) };
  if (t.name === 'float64') return { name, tensor: Tensor.from(t, dims, doubles) };
  if (t.isBitPattern && t.bits === 16) return { name, tensor: new Tensor(t, dims, Uint16Array.from(ints.map(Number))) };
  if (t.isBitPattern || t.isPacked) return { name, tensor: Tensor.fromBytes(t, dims, Uint8Array.from(ints.map(Number)).slice(0, Math.ceil((n * t.bits) / 8))) };
  if (t.name === 'int64' || t.name === 'uint64') return { name, tensor: Tensor.from(t, dims, ints.map((v) => (t.name === 'uint64' ? BigInt.asUintN(64, v) : v))) };
  return { name, tensor: Tensor.from(t, dims, ints.map(Number)) };
}

function readType(b: Uint8Array): ValueType | null {
  for (const f of fields(b)) {
    if (f.no === 4) return { kind: 'sequence', elem: null };
    if (f.no === 5) return { kind: 'map', key: dtypeFromOnnx(1), value: null };
    if (f.no === 9) return { kind: 'optional', elem: null };
    if (f.no !== 1) return null;
    let dt: number | null = null, shape: Dim[] | null = null;
    for (const g of fields(f.v as Uint8Array)) {
      if (g.no === 1) dt = Number(g.v);
      else if (g.no === 2) {
        shape = [];
        for (const d of fields(g.v as Uint8Array)) {
          if (d.no !== 1) continue;
          let dim: Dim = null;
          for (const x of fields(d.v as Uint8Array)) dim = x.no === 1 ? Number(x.v) : x.no === 2 ? str(x.v as Uint8Array) : dim;
          shape.push(dim);
        }
      }
    }
    return tensorType(dt ? dtypeFromOnnx(dt) : null, shape);
  }
  return null;
}

function readValueInfo(b: Uint8Array): { name: string; type: ValueType | null } {
  let name = '', type: ValueType | null = null;
  for (const f of fields(b)) { if (f.no === 1) name = str(f.v as Uint8Array); else if (f.no === 2) type = readType(f.v as Uint8Array); }
  return { name, type };
}

function readAttribute(b: Uint8Array, g: Graph): [string, Attribute] {
  let name = '', type = 0;
  let f1: number | undefined, i1: bigint | undefined, s1: Uint8Array | undefined, t1: Tensor | undefined, g1: Graph | undefined;
  const floats: number[] = [], ints: bigint[] = [], strings: string[] = [];
  for (const f of fields(b)) {
    if (f.no === 1) name = str(f.v as Uint8Array);
    else if (f.no === 2) f1 = packedFixed(f, 4, 'f32')[0];
    else if (f.no === 3) i1 = int(f.v as bigint);
    else if (f.no === 4) s1 = f.v as Uint8Array;
    else if (f.no === 5) t1 = readTensor(f.v as Uint8Array).tensor;
    else if (f.no === 6) g1 = readGraph(f.v as Uint8Array, g);
    else if (f.no === 7) floats.push(...packedFixed(f, 4, 'f32'));
    else if (f.no === 8) ints.push(...packedVarints(f));
    else if (f.no === 9) strings.push(str(f.v as Uint8Array));
    else if (f.no === 20) type = Number(f.v);
  }
  const small = (v: bigint) => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
  switch (type) {
    case 1: return [name, attr.float(f1 ?? 0)];
    case 2: return [name, attr.int(small(i1 ?? 0n))];
    case 3: return [name, attr.string(s1 ? str(s1) : '')];
    case 4: return [name, attr.tensor(t1!)];
    case 5: return [name, attr.graph(g1!)];
    case 6: return [name, attr.floats(floats)];
    case 7: return [name, attr.ints(ints.map(small))];
    case 8: return [name, attr.strings(strings)];
    default: throw new Error(`attribute '${name}': type ${type} not handled by the test reader`);
  }
}

function readGraph(b: Uint8Array, parent?: Graph): Graph {
  const g = new Graph('graph', parent);
  const nodes: Uint8Array[] = [], inits: Uint8Array[] = [], inputs: Uint8Array[] = [], outputs: Uint8Array[] = [], infos: Uint8Array[] = [];
  for (const f of fields(b)) {
    if (f.no === 1) nodes.push(f.v as Uint8Array);
    else if (f.no === 2) g.name = str(f.v as Uint8Array);
    else if (f.no === 5) inits.push(f.v as Uint8Array);
    else if (f.no === 11) inputs.push(f.v as Uint8Array);
    else if (f.no === 12) outputs.push(f.v as Uint8Array);
    else if (f.no === 13) infos.push(f.v as Uint8Array);
  }
  for (const t of inits) { const { name, tensor } = readTensor(t); g.addInitializer(name, tensor); }
  for (const i of inputs) {
    const { name, type } = readValueInfo(i);
    const existing = g.initializers.get(name);
    if (existing) g.inputs.push(existing);
    else g.addInput(name, type);
  }
  const types = new Map([...infos, ...outputs].map((x) => { const v = readValueInfo(x); return [v.name, v.type] as const; }));
  for (const nb of nodes) {
    let op = '', domain = '', name = '';
    const ins: string[] = [], outs: string[] = [], attrs: Record<string, Attribute> = {};
    for (const f of fields(nb)) {
      if (f.no === 1) ins.push(str(f.v as Uint8Array));
      else if (f.no === 2) outs.push(str(f.v as Uint8Array));
      else if (f.no === 3) name = str(f.v as Uint8Array);
      else if (f.no === 4) op = str(f.v as Uint8Array);
      else if (f.no === 7) domain = str(f.v as Uint8Array);
      else if (f.no === 5) { const [k, a] = readAttribute(f.v as Uint8Array, g); attrs[k] = a; }
    }
    const node = g.addNode({ op, domain, name, inputs: ins.map((n) => (n === '' ? null : g.value(n))), outputs: outs.map((n) => (n === '' ? null : n)), attrs });
    for (const o of node.outputs) if (o && types.has(o.name)) o.type = types.get(o.name)!;
  }
  for (const o of outputs) g.addOutput(g.value(readValueInfo(o).name));
  return g;
}

/** ModelProto → Graph (opsets set; functions and training info ignored). */
export function readModel(b: Uint8Array): Graph {
  let graph: Graph | undefined;
  const opsets: [string, number][] = [];
  for (const f of fields(b)) {
    if (f.no === 7) graph = readGraph(f.v as Uint8Array);
    else if (f.no === 8) {
      let domain = '', version = 0;
      for (const x of fields(f.v as Uint8Array)) { if (x.no === 1) domain = str(x.v as Uint8Array); else if (x.no === 2) version = Number(x.v); }
      opsets.push([domain, version]);
    }
  }
  if (!graph) throw new Error('model has no graph');
  for (const [d, v] of opsets) graph.opsets.set(d === 'ai.onnx' ? '' : d, v);
  return graph;
}
