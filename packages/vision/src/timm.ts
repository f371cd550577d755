import { LeanformerError, readSafetensors, Tensor, type Graph } from '@leanformer/core';
import type { VisionModel } from './model.js';
import { TIMM_SHAPE, TIMM_TRANSPOSED } from './timm-layers.js';

/**
 * Loading timm weights into the builders. Builder parameters are named by timm's
 * state-dict keys, so the mapping is by name; the only layout change is for linear
 * weights feeding a MatMul, which the builder stores as [in, out] (marked
 * `TIMM_TRANSPOSED`) and which are transposed on load.
 */

/** State-dict entries that are buffers the graph does not need (counters, index tables). */
const IGNORED_SUFFIXES = ['num_batches_tracked', 'attention_bias_idxs'];

/** What {@link loadTimmWeights} did. */
export interface TimmLoadReport {
  /** Graph initializers replaced by state-dict tensors. */
  readonly loaded: readonly string[];
  /** Graph parameters or buffers with no state-dict entry (kept at their initial values). */
  readonly missing: readonly string[];
  /** State-dict entries the graph has no initializer for (excluding ignored buffers). */
  readonly unexpected: readonly string[];
}

/** Options of {@link loadTimmWeights}. */
export interface TimmLoadOptions {
  /** Throw when anything is missing or unexpected (default true). */
  readonly strict?: boolean;
}

function transpose2d(t: Tensor): Tensor {
  const [r, c] = t.shape as [number, number];
  const src = t.toFloat32();
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j]!;
  return new Tensor('float32', [c, r], out);
}

/**
 * Replaces a model's initializers with timm state-dict tensors (float32, float16 or bfloat16;
 * converted to float32). Shapes must match exactly (transposed for MatMul-layout linears).
 *
 * @example
 * ```ts
 * const m = efficientvit('m0', { numClasses: 10 });
 * const { tensors } = readSafetensors(await readFile('efficientvit_m0.safetensors'));
 * loadTimmWeights(m, tensors); // throws on any missing or unexpected key
 * ```
 */
export function loadTimmWeights(model: VisionModel | Graph, weights: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>, options: TimmLoadOptions = {}): TimmLoadReport {
  const graph = 'graph' in model ? model.graph : model;
  const map = weights instanceof Map ? weights as ReadonlyMap<string, Tensor> : new Map(Object.entries(weights as Record<string, Tensor>));
  const loaded: string[] = [];
  const missing: string[] = [];
  const used = new Set<string>();
  for (const v of graph.initializers.values()) {
    if (v.meta.get('leanformer.param') === false) continue; // builder constants (index tables, shapes)
    const t = map.get(v.name);
    if (!t) { missing.push(v.name); continue; }
    used.add(v.name);
    if (!t.dtype.isFloat) throw new LeanformerError('INVALID_DTYPE', `loadTimmWeights: '${v.name}' is ${t.dtype.name}; expected a float tensor`);
    const transposed = v.meta.get(TIMM_TRANSPOSED) === true;
    const want = v.const!.shape;
    // timm's shape: reversed for MatMul-layout linears, recorded for reshaped weights (1-D convs).
    const timmShape = (v.meta.get(TIMM_SHAPE) as readonly number[] | undefined) ?? (transposed ? [...want].reverse() : want);
    if (t.shape.length !== timmShape.length || t.shape.some((d, i) => d !== timmShape[i])) {
      throw new LeanformerError('SHAPE_MISMATCH', `loadTimmWeights: '${v.name}' has shape [${t.shape.join(', ')}] in the state dict; the model needs [${timmShape.join(', ')}]`, { details: { name: v.name } });
    }
    const f32 = t.dtype.name === 'float32' ? t : new Tensor('float32', t.shape, t.toFloat32());
    graph.setInitializer(v, transposed ? transpose2d(f32) : new Tensor('float32', want, f32.data));
    loaded.push(v.name);
  }
  const unexpected = [...map.keys()].filter((k) => !used.has(k) && !IGNORED_SUFFIXES.some((s) => k.endsWith(s)));
  if ((options.strict ?? true) && (missing.length || unexpected.length)) {
    const show = (xs: string[]) => xs.slice(0, 5).join(', ') + (xs.length > 5 ? `, … (${xs.length} in all)` : '');
    throw new LeanformerError('INVALID_ARGUMENT', `loadTimmWeights: state dict does not match the model${missing.length ? `; missing: ${show(missing)}` : ''}${unexpected.length ? `; unexpected: ${show(unexpected)}` : ''}`, { details: { missing, unexpected } });
  }
  return { loaded, missing, unexpected };
}

/**
 * Loads a timm safetensors file (the bytes of `model.safetensors` / `save_file(model.state_dict())`).
 *
 * @example
 * ```ts
 * loadTimmSafetensors(fasternet('t0'), new Uint8Array(await readFile('fasternet_t0.safetensors')));
 * ```
 */
export function loadTimmSafetensors(model: VisionModel | Graph, bytes: Uint8Array, options: TimmLoadOptions = {}): TimmLoadReport {
  return loadTimmWeights(model, readSafetensors(bytes).tensors, options);
}

/**
 * Loads weights from the initializers of a timm ONNX export decoded into the IR. The export
 * must keep state-dict names and unfused batch norms (`torch.onnx.export(...,
 * do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)` on a model in eval
 * mode); a default export folds BN into the convs, and loading then fails with the missing keys named.
 */
export function loadTimmOnnxInitializers(model: VisionModel | Graph, onnxGraph: Graph, options: TimmLoadOptions = {}): TimmLoadReport {
  const weights = new Map<string, Tensor>();
  for (const [name, v] of onnxGraph.initializers) if (v.const && v.const.dtype.isFloat) weights.set(name, v.const);
  return loadTimmWeights(model, weights, options);
}
