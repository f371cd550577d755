// The kernel contract: one function per op, keyed `domain::op` in a registry that throws
// on duplicates. A kernel receives run-time values (tfjs tensors or small host values) and
// returns one value per node output. Kernels are pure functions of their inputs and
// attributes, so the compiler may run host kernels once at compile time.

import { dtypeFromOnnx, LeanformerError, type DType, type Node, type Tensor } from '@leanformer/core';
import type * as tfc from '@tensorflow/tfjs-core';
import { HostValue, HOST_MAX_ELEMENTS } from './host.js';

/** A value while a compiled graph runs. */
export type RValue = tfc.Tensor | HostValue;

/** True for host values. */
export function isHost(v: RValue | null | undefined): v is HostValue {
  return v instanceof HostValue;
}

/** What a kernel sees. */
export class KernelContext {
  constructor(
    readonly tf: typeof tfc,
    readonly node: Node,
    readonly opset: number,
    readonly inputs: readonly (RValue | null)[],
    /** Tensors created for this call that the caller must dispose (host → tfjs uploads). */
    private readonly scratch: tfc.Tensor[],
    /** True under a gradient tape: kernels pick differentiable forms over the fastest ones. */
    readonly training = false,
  ) {}

  /** Values of the enclosing graph that this node's subgraphs read (If/Loop). */
  outer: ReadonlyMap<string, RValue> = new Map();
  /** The compiled form of one of this node's subgraphs. */
  subgraph: (g: import('@leanformer/core').Graph) => import('./compile.js').CompiledGraph = () => this.fail('this node has no compiled subgraphs');
  /** Whether input i is a constant of the compiled graph (an initializer that is not trained and no feed replaced); set by the compiler. */
  isConstant: (i: number) => boolean = () => false;
  /** The compiled graph's store for tensors derived from constants (kept until it is disposed); set by the compiler. */
  memoStore: Map<string, tfc.Tensor> | undefined;
  /** Frees the device copies of constant inputs this node alone reads, once they are cached in derived form; set by the compiler. */
  releaseConstants: (inputs: readonly number[]) => void = () => {};

  /**
   * A tensor computed from constant inputs only (e.g. dequantized weights), made once per
   * compiled graph and kept until the graph is disposed. When any of `inputs` is not a constant
   * (or outside a compiled graph) it is made at every call like any intermediate.
   * Contract: read the values of `inputs` only inside `make` (their shapes and dtypes stay
   * readable): once cached, the compiler frees their device copies when no other node reads them.
   */
  fromConstants(key: string, inputs: readonly number[], make: () => tfc.Tensor): tfc.Tensor {
    const store = this.memoStore;
    if (!store || !inputs.every((i) => !this.has(i) || this.isConstant(i))) return make();
    const id = `${inputs.map((i) => this.node.inputs[i]?.name ?? '').join('\u0000')}\u0000${key}`;
    let t = store.get(id);
    if (!t) {
      t = this.tf.keep(make());
      store.set(id, t);
      this.releaseConstants(inputs.filter((i) => this.has(i)));
    }
    return t;
  }

  get op(): string { return this.node.op; }
  get count(): number { return this.inputs.length; }

  /** Whether input i is present. */
  has(i: number): boolean { return this.inputs[i] != null; }

  /** Attribute value (bigint ints become numbers), or `fallback`. */
  attr(name: string, fallback: string): string;
  attr(name: string, fallback: number): number;
  attr<T = number>(name: string, fallback?: T): T;
  attr<T = number>(name: string, fallback?: T): T {
    const a = this.node.attrs.get(name);
    if (!a) return fallback as T;
    if (a.type === 'int') return Number(a.value) as T;
    if (a.type === 'ints') return a.value.map(Number) as T;
    if (a.type === 'ref') this.fail(`attribute '${name}' refers to a function attribute; inline functions first`);
    return a.value as T;
  }

  /** The attribute holding a tensor (e.g. Constant's `value`). */
  attrTensor(name: string): Tensor | undefined {
    const a = this.node.attrs.get(name);
    return a && a.type === 'tensor' ? a.value : undefined;
  }

  /** Input i as a tfjs tensor (uploads host values); throws if absent. */
  t(i: number): tfc.Tensor {
    const v = this.inputs[i];
    if (v == null) this.fail(`input ${i} is required`);
    if (!isHost(v)) return v;
    if (v.cached) return v.cached;
    const t = v.toTf(this.tf);
    this.scratch.push(t);
    return t;
  }

  /** Input i as a tfjs tensor, or null when omitted. */
  opt(i: number): tfc.Tensor | null { return this.has(i) ? this.t(i) : null; }

  /**
   * Input i's values on the host. Host values are free; a tfjs tensor is read synchronously
   * (a device round trip: shape-like inputs computed on the device are rare in exported graphs).
   */
  host(i: number): HostValue | undefined {
    const v = this.inputs[i];
    if (v == null) return undefined;
    if (isHost(v)) return v;
    const data = Array.from(v.dataSync() as ArrayLike<number>);
    const dt = this.node.inputs[i]?.dtype ?? dtypeFromOnnx(v.dtype === 'float32' ? 1 : v.dtype === 'bool' ? 9 : 6);
    return new HostValue(dt, v.shape, data);
  }

  /** Input i as a list of numbers (e.g. a shape or axes), or undefined when omitted. */
  ints(i: number): number[] | undefined { return this.host(i)?.data.map(Number); }

  /** Static shape of input i. */
  shape(i: number): number[] {
    const v = this.inputs[i];
    if (v == null) this.fail(`input ${i} is required`);
    return [...v.shape];
  }

  rank(i: number): number { return this.shape(i).length; }

  /** IR dtype of input i (declared type, else from the run-time value). */
  dtype(i: number): DType {
    const v = this.inputs[i];
    if (isHost(v)) return v.dtype;
    const declared = this.node.inputs[i]?.dtype;
    if (declared) return declared;
    // Undeclared: a Cast producer still says which integer type the int32 values stand for.
    const p = this.node.inputs[i]?.producer;
    if (p && p.op === 'Cast' && p.domain === '' && p.attrs.has('to')) return dtypeFromOnnx(Number(p.attrs.get('to')!.value));
    const t = v?.dtype;
    return dtypeFromOnnx(t === 'float32' ? 1 : t === 'bool' ? 9 : 6);
  }

  /** True when every present input is a host value small enough for the host path. */
  allHost(): boolean {
    return this.inputs.every((v) => v == null || (isHost(v) && v.size <= HOST_MAX_ELEMENTS));
  }

  /** Normalizes a possibly negative axis against `rank`. */
  axis(a: number, rank: number): number {
    const r = a < 0 ? a + rank : a;
    if (!Number.isInteger(r) || r < 0 || r >= Math.max(rank, 1)) this.fail(`axis ${a} is out of range for rank ${rank}`);
    return r;
  }

  fail(message: string): never {
    throw new LeanformerError('EXECUTION_FAILED', `${this.node.describe()}: ${message}`, { details: { op: this.node.op, node: this.node.name } });
  }
}

/** A tfjs kernel: returns one value per output (null for an output it does not produce). */
export type Kernel = (ctx: KernelContext) => RValue | readonly (RValue | null)[];

/** A host kernel: may decline (return undefined) so the tfjs kernel runs instead. */
export type HostKernel = (ctx: KernelContext) => HostValue | readonly (HostValue | null)[] | undefined;

const kernels = new Map<string, Kernel>();
const hostKernels = new Map<string, HostKernel>();

function key(domain: string, op: string): string {
  return `${domain === 'ai.onnx' ? '' : domain}::${op}`;
}

/** Registers the tfjs kernel of `domain::op`; a second registration throws. */
export function registerKernel(op: string, k: Kernel, domain = ''): void {
  const id = key(domain, op);
  if (kernels.has(id)) throw new LeanformerError('INVALID_ARGUMENT', `tfjs kernel ${id} is already registered`);
  kernels.set(id, k);
}

/** Registers the host kernel of `domain::op`; a second registration throws. */
export function registerHostKernel(op: string, k: HostKernel, domain = ''): void {
  const id = key(domain, op);
  if (hostKernels.has(id)) throw new LeanformerError('INVALID_ARGUMENT', `host kernel ${id} is already registered`);
  hostKernels.set(id, k);
}

/** The tfjs kernel for an op, if any. */
export function getKernel(domain: string, op: string): Kernel | undefined { return kernels.get(key(domain, op)); }

/** The host kernel for an op, if any. */
export function getHostKernel(domain: string, op: string): HostKernel | undefined { return hostKernels.get(key(domain, op)); }

/** Every op with a tfjs kernel, as `op` (default domain) or `domain::op`. */
export function supportedOps(): string[] {
  return [...kernels.keys()].map((k) => (k.startsWith('::') ? k.slice(2) : k)).sort();
}
