import { LeanformerError } from '../errors.js';
import { DTypes, dtype as lookupDType, type DType, type DTypeName } from '../dtype.js';
import { Tensor } from '../tensor.js';
import { Graph, Node, Value, normalizeDomain } from '../ir/graph.js';
import { formatType, tensorType, type Dim } from '../ir/types.js';
import type { Attribute, AttributeType } from '../ir/attribute.js';
import { getSchema, type OpSchema } from '../ops/schema.js';
import { inferNode } from '../ops/infer.js';

/** The ai.onnx opset a builder targets unless told otherwise. */
export const DEFAULT_OPSET = 21;
/** ONNX IR version written into built models (ONNX 1.16+; what ORT 1.30 reads). */
export const DEFAULT_IR_VERSION = 10;

/** Options of {@link GraphBuilder}. */
export interface GraphBuilderOptions {
  /** ai.onnx opset version (default 21). */
  readonly opset?: number;
  /** Versions of other domains, e.g. `{ 'com.microsoft': 1 }`. A domain first used by `op()` without an entry gets version 1. */
  readonly opsets?: Readonly<Record<string, number>>;
  /**
   * Edit this existing graph instead of creating one (used by rewrites and decompositions).
   * Opsets are then read from (and new domains added to) the top-level graph.
   */
  readonly graph?: Graph;
  /** With `graph`: insert new nodes right before this node, so the node list stays topologically ordered. */
  readonly before?: Node;
}

/**
 * A plain JS attribute value, converted with the op schema's attribute type when the op has a
 * schema (so `1` for a 'float' attribute becomes the float 1). Without a schema the type is
 * inferred: integer number/bigint/boolean → int, other number → float, string → string,
 * all-integer array → ints, other number array → floats, string array → strings, Tensor → tensor,
 * Graph → graph. Pass an explicit {@link Attribute} (e.g. `attr.float(1)`) where inference would
 * pick the wrong type. `undefined` entries are skipped (the schema default applies).
 */
export type AttrInput =
  | Attribute | number | bigint | boolean | string
  | readonly number[] | readonly bigint[] | readonly string[]
  | Tensor | Graph | readonly Tensor[] | readonly Graph[];

/** Attributes as accepted by {@link GraphBuilder.op}. */
export type AttrsInput = Readonly<Record<string, AttrInput | undefined>>;

/** Options of {@link GraphBuilder.op}. */
export interface OpOptions {
  /** Op domain ('' = ai.onnx, the default). */
  readonly domain?: string;
  /** Node name (default `<Op>_<n>`). */
  readonly name?: string;
}

/** A value, or a JS number that becomes a scalar constant of the other operand's dtype. */
export type ValueLike = Value | number;

const SQRT2 = Math.SQRT2;

/**
 * Builds graphs op by op, inferring output types as it goes (symbolic dims such as
 * `'batch'` are kept). Each op is checked against its schema: input count, dtype
 * constraints, and shape compatibility (a `SHAPE_MISMATCH` error names the op and the
 * input types).
 *
 * @example
 * ```ts
 * const b = new GraphBuilder('mlp');
 * const x = b.input('x', 'float32', ['batch', 4]);
 * const w = b.param('w', Tensor.from('float32', [4, 2], [1, 0, 0, 1, 1, 0, 0, 1]));
 * const y = b.relu(b.matmul(x, w)); // y.shape: ['batch', 2]
 * b.output(y, 'y');
 * const graph = b.build();
 * ```
 */
export class GraphBuilder {
  /** The graph being built or edited. */
  readonly graph: Graph;
  private readonly root: Graph;
  private readonly before: Node | undefined;
  private readonly editing: boolean;
  private nodeCounter = 0;
  private takenNames: Set<string> | undefined;
  private readonly scalars = new Map<string, Value>();

  constructor(name: string, options: GraphBuilderOptions = {}) {
    if (options.graph) {
      this.graph = options.graph;
      this.editing = true;
    } else {
      this.graph = new Graph(name);
      this.editing = false;
    }
    let root = this.graph;
    while (root.parent) root = root.parent;
    this.root = root;
    if (options.before && options.before.graph !== this.graph) {
      throw new LeanformerError('INVALID_ARGUMENT', `GraphBuilder: 'before' (${options.before.describe()}) is not a node of graph '${this.graph.name}'`);
    }
    this.before = options.before;
    const opset = options.opset ?? (this.editing ? root.opsets.get('') : undefined) ?? DEFAULT_OPSET;
    if (!Number.isInteger(opset) || opset < 1) throw new LeanformerError('INVALID_ARGUMENT', `GraphBuilder: opset must be a positive integer, got ${opset}`);
    if (!root.opsets.has('') || options.opset !== undefined) root.opsets.set('', opset);
    for (const [d, v] of Object.entries(options.opsets ?? {})) root.opsets.set(normalizeDomain(d), v);
  }

  /**
   * A builder that inserts into an existing graph (before `before` when given, else at the end).
   * Rewrites and decompositions use it to get the typed helpers.
   */
  static editing(graph: Graph, before?: Node): GraphBuilder {
    return new GraphBuilder(graph.name, { graph, before });
  }

  /** The ai.onnx opset version in force. */
  get opset(): number { return this.opsetOf(''); }

  /** Version of `domain` in force (adds the domain at version 1 when absent). */
  opsetOf(domain: string): number {
    const d = normalizeDomain(domain);
    let v = this.root.opsets.get(d);
    if (v === undefined) {
      v = d === '' ? DEFAULT_OPSET : 1;
      this.root.opsets.set(d, v);
    }
    return v;
  }

  // ---------------------------------------------------------------- graph interface

  /** Adds a graph input. `shape` entries may be numbers, symbolic names (`'batch'`) or null (unknown). */
  input(name: string, dtype: DType | DTypeName, shape: readonly Dim[] | null): Value {
    return this.graph.addInput(name, tensorType(toDType(dtype), shape));
  }

  /** Adds a named initializer (a weight). Throws when the name is taken. */
  param(name: string, tensor: Tensor): Value {
    if (!(tensor instanceof Tensor)) throw new LeanformerError('INVALID_ARGUMENT', `param('${name}'): expected a Tensor`);
    return this.graph.addInitializer(name, tensor);
  }

  /**
   * Adds an unnamed constant (an initializer named `const_<n>`). A number becomes a scalar,
   * a number array a 1-D tensor; both default to float32 (bigints to int64).
   */
  constant(value: Tensor | number | bigint | readonly number[] | readonly bigint[], dtype?: DType | DTypeName, name = 'const'): Value {
    let t: Tensor;
    if (value instanceof Tensor) {
      if (dtype !== undefined && toDType(dtype) !== value.dtype) throw new LeanformerError('INVALID_ARGUMENT', `constant: tensor is ${value.dtype.name} but dtype ${toDType(dtype).name} was asked`);
      t = value;
    } else {
      const arr = typeof value === 'number' || typeof value === 'bigint' ? [value] : value;
      const isBig = arr.length > 0 && typeof arr[0] === 'bigint';
      const dt = dtype !== undefined ? toDType(dtype) : isBig ? DTypes.int64 : DTypes.float32;
      if (dt.isInteger) {
        for (const x of arr) if (typeof x === 'number' && !Number.isInteger(x)) throw new LeanformerError('INVALID_ARGUMENT', `constant: ${x} is not an integer but dtype is ${dt.name}`);
      }
      const shape = typeof value === 'number' || typeof value === 'bigint' ? [] : [arr.length];
      t = Tensor.from(dt, shape, arr as ArrayLike<number | bigint>);
    }
    return this.graph.addInitializer(this.graph.uniqueName(name), t);
  }

  /** A 1-D int64 constant (shapes, axes, indices); a number gives a scalar. */
  int64(values: number | readonly number[]): Value {
    return this.constant(values, DTypes.int64, 'const_i64');
  }

  /** A scalar constant of `dt`, shared within this builder. */
  scalar(value: number, dt: DType | DTypeName = DTypes.float32): Value {
    const t = toDType(dt);
    const key = `${t.name}:${Object.is(value, -0) ? '-0' : String(value)}`;
    let v = this.scalars.get(key);
    if (!v || v.graph !== this.graph || !this.graph.initializers.has(v.name)) {
      v = this.constant(value, t, 'scalar');
      this.scalars.set(key, v);
    }
    return v;
  }

  /** Marks `value` as a graph output, renamed to `name` when given (through an Identity when the value cannot be renamed). */
  output(value: Value, name?: string): Value {
    let v = value;
    if (name !== undefined && name !== v.name) {
      const canRename = v.producer !== null && !v.isGraphOutput && v.graph === this.graph;
      if (canRename) v.name = name;
      else v = this.addNodeOf('Identity', '', [v], new Map(), 1, undefined, [name])[0]!;
    }
    this.graph.addOutput(v);
    return v;
  }

  /**
   * Finishes the graph: sets model info (producer 'leanformer', IR version 10) and returns it.
   * Throws when the graph has no outputs.
   */
  build(): Graph {
    const g = this.graph;
    if (!g.outputs.length) throw new LeanformerError('INVALID_GRAPH', `build: graph '${g.name}' has no outputs; call output(value) first`);
    if (!g.model && !g.parent) {
      g.model = {
        irVersion: DEFAULT_IR_VERSION, producerName: 'leanformer', producerVersion: '0.1.0', domain: '',
        modelVersion: 1, docString: '', metadataProps: new Map(), functions: [], trainingInfo: [],
      };
    }
    return g;
  }

  /**
   * States shape facts that op-by-op inference cannot derive, e.g. that a `Range(0, Shape(x)[1])`
   * has length `x.shape[1]` ('seq'). Unknown dims take the given ones; a static conflict or a
   * rank mismatch throws SHAPE_MISMATCH. Returns `v`.
   */
  refine(v: Value, shape: readonly Dim[]): Value {
    const t = v.type;
    if (t && t.kind !== 'tensor') throw new LeanformerError('INVALID_ARGUMENT', `refine: %${v.name} is a ${t.kind}, not a tensor`);
    const cur = t?.shape;
    if (cur && cur.length !== shape.length) throw new LeanformerError('SHAPE_MISMATCH', `refine: %${v.name} has rank ${cur.length}, not ${shape.length}`);
    const merged = shape.map((d, i) => {
      const c = cur ? cur[i]! : null;
      if (c === null || c === d) return d ?? c;
      if (d === null) return c;
      if (typeof c === 'number' && typeof d === 'number') throw new LeanformerError('SHAPE_MISMATCH', `refine: %${v.name} dim ${i} is ${c}, not ${d}`);
      return typeof c === 'number' ? c : d;
    });
    v.type = tensorType(t?.dtype ?? null, merged);
    return v;
  }

  // ---------------------------------------------------------------- generic op

  /**
   * Adds a node, converts `attrs` by the schema's attribute types, checks input count and dtype
   * constraints, and infers output types. With `outputs` (a count) it returns every output;
   * without, the single output.
   */
  op(op: string, inputs: readonly (Value | null | undefined)[], attrs?: AttrsInput, options?: OpOptions): Value;
  op(op: string, inputs: readonly (Value | null | undefined)[], attrs: AttrsInput | undefined, options: OpOptions & { readonly outputs: number }): Value[];
  op(op: string, inputs: readonly (Value | null | undefined)[], attrs: AttrsInput = {}, options: OpOptions & { readonly outputs?: number } = {}): Value | Value[] {
    const domain = normalizeDomain(options.domain ?? '');
    const opset = this.opsetOf(domain);
    const schema = getSchema(domain, op, opset);
    const converted = new Map<string, Attribute>();
    for (const [k, raw] of Object.entries(attrs)) {
      if (raw === undefined) continue;
      converted.set(k, toAttribute(op, k, raw, schema));
    }
    const count = options.outputs ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new LeanformerError('INVALID_ARGUMENT', `op('${op}'): outputs must be a positive integer, got ${count}`);
    const outs = this.addNodeOf(op, domain, inputs.map((v) => v ?? null), converted, count, options.name);
    return options.outputs === undefined ? outs[0]! : outs;
  }

  private addNodeOf(op: string, domain: string, inputs: (Value | null)[], attrs: Map<string, Attribute>, count: number, name?: string, outNames?: string[]): Value[] {
    const opset = this.opsetOf(domain);
    const schema = getSchema(domain, op, opset);
    if (schema) checkArity(schema, op, inputs, count);
    for (const [i, v] of inputs.entries()) {
      if (v && !this.visible(v)) throw new LeanformerError('INVALID_ARGUMENT', `${op}: input ${i} '${v.name}' belongs to graph '${v.graph.name}', which is not '${this.graph.name}' or an enclosing graph`);
    }
    if (schema) checkTypeConstraints(schema, op, inputs);
    const nodeName = name ?? this.freshNodeName(op);
    const names = outNames ?? Array.from({ length: count }, (_, i) => this.graph.uniqueName(count === 1 ? `${nodeName}_out` : `${nodeName}_out${i}`));
    const init = { op, domain, name: nodeName, inputs, outputs: names, attrs };
    const node = this.before ? this.graph.insertBefore(this.before, init) : this.graph.addNode(init);
    try {
      const types = inferNode(node, opset);
      node.outputs.forEach((v, i) => { if (v) v.type = types[i] ?? null; });
    } catch (e) {
      this.graph.removeNode(node, true);
      if (e instanceof LeanformerError && (e.code === 'SHAPE_INFERENCE' || e.code === 'SHAPE_MISMATCH' || e.code === 'INVALID_DTYPE')) {
        const ins = inputs.map((v, i) => `${schema?.inputs[Math.min(i, schema.inputs.length - 1)]?.name ?? i}: ${v ? formatType(v.type) : 'none'}`).join(', ');
        throw new LeanformerError(e.code === 'INVALID_DTYPE' ? 'INVALID_DTYPE' : 'SHAPE_MISMATCH', `${qualified(domain, op)}: ${e.message} (inputs ${ins})`, {
          cause: e, details: { op, domain, inputs: inputs.map((v) => (v ? formatType(v.type) : null)) },
        });
      }
      throw e;
    }
    return node.outputs.map((v) => v!);
  }

  private visible(v: Value): boolean {
    for (let g: Graph | undefined = this.graph; g; g = g.parent) if (v.graph === g) return true;
    return false;
  }

  private freshNodeName(op: string): string {
    if (!this.editing) return `${op}_${this.nodeCounter++}`;
    // Node names already in an edited graph, read once per builder.
    const taken = (this.takenNames ??= new Set(this.graph.nodes.map((n) => n.name)));
    let n: string;
    do n = `${op}_${this.nodeCounter++}`; while (taken.has(n));
    taken.add(n);
    return n;
  }

  private like(x: ValueLike, ref: ValueLike): Value {
    if (typeof x !== 'number') return x;
    const dt = typeof ref === 'number' ? DTypes.float32 : ref.dtype ?? DTypes.float32;
    if (dt.isInteger && !Number.isInteger(x)) throw new LeanformerError('INVALID_ARGUMENT', `${x} cannot be a ${dt.name} constant (the other operand's dtype)`);
    return this.scalar(x, dt);
  }

  private binary(op: string, a: ValueLike, b: ValueLike): Value {
    if (typeof a === 'number' && typeof b === 'number') throw new LeanformerError('INVALID_ARGUMENT', `${op}: at least one operand must be a Value`);
    return this.op(op, [this.like(a, b), this.like(b, a)]);
  }

  // ---------------------------------------------------------------- elementwise

  /** `a + b` (numpy broadcasting). */
  add(a: ValueLike, b: ValueLike): Value { return this.binary('Add', a, b); }
  /** `a - b`. */
  sub(a: ValueLike, b: ValueLike): Value { return this.binary('Sub', a, b); }
  /** `a * b`. */
  mul(a: ValueLike, b: ValueLike): Value { return this.binary('Mul', a, b); }
  /** `a / b`. */
  div(a: ValueLike, b: ValueLike): Value { return this.binary('Div', a, b); }
  /** `a ** b`. */
  pow(a: ValueLike, b: ValueLike): Value { return this.binary('Pow', a, b); }
  /** `a > b` (bool). */
  greater(a: ValueLike, b: ValueLike): Value { return this.binary('Greater', a, b); }
  /** `a < b` (bool). */
  less(a: ValueLike, b: ValueLike): Value { return this.binary('Less', a, b); }
  /** `a == b` (bool). */
  equal(a: ValueLike, b: ValueLike): Value { return this.binary('Equal', a, b); }
  /** `a >= b` (bool). */
  greaterOrEqual(a: ValueLike, b: ValueLike): Value { return this.binary('GreaterOrEqual', a, b); }
  /** Elementwise maximum of two values. */
  max(a: ValueLike, b: ValueLike): Value { return this.binary('Max', a, b); }
  /** Elementwise minimum of two values. */
  min(a: ValueLike, b: ValueLike): Value { return this.binary('Min', a, b); }
  /** `|x|`. */
  abs(x: Value): Value { return this.op('Abs', [x]); }
  /** Natural logarithm. */
  log(x: Value): Value { return this.op('Log', [x]); }
  /** `⌊x⌋`. */
  floor(x: Value): Value { return this.op('Floor', [x]); }
  /** `-x`. */
  neg(x: Value): Value { return this.op('Neg', [x]); }
  /** `√x`. */
  sqrt(x: Value): Value { return this.op('Sqrt', [x]); }
  /** `1 / x`. */
  reciprocal(x: Value): Value { return this.op('Reciprocal', [x]); }
  /** `eˣ`. */
  exp(x: Value): Value { return this.op('Exp', [x]); }
  /** Error function. */
  erf(x: Value): Value { return this.op('Erf', [x]); }
  /** Cosine. */
  cos(x: Value): Value { return this.op('Cos', [x]); }
  /** Sine. */
  sin(x: Value): Value { return this.op('Sin', [x]); }
  /** `max(x, 0)`. */
  relu(x: Value): Value { return this.op('Relu', [x]); }
  /** Logistic sigmoid. */
  sigmoid(x: Value): Value { return this.op('Sigmoid', [x]); }
  /** Hyperbolic tangent. */
  tanh(x: Value): Value { return this.op('Tanh', [x]); }
  /**
   * Exact GELU in its erf form from standard ops, `x · 0.5 · (1 + erf(x / √2))`, which every
   * runtime runs; {@link geluFusion} turns it into a fused Gelu node where one exists.
   */
  gelu(x: Value): Value {
    return this.mul(this.mul(x, 0.5), this.add(this.erf(this.div(x, SQRT2)), 1));
  }
  /** SiLU / swish: `x · sigmoid(x)`. */
  silu(x: Value): Value { return this.mul(x, this.sigmoid(x)); }
  /** Softmax along `axis` (default last). */
  softmax(x: Value, axis = -1): Value { return this.op('Softmax', [x], { axis }); }
  /** `cond ? a : b` elementwise. */
  where(cond: Value, a: ValueLike, b: ValueLike): Value {
    if (typeof a === 'number' && typeof b === 'number') throw new LeanformerError('INVALID_ARGUMENT', 'where: at least one of a, b must be a Value');
    return this.op('Where', [cond, this.like(a, b), this.like(b, a)]);
  }
  /** Converts elements to `to`. */
  cast(x: Value, to: DType | DTypeName): Value { return this.op('Cast', [x], { to: toDType(to).onnx }); }

  // ---------------------------------------------------------------- linear algebra

  /** Matrix product with numpy batch broadcasting. */
  matmul(a: Value, b: Value): Value { return this.op('MatMul', [a, b]); }

  /** `alpha · A' · B' + beta · C` with optional transposes (2-D). */
  gemm(a: Value, b: Value, c?: Value | null, options: { alpha?: number; beta?: number; transA?: boolean; transB?: boolean } = {}): Value {
    return this.op('Gemm', c ? [a, b, c] : [a, b], {
      alpha: options.alpha, beta: options.beta,
      transA: options.transA === undefined ? undefined : Number(options.transA),
      transB: options.transB === undefined ? undefined : Number(options.transB),
    });
  }

  /** `x · w + bias` with `w` laid out `[in, out]` (ONNX MatMul order, not PyTorch's `[out, in]`). */
  linear(x: Value, w: Value, bias?: Value | null): Value {
    const y = this.matmul(x, w);
    return bias ? this.add(y, bias) : y;
  }

  // ---------------------------------------------------------------- normalization

  /**
   * Layer normalization over the last axes from `axis`: LayerNormalization at opset ≥ 17,
   * else the ReduceMean/Sub/Pow/… decomposition (which {@link layerNormFusion} recognises).
   */
  layerNorm(x: Value, scale: Value, bias?: Value | null, options: { axis?: number; epsilon?: number } = {}): Value {
    const axis = options.axis ?? -1;
    const epsilon = options.epsilon ?? 1e-5;
    if (this.opset >= 17) return this.op('LayerNormalization', bias ? [x, scale, bias] : [x, scale], { axis, epsilon });
    if (axis !== -1) throw new LeanformerError('NOT_SUPPORTED', `layerNorm: axis ${axis} needs opset ≥ 17 (the decomposition normalises the last axis only); opset is ${this.opset}`);
    const mean = this.reduceMean(x, [-1]);
    const d = this.sub(x, mean);
    const variance = this.reduceMean(this.pow(d, 2), [-1]);
    const y = this.mul(this.div(d, this.sqrt(this.add(variance, epsilon))), scale);
    return bias ? this.add(y, bias) : y;
  }

  /**
   * RMS normalization over the last axis, `x / √(mean(x²) + ε) · scale`, from standard ops
   * (Pow, ReduceMean, Add, Sqrt, Div, Mul) so every runtime and opset runs it;
   * {@link rmsNormFusion} turns it into a fused node for ONNX Runtime.
   */
  rmsNorm(x: Value, scale: Value, options: { epsilon?: number } = {}): Value {
    const epsilon = options.epsilon ?? 1e-6;
    const ms = this.reduceMean(this.pow(x, 2), [-1]);
    return this.mul(this.div(x, this.sqrt(this.add(ms, epsilon))), scale);
  }

  /** Inference-mode batch normalization (NCHW). */
  batchNorm(x: Value, scale: Value, bias: Value, mean: Value, variance: Value, options: { epsilon?: number } = {}): Value {
    return this.op('BatchNormalization', [x, scale, bias, mean, variance], { epsilon: options.epsilon });
  }

  // ---------------------------------------------------------------- shape manipulation

  /** Permutes axes (reverses them when `perm` is omitted). */
  transpose(x: Value, perm?: readonly number[]): Value { return this.op('Transpose', [x], { perm }); }

  /** Reshapes; in `shape`, 0 copies the input dim and -1 is inferred. */
  reshape(x: Value, shape: Value | readonly number[]): Value {
    return this.op('Reshape', [x, Array.isArray(shape) ? this.int64(shape as number[]) : (shape as Value)]);
  }

  /** Concatenates along `axis`. */
  concat(values: readonly Value[], axis: number): Value {
    if (!values.length) throw new LeanformerError('INVALID_ARGUMENT', 'concat: needs at least one value');
    return this.op('Concat', values, { axis });
  }

  /**
   * Splits along `axis` into the given `sizes`, or into `num` equal parts
   * (opset ≥ 18 uses `num_outputs`; earlier opsets need a static dim to compute sizes).
   */
  split(x: Value, options: { axis?: number; sizes?: readonly number[]; num?: number }): Value[] {
    const axis = options.axis ?? 0;
    if (options.sizes) return this.op('Split', [x, this.int64(options.sizes)], { axis }, { outputs: options.sizes.length });
    const num = options.num;
    if (!num || !Number.isInteger(num) || num < 1) throw new LeanformerError('INVALID_ARGUMENT', 'split: give sizes or a positive integer num');
    if (this.opset >= 18) return this.op('Split', [x], { axis, num_outputs: num }, { outputs: num });
    const dim = x.shape?.[axis < 0 ? x.shape.length + axis : axis];
    if (typeof dim !== 'number' || dim % num !== 0) throw new LeanformerError('NOT_SUPPORTED', `split: at opset ${this.opset} splitting into ${num} parts needs a static dim divisible by ${num}; axis ${axis} is ${dim ?? 'unknown'}`);
    return this.split(x, { axis, sizes: Array.from({ length: num }, () => dim / num) });
  }

  /** Slices `[starts, ends)` on `axes` (all leading axes when omitted) with optional `steps`. */
  slice(x: Value, starts: Value | readonly number[], ends: Value | readonly number[], axes?: Value | readonly number[], steps?: Value | readonly number[]): Value {
    const v = (a: Value | readonly number[] | undefined) => (a === undefined ? null : Array.isArray(a) ? this.int64(a as number[]) : (a as Value));
    const ins = [x, v(starts), v(ends), v(axes), v(steps)];
    while (ins.length > 3 && ins[ins.length - 1] === null) ins.pop();
    return this.op('Slice', ins);
  }

  /** Gathers along `axis`; a number index gives a scalar index (the axis is dropped). */
  gather(x: Value, indices: Value | number | readonly number[], axis = 0): Value {
    const idx = indices instanceof Value ? indices : this.int64(indices as number | number[]);
    return this.op('Gather', [x, idx], { axis });
  }

  /** Inserts size-1 axes. */
  unsqueeze(x: Value, axes: readonly number[]): Value {
    return this.opset >= 13 ? this.op('Unsqueeze', [x, this.int64(axes)]) : this.op('Unsqueeze', [x], { axes });
  }

  /** Removes size-1 axes (all of them when `axes` is omitted). */
  squeeze(x: Value, axes?: readonly number[]): Value {
    if (this.opset >= 13) return this.op('Squeeze', axes ? [x, this.int64(axes)] : [x]);
    return this.op('Squeeze', [x], { axes });
  }

  /** Broadcasts to `shape` (numpy rules). */
  expand(x: Value, shape: Value | readonly number[]): Value {
    return this.op('Expand', [x, Array.isArray(shape) ? this.int64(shape as number[]) : (shape as Value)]);
  }

  /**
   * Pads with `pads` in ONNX order (`[x1_begin, x2_begin, …, x1_end, x2_end, …]`, every axis);
   * 'constant' mode fills with `value` (default 0).
   */
  pad(x: Value, pads: readonly number[], options: { mode?: 'constant' | 'reflect' | 'edge'; value?: number } = {}): Value {
    const value = options.value ?? 0;
    const fill = value === 0 ? null : this.like(value, x);
    return this.op('Pad', fill ? [x, this.int64(pads), fill] : [x, this.int64(pads)], { mode: options.mode ?? 'constant' });
  }

  /**
   * The `k` largest (or smallest) elements along `axis` (default last) and their int64 indices,
   * sorted best first unless `sorted` is false. `k` is a number or a 1-D int64 `[1]` value.
   */
  topK(x: Value, k: number | Value, options: { axis?: number; largest?: boolean; sorted?: boolean } = {}): { values: Value; indices: Value } {
    const kv = typeof k === 'number' ? this.int64([k]) : k;
    const [values, indices] = this.op('TopK', [x, kv], {
      axis: options.axis ?? -1, largest: Number(options.largest ?? true), sorted: Number(options.sorted ?? true),
    }, { outputs: 2 }) as [Value, Value];
    return { values, indices };
  }

  /** `out[…, i, …] = x[…, indices[…, i, …], …]` along `axis`: the result has the shape of `indices`. */
  gatherElements(x: Value, indices: Value, axis = 0): Value { return this.op('GatherElements', [x, indices], { axis }); }

  /** Flattens to 2-D: `[prod(dims[:axis]), prod(dims[axis:])]`. */
  flatten(x: Value, axis = 1): Value { return this.op('Flatten', [x], { axis }); }

  /** The shape of `x` as an int64 vector, optionally `dims[start:end]` (opset ≥ 15). */
  shape(x: Value, start?: number, end?: number): Value {
    return this.op('Shape', [x], { start, end });
  }

  /** `[start, start + delta, …)` up to `limit`; numbers become scalar constants of the other operands' dtype (int64 default). */
  range(start: ValueLike, limit: ValueLike, delta: ValueLike = 1): Value {
    const ref = [start, limit, delta].find((v): v is Value => typeof v !== 'number');
    const dt = ref?.dtype ?? DTypes.int64;
    const s = (v: ValueLike) => (typeof v === 'number' ? this.scalar(v, dt) : v);
    return this.op('Range', [s(start), s(limit), s(delta)]);
  }

  // ---------------------------------------------------------------- reductions

  /** Mean over `axes` (all when omitted), keeping reduced dims unless `keepdims` is false. */
  reduceMean(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceMean', x, axes, keepdims); }
  /** Sum over `axes` (all when omitted). */
  reduceSum(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceSum', x, axes, keepdims); }
  /** Maximum over `axes` (all when omitted). */
  reduceMax(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduce('ReduceMax', x, axes, keepdims); }

  /** A Reduce* op: axes as an input from the opset that moved them there (13 for ReduceSum, 18 for the rest), else an attribute. */
  private reduce(op: string, x: Value, axes: readonly number[] | undefined, keepdims: boolean): Value {
    const kd = keepdims ? 1 : 0;
    if (this.opset >= (op === 'ReduceSum' ? 13 : 18)) return this.op(op, axes ? [x, this.int64(axes)] : [x], { keepdims: kd });
    return this.op(op, [x], { axes, keepdims: kd });
  }

  // ---------------------------------------------------------------- convolution and pooling

  /** N-D convolution (NCHW); `group` > 1 gives grouped / depthwise convolution. */
  conv(x: Value, w: Value, bias?: Value | null, options: ConvOptions = {}): Value {
    return this.op('Conv', bias ? [x, w, bias] : [x, w], {
      strides: options.strides, pads: options.pads, dilations: options.dilations,
      group: options.group, kernel_shape: options.kernelShape, auto_pad: options.autoPad,
    });
  }

  /** Global average pooling over the spatial dims (keeps them as size 1). */
  globalAvgPool(x: Value): Value { return this.op('GlobalAveragePool', [x]); }

  /** Max pooling. */
  maxPool(x: Value, options: PoolOptions): Value {
    return this.op('MaxPool', [x], {
      kernel_shape: options.kernelShape, strides: options.strides, pads: options.pads,
      dilations: options.dilations, ceil_mode: options.ceilMode === undefined ? undefined : Number(options.ceilMode),
    });
  }

  /** Average pooling; padding is excluded from the mean unless `countIncludePad`. */
  avgPool(x: Value, options: PoolOptions & { countIncludePad?: boolean }): Value {
    return this.op('AveragePool', [x], {
      kernel_shape: options.kernelShape, strides: options.strides, pads: options.pads,
      ceil_mode: options.ceilMode === undefined ? undefined : Number(options.ceilMode),
      count_include_pad: options.countIncludePad === undefined ? undefined : Number(options.countIncludePad),
    });
  }
}

/** Options of {@link GraphBuilder.conv}; ONNX semantics (pads are `[x1_begin, x2_begin, …, x1_end, x2_end, …]`). */
export interface ConvOptions {
  readonly strides?: readonly number[];
  readonly pads?: readonly number[];
  readonly dilations?: readonly number[];
  readonly group?: number;
  readonly kernelShape?: readonly number[];
  readonly autoPad?: 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';
}

/** Options of {@link GraphBuilder.maxPool} and {@link GraphBuilder.avgPool}. */
export interface PoolOptions {
  readonly kernelShape: readonly number[];
  readonly strides?: readonly number[];
  readonly pads?: readonly number[];
  readonly dilations?: readonly number[];
  readonly ceilMode?: boolean;
}

function toDType(d: DType | DTypeName): DType {
  return typeof d === 'string' ? lookupDType(d) : d;
}

function qualified(domain: string, op: string): string {
  return domain ? `${domain}::${op}` : op;
}

const ATTR_TYPES: ReadonlySet<string> = new Set<AttributeType>([
  'float', 'int', 'string', 'tensor', 'graph', 'sparse_tensor', 'type_proto', 'floats', 'ints', 'strings',
  'tensors', 'graphs', 'sparse_tensors', 'type_protos', 'ref',
]);

/** True when `v` is already a tagged {@link Attribute}. */
export function isAttribute(v: unknown): v is Attribute {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Tensor) && !(v instanceof Graph)
    && typeof (v as { type?: unknown }).type === 'string' && ATTR_TYPES.has((v as { type: string }).type) && 'value' in v;
}

/**
 * Converts a plain JS value to an attribute of op `op`. With a schema that lists the attribute,
 * its declared type decides; a schema that lists attributes but not this one is an error
 * (a typo would otherwise reach the runtime). Without a schema the type is inferred from JS.
 */
export function toAttribute(op: string, name: string, raw: AttrInput, schema?: OpSchema): Attribute {
  if (isAttribute(raw)) return raw;
  const spec = schema?.attributes?.[name];
  if (schema && schema.attributes && !spec) {
    const allowed = Object.keys(schema.attributes);
    throw new LeanformerError('INVALID_ARGUMENT', `${op} has no attribute '${name}'; allowed: ${allowed.length ? allowed.join(', ') : 'none'}`);
  }
  const type = spec?.type ?? inferAttrType(op, name, raw);
  const bad = (want: string): never => {
    throw new LeanformerError('INVALID_ARGUMENT', `${op} attribute '${name}' must be ${want}; got ${describeJs(raw)}`);
  };
  const isInt = (x: unknown) => (typeof x === 'number' && Number.isInteger(x)) || typeof x === 'bigint' || typeof x === 'boolean';
  const toInt = (x: unknown) => (typeof x === 'boolean' ? Number(x) : (x as number | bigint));
  switch (type) {
    case 'float':
      if (typeof raw === 'number') return { type, value: raw };
      if (typeof raw === 'bigint') return { type, value: Number(raw) };
      return bad('a number (float)');
    case 'int':
      return isInt(raw) ? { type, value: toInt(raw) } : bad('an integer (int)');
    case 'string':
      return typeof raw === 'string' ? { type, value: raw } : bad('a string');
    case 'floats':
      return Array.isArray(raw) && raw.every((x) => typeof x === 'number') ? { type, value: [...(raw as number[])] } : bad('an array of numbers (floats)');
    case 'ints':
      return Array.isArray(raw) && raw.every(isInt) ? { type, value: (raw as unknown[]).map(toInt) } : bad('an array of integers (ints)');
    case 'strings':
      return Array.isArray(raw) && raw.every((x) => typeof x === 'string') ? { type, value: [...(raw as string[])] } : bad('an array of strings');
    case 'tensor':
      return raw instanceof Tensor ? { type, value: raw } : bad('a Tensor');
    case 'graph':
      return raw instanceof Graph ? { type, value: raw } : bad('a Graph');
    case 'tensors':
      return Array.isArray(raw) && raw.every((x) => x instanceof Tensor) ? { type, value: [...(raw as Tensor[])] } : bad('an array of Tensors');
    case 'graphs':
      return Array.isArray(raw) && raw.every((x) => x instanceof Graph) ? { type, value: [...(raw as Graph[])] } : bad('an array of Graphs');
    default:
      throw new LeanformerError('INVALID_ARGUMENT', `${op} attribute '${name}' has type '${type}', which needs an explicit Attribute object`);
  }
}

function inferAttrType(op: string, name: string, raw: AttrInput): AttributeType {
  if (typeof raw === 'number') return Number.isInteger(raw) ? 'int' : 'float';
  if (typeof raw === 'bigint' || typeof raw === 'boolean') return 'int';
  if (typeof raw === 'string') return 'string';
  if (raw instanceof Tensor) return 'tensor';
  if (raw instanceof Graph) return 'graph';
  if (Array.isArray(raw)) {
    if (!raw.length) throw new LeanformerError('INVALID_ARGUMENT', `${op} attribute '${name}': cannot infer the type of an empty array; pass attr.ints([]), attr.floats([]) or attr.strings([])`);
    if (raw.every((x) => typeof x === 'string')) return 'strings';
    if (raw.every((x) => (typeof x === 'number' && Number.isInteger(x)) || typeof x === 'bigint')) return 'ints';
    if (raw.every((x) => typeof x === 'number')) return 'floats';
    if (raw.every((x) => x instanceof Tensor)) return 'tensors';
    if (raw.every((x) => x instanceof Graph)) return 'graphs';
  }
  throw new LeanformerError('INVALID_ARGUMENT', `${op} attribute '${name}': cannot infer an attribute type from ${describeJs(raw)}`);
}

function describeJs(v: unknown): string {
  if (Array.isArray(v)) return `[${v.slice(0, 4).map(describeJs).join(', ')}${v.length > 4 ? ', …' : ''}]`;
  if (v instanceof Tensor) return v.toString();
  if (v instanceof Graph) return `graph '${v.name}'`;
  return typeof v === 'string' ? `'${v}'` : `${String(v)} (${typeof v})`;
}

/** Checks the input and output counts against the schema's formals. */
function checkArity(schema: OpSchema, op: string, inputs: readonly (Value | null)[], outputs: number): void {
  const formals = schema.inputs;
  const variadic = formals.length > 0 && formals[formals.length - 1]!.option === 'variadic';
  if (!variadic && inputs.length > formals.length) {
    throw new LeanformerError('INVALID_ARGUMENT', `${op} takes at most ${formals.length} inputs (${formals.map((f) => f.name).join(', ')}); got ${inputs.length}`);
  }
  for (const [i, f] of formals.entries()) {
    if (f.option === 'optional') continue;
    if (f.option === 'variadic') {
      const n = inputs.length - i;
      if (n < (f.minArity ?? 1)) throw new LeanformerError('INVALID_ARGUMENT', `${op} needs at least ${f.minArity ?? 1} '${f.name}' input(s); got ${Math.max(n, 0)}`);
      break;
    }
    if (!inputs[i]) throw new LeanformerError('INVALID_ARGUMENT', `${op} input ${i} '${f.name}' is required`);
  }
  const outFormals = schema.outputs;
  const outVariadic = outFormals.length > 0 && outFormals[outFormals.length - 1]!.option === 'variadic';
  if (!outVariadic && outputs > outFormals.length) {
    throw new LeanformerError('INVALID_ARGUMENT', `${op} has at most ${outFormals.length} outputs (${outFormals.map((f) => f.name).join(', ')}); ${outputs} were asked`);
  }
}

/** Checks that inputs sharing a type constraint agree and are allowed by it. */
function checkTypeConstraints(schema: OpSchema, op: string, inputs: readonly (Value | null)[]): void {
  const bound = new Map<string, { dtype: DType; index: number }>();
  const formals = schema.inputs;
  for (const [i, v] of inputs.entries()) {
    const dt = v?.dtype;
    if (!v || !dt || !formals.length) continue;
    const f = formals[Math.min(i, formals.length - 1)]!;
    const ts = f.typeStr;
    if (!ts) continue;
    const allowed = schema.typeConstraints?.[ts];
    if (allowed && !allowed.includes(dt.name)) {
      throw new LeanformerError('INVALID_DTYPE', `${op} input ${i} '${f.name}' is ${dt.name}; type ${ts} allows ${allowed.join(', ')}`);
    }
    const prev = bound.get(ts);
    if (prev && prev.dtype !== dt) {
      throw new LeanformerError('INVALID_DTYPE', `${op} input ${i} '${f.name}' is ${dt.name} but input ${prev.index} already bound type ${ts} to ${prev.dtype.name}`);
    }
    if (!prev) bound.set(ts, { dtype: dt, index: i });
  }
}
