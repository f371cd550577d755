// Per-node shape and type inference through the schema registry.
import { LeanformerError, isLeanformerError } from '../errors.js';
import type { Node } from '../ir/graph.js';
import type { Dim, ValueType } from '../ir/types.js';
import type { Tensor } from '../tensor.js';
import { getSchema, type InferenceContext, type OpSchema } from './schema.js';

/** Options for {@link inferNode}. */
export interface InferNodeOptions {
  /** Known constant content per input index (overrides `Value.const`), e.g. folded values. */
  readonly constInputs?: readonly (Tensor | undefined)[];
  /** Symbolic content per input index of shape-like integer inputs (see InferenceContext.shapeInput). */
  readonly shapeInputs?: readonly (readonly Dim[] | undefined)[];
  /** Types per input index to use instead of the input values' own types. */
  readonly inputTypes?: readonly (ValueType | null)[];
  /**
   * Also check input dtypes against the schema's type constraints (allowed dtypes, and one dtype
   * per constraint across inputs). Default false; inferShapes turns it on in strict mode.
   */
  readonly checkTypes?: boolean;
}

/**
 * Infers the output types of one node from its input types, attributes and constant inputs,
 * using the schema in force at `opset` (the opset of the node's domain).
 * Returns one entry per node output (null: unknown). An op without a schema gives all nulls.
 * Throws LeanformerError('SHAPE_INFERENCE') naming the node when its inputs or attributes are
 * inconsistent (e.g. incompatible broadcast, a missing required input).
 *
 * @example
 * ```ts
 * const g = new Graph();
 * const x = g.addInput('x', tensorType(DTypes.float32, ['batch', 3, 1]));
 * const y = g.addInput('y', tensorType(DTypes.float32, [4]));
 * const add = g.addNode({ op: 'Add', inputs: [x, y] });
 * inferNode(add, 17); // [float32[batch, 3, 4]]
 * ```
 */
export function inferNode(node: Node, opset: number, options: InferNodeOptions = {}): (ValueType | null)[] {
  const n = node.outputs.length;
  const schema = getSchema(node.domain, node.op, opset);
  if (!schema?.infer) return new Array<ValueType | null>(n).fill(null);
  const ctx = makeContext(node, opset, schema, options);
  checkArity(ctx, schema);
  if (options.checkTypes) checkTypeConstraints(ctx, schema);
  let res: readonly (ValueType | null)[];
  try {
    res = schema.infer(ctx);
  } catch (e) {
    if (isLeanformerError(e, 'SHAPE_INFERENCE')) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new LeanformerError('SHAPE_INFERENCE', `${node.describe()} (opset ${opset}): ${msg}`, { cause: e, details: { op: node.qualifiedOp, node: node.name } });
  }
  const outTypes = new Array<ValueType | null>(n).fill(null);
  for (let i = 0; i < n && i < res.length; i++) outTypes[i] = res[i] ?? null;
  return outTypes;
}

function tensorDims(t: Tensor): Dim[] {
  const d = t.data as ArrayLike<number | bigint>;
  return Array.from(d, Number);
}

function makeContext(node: Node, opset: number, schema: OpSchema, options: InferNodeOptions): InferenceContext {
  const inputTypes = options.inputTypes ?? node.inputs.map((v) => v?.type ?? null);
  return {
    node,
    opset,
    inputTypes,
    constInput(i: number): Tensor | undefined {
      return options.constInputs?.[i] ?? node.inputs[i]?.const;
    },
    shapeInput(i: number): readonly Dim[] | undefined {
      const t = options.constInputs?.[i] ?? node.inputs[i]?.const;
      if (t && !t.dtype.isFloat && t.shape.length <= 1 && t.dtype.storage !== 'string') return tensorDims(t);
      return options.shapeInputs?.[i];
    },
    attr<T>(name: string, fallback?: T): T {
      const a = node.attrs.get(name);
      if (a !== undefined && a.type !== 'ref') return a.value as T;
      const d = schema.attributes?.[name]?.default;
      return (d !== undefined ? d : fallback) as T;
    },
    fail(message: string): never {
      throw new LeanformerError('SHAPE_INFERENCE', `${node.describe()} (opset ${opset}): ${message}`, { details: { op: node.qualifiedOp, node: node.name } });
    },
  };
}

/** Required inputs present, no surplus inputs; required attributes present. */
function checkArity(ctx: InferenceContext, schema: OpSchema): void {
  const ins = ctx.node.inputs;
  const formals = schema.inputs;
  const variadic = formals.length > 0 && formals[formals.length - 1]!.option === 'variadic';
  formals.forEach((f, i) => {
    if ((f.option ?? 'single') === 'single' && !ins[i]) ctx.fail(`required input ${i} ('${f.name}') is missing`);
    if (f.option === 'variadic' && (f.minArity ?? 0) > 0 && ins.length <= i) ctx.fail(`variadic input '${f.name}' needs at least ${f.minArity} value(s)`);
  });
  if (!variadic && ins.length > formals.length) ctx.fail(`has ${ins.length} inputs; at most ${formals.length} allowed (${formals.map((f) => f.name).join(', ')})`);
  for (const [name, spec] of Object.entries(schema.attributes ?? {})) {
    if (spec.required && !ctx.node.attrs.has(name)) ctx.fail(`required attribute '${name}' is missing`);
  }
}

const HETEROGENEOUS = new Set(['Loop', 'Scan', 'SequenceMap']);

/** Formal (and its index) that node input i binds to (the last formal if it is variadic). */
function formalFor(schema: OpSchema, i: number) {
  const f = schema.inputs;
  if (i < f.length) return f[i];
  const last = f[f.length - 1];
  return last?.option === 'variadic' ? last : undefined;
}

/** Input dtypes must be allowed by their constraint, and inputs sharing a constraint share a dtype. */
function checkTypeConstraints(ctx: InferenceContext, schema: OpSchema): void {
  const bound = new Map<string, { dtype: string; input: number }>();
  ctx.inputTypes.forEach((t, i) => {
    const f = formalFor(schema, i);
    if (!f || !t || t.kind !== 'tensor' || !t.dtype) return;
    const ts = f.typeStr ?? '';
    const fixed = /^tensor\((\w+)\)$/.exec(ts);
    const name = t.dtype.name;
    if (fixed) {
      const want = fixed[1] === 'float' ? 'float32' : fixed[1] === 'double' ? 'float64' : fixed[1]!;
      if (want !== name) ctx.fail(`input ${i} ('${f.name}') has dtype ${name}; allowed: ${want}`);
      return;
    }
    const allowed = schema.typeConstraints?.[ts];
    if (!allowed) return;
    if (!allowed.includes(name) && !allowed.includes('seq') && !allowed.includes('optional')) ctx.fail(`input ${i} ('${f.name}') has dtype ${name}; allowed for ${ts}: ${allowed.join(', ')}`);
    // Loop/Scan/SequenceMap carry values of different types through one variadic formal.
    if (f.option === 'variadic' && HETEROGENEOUS.has(ctx.node.op) && ctx.node.domain === '') return;
    const prev = bound.get(ts);
    if (prev && prev.dtype !== name) ctx.fail(`inputs ${prev.input} and ${i} are both of type ${ts} but have dtypes ${prev.dtype} and ${name}`);
    if (!prev) bound.set(ts, { dtype: name, input: i });
  });
}
