import type { DType } from '../dtype.js';

/** A dimension: a static size, a symbolic name (`'batch'`), or null when unknown. */
export type Dim = number | string | null;

/** The type of a value. `shape: null` means the rank is unknown; `dtype: null` means the element type is unknown. */
export type ValueType =
  | { readonly kind: 'tensor'; readonly dtype: DType | null; readonly shape: readonly Dim[] | null; readonly denotation?: string }
  | { readonly kind: 'sparse_tensor'; readonly dtype: DType | null; readonly shape: readonly Dim[] | null; readonly denotation?: string }
  | { readonly kind: 'sequence'; readonly elem: ValueType | null; readonly denotation?: string }
  | { readonly kind: 'map'; readonly key: DType; readonly value: ValueType | null; readonly denotation?: string }
  | { readonly kind: 'optional'; readonly elem: ValueType | null; readonly denotation?: string };

/** The tensor member of ValueType. */
export type TensorType = Extract<ValueType, { kind: 'tensor' }>;

/** Shorthand for a tensor type. */
export function tensorType(dtype: DType | null, shape: readonly Dim[] | null): TensorType {
  return { kind: 'tensor', dtype, shape: shape === null ? null : Object.freeze([...shape]) };
}

/** Structural equality of two value types (null = unknown equals only unknown). */
export function typesEqual(a: ValueType | null, b: ValueType | null): boolean {
  if (a === b) return true;
  if (!a || !b || a.kind !== b.kind || (a.denotation ?? '') !== (b.denotation ?? '')) return false;
  switch (a.kind) {
    case 'tensor':
    case 'sparse_tensor': {
      const bb = b as typeof a;
      return a.dtype === bb.dtype && shapesEqual(a.shape, bb.shape);
    }
    case 'sequence':
    case 'optional':
      return typesEqual(a.elem, (b as typeof a).elem);
    case 'map':
      return a.key === (b as typeof a).key && typesEqual(a.value, (b as typeof a).value);
  }
}

/** Equality of shapes, dim by dim (null = unknown rank equals only unknown rank). */
export function shapesEqual(a: readonly Dim[] | null, b: readonly Dim[] | null): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  return a.every((d, i) => d === b[i]);
}

/** Human-readable type, e.g. `float32[batch, 128]`. */
export function formatType(t: ValueType | null): string {
  if (!t) return '?';
  switch (t.kind) {
    case 'tensor':
    case 'sparse_tensor':
      return `${t.kind === 'sparse_tensor' ? 'sparse ' : ''}${t.dtype?.name ?? '?'}${t.shape ? `[${t.shape.map((d) => d ?? '?').join(', ')}]` : '[…]'}`;
    case 'sequence': return `seq(${formatType(t.elem)})`;
    case 'optional': return `optional(${formatType(t.elem)})`;
    case 'map': return `map(${t.key.name}, ${formatType(t.value)})`;
  }
}
