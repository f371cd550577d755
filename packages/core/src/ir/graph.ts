import { LeanformerError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { tensorType, type Dim, type ValueType } from './types.js';
import type { Attribute, AttributeMap } from './attribute.js';

/** Free-form annotations that passes attach to IR objects. Not serialized unless a writer chooses to. */
export type Meta = Map<string, unknown>;

/** One consumer of a value: `node.inputs[index] === value`. */
export interface Use { readonly node: Node; readonly index: number }

/**
 * A value in a graph: a graph input, an initializer (constant), or a node output.
 * It knows its producer and its uses; use counts are kept exact by the mutation API.
 */
export class Value {
  /** Graph this value was created in (subgraph nodes may use values of enclosing graphs). */
  readonly graph: Graph;
  private _name: string;
  type: ValueType | null;
  /** The node that produces this value, or null for graph inputs and initializers. */
  producer: Node | null = null;
  /** Output index on the producer. */
  producerIndex = -1;
  /** Constant content, set for initializers. */
  const: Tensor | undefined;
  docString = '';
  readonly meta: Meta = new Map();
  private readonly _uses: Use[] = [];

  /** @internal use Graph methods to create values. */
  constructor(graph: Graph, name: string, type: ValueType | null) {
    this.graph = graph;
    this._name = name;
    this.type = type;
  }

  get name(): string { return this._name; }

  /** Renames the value; the new name must be unused in its graph. */
  set name(next: string) {
    if (next === this._name) return;
    this.graph.renameValue(this, next);
    this._name = next;
  }

  get uses(): readonly Use[] { return this._uses; }

  /** Element dtype when known. */
  get dtype() { return this.type && (this.type.kind === 'tensor' || this.type.kind === 'sparse_tensor') ? this.type.dtype : null; }

  /** Shape when known (may contain symbolic or unknown dims). */
  get shape(): readonly Dim[] | null { return this.type && (this.type.kind === 'tensor' || this.type.kind === 'sparse_tensor') ? this.type.shape : null; }

  get isInitializer(): boolean { return this.const !== undefined && this.graph.initializers.get(this._name) === this; }
  get isGraphInput(): boolean { return this.graph.inputs.includes(this); }
  get isGraphOutput(): boolean { return this.graph.outputs.includes(this); }

  /** Points every use of this value at `other` instead; graph outputs are redirected too. */
  replaceAllUsesWith(other: Value): void {
    if (other === this) return;
    for (const u of [...this._uses]) u.node.setInput(u.index, other);
    const outs = this.graph.outputs;
    for (let i = 0; i < outs.length; i++) if (outs[i] === this) this.graph.setOutput(i, other);
  }

  /** @internal */ _addUse(u: Use): void { this._uses.push(u); }
  /** @internal */ _removeUse(node: Node, index: number): void {
    const i = this._uses.findIndex((u) => u.node === node && u.index === index);
    if (i >= 0) this._uses.splice(i, 1);
  }

  toString(): string { return `%${this._name}`; }
}

/** Options to create a node. `outputs` is a count or explicit names (null = omitted optional output). */
export interface NodeInit {
  op: string;
  domain?: string;
  name?: string;
  overload?: string;
  inputs?: readonly (Value | null)[];
  outputs?: number | readonly (string | null)[];
  attrs?: Record<string, Attribute> | AttributeMap;
  docString?: string;
}

/** An operator application. Inputs may be null (an omitted optional input). */
export class Node {
  readonly graph: Graph;
  op: string;
  /** '' is the default ONNX domain (ai.onnx). */
  domain: string;
  name: string;
  overload: string;
  readonly attrs: AttributeMap;
  docString: string;
  readonly metadataProps: Map<string, string> = new Map();
  readonly meta: Meta = new Map();
  private readonly _inputs: (Value | null)[] = [];
  private readonly _outputs: (Value | null)[] = [];

  /** @internal use Graph.addNode. */
  constructor(graph: Graph, init: NodeInit) {
    this.graph = graph;
    this.op = init.op;
    this.domain = normalizeDomain(init.domain ?? '');
    this.name = init.name ?? '';
    this.overload = init.overload ?? '';
    this.docString = init.docString ?? '';
    this.attrs = init.attrs instanceof Map ? new Map(init.attrs) : new Map(Object.entries(init.attrs ?? {}));
  }

  get inputs(): readonly (Value | null)[] { return this._inputs; }
  get outputs(): readonly (Value | null)[] { return this._outputs; }

  /** Output `i`, which must exist (throws otherwise). */
  output(i = 0): Value {
    const v = this._outputs[i];
    if (!v) throw new LeanformerError('INVALID_GRAPH', `${this.describe()} has no output ${i}`);
    return v;
  }

  /** Input `i`, which must be present (throws otherwise). */
  input(i: number): Value {
    const v = this._inputs[i];
    if (!v) throw new LeanformerError('INVALID_GRAPH', `${this.describe()} has no input ${i}`);
    return v;
  }

  /** Sets input `i` (appending if `i` is the next index), keeping use lists exact. */
  setInput(i: number, v: Value | null): void {
    if (i < 0 || i > this._inputs.length) throw new LeanformerError('INVALID_ARGUMENT', `setInput: index ${i} out of range for ${this.describe()} with ${this._inputs.length} inputs`);
    const old = this._inputs[i];
    if (old) old._removeUse(this, i);
    this._inputs[i] = v;
    if (v) v._addUse({ node: this, index: i });
  }

  /** Replaces all inputs. */
  setInputs(values: readonly (Value | null)[]): void {
    this._inputs.forEach((old, i) => old?._removeUse(this, i));
    this._inputs.length = 0;
    values.forEach((v, i) => this.setInput(i, v));
  }

  /** Drops trailing inputs beyond `count`. */
  truncateInputs(count: number): void {
    while (this._inputs.length > count) {
      const i = this._inputs.length - 1;
      this._inputs[i]?._removeUse(this, i);
      this._inputs.pop();
    }
  }

  /** Reads an attribute's value, or `fallback` when absent. */
  attr<T = unknown>(name: string, fallback?: T): T {
    const a = this.attrs.get(name);
    return (a === undefined ? fallback : a.value) as T;
  }

  /** `domain::op` (domain shown only when not the default). */
  get qualifiedOp(): string { return this.domain ? `${this.domain}::${this.op}` : this.op; }

  describe(): string { return `${this.qualifiedOp} node${this.name ? ` '${this.name}'` : ''}`; }

  /** @internal */ _setOutputs(outs: (Value | null)[]): void {
    this._outputs.length = 0;
    for (const [i, v] of outs.entries()) {
      this._outputs.push(v);
      if (v) { v.producer = this; v.producerIndex = i; }
    }
  }

  /** @internal Detaches inputs (used when removing the node). */
  _detach(): void {
    this._inputs.forEach((v, i) => v?._removeUse(this, i));
    this._inputs.length = 0;
  }
}

/** 'ai.onnx' and '' name the same (default) domain. */
export function normalizeDomain(domain: string): string {
  return domain === 'ai.onnx' ? '' : domain;
}

/** Model-level facts carried by a top-level graph (empty for subgraphs). */
export interface ModelInfo {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  metadataProps: Map<string, string>;
  /** Model-local functions (ONNX FunctionProto). */
  functions: FunctionDef[];
  /** TrainingInfoProto messages, kept verbatim. */
  trainingInfo: Uint8Array[];
}

/** A model-local function: its body is a graph whose inputs and outputs are the formal parameters. */
export interface FunctionDef {
  domain: string;
  name: string;
  overload: string;
  /** Names of the function's attributes (no defaults). */
  attributes: string[];
  /** Attributes with default values. */
  attributeDefaults: AttributeMap;
  opsets: Map<string, number>;
  body: Graph;
  docString: string;
  metadataProps: Map<string, string>;
}

/**
 * A computation graph. Nodes are kept in a list (topological after `topologicalSort`);
 * values know producers and uses; initializers are constant values.
 *
 * @example
 * ```ts
 * const g = new Graph('tiny');
 * const x = g.addInput('x', tensorType(DTypes.float32, ['batch', 4]));
 * const y = g.addNode({ op: 'Relu', inputs: [x] }).output();
 * g.addOutput(y);
 * ```
 */
export class Graph {
  name: string;
  docString = '';
  /** Opset version per domain ('' = ai.onnx). Meaningful on top-level graphs. */
  readonly opsets: Map<string, number> = new Map();
  readonly metadataProps: Map<string, string> = new Map();
  readonly meta: Meta = new Map();
  /** Model-level facts; present on top-level graphs. */
  model: ModelInfo | undefined;
  /** The graph that contains this one as an attribute (If/Loop/Scan bodies, function bodies have none). */
  readonly parent: Graph | undefined;
  /** Graph-level messages the IR does not model (sparse initializers, quantization annotations), kept verbatim. */
  readonly opaque: { sparseInitializers: Uint8Array[]; quantizationAnnotations: Uint8Array[] } = { sparseInitializers: [], quantizationAnnotations: [] };

  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers: Map<string, Value> = new Map();
  private _nodes: Node[] = [];
  private readonly names: Map<string, Value> = new Map();
  private counter = 0;

  constructor(name = 'graph', parent?: Graph) {
    this.name = name;
    this.parent = parent;
  }

  get nodes(): readonly Node[] { return this._nodes; }

  /** Finds a value by name in this graph, then in enclosing graphs. */
  lookup(name: string): Value | undefined {
    return this.names.get(name) ?? this.parent?.lookup(name);
  }

  /** The value with this name in this graph (or an enclosing one); throws if absent. */
  value(name: string): Value {
    const v = this.lookup(name);
    if (!v) throw new LeanformerError('INVALID_GRAPH', `Graph '${this.name}' has no value named '${name}'`);
    return v;
  }

  /** All values owned by this graph (inputs, initializers, node outputs). */
  values(): IterableIterator<Value> { return this.names.values(); }

  /** A fresh name starting with `base` that no value in this graph or its parents uses. */
  uniqueName(base: string): string {
    if (!this.lookup(base)) return base;
    for (;;) {
      const n = `${base}_${++this.counter}`;
      if (!this.lookup(n)) return n;
    }
  }

  /** Creates a value owned by this graph with a unique name (no producer yet). */
  createValue(name: string, type: ValueType | null = null): Value {
    if (this.names.has(name)) throw new LeanformerError('INVALID_GRAPH', `Graph '${this.name}' already has a value named '${name}'`);
    if (name === '') throw new LeanformerError('INVALID_GRAPH', 'Value names must not be empty');
    const v = new Value(this, name, type);
    this.names.set(name, v);
    return v;
  }

  /** Adds a graph input. */
  addInput(name: string, type: ValueType | null): Value {
    const v = this.createValue(name, type);
    this.inputs.push(v);
    return v;
  }

  /** Adds an initializer (a named constant). Its type follows the tensor. */
  addInitializer(name: string, tensor: Tensor): Value {
    const v = this.createValue(name, tensorType(tensor.dtype, tensor.shape));
    v.const = tensor;
    this.initializers.set(name, v);
    return v;
  }

  /** Makes an existing value an initializer with this content (e.g. after constant folding). */
  setInitializer(v: Value, tensor: Tensor): void {
    if (v.graph !== this) throw new LeanformerError('INVALID_GRAPH', `Value '${v.name}' belongs to graph '${v.graph.name}'`);
    if (v.producer) throw new LeanformerError('INVALID_GRAPH', `Value '${v.name}' is produced by ${v.producer.describe()}; remove the node first`);
    v.const = tensor;
    v.type = tensorType(tensor.dtype, tensor.shape);
    this.initializers.set(v.name, v);
  }

  /** Removes an initializer; it must have no uses and not be a graph input or output. */
  removeInitializer(v: Value): void {
    if (v.uses.length || this.outputs.includes(v)) throw new LeanformerError('INVALID_GRAPH', `Initializer '${v.name}' is still used`);
    this.initializers.delete(v.name);
    const i = this.inputs.indexOf(v);
    if (i >= 0) this.inputs.splice(i, 1);
    this.names.delete(v.name);
  }

  addOutput(v: Value): void { this.outputs.push(v); }

  setOutput(i: number, v: Value): void {
    if (i < 0 || i >= this.outputs.length) throw new LeanformerError('INVALID_ARGUMENT', `setOutput: index ${i} out of range (${this.outputs.length} outputs)`);
    this.outputs[i] = v;
  }

  /**
   * Appends a node (or inserts it at `at`) and creates its output values.
   * Output names default to `<op>_<n>`, made unique.
   */
  addNode(init: NodeInit, at?: number): Node {
    const node = new Node(this, init);
    // Names are reserved one by one (createValue registers each), so several outputs never collide.
    const outs = typeof init.outputs === 'number' || init.outputs === undefined
      ? Array.from({ length: (init.outputs as number | undefined) ?? 1 }, () => this.createValue(this.uniqueName(`${init.name || init.op}_out`)))
      : init.outputs.map((n) => (n === null || n === '' ? null : this.createValue(n)));
    node._setOutputs(outs);
    (init.inputs ?? []).forEach((v, i) => node.setInput(i, v));
    if (at === undefined) this._nodes.push(node);
    else this._nodes.splice(at, 0, node);
    return node;
  }

  /** Inserts a new node right before `before`. */
  insertBefore(before: Node, init: NodeInit): Node {
    const i = this._nodes.indexOf(before);
    if (i < 0) throw new LeanformerError('INVALID_GRAPH', `${before.describe()} is not in graph '${this.name}'`);
    return this.addNode(init, i);
  }

  /**
   * Removes a node. Its outputs must be unused unless `force` is set, in which case
   * they become producer-less dangling values (the caller rewires them).
   */
  removeNode(node: Node, force = false): void {
    const i = this._nodes.indexOf(node);
    if (i < 0) throw new LeanformerError('INVALID_GRAPH', `${node.describe()} is not in graph '${this.name}'`);
    for (const out of node.outputs) {
      if (!out) continue;
      if (!force && (out.uses.length || this.outputs.includes(out))) {
        throw new LeanformerError('INVALID_GRAPH', `Cannot remove ${node.describe()}: output '${out.name}' is still used`);
      }
    }
    node._detach();
    this._nodes.splice(i, 1);
    for (const out of node.outputs) {
      if (!out) continue;
      out.producer = null;
      if (!out.uses.length && !this.outputs.includes(out)) this.names.delete(out.name);
    }
  }

  /**
   * Replaces `old` and keeps its output names: graph outputs and downstream readers refer to them.
   *
   * - Given a `NodeInit` (without `outputs`), a new node takes `old`'s place in the node list and
   *   produces `old`'s own output values, so every use and graph-output slot stays as it was.
   * - Given replacement values (one per output of `old`, built before it, e.g. through
   *   `GraphBuilder.editing(graph, old)`), each takes over the uses, graph-output slots and (when
   *   free) the name of the output it replaces; `null` drops an output that must then be unused.
   *   A replacement that is not a new node output (a graph input, an initializer, an existing
   *   graph output) is wrapped in an Identity when it replaces a graph output, so the output keeps
   *   its name. A replacement without a type gets the old output's type.
   *
   * Throws INVALID_GRAPH when `old` is not a node of this graph, a new input is one of `old`'s outputs,
   * or a dropped output is used; INVALID_ARGUMENT when the counts of outputs differ.
   *
   * @example
   * ```ts
   * const relu = g.nodes[0];
   * g.replaceNode(relu, { op: 'Sigmoid', inputs: [relu.input(0)] }); // same output value, same name
   * const b = GraphBuilder.editing(g, node);
   * g.replaceNode(node, [b.mul(node.input(0), b.param('two', Tensor.from('float32', [], [2])))]);
   * ```
   */
  replaceNode(old: Node, init: Omit<NodeInit, 'outputs'>): Node;
  replaceNode(old: Node, replacements: readonly (Value | null)[]): void;
  replaceNode(old: Node, by: Omit<NodeInit, 'outputs'> | readonly (Value | null)[]): Node | void {
    const at = this._nodes.indexOf(old);
    if (at < 0) throw new LeanformerError('INVALID_GRAPH', `replaceNode: ${old.describe()} is not in graph '${this.name}'`);
    if (!Array.isArray(by)) {
      const init = by as NodeInit;
      if (init.outputs !== undefined) throw new LeanformerError('INVALID_ARGUMENT', `replaceNode: the new node produces the outputs of ${old.describe()}; do not pass 'outputs'`);
      const inputs = init.inputs ?? [];
      if (inputs.some((v) => v && v.producer === old)) throw new LeanformerError('INVALID_GRAPH', `replaceNode: the replacement of ${old.describe()} would read its own output`);
      const node = new Node(this, init);
      const outs = [...old.outputs];
      old._detach();
      old._setOutputs([]);
      node._setOutputs(outs);
      inputs.forEach((v, i) => node.setInput(i, v));
      this._nodes[at] = node;
      return node;
    }
    const repl = by as readonly (Value | null)[];
    const outs = old.outputs;
    if (repl.length !== outs.length) throw new LeanformerError('INVALID_ARGUMENT', `replaceNode: ${old.describe()} has ${outs.length} outputs, got ${repl.length} replacements`);
    const renames: [Value, string][] = [];
    outs.forEach((o, i) => {
      if (!o) return;
      let r = repl[i] ?? null;
      const isOutput = this.outputs.includes(o);
      if (!r) {
        if (o.uses.length || isOutput) throw new LeanformerError('INVALID_GRAPH', `replaceNode: no replacement for output ${i} (%${o.name}) of ${old.describe()}, which is used`);
        return;
      }
      if (r.producer === old) throw new LeanformerError('INVALID_ARGUMENT', `replaceNode: output ${i} (%${o.name}) of ${old.describe()} cannot be replaced by an output of the node itself`);
      // Only a node output of this graph that is not itself a graph output may take the old name.
      let renameable = r.producer !== null && r.graph === this && !this.outputs.includes(r);
      if (!renameable && isOutput) {
        r = this.insertBefore(old, { op: 'Identity', inputs: [r], outputs: [this.uniqueName(`${o.name}_id`)] }).output();
        renameable = true;
      }
      if (!r.type && o.type) r.type = o.type;
      o.replaceAllUsesWith(r);
      if (renameable) renames.push([r, o.name]);
    });
    this.removeNode(old);
    for (const [v, name] of renames) if (!this.lookup(name)) v.name = name;
  }

  /** Replaces the node list order (used by topological sort); must be a permutation. */
  reorder(nodes: readonly Node[]): void {
    if (nodes.length !== this._nodes.length || new Set(nodes).size !== nodes.length || !nodes.every((n) => n.graph === this)) {
      throw new LeanformerError('INVALID_GRAPH', 'reorder: the new order must be a permutation of the graph\'s nodes');
    }
    this._nodes = [...nodes];
  }

  /** @internal called by Value.name's setter. */
  renameValue(v: Value, next: string): void {
    if (this.names.get(v.name) !== v) throw new LeanformerError('INVALID_GRAPH', `Value '${v.name}' is not registered in graph '${this.name}'`);
    if (this.names.has(next)) throw new LeanformerError('INVALID_GRAPH', `Graph '${this.name}' already has a value named '${next}'`);
    this.names.delete(v.name);
    this.names.set(next, v);
    if (this.initializers.get(v.name) === v) { this.initializers.delete(v.name); this.initializers.set(next, v); }
  }

  /** Visits this graph's nodes and, recursively, the nodes of subgraph attributes. */
  *allNodes(): IterableIterator<Node> {
    for (const n of this._nodes) {
      yield n;
      for (const sub of subgraphs(n)) yield* sub.allNodes();
    }
  }
}

/** The graphs held in a node's attributes (If branches, Loop/Scan bodies). */
export function subgraphs(node: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of node.attrs.values()) {
    if (a.type === 'graph') out.push(a.value);
    else if (a.type === 'graphs') out.push(...a.value);
  }
  return out;
}
