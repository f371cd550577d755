import { LeanformerError } from '../errors.js';
import type { AttributeType, Attribute } from '../ir/attribute.js';
import type { Node } from '../ir/graph.js';
import type { Dim, ValueType } from '../ir/types.js';
import type { Tensor } from '../tensor.js';
import { builtinSchemas } from './builtin.js';

/** One formal input or output of an op. */
export interface FormalParam {
  readonly name: string;
  /** 'single' (required), 'optional', or 'variadic' (last formal only; zero or more unless `minArity`). */
  readonly option?: 'single' | 'optional' | 'variadic';
  /** Type-constraint name (e.g. 'T') or empty for a fixed type. */
  readonly typeStr?: string;
  readonly minArity?: number;
}

/** An attribute of an op schema: its type, and whether it is required or has a default. */
export interface AttributeSpec {
  readonly type: AttributeType;
  readonly required?: boolean;
  readonly default?: Attribute['value'];
}

/** What a shape-inference function sees. Unknown input types are null. */
export interface InferenceContext {
  readonly node: Node;
  /** Opset version in force for the node's domain. */
  readonly opset: number;
  /** Types of the node's inputs (null: omitted input or unknown type). */
  readonly inputTypes: readonly (ValueType | null)[];
  /** Constant content of input i when known (initializer or folded constant), else undefined. */
  constInput(i: number): Tensor | undefined;
  /**
   * Content of input i when it is a shape-like integer tensor (0-D or 1-D) whose elements are known
   * as dims, possibly symbolic (e.g. `['batch', 12, 64]` from Shape → Gather → Concat). Optional:
   * contexts that do not track symbolic values omit it.
   */
  shapeInput?(i: number): readonly Dim[] | undefined;
  /** Attribute value, or the schema default, or `fallback`. */
  attr<T = unknown>(name: string, fallback?: T): T;
  /** Throws a SHAPE_INFERENCE error naming the node. */
  fail(message: string): never;
}

/** Returns the output types (null entries: unknown). May throw LeanformerError('SHAPE_INFERENCE'). */
export type InferFn = (ctx: InferenceContext) => readonly (ValueType | null)[];

/**
 * The schema of one op version: formals, attributes, type constraints, and shape inference.
 * Keyed in the registry by `domain::name::since`.
 */
export interface OpSchema {
  readonly domain: string;
  readonly name: string;
  /** First opset version of `domain` this schema applies to. */
  readonly since: number;
  readonly inputs: readonly FormalParam[];
  readonly outputs: readonly FormalParam[];
  readonly attributes?: Readonly<Record<string, AttributeSpec>>;
  /** Allowed dtype names per type-constraint name. */
  readonly typeConstraints?: Readonly<Record<string, readonly string[]>>;
  readonly infer?: InferFn;
  readonly doc?: string;
}

const registry = new Map<string, OpSchema[]>(); // key domain::name → versions sorted by since

function key(domain: string, name: string): string {
  return `${domain === 'ai.onnx' ? '' : domain}::${name}`;
}

/**
 * Registers an op schema version. Registering the same `domain::name::since` twice throws
 * (the built-in ONNX and com.microsoft schemas are loaded first, so they cannot be shadowed silently).
 */
export function registerSchema(schema: OpSchema): void {
  ensureBuiltinSchemas();
  addSchema(schema);
}

function addSchema(schema: OpSchema): void {
  const k = key(schema.domain, schema.name);
  const list = registry.get(k) ?? [];
  if (list.some((s) => s.since === schema.since)) {
    throw new LeanformerError('INVALID_ARGUMENT', `Op schema ${k}::${schema.since} is already registered`);
  }
  list.push(schema);
  list.sort((a, b) => a.since - b.since);
  registry.set(k, list);
}

let builtinsLoaded = false;
/**
 * Loads the built-in schemas (ONNX default domain, ai.onnx.preview.training, com.microsoft) once.
 * Called by every registry function, so registration never depends on a module side effect
 * (core is `"sideEffects": false`; bundlers may drop unused imports).
 */
export function ensureBuiltinSchemas(): void {
  if (builtinsLoaded) return;
  builtinsLoaded = true;
  for (const s of builtinSchemas()) addSchema(s);
}

/** The schema in force for `domain::name` at `opset` (the latest version with since ≤ opset), if any. */
export function getSchema(domain: string, name: string, opset = Number.MAX_SAFE_INTEGER): OpSchema | undefined {
  ensureBuiltinSchemas();
  const list = registry.get(key(domain, name));
  if (!list) return undefined;
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.since <= opset) return list[i];
  return undefined;
}

/** Every registered schema (all versions). */
export function allSchemas(): OpSchema[] {
  ensureBuiltinSchemas();
  return [...registry.values()].flat();
}
