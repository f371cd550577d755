// A compact way to write many op schemas: formals as short strings, version lists, attribute specs.
import type { AttributeSpec, FormalParam, InferFn, OpSchema } from '../schema.js';

/** Type-constraint groups (dtype names) used by the built-in schemas. */
export const FLOAT = ['float16', 'float32', 'float64', 'bfloat16'] as const;
export const SINT = ['int8', 'int16', 'int32', 'int64'] as const;
export const UINT = ['uint8', 'uint16', 'uint32', 'uint64'] as const;
export const INT = [...SINT, ...UINT] as const;
export const NUM = [...FLOAT, ...INT] as const;
export const SIGNED = [...FLOAT, ...SINT] as const;
export const FP8 = ['float8e4m3', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz'] as const;
export const Q4 = ['int4', 'uint4'] as const;
export const ALL = [...NUM, 'bool', 'string', 'complex64', 'complex128', ...FP8, ...Q4] as const;
export const IDX = ['int32', 'int64'] as const;

/**
 * Parses a formal list: `'X:T'` single, `'B?:T'` optional, `'inputs*:T'` variadic
 * (`'inputs+:T'`: at least one). The type string may be a constraint name or `tensor(int64)`.
 */
export function formals(specs: readonly string[]): FormalParam[] {
  return specs.map((s) => {
    const m = /^([A-Za-z_][\w]*)([?*+]?)(?::(.*))?$/.exec(s.trim());
    if (!m) throw new Error(`bad formal spec '${s}'`);
    const [, name, mark, typeStr] = m;
    const option = mark === '?' ? 'optional' : mark === '*' || mark === '+' ? 'variadic' : 'single';
    return { name: name!, option, typeStr: typeStr ?? '', ...(mark === '+' ? { minArity: 1 } : {}) } as FormalParam;
  });
}

/** Attribute spec shorthands. */
export const a = {
  int: (d?: number): AttributeSpec => (d === undefined ? { type: 'int' } : { type: 'int', default: d }),
  float: (d?: number): AttributeSpec => (d === undefined ? { type: 'float' } : { type: 'float', default: d }),
  str: (d?: string): AttributeSpec => (d === undefined ? { type: 'string' } : { type: 'string', default: d }),
  ints: (d?: number[]): AttributeSpec => (d === undefined ? { type: 'ints' } : { type: 'ints', default: d }),
  floats: (d?: number[]): AttributeSpec => (d === undefined ? { type: 'floats' } : { type: 'floats', default: d }),
  strings: (): AttributeSpec => ({ type: 'strings' }),
  tensor: (): AttributeSpec => ({ type: 'tensor' }),
  graph: (): AttributeSpec => ({ type: 'graph', required: true }),
  reqInt: (): AttributeSpec => ({ type: 'int', required: true }),
  reqInts: (): AttributeSpec => ({ type: 'ints', required: true }),
  reqFloat: (): AttributeSpec => ({ type: 'float', required: true }),
  reqStr: (): AttributeSpec => ({ type: 'string', required: true }),
};

/** One op definition valid for several versions that share formals, attributes and inference. */
export interface OpDef {
  readonly name: string;
  readonly domain?: string;
  /** Opset versions that introduced a change (each becomes a registered schema version). */
  readonly since: number | readonly number[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs?: Readonly<Record<string, AttributeSpec>>;
  readonly types?: Readonly<Record<string, readonly string[]>>;
  readonly infer: InferFn;
  readonly doc?: string;
}

/** Expands op definitions into one schema per version. */
export function schemas(defs: readonly OpDef[]): OpSchema[] {
  const outList: OpSchema[] = [];
  for (const d of defs) {
    const versions = typeof d.since === 'number' ? [d.since] : d.since;
    const inputs = formals(d.inputs);
    const outputs = formals(d.outputs);
    for (const since of versions) {
      outList.push(Object.freeze({
        domain: d.domain ?? '', name: d.name, since, inputs, outputs,
        ...(d.attrs ? { attributes: d.attrs } : {}),
        ...(d.types ? { typeConstraints: d.types } : {}),
        infer: d.infer,
        ...(d.doc ? { doc: d.doc } : {}),
      }));
    }
  }
  return outList;
}
