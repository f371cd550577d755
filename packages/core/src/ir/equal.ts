import type { Tensor } from '../tensor.js';
import type { Attribute, AttributeMap, OpaqueBytes } from './attribute.js';
import type { FunctionDef, Graph, ModelInfo, Node, Value } from './graph.js';
import { formatType, typesEqual, type ValueType } from './types.js';

/**
 * True when two graphs are the same model: everything an ONNX round trip must preserve
 * (see `graphDiff`). `meta` maps are not compared.
 *
 * @example
 * ```ts
 * graphsEqual(g, cloneGraph(g)); // true
 * ```
 */
export function graphsEqual(a: Graph, b: Graph): boolean {
  return graphDiff(a, b) === null;
}

/**
 * The first difference between two graphs, as a readable path, or null when they are equal.
 * Compared: names, doc strings, opsets, model info (functions, training info), metadata,
 * inputs/outputs and their types, initializers (dtype, shape, bytes), value types, node order,
 * op/domain/name/overload, attributes (deeply: tensors by bytes, subgraphs recursively),
 * input/output names including omitted (null) ones, opaque messages.
 * Floats are compared at float32 precision (what ONNX stores); ints compare across number/bigint.
 *
 * @example
 * ```ts
 * graphDiff(a, b); // "graph 'main': node 3 (Conv): attribute 'pads' differs: [0, 0] vs [1, 1]"
 * ```
 */
export function graphDiff(a: Graph, b: Graph): string | null {
  try {
    diffGraph(a, b, `graph '${a.name}'`);
    return null;
  } catch (e) {
    if (e instanceof Difference) return e.message;
    throw e;
  }
}

class Difference extends Error {}

function fail(where: string, what: string): never {
  throw new Difference(`${where}: ${what}`);
}

function same(where: string, what: string, x: unknown, y: unknown): void {
  if (x !== y) fail(where, `${what} differs: ${show(x)} vs ${show(y)}`);
}

function show(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 80 ? `${x.slice(0, 80)}…` : x);
  if (typeof x === 'bigint') return `${x}n`;
  if (Array.isArray(x)) return `[${x.slice(0, 16).map(show).join(', ')}${x.length > 16 ? ', …' : ''}]`;
  if (x instanceof Map) return show([...x].map(([k, v]) => `${k}=${String(v)}`));
  return String(x);
}

function diffMap<V>(where: string, what: string, x: ReadonlyMap<string, V>, y: ReadonlyMap<string, V>, eq: (p: V, q: V) => boolean = (p, q) => p === q): void {
  for (const [k, v] of x) {
    if (!y.has(k)) fail(where, `${what} '${k}' is missing on the right`);
    if (!eq(v, y.get(k)!)) fail(where, `${what} '${k}' differs: ${show(v)} vs ${show(y.get(k))}`);
  }
  for (const k of y.keys()) if (!x.has(k)) fail(where, `${what} '${k}' is missing on the left`);
}

function diffGraph(a: Graph, b: Graph, where: string): void {
  same(where, 'name', a.name, b.name);
  same(where, 'doc string', a.docString, b.docString);
  diffMap(where, 'opset', a.opsets, b.opsets);
  diffMap(where, 'metadata', a.metadataProps, b.metadataProps);
  if (!!a.model !== !!b.model) fail(where, `model info is ${a.model ? 'present' : 'absent'} on the left and ${b.model ? 'present' : 'absent'} on the right`);
  if (a.model && b.model) diffModel(a.model, b.model, `${where}: model`);
  diffBytesList(where, 'sparse initializer', a.opaque.sparseInitializers, b.opaque.sparseInitializers);
  diffBytesList(where, 'quantization annotation', a.opaque.quantizationAnnotations, b.opaque.quantizationAnnotations);

  same(where, 'input count', a.inputs.length, b.inputs.length);
  a.inputs.forEach((v, i) => diffValue(v, b.inputs[i]!, `${where}: input ${i}`, true));
  same(where, 'output count', a.outputs.length, b.outputs.length);
  a.outputs.forEach((v, i) => diffValue(v, b.outputs[i]!, `${where}: output ${i}`, true));

  same(where, 'initializer count', a.initializers.size, b.initializers.size);
  for (const [name, v] of a.initializers) {
    const w = b.initializers.get(name);
    if (!w) fail(where, `initializer '${name}' is missing on the right`);
    diffValue(v, w, `${where}: initializer '${name}'`, false);
    diffTensor(v.const!, w.const!, `${where}: initializer '${name}'`);
  }

  same(where, 'node count', a.nodes.length, b.nodes.length);
  a.nodes.forEach((n, i) => diffNode(n, b.nodes[i]!, `${where}: node ${i} (${n.qualifiedOp})`));
}

function diffValue(v: Value, w: Value, where: string, checkInit: boolean): void {
  same(where, 'name', v.name, w.name);
  if (!typesEqual(v.type, w.type)) fail(where, `type differs: ${formatType(v.type)} vs ${formatType(w.type)}`);
  same(where, 'doc string', v.docString, w.docString);
  if (checkInit) same(where, 'is-initializer', v.isInitializer, w.isInitializer);
}

function diffNode(n: Node, m: Node, where: string): void {
  same(where, 'op', n.op, m.op);
  same(where, 'domain', n.domain, m.domain);
  same(where, 'name', n.name, m.name);
  same(where, 'overload', n.overload, m.overload);
  same(where, 'doc string', n.docString, m.docString);
  diffMap(where, 'metadata', n.metadataProps, m.metadataProps);
  same(where, 'input count', n.inputs.length, m.inputs.length);
  n.inputs.forEach((v, i) => {
    const w = m.inputs[i]!;
    same(where, `input ${i}`, v?.name ?? null, w?.name ?? null);
    if (v && w && !typesEqual(v.type, w.type)) fail(where, `input ${i} '${v.name}' type differs: ${formatType(v.type)} vs ${formatType(w.type)}`);
  });
  same(where, 'output count', n.outputs.length, m.outputs.length);
  n.outputs.forEach((v, i) => {
    const w = m.outputs[i]!;
    same(where, `output ${i}`, v?.name ?? null, w?.name ?? null);
    if (v && w) diffValue(v, w, `${where}: output ${i}`, false);
  });
  diffAttributes(n.attrs, m.attrs, where);
}

function diffAttributes(x: AttributeMap, y: AttributeMap, where: string): void {
  for (const [k, a] of x) {
    const b = y.get(k);
    if (!b) fail(where, `attribute '${k}' is missing on the right`);
    diffAttribute(a, b, where, `attribute '${k}'`);
  }
  for (const k of y.keys()) if (!x.has(k)) fail(where, `attribute '${k}' is missing on the left`);
}

function diffAttribute(a: Attribute & { docString?: string }, b: Attribute & { docString?: string }, parent: string, label: string): void {
  const where = `${parent}: ${label}`;
  same(where, 'type', a.type, b.type);
  same(where, 'doc string', a.docString ?? '', b.docString ?? '');
  const differs = (): never => fail(parent, `${label} differs: ${showAttr(a)} vs ${showAttr(b)}`);
  switch (a.type) {
    case 'float': if (!floatEq(a.value, b.value as number)) differs(); return;
    case 'int': if (!intEq(a.value, b.value as number | bigint)) differs(); return;
    case 'string': if (a.value !== b.value) differs(); return;
    case 'tensor': diffTensor(a.value, b.value as Tensor, where); return;
    case 'graph': diffGraph(a.value, b.value as Graph, `${where}: graph '${a.value.name}'`); return;
    case 'sparse_tensor': if (!bytesEq(a.value.opaque, (b.value as OpaqueBytes).opaque)) differs(); return;
    case 'type_proto': if (!typesEqual(a.value, b.value as ValueType | null)) differs(); return;
    case 'floats': if (!listEq(a.value, b.value as number[], floatEq)) differs(); return;
    case 'ints': if (!listEq(a.value, b.value as (number | bigint)[], intEq)) differs(); return;
    case 'strings': if (!listEq(a.value, b.value as string[], (p, q) => p === q)) differs(); return;
    case 'tensors': {
      const bs = b.value as Tensor[];
      same(where, 'tensor count', a.value.length, bs.length);
      a.value.forEach((t, i) => diffTensor(t, bs[i]!, `${where}: tensor ${i}`));
      return;
    }
    case 'graphs': {
      const bs = b.value as Graph[];
      same(where, 'graph count', a.value.length, bs.length);
      a.value.forEach((sg, i) => diffGraph(sg, bs[i]!, `${where}: graph ${i} '${sg.name}'`));
      return;
    }
    case 'sparse_tensors': if (!listEq(a.value, b.value as OpaqueBytes[], (p, q) => bytesEq(p.opaque, q.opaque))) differs(); return;
    case 'type_protos': if (!listEq(a.value, b.value as (ValueType | null)[], typesEqual)) differs(); return;
    case 'ref': if (a.value !== b.value || a.refType !== (b as typeof a).refType) differs(); return;
  }
}

function showAttr(a: Attribute): string {
  switch (a.type) {
    case 'type_proto': return formatType(a.value);
    case 'type_protos': return show(a.value.map(formatType));
    case 'sparse_tensor': return `<${a.value.opaque.byteLength} bytes>`;
    case 'sparse_tensors': return `<${a.value.length} sparse tensors>`;
    case 'ref': return `@${a.value} (${a.refType})`;
    default: return show(a.value);
  }
}

function diffTensor(s: Tensor, t: Tensor, where: string): void {
  if (s === t) return;
  same(where, 'dtype', s.dtype.name, t.dtype.name);
  if (s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i])) fail(where, `shape differs: [${s.shape.join(', ')}] vs [${t.shape.join(', ')}]`);
  const ls = s.lazySource?.location;
  const lt = t.lazySource?.location;
  if (ls && lt && !s.isLoaded && !t.isLoaded && ls.path === lt.path && ls.offset === lt.offset && ls.length === lt.length) return;
  if (s.dtype.storage === 'string') {
    const x = s.data as string[];
    const y = t.data as string[];
    const i = x.findIndex((v, k) => v !== y[k]);
    if (i >= 0) fail(where, `string element ${i} differs: ${show(x[i])} vs ${show(y[i])}`);
    return;
  }
  const x = s.bytes();
  const y = t.bytes();
  const i = firstByteDifference(x, y);
  if (i >= 0) fail(where, `tensor bytes differ at byte ${i} of ${x.byteLength}`);
}

function firstByteDifference(x: Uint8Array, y: Uint8Array): number {
  if (x.byteLength !== y.byteLength) return Math.min(x.byteLength, y.byteLength);
  const n = x.byteLength;
  let i = 0;
  // Compare 4 bytes at a time when both views allow it (most tensors are aligned).
  if (x.byteOffset % 4 === 0 && y.byteOffset % 4 === 0) {
    const p = new Uint32Array(x.buffer, x.byteOffset, n >>> 2);
    const q = new Uint32Array(y.buffer, y.byteOffset, n >>> 2);
    let k = 0;
    while (k < p.length && p[k] === q[k]) k++;
    i = k * 4;
  }
  for (; i < n; i++) if (x[i] !== y[i]) return i;
  return -1;
}

function bytesEq(x: Uint8Array, y: Uint8Array): boolean {
  return firstByteDifference(x, y) < 0;
}

function diffBytesList(where: string, what: string, x: readonly Uint8Array[], y: readonly Uint8Array[]): void {
  same(where, `${what} count`, x.length, y.length);
  x.forEach((b, i) => { if (!bytesEq(b, y[i]!)) fail(where, `${what} ${i} differs`); });
}

function floatEq(p: number, q: number): boolean {
  return Object.is(Math.fround(p), Math.fround(q));
}

function intEq(p: number | bigint, q: number | bigint): boolean {
  if (typeof p === 'number' && typeof q === 'number') return p === q;
  const toBig = (v: number | bigint): bigint | number => (typeof v === 'bigint' ? v : Number.isInteger(v) ? BigInt(v) : v);
  return toBig(p) === toBig(q);
}

function listEq<T>(x: readonly T[], y: readonly T[], eq: (p: T, q: T) => boolean): boolean {
  return x.length === y.length && x.every((v, i) => eq(v, y[i]!));
}

function diffModel(a: ModelInfo, b: ModelInfo, where: string): void {
  same(where, 'IR version', a.irVersion, b.irVersion);
  same(where, 'producer name', a.producerName, b.producerName);
  same(where, 'producer version', a.producerVersion, b.producerVersion);
  same(where, 'domain', a.domain, b.domain);
  same(where, 'model version', a.modelVersion, b.modelVersion);
  same(where, 'doc string', a.docString, b.docString);
  diffMap(where, 'metadata', a.metadataProps, b.metadataProps);
  diffBytesList(where, 'training info', a.trainingInfo, b.trainingInfo);
  same(where, 'function count', a.functions.length, b.functions.length);
  a.functions.forEach((f, i) => diffFunction(f, b.functions[i]!, `${where}: function ${i} (${f.domain ? `${f.domain}::` : ''}${f.name})`));
}

function diffFunction(f: FunctionDef, g: FunctionDef, where: string): void {
  same(where, 'domain', f.domain, g.domain);
  same(where, 'name', f.name, g.name);
  same(where, 'overload', f.overload, g.overload);
  same(where, 'doc string', f.docString, g.docString);
  if (!listEq(f.attributes, g.attributes, (p, q) => p === q)) fail(where, `attribute names differ: ${show(f.attributes)} vs ${show(g.attributes)}`);
  diffAttributes(f.attributeDefaults, g.attributeDefaults, `${where}: attribute defaults`);
  diffMap(where, 'opset', f.opsets, g.opsets);
  diffMap(where, 'metadata', f.metadataProps, g.metadataProps);
  diffGraph(f.body, g.body, `${where}: body`);
}
