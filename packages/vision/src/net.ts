import { attr, DTypes, Graph, LeanformerError, rng, Tensor, tensorType, type Attribute, type Dim, type Rng, type Value } from '@leanformer/core';

/**
 * Internal graph-building layer for the vision builders. It writes plain ONNX-domain
 * nodes onto a core `Graph` and sets every output's type from shapes the block computes
 * itself, so FLOP counting and lowering never depend on a separate inference step.
 * Initializers are named by their timm state-dict keys, which is what weight loading maps.
 */

/** A shape whose entries are integers or symbolic names / products (`'batch'`, `'batch*4'`). */
export type Shape = readonly Dim[];

/** How a parameter is initialised. */
export type Init =
  | { readonly kind: 'normal'; readonly std: number; readonly mean?: number }
  | { readonly kind: 'trunc_normal'; readonly std: number }
  | { readonly kind: 'const'; readonly value: number }
  | { readonly kind: 'uniform'; readonly lo: number; readonly hi: number };

/** Meta key on an initializer: the tensor is stored transposed relative to timm (2-D [in, out] vs [out, in]). */
export const TIMM_TRANSPOSED = 'leanformer.timm.transposed';

/** Product of a shape's static dims; throws on a symbolic dim (callers only ask for weight sizes). */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') throw new LeanformerError('INVALID_ARGUMENT', `numel: shape [${shape.join(', ')}] has a non-static dim`);
    n *= d;
  }
  return n;
}

/** Multiplies a (possibly symbolic) dim by an integer: `mulDim('batch', 4) === 'batch*4'`. */
export function mulDim(d: Dim, k: number): Dim {
  if (k === 1) return d;
  if (typeof d === 'number') return d * k;
  if (d === null) return null;
  return `${d}*${k}`;
}

/** Graph under construction plus a seeded initializer source. */
export class Net {
  readonly graph: Graph;
  private readonly rng: Rng;
  private counter = 0;

  /**
   * @param seed  seed of the parameter initialisation
   * @param opset ai.onnx opset of the graph
   * @param random false fills random-initialised parameters with zeros (constant inits such as BN
   *   weights are still set): for structure-only builds (counting), where drawing millions of
   *   samples would dominate the build time
   */
  constructor(name: string, seed: number, opset = 17, private readonly random = true) {
    if (!Number.isInteger(seed)) throw new LeanformerError('INVALID_ARGUMENT', `seed must be an integer, got ${seed}`);
    this.graph = new Graph(name);
    this.graph.opsets.set('', opset);
    this.graph.model = {
      irVersion: 8, producerName: 'leanformer', producerVersion: '0.1.0', domain: '', modelVersion: 1,
      docString: '', metadataProps: new Map(), functions: [], trainingInfo: [],
    };
    this.rng = rng(seed);
  }

  /** A float32 graph input. */
  input(name: string, shape: Shape): Value {
    return this.graph.addInput(name, tensorType(DTypes.float32, shape));
  }

  /** A float32 parameter (initializer) named `name` (a timm state-dict key). */
  param(name: string, shape: readonly number[], init: Init): Value {
    const n = numel(shape);
    const data = new Float32Array(n);
    if (!this.random && init.kind !== 'const') return this.graph.addInitializer(name, new Tensor('float32', shape, data));
    for (let i = 0; i < n; i++) {
      switch (init.kind) {
        case 'const': data[i] = init.value; break;
        case 'normal': data[i] = (init.mean ?? 0) + init.std * this.rng.normal(); break;
        case 'uniform': data[i] = init.lo + (init.hi - init.lo) * this.rng.uniform(); break;
        case 'trunc_normal': {
          let z: number;
          do z = this.rng.normal(); while (Math.abs(z) > 2);
          data[i] = init.std * z;
          break;
        }
      }
    }
    return this.graph.addInitializer(name, new Tensor('float32', shape, data));
  }

  /** A non-parameter constant (index tables, shapes, scalars), with a fresh name. */
  constant(tensor: Tensor, base = 'const'): Value {
    const v = this.graph.addInitializer(this.graph.uniqueName(`${base}_${this.counter++}`), tensor);
    v.meta.set('leanformer.param', false);
    return v;
  }

  /** An int64 1-D constant (Reshape shapes, Split sizes, axes…). */
  i64(values: readonly number[]): Value {
    return this.constant(Tensor.from('int64', [values.length], values.map((x) => BigInt(x))), 'i64');
  }

  /** A float32 scalar constant. */
  scalar(value: number): Value {
    return this.constant(Tensor.from('float32', [], [value]), 'scalar');
  }

  /** Adds a node with one float32 output whose shape is `shape`. */
  op(op: string, inputs: readonly (Value | null)[], attrs: Record<string, Attribute>, shape: Shape, name?: string): Value {
    return this.opT(op, inputs, attrs, shape, 'float32', name);
  }

  /** Adds a node with one output of the given dtype and shape (int64 shape/index arithmetic). */
  opT(op: string, inputs: readonly (Value | null)[], attrs: Record<string, Attribute>, shape: Shape, dtype: 'float32' | 'int64', name?: string): Value {
    const node = this.graph.addNode({ op, inputs, attrs, name: name ?? `${op}_${this.counter++}` });
    const out = node.output();
    out.type = tensorType(DTypes[dtype], shape);
    return out;
  }

  /** Adds a node with several outputs of the given shapes. */
  opN(op: string, inputs: readonly (Value | null)[], attrs: Record<string, Attribute>, shapes: readonly Shape[]): Value[] {
    const name = `${op}_${this.counter++}`;
    const outputs = shapes.map((_, i) => this.graph.uniqueName(`${name}_out${i}`));
    const node = this.graph.addNode({ op, inputs, attrs, outputs, name });
    return shapes.map((s, i) => {
      const v = node.output(i);
      v.type = tensorType(DTypes.float32, s);
      return v;
    });
  }

  /** Marks `v` as a graph output, renamed to `name`. */
  output(v: Value, name: string): Value {
    v.name = name;
    this.graph.addOutput(v);
    return v;
  }
}

/** The static shape of a value built by a `Net` (its type is always set). */
export function shapeOf(v: Value): Shape {
  const s = v.shape;
  if (!s) throw new LeanformerError('INVALID_GRAPH', `value '${v.name}' has no shape`);
  return s;
}

/** Dim `i` of `v` as a number (throws when symbolic). */
export function dimOf(v: Value, i: number): number {
  const s = shapeOf(v);
  const d = s[i < 0 ? s.length + i : i];
  if (typeof d !== 'number') throw new LeanformerError('INVALID_GRAPH', `value '${v.name}' dim ${i} is not static (${String(d)})`);
  return d;
}

export { attr };
