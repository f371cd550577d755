// The one QMatMul emitter: rewrites a linear layer into leanformer.QMatMul over a quantized weight.
// Where the new tensors live is the caller's `WeightStorage`: in memory (quantizeModel), or
// written to the output data file at once (the streaming pass), so both paths produce the same
// graph from the same quantized weight.
import {
  attr, DTypes, float32ToFloat16Bits, Tensor, type DType, type EmbeddingLayer, type Graph, type LinearLayer, type Node, type Value,
} from '@leanformer/core';
import { packMatMulNBits, type MatMulNBitsTensors, type QuantBits, type QuantizedWeight } from './blockwise.js';
import type { PackedLayer } from './methods/registry.js';

/** Makes the tensors the emitter adds (in memory, or written to a file and read back lazily). */
export interface WeightStorage {
  store(dtype: DType, shape: readonly number[], bytes: Uint8Array): Tensor;
}

/** Tensors kept in memory. */
export const IN_MEMORY: WeightStorage = { store: (dtype, shape, bytes) => Tensor.fromBytes(dtype, shape, bytes) };

/** float32 values as bytes of `dt` (float32 or float16). */
export function floatBytes(dt: typeof DTypes.float32 | typeof DTypes.float16, values: Float32Array): Uint8Array {
  if (dt === DTypes.float32) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const h = Uint16Array.from(values, (v) => float32ToFloat16Bits(v));
  return new Uint8Array(h.buffer);
}

/** Options of {@link emitQMatMul}. */
export interface EmitOptions {
  readonly forceUint8: boolean;
  readonly accuracyLevel: number;
  readonly sparsity?: string;
  /** The input to read instead of the node's current one (a scaled input). */
  readonly input?: Value;
  readonly storage?: WeightStorage;
  /**
   * Tensors already emitted per quantized weight object: a weight shared by several layers
   * (quantized once, the same result object) is stored once and read by every QMatMul.
   */
  readonly shared?: WeakMap<object, (Value | null)[]>;
}

/**
 * Rewrites one linear layer to QMatMul with the quantized weight (packed here unless already
 * packed). Codebook weights (`q.codebook`, e.g. NF4) add the 16-entry table as input 5.
 * Fractional zero points rounded for the target are reported in `notes`.
 */
export function emitQMatMul(l: LinearLayer, q: QuantizedWeight | PackedLayer, opts: EmitOptions, notes: string[]): Node {
  const g = l.node.graph;
  const storage = opts.storage ?? IN_MEMORY;
  const dt = l.node.input(0).dtype === DTypes.float16 ? DTypes.float16 : DTypes.float32;
  const reuse = opts.shared?.get(q);
  let B: Value, S: Value, Z: Value | null, C: Value | null;
  if (reuse) [B, S, Z, C] = reuse as [Value, Value, Value | null, Value | null];
  else {
    const hadFloatZp = !('packed' in q) && q.zeroPoints !== null && q.zeroPoints.some((z) => !Number.isInteger(z));
    // ORT CPU runs 8-bit MatMulNBits only with uint8 zero points (float ones need its unpacked 2/4-bit path).
    const force = opts.forceUint8 || q.bits === 8;
    const t = 'packed' in q ? q.packed : packMatMulNBits(q, { forceUint8ZeroPoints: force });
    if (hadFloatZp && force) notes.push(`${l.weight.name}: fractional zero points rounded to uint8 (${q.bits === 8 ? '8-bit MatMulNBits takes uint8 zero points' : 'the target takes uint8 zero points'})`);
    const base = l.weight.name;
    B = g.addInitializer(g.uniqueName(`${base}_Q${q.bits}`), storage.store(DTypes.uint8, t.bShape, t.B));
    S = g.addInitializer(g.uniqueName(`${base}_scales`), storage.store(dt, [t.scales.length], floatBytes(dt, t.scales)));
    Z = null;
    if (t.zeroPoints instanceof Uint8Array) Z = g.addInitializer(g.uniqueName(`${base}_zp`), storage.store(DTypes.uint8, [t.zeroPoints.length], t.zeroPoints));
    else if (t.zeroPoints) Z = g.addInitializer(g.uniqueName(`${base}_zp`), storage.store(dt, [t.zeroPoints.length], floatBytes(dt, t.zeroPoints)));
    const codebook = 'packed' in q ? undefined : q.codebook;
    C = codebook ? g.addInitializer(g.uniqueName(`${base}_codebook`), Tensor.fromBytes(dt, [codebook.length], floatBytes(dt, Float32Array.from(codebook)).slice())) : null;
    opts.shared?.set(q, [B, S, Z, C]);
  }
  let bias: Value | null = null;
  if (l.bias) {
    const bt = l.bias.const!;
    bias = bt.shape.length === 1 && bt.dtype === dt ? l.bias : g.addInitializer(g.uniqueName(`${l.bias.name}_1d`), Tensor.fromBytes(dt, [l.N], floatBytes(dt, bt.toFloat32()).slice()));
  }
  return l.node.graph.replaceNode(l.node, {
    op: 'QMatMul', domain: 'leanformer', name: l.node.name,
    // The node's current input: an earlier rewrite may have replaced the value `l.input` held.
    inputs: C ? [opts.input ?? l.node.input(0), B, S, Z, bias, C] : [opts.input ?? l.node.input(0), B, S, Z, bias],
    attrs: {
      K: attr.int(l.K), N: attr.int(l.N), bits: attr.int(q.bits), block_size: attr.int(q.blockSize),
      accuracy_level: attr.int(opts.accuracyLevel), ...(opts.sparsity ? { sparsity: attr.string(opts.sparsity) } : {}),
    },
  });
}

/**
 * Rewrites an embedding Gather into leanformer.QGather over a packed [D, V]-as-[K, N] table
 * (blocks along D per row; uint8 zero points).
 */
export function emitQGather(e: EmbeddingLayer, t: MatMulNBitsTensors, bits: QuantBits, blockSize: number, storage: WeightStorage = IN_MEMORY): Node {
  const g = e.node.graph;
  const dt = e.node.output(0).dtype === DTypes.float16 ? DTypes.float16 : DTypes.float32;
  const blocks = e.D / blockSize;
  const data = g.addInitializer(g.uniqueName(`${e.table.name}_Q${bits}`), storage.store(DTypes.uint8, [e.V, (e.D * bits) / 8], t.B));
  const sc = g.addInitializer(g.uniqueName(`${e.table.name}_scales`), storage.store(dt, [e.V, blocks], floatBytes(dt, t.scales)));
  const zp = t.zeroPoints ? g.addInitializer(g.uniqueName(`${e.table.name}_zp`), storage.store(DTypes.uint8, [e.V, t.zeroPoints.length / e.V], t.zeroPoints as Uint8Array)) : null;
  return e.node.graph.replaceNode(e.node, { op: 'QGather', domain: 'leanformer', name: e.node.name, inputs: [data, e.node.input(1), sc, zp], attrs: { bits: attr.int(bits), block_size: attr.int(blockSize) } });
}
