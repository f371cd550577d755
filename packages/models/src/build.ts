// The one decoder builder: a DecoderSpec (from a family) plus a WeightSource (checkpoint tensors)
// give a Graph with a KV cache, in the input/output naming of @leanformer/kv-cache's decode loop.
import { GraphBuilder, LeanformerError, Tensor, type Graph, type Value } from '@leanformer/core';
import { attentionOp, ropeOp, ropeTables } from '@leanformer/attention';
import type { DecoderSpec, RopeScaling, WeightRef } from './families.js';

/** Where checkpoint tensors come from: in-memory safetensors, or files read lazily (Node). */
export interface WeightSource {
  /** dtype and shape of a tensor without reading it; undefined when absent. */
  info(name: string): { readonly dtype: string; readonly shape: readonly number[] } | undefined;
  /** Reads one tensor (F32, F16 or BF16) as float32. */
  read(name: string): Tensor;
  /** The file a tensor lives in (for messages). */
  fileOf(name: string): string;
  /** Every tensor name. */
  names(): string[];
}

/** Options of {@link buildCausalLM}. */
export interface BuildOptions {
  /** Inputs `past_key_<l>`/`past_value_<l>` and outputs `present_key_<l>`/`present_value_<l>` (default true). */
  readonly kvCache?: boolean;
  /** Graph name (default the model type). */
  readonly name?: string;
  /**
   * Also output each layer's queries after RoPE, `query_<l>` float32 `[1, seq, heads·headDim]` (the
   * decode loop's H2O/SnapKV eviction scores positions with them). Default false.
   */
  readonly queryOutputs?: boolean;
}

/** Float dtypes a checkpoint's weights may have. */
export const WEIGHT_DTYPES: readonly string[] = ['float32', 'float16', 'bfloat16'];

/**
 * RoPE inverse frequencies `theta^(-2i/headDim)` with a checkpoint's scaling applied, rounded to
 * float32 as transformers computes them. `dynamic` (NTK) equals the default below
 * `max_position_embeddings`, which is the graph's position capacity, so it uses the default.
 *
 * @example
 * ```ts
 * scaledRopeInvFreq(128, 500000, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
 * ```
 */
export function scaledRopeInvFreq(headDim: number, theta: number, scaling: RopeScaling): Float64Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.fround(1 / Math.fround(theta ** ((2 * i) / headDim)));
  if (scaling.type === 'linear') for (let i = 0; i < half; i++) inv[i] = Math.fround(inv[i]! / scaling.factor);
  if (scaling.type === 'llama3') {
    const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositions: old } = scaling;
    const lowWave = old / lo, highWave = old / hi;
    for (let i = 0; i < half; i++) {
      const f = inv[i]!;
      const wave = (2 * Math.PI) / f;
      if (wave > lowWave) inv[i] = Math.fround(f / factor);
      else if (wave >= highWave) {
        const smooth = (old / wave - lo) / (hi - lo);
        inv[i] = Math.fround((1 - smooth) * (f / factor) + smooth * f);
      }
    }
  }
  return inv;
}

/**
 * Checkpoint tensors as graph parameters, each checked against the shape the config implies
 * (missing: INVALID_ARGUMENT; wrong shape: SHAPE_MISMATCH; dtype other than F32/F16/BF16:
 * NOT_SUPPORTED) and read lazily where large. Shared by the decoder and encoder builders.
 *
 * @example
 * ```ts
 * const L = new Loader(new GraphBuilder('m'), weights);
 * const y = L.linear(x, { weight: 'fc.weight', bias: 'fc.bias', layout: 'linear' }, 64, 256);
 * ```
 */
export class Loader {
  constructor(readonly b: GraphBuilder, readonly w: WeightSource) {}

  private tensor(name: string, shape: readonly number[], why: string): Tensor {
    this.check(name, shape, why);
    return this.w.read(name);
  }

  private check(name: string, shape: readonly number[], why: string): void {
    const info = this.w.info(name);
    if (!info) throw new LeanformerError('INVALID_ARGUMENT', `checkpoint: tensor '${name}' (${why}) is missing`, { details: { field: name } });
    if (!WEIGHT_DTYPES.includes(info.dtype)) throw new LeanformerError('NOT_SUPPORTED', `${this.w.fileOf(name)}: tensor '${name}' has dtype ${info.dtype}; supported: ${WEIGHT_DTYPES.join(', ')}`, { details: { file: this.w.fileOf(name), field: name } });
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new LeanformerError('SHAPE_MISMATCH', `${this.w.fileOf(name)}: tensor '${name}' has shape [${info.shape.join(', ')}] but config.json implies [${shape.join(', ')}] (${why})`, { details: { file: this.w.fileOf(name), field: name } });
    }
  }

  /**
   * A float32 tensor read from the checkpoint only when its data is first needed (shape and dtype are
   * checked now), so a writer can stream the model one tensor at a time (Tensor.release drops it again).
   */
  private lazy(name: string, shape: readonly number[], why: string, outShape: readonly number[], convert: (t: Tensor) => Tensor): Tensor {
    this.check(name, shape, why);
    const n = outShape.reduce((a, d) => a * d, 1);
    return new Tensor('float32', outShape, { byteLength: 4 * n, load: () => convert(this.w.read(name)).bytes() });
  }

  /** A projection `x·W (+ b)` with W as `[in, out]` (torch `[out, in]` transposed on load). */
  linear(x: Value, ref: WeightRef, inDim: number, outDim: number): Value {
    const w = ref.layout === 'conv1d'
      ? this.lazy(ref.weight, [inDim, outDim], 'Conv1D [in, out]', [inDim, outDim], (t) => t)
      : this.lazy(ref.weight, [outDim, inDim], 'Linear [out, in]', [inDim, outDim], transpose);
    const y = this.b.matmul(x, this.b.param(ref.weight, w));
    return ref.bias ? this.b.add(y, this.b.param(ref.bias, this.tensor(ref.bias, [outDim], 'bias'))) : y;
  }

  vector(name: string, n: number, offset = 0): Value {
    const t = this.tensor(name, [n], 'norm');
    if (!offset) return this.b.param(name, t);
    return this.b.param(name, new Tensor('float32', [n], t.toFloat32().map((v) => v + offset)));
  }

  /** A tensor of any rank kept as stored (read lazily): conv kernels, class tokens, position tables. */
  weight(name: string, shape: readonly number[], why: string): Tensor { return this.lazy(name, shape, why, shape, (t) => t); }

  table(name: string, rows: number, cols: number): Tensor { return this.lazy(name, [rows, cols], 'table', [rows, cols], (t) => t); }

  /** A `[rows, cols]` table stored transposed, `[cols, rows]` (the LM head). */
  tableTransposed(name: string, rows: number, cols: number): Tensor { return this.lazy(name, [rows, cols], 'table', [cols, rows], transpose); }
}

function transpose(t: Tensor): Tensor {
  const [r, c] = t.shape as [number, number];
  const a = t.data instanceof Float32Array ? t.data : t.toFloat32(); // no second copy of a float32 tensor (2 GB for a 128K × 4096 head)
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j]!;
  return new Tensor('float32', [c, r], out);
}

/**
 * The MLP activations of the supported families: SiLU, exact (erf) GELU, tanh-approximated GELU.
 *
 * @example
 * ```ts
 * const h = activation(b, x, 'gelu_tanh');
 * ```
 */
export function activation(b: GraphBuilder, x: Value, kind: DecoderSpec['activation']): Value {
  if (kind === 'silu') return b.silu(x);
  if (kind === 'gelu') return b.gelu(x);
  // tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
  const inner = b.mul(b.add(x, b.mul(b.mul(b.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return b.mul(b.mul(x, 0.5), b.add(b.tanh(inner), 1));
}

/**
 * Builds a causal LM graph from a family spec and checkpoint tensors. Input `tokens` int64
 * `[1, seq]`; output `logits` float32 `[1, seq, vocab]`; with `kvCache` (default) inputs
 * `past_key_<l>`/`past_value_<l>` float32 `[1, kvHeads, past, headDim]` and outputs
 * `present_key_<l>`/`present_value_<l>`, positions continuing from `past`. Linear weights keep their
 * checkpoint names, stored `[in, out]` so quantization's linear-layer finder sees plain MatMuls;
 * the LM head is `lm_head.weight` (a transposed copy of the embeddings when tied). Every tensor is
 * checked against the config (missing: INVALID_ARGUMENT; wrong shape: SHAPE_MISMATCH; dtype other
 * than F32/F16/BF16: NOT_SUPPORTED).
 *
 * @example
 * ```ts
 * const graph = buildCausalLM(familyOf(config, 'config.json').spec(config, 'config.json'), weights);
 * ```
 */
export function buildCausalLM(spec: DecoderSpec, weights: WeightSource, o: BuildOptions = {}): Graph {
  const kv = o.kvCache ?? true;
  const b = new GraphBuilder(o.name ?? spec.modelType);
  const L = new Loader(b, weights);
  const { hidden: Hd, heads: H, kvHeads: G, headDim: D, ffn: F } = spec;
  const tokens = b.input('tokens', 'int64', [1, 'seq']);
  const pastK: Value[] = [], pastV: Value[] = [];
  if (kv) {
    for (let l = 0; l < spec.layers; l++) {
      pastK.push(b.input(`past_key_${l}`, 'float32', [1, G, 'past', D]));
      pastV.push(b.input(`past_value_${l}`, 'float32', [1, G, 'past', D]));
    }
  }
  const offset = kv ? b.shape(pastK[0]!, 2, 3) : null; // int64 [1]: tokens already in the cache
  const embed = L.table(spec.embed, spec.vocab, Hd);
  let x = b.gather(b.param(spec.embed, embed), tokens, 0);
  if (spec.embedScale !== undefined) x = b.mul(x, Math.fround(spec.embedScale));
  if (spec.positions.kind === 'learned') {
    const wpe = b.param(spec.positions.table, L.table(spec.positions.table, spec.maxPositions, Hd));
    const S = b.squeeze(b.shape(tokens, 1, 2), [0]);
    let pos = b.range(b.scalar(0, 'int64'), S, b.scalar(1, 'int64'));
    if (offset) pos = b.add(pos, offset);
    x = b.add(x, b.gather(wpe, pos, 0));
  }
  const invFreq = spec.positions.kind === 'rope' ? scaledRopeInvFreq(D, spec.positions.theta, spec.positions.scaling) : null;
  // One cos/sin pair for every layer and for q and k (at 128K positions each table is 33 MB).
  const rope = invFreq ? ropeTables(b, invFreq, spec.maxPositions, 'model') : null;
  const norm = (h: Value, n: { weight: string; bias?: string }): Value => spec.norm === 'rms'
    ? b.rmsNorm(h, L.vector(n.weight, Hd, spec.normOffset), { epsilon: spec.eps })
    : b.layerNorm(h, L.vector(n.weight, Hd), n.bias ? L.vector(n.bias, Hd) : null, { epsilon: spec.eps });
  for (let l = 0; l < spec.layers; l++) {
    const w = spec.layer(l);
    const h = norm(x, w.norm1);
    let q: Value, k: Value, v: Value;
    if ('qkv' in w.attn) [q, k, v] = b.split(L.linear(h, w.attn.qkv, Hd, (H + 2 * G) * D), { axis: -1, sizes: [H * D, G * D, G * D] }) as [Value, Value, Value];
    else { q = L.linear(h, w.attn.q, Hd, H * D); k = L.linear(h, w.attn.k, Hd, G * D); v = L.linear(h, w.attn.v, Hd, G * D); }
    // RoPE inside the attention node (GroupQueryAttention's fused rotary where the target has it), except
    // when the rotated queries are graph outputs too (query_<l>, for SnapKV-style eviction).
    const fusedRope = rope && !o.queryOutputs ? rope : undefined;
    if (invFreq && rope && !fusedRope) {
      q = ropeOp(b, q, H, D, invFreq, spec.maxPositions, offset, `model.layers.${l}`, rope);
      k = ropeOp(b, k, G, D, invFreq, spec.maxPositions, offset, `model.layers.${l}`, rope);
    }
    if (o.queryOutputs) b.output(q, `query_${l}`);
    const att = attentionOp(b, q, k, v, {
      numHeads: H, kvHeads: G, scale: 1 / Math.sqrt(D), ...(fusedRope ? { rope: fusedRope } : {}),
      ...(spec.window !== undefined ? { pattern: { kind: 'window', window: spec.window } } : {}),
      ...(kv ? { pastKey: pastK[l]!, pastValue: pastV[l]! } : {}),
    });
    if (kv) { b.output(att.presentKey!, `present_key_${l}`); b.output(att.presentValue!, `present_value_${l}`); }
    x = b.add(x, L.linear(att.output, w.o, H * D, Hd));
    const h2 = norm(x, w.norm2);
    let m: Value;
    if (w.mlp.kind === 'plain') m = L.linear(activation(b, L.linear(h2, w.mlp.fc, Hd, F), spec.activation), w.mlp.proj, F, Hd);
    else {
      let gate: Value, up: Value;
      if (w.mlp.kind === 'gated-fused') [gate, up] = b.split(L.linear(h2, w.mlp.gateUp, Hd, 2 * F), { axis: -1, sizes: [F, F] }) as [Value, Value];
      else { gate = L.linear(h2, w.mlp.gate, Hd, F); up = L.linear(h2, w.mlp.up, Hd, F); }
      m = L.linear(b.mul(activation(b, gate, spec.activation), up), w.mlp.down, F, Hd);
    }
    x = b.add(x, m);
  }
  x = norm(x, spec.finalNorm);
  const head = L.tableTransposed(spec.lmHead, spec.vocab, Hd); // tied: a second, transposed read of the embeddings
  b.output(b.matmul(x, b.param('lm_head.weight', head)), 'logits');
  const g = b.build();
  g.model!.metadataProps.set('leanformer.model', `hf:${spec.modelType}`);
  return g;
}
