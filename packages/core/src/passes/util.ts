// Helpers shared by the common passes.
import { subgraphs, type Graph, type Node, type Value } from '../ir/graph.js';
import type { Attribute } from '../ir/attribute.js';
import type { Tensor } from '../tensor.js';

/** Ops whose result differs between runs: never folded or merged. */
export const NONDETERMINISTIC_OPS: ReadonlySet<string> = new Set([
  'RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'Dropout',
]);

/** True when the node's result may differ between runs with the same inputs. */
export function isNondeterministic(node: Node): boolean {
  return node.domain === '' && NONDETERMINISTIC_OPS.has(node.op);
}

/** True when the node holds subgraph attributes (If, Loop, Scan…). */
export function hasSubgraphs(node: Node): boolean {
  return subgraphs(node).length > 0;
}

/**
 * Values of enclosing graphs that the node's subgraphs read (implicit inputs), through
 * node inputs or subgraph outputs, at any depth. Values owned by the subgraphs themselves are excluded.
 */
export function implicitInputs(node: Node): Set<Value> {
  const out = new Set<Value>();
  const inner = new Set<Graph>();
  const visit = (g: Graph) => {
    inner.add(g);
    for (const n of g.nodes) for (const s of subgraphs(n)) visit(s);
  };
  for (const s of subgraphs(node)) visit(s);
  for (const g of inner) {
    for (const n of g.nodes) for (const v of n.inputs) if (v && !inner.has(v.graph)) out.add(v);
    for (const v of g.outputs) if (!inner.has(v.graph)) out.add(v);
  }
  return out;
}

/** Bytes or string content equality of two tensors (dtype and shape must match too). */
export function tensorsEqual(a: Tensor, b: Tensor): boolean {
  if (a === b) return true;
  if (a.dtype !== b.dtype || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  const la = a.lazySource?.location;
  const lb = b.lazySource?.location;
  if (la && lb && la.path === lb.path && la.offset === lb.offset && la.length === lb.length) return true;
  if (a.dtype.storage === 'string') {
    const x = a.data as string[];
    const y = b.data as string[];
    return x.every((s, i) => s === y[i]);
  }
  return bytesEqual(a.bytes(), b.bytes());
}

export function bytesEqual(x: Uint8Array, y: Uint8Array): boolean {
  if (x.byteLength !== y.byteLength) return false;
  // Compare 4 bytes at a time where both views are aligned; the tail byte by byte.
  let i = 0;
  if (x.byteOffset % 4 === 0 && y.byteOffset % 4 === 0) {
    const n = x.byteLength >>> 2;
    const a = new Uint32Array(x.buffer, x.byteOffset, n);
    const b = new Uint32Array(y.buffer, y.byteOffset, n);
    for (let k = 0; k < n; k++) if (a[k] !== b[k]) return false;
    i = n << 2;
  }
  for (; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Structural equality of two attributes; graph attributes compare by identity (callers skip them). */
export function attributesEqual(a: Attribute, b: Attribute): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case 'float': return Object.is(a.value, b.value) || a.value === b.value;
    case 'string': return a.value === b.value;
    case 'int': return a.value === b.value || BigInt(a.value) === BigInt(b.value as number | bigint);
    case 'floats': case 'ints': case 'strings': {
      const y = b.value as readonly unknown[];
      return a.value.length === y.length && a.value.every((v, i) => v === y[i] || (a.type === 'ints' && BigInt(v as number | bigint) === BigInt(y[i] as number | bigint)));
    }
    case 'tensor': return tensorsEqual(a.value, b.value as Tensor);
    case 'tensors': {
      const y = b.value as readonly Tensor[];
      return a.value.length === y.length && a.value.every((t, i) => tensorsEqual(t, y[i]!));
    }
    case 'ref': return a.value === b.value && a.refType === (b as typeof a).refType;
    default: return a.value === b.value;
  }
}

/** A stable text key of an attribute for hashing (tensors by dtype/shape only; equality is checked after). */
export function attributeKey(a: Attribute): string {
  switch (a.type) {
    case 'float': case 'int': case 'string': return `${a.type}:${String(a.value)}`;
    case 'floats': case 'ints': case 'strings': return `${a.type}:[${a.value.map(String).join(',')}]`;
    case 'tensor': return `tensor:${a.value.dtype.name}[${a.value.shape.join(',')}]`;
    default: return a.type;
  }
}

/** FNV-1a (32-bit) over bytes: a cheap first filter before an exact byte compare. */
export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Every graph reachable from `graph` through subgraph attributes, `graph` first. */
export function allGraphs(graph: Graph): Graph[] {
  const out: Graph[] = [graph];
  for (let i = 0; i < out.length; i++) for (const n of out[i]!.nodes) out.push(...subgraphs(n));
  return out;
}
