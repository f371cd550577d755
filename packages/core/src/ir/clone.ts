import type { Attribute, AttributeMap } from './attribute.js';
import { Graph, type FunctionDef, type ModelInfo, type Node, type Value } from './graph.js';

/**
 * Deep copy of a graph: nodes, values (names, types, doc strings), initializers, attributes
 * (subgraphs are cloned with the new graph as their parent), opsets, model info (functions
 * included), metadata and opaque messages. Tensors are shared, not copied: they are immutable
 * by contract. `meta` maps are copied shallowly (the entries themselves are shared).
 *
 * Values of enclosing graphs that a subgraph uses stay the original values when the enclosing
 * graph is not part of the copy (cloning a subgraph on its own keeps its parent).
 *
 * @example
 * ```ts
 * const copy = cloneGraph(graph);
 * copy.nodes[0]!.op = 'Sigmoid'; // `graph` is unchanged
 * ```
 */
export function cloneGraph(graph: Graph): Graph {
  return cloneInto(graph, graph.parent, new Map());
}

/** Copies `g` into a new graph under `parent`; `map` takes every old value to its copy (shared across nesting). */
function cloneInto(g: Graph, parent: Graph | undefined, map: Map<Value, Value>): Graph {
  const ng = new Graph(g.name, parent);
  ng.docString = g.docString;
  for (const [k, v] of g.opsets) ng.opsets.set(k, v);
  for (const [k, v] of g.metadataProps) ng.metadataProps.set(k, v);
  copyMeta(g.meta, ng.meta);
  if (g.model) ng.model = cloneModelInfo(g.model);
  ng.opaque.sparseInitializers.push(...g.opaque.sparseInitializers);
  ng.opaque.quantizationAnnotations.push(...g.opaque.quantizationAnnotations);

  for (const [name, v] of g.initializers) {
    const nv = ng.addInitializer(name, v.const!);
    copyValueFacts(v, nv);
    map.set(v, nv);
  }
  for (const v of g.inputs) {
    const known = map.get(v);
    if (known && v.graph === g) ng.inputs.push(known);
    else map.set(v, copyValueFacts(v, ng.addInput(v.name, v.type)));
  }

  // Outputs first, so forward references (unsorted graphs) and subgraphs see every value.
  const pairs: [Node, Node][] = [];
  for (const n of g.nodes) {
    const nn = ng.addNode({
      op: n.op, domain: n.domain, name: n.name, overload: n.overload, docString: n.docString,
      outputs: n.outputs.map((o) => (o ? o.name : null)),
    });
    n.outputs.forEach((o, i) => { if (o) map.set(o, copyValueFacts(o, nn.outputs[i]!)); });
    for (const [k, v] of n.metadataProps) nn.metadataProps.set(k, v);
    copyMeta(n.meta, nn.meta);
    pairs.push([n, nn]);
  }
  const resolve = (v: Value): Value => {
    const known = map.get(v);
    if (known) return known;
    if (v.graph !== g) return v; // an enclosing graph that is not being copied
    const nv = copyValueFacts(v, ng.createValue(v.name, v.type)); // dangling (producer-less) value
    map.set(v, nv);
    return nv;
  };
  for (const [n, nn] of pairs) {
    for (const [k, a] of n.attrs) nn.attrs.set(k, cloneAttribute(a, ng, map));
    nn.setInputs(n.inputs.map((v) => (v ? resolve(v) : null)));
  }
  for (const v of g.outputs) ng.addOutput(resolve(v));
  for (const v of g.values()) resolve(v); // unused values keep their names reserved
  return ng;
}

function cloneAttribute<A extends Attribute & { readonly docString?: string }>(a: A, owner: Graph | undefined, map: Map<Value, Value>): A {
  switch (a.type) {
    case 'graph': return { ...a, value: cloneInto(a.value, owner, map) };
    case 'graphs': return { ...a, value: a.value.map((sg) => cloneInto(sg, owner, map)) };
    case 'floats': case 'ints': case 'strings': case 'tensors': case 'sparse_tensors': case 'type_protos':
      return { ...a, value: [...a.value] } as A;
    default: return { ...a };
  }
}

function cloneModelInfo(m: ModelInfo): ModelInfo {
  return {
    ...m,
    metadataProps: new Map(m.metadataProps),
    functions: m.functions.map(cloneFunction),
    trainingInfo: [...m.trainingInfo],
  };
}

function cloneFunction(f: FunctionDef): FunctionDef {
  const defaults: AttributeMap = new Map();
  for (const [k, a] of f.attributeDefaults) defaults.set(k, cloneAttribute(a, undefined, new Map()));
  return {
    ...f,
    attributes: [...f.attributes],
    attributeDefaults: defaults,
    opsets: new Map(f.opsets),
    body: cloneInto(f.body, undefined, new Map()),
    metadataProps: new Map(f.metadataProps),
  };
}

function copyValueFacts(from: Value, to: Value): Value {
  to.type = from.type;
  to.docString = from.docString;
  copyMeta(from.meta, to.meta);
  return to;
}

function copyMeta(from: Map<string, unknown>, to: Map<string, unknown>): void {
  for (const [k, v] of from) to.set(k, v);
}
