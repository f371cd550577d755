import type { Tensor } from '../tensor.js';
import type { Graph } from './graph.js';
import type { ValueType } from './types.js';

/** An attribute value, tagged with its ONNX attribute type. Ints that do not fit a JS number stay bigint. */
export type Attribute =
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'int'; readonly value: number | bigint }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'tensor'; readonly value: Tensor }
  | { readonly type: 'graph'; readonly value: Graph }
  | { readonly type: 'sparse_tensor'; readonly value: OpaqueBytes }
  | { readonly type: 'type_proto'; readonly value: ValueType | null }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'ints'; readonly value: readonly (number | bigint)[] }
  | { readonly type: 'strings'; readonly value: readonly string[] }
  | { readonly type: 'tensors'; readonly value: readonly Tensor[] }
  | { readonly type: 'graphs'; readonly value: readonly Graph[] }
  | { readonly type: 'sparse_tensors'; readonly value: readonly OpaqueBytes[] }
  | { readonly type: 'type_protos'; readonly value: readonly (ValueType | null)[] }
  /** Inside a function body: the attribute takes the value of the caller's attribute `ref`. */
  | { readonly type: 'ref'; readonly value: string; readonly refType: string };

/** Bytes of a message kept verbatim because the IR does not model it (e.g. sparse tensors). */
export interface OpaqueBytes { readonly opaque: Uint8Array }

/** The tag of an Attribute (`float`, `ints`, `graph`, …). */
export type AttributeType = Attribute['type'];

/** Attributes with optional doc strings, as a node carries them. */
export type AttributeMap = Map<string, Attribute & { readonly docString?: string }>;

/** Helpers that build attributes from plain JS values, inferring the ONNX type. */
export const attr = {
  float: (value: number): Attribute => ({ type: 'float', value }),
  int: (value: number | bigint): Attribute => ({ type: 'int', value }),
  string: (value: string): Attribute => ({ type: 'string', value }),
  tensor: (value: Tensor): Attribute => ({ type: 'tensor', value }),
  graph: (value: Graph): Attribute => ({ type: 'graph', value }),
  floats: (value: readonly number[]): Attribute => ({ type: 'floats', value }),
  ints: (value: readonly (number | bigint)[]): Attribute => ({ type: 'ints', value }),
  strings: (value: readonly string[]): Attribute => ({ type: 'strings', value }),
};
