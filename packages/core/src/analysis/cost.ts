import { LeanformerError } from '../errors.js';
import type { Graph, Node, Value } from '../ir/graph.js';
import type { Dim } from '../ir/types.js';

/**
 * FLOP and parameter counting over the IR.
 *
 * Convention (stated once, used everywhere): `flops` counts **multiply-accumulates**
 * (MACs) of the ops that dominate vision and transformer models — convolutions,
 * matrix products and their quantized forms — which is what the EfficientViT,
 * FasterNet and most model-zoo tables report under the name "FLOPs". Element-wise
 * ops, normalizations, pooling and softmax are not part of `flops`; their element
 * counts are reported apart in `elementwise` so nothing is hidden.
 *
 * `params` counts the elements of initializers that a training framework would call
 * parameters: integer index/shape constants, batch-norm running statistics and
 * quantization scales/zero points are left out (PyTorch keeps those in buffers, so
 * counts match `sum(p.numel() for p in model.parameters())`). Packed quantized
 * weights count their logical elements. A value's `meta.get('leanformer.param')`
 * (true/false) overrides the rule.
 */

/** Cost of one op type in a graph. */
export interface OpCost {
  /** Number of nodes of this op type. */
  count: number;
  /** MACs of these nodes (0 for ops outside the MAC convention). */
  flops: number;
}

/** Result of {@link analyzeGraph}. */
export interface GraphCost {
  /** Trainable parameter elements (see the module comment for the rule). */
  params: number;
  /** Parameter bytes as stored (packed dtypes at their real width). */
  paramBytes: number;
  /** Multiply-accumulates of Conv/MatMul/Gemm and quantized variants. */
  flops: number;
  /** Output elements of every other op (element-wise, norms, pooling, softmax…), for information. */
  elementwise: number;
  /** Per op type (`domain::op`, domain omitted for ai.onnx). */
  byOp: Record<string, OpCost>;
  /**
   * Nodes whose MACs could not be counted (unknown or symbolic shapes, or a heavy op
   * such as an attention kernel this pass does not model). Empty means `flops` is complete.
   */
  uncounted: string[];
  /**
   * Nodes counted by an upper bound: sparse-pattern attention (window, block-sparse, …) is
   * counted as dense, since whether skipped scores are computed depends on the lowering.
   */
  approximate: string[];
}

/** Options of {@link analyzeGraph}. */
export interface AnalyzeOptions {
  /**
   * Values for symbolic dims, e.g. `{ batch: 1 }`. A dim written as a product (`'batch*4'`, as
   * window partitioning produces) is resolved factor by factor. Unbound dims make a node uncounted.
   */
  dims?: Readonly<Record<string, number>>;
}

/** Inputs that hold auxiliary constants, not parameters (index → true), keyed by `domain::op`. */
const AUX_INPUTS: Record<string, readonly number[]> = {
  BatchNormalization: [3, 4],
  DequantizeLinear: [1, 2],
  QuantizeLinear: [1, 2],
  QLinearMatMul: [1, 2, 4, 5, 6, 7],
  QLinearConv: [1, 2, 4, 5, 6, 7],
  MatMulInteger: [2, 3],
  ConvInteger: [2, 3],
  'com.microsoft::MatMulNBits': [2, 3, 4],
};

/** Ops counted as MACs; each returns MACs from resolved shapes or null when it cannot. */
type MacFn = (node: Node, shape: (v: Value | null | undefined) => number[] | null) => number | null;

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

function convMacs(node: Node, shape: (v: Value | null | undefined) => number[] | null, w = 1): number | null {
  const out = shape(node.outputs[0]);
  const ws = shape(node.inputs[w]);
  if (!out || !ws) return null;
  // weight [Cout, Cin/group, k...]: every output element does Cin/group * prod(k) MACs.
  return prod(out) * prod(ws.slice(1));
}

function matmulMacs(node: Node, shape: (v: Value | null | undefined) => number[] | null, a = 0): number | null {
  const out = shape(node.outputs[0]);
  const as = shape(node.inputs[a]);
  if (!out || !as || as.length === 0) return null;
  return prod(out) * as[as.length - 1]!;
}

const MAC_OPS: Record<string, MacFn> = {
  Conv: (n, s) => convMacs(n, s),
  ConvInteger: (n, s) => convMacs(n, s),
  QLinearConv: (n, s) => convMacs(n, s, 3),
  'com.microsoft::FusedConv': (n, s) => convMacs(n, s),
  ConvTranspose: (n, s) => {
    const x = s(n.inputs[0]);
    const w = s(n.inputs[1]);
    if (!x || !w) return null;
    // weight [Cin, Cout/group, k...]: every input element feeds Cout/group * prod(k) MACs.
    return prod(x) * prod(w.slice(1));
  },
  MatMul: (n, s) => matmulMacs(n, s),
  MatMulInteger: (n, s) => matmulMacs(n, s),
  QLinearMatMul: (n, s) => matmulMacs(n, s),
  'com.microsoft::MatMulNBits': (n, s) => {
    const out = s(n.outputs[0]);
    const k = Number(n.attr('K', 0));
    return out && k > 0 ? prod(out) * k : null;
  },
  'leanformer::QMatMul': (n, s) => matmulMacs(n, s),
  Gemm: (n, s) => {
    const out = s(n.outputs[0]);
    const a = s(n.inputs[0]);
    if (!out || !a || a.length !== 2) return null;
    return prod(out) * (Number(n.attr('transA', 0)) ? a[0]! : a[1]!);
  },
  Einsum: () => null,
  // Attention: QKᵀ and PV, each B·H·S·T·D MACs (T = past + current keys).
  'leanformer::Attention': (n, s) => {
    const q = s(n.inputs[0]);
    const k = s(n.inputs[1]);
    const h = Number(n.attr('num_heads', 0));
    if (!q || !k || q.length !== 3 || h <= 0) return null;
    const [b, sq, hd] = q as [number, number, number];
    const past = s(n.inputs[3]);
    const t = k[1]! + (past && past.length === 4 ? past[2]! : 0);
    return 2 * b * sq * t * hd;
  },
  Attention: (n, s) => {
    const q = s(n.inputs[0]);
    const k = s(n.inputs[1]);
    if (!q || !k) return null;
    if (q.length === 4 && k.length === 4) {
      const past = s(n.inputs[4]);
      const t = k[2]! + (past && past.length === 4 ? past[2]! : 0);
      return 2 * q[0]! * q[1]! * q[2]! * t * q[3]!;
    }
    if (q.length === 3 && k.length === 3) return 2 * q[0]! * q[1]! * k[1]! * q[2]!;
    return null;
  },
};

/** Heavy ops whose cost this pass does not model: listed in `uncounted` rather than silently 0. */
const HEAVY_UNMODELED = new Set(['com.microsoft::Attention', 'com.microsoft::MultiHeadAttention',
  'com.microsoft::GroupQueryAttention', 'com.microsoft::SparseAttention', 'Einsum', 'Loop', 'Scan', 'If']);

/** Ops that move or reinterpret data without arithmetic; left out of `elementwise`. */
const DATA_MOVEMENT = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Identity', 'Shape', 'Size',
  'Concat', 'Split', 'Slice', 'Gather', 'GatherElements', 'GatherND', 'Constant', 'ConstantOfShape', 'Expand', 'Cast',
  'Tile', 'Pad', 'DepthToSpace', 'SpaceToDepth', 'Range', 'TopK', 'ScatterElements', 'ScatterND']);

function resolveShape(v: Value | null | undefined, dims: Readonly<Record<string, number>>): number[] | null {
  const s = v?.shape;
  if (!s) return null;
  const out: number[] = [];
  for (const d of s as readonly Dim[]) {
    if (typeof d === 'number') out.push(d);
    else if (typeof d === 'string') {
      // A symbolic dim is a name (`batch`) or a product of names and integers (`batch*4`).
      let n = 1;
      for (const f of d.split('*').map((s) => s.trim())) {
        if (/^\d+$/.test(f)) n *= Number(f);
        else if (typeof dims[f] === 'number') n *= dims[f]!;
        else return null;
      }
      out.push(n);
    } else return null;
  }
  return out;
}

/** True when `v` is a trainable parameter under the counting rule. */
export function isParameter(v: Value): boolean {
  const flag = v.meta.get('leanformer.param');
  if (typeof flag === 'boolean') return flag;
  if (!v.const) return false;
  const dt = v.const.dtype;
  if (dt.name === 'bool' || dt.name === 'string' || dt.name === 'int64' || dt.name === 'int32' || dt.name === 'uint64' || dt.name === 'uint32') return false;
  if (v.uses.length === 0) return false;
  // A parameter is used at least once outside an auxiliary slot.
  return v.uses.some((u) => !(AUX_INPUTS[u.node.qualifiedOp] ?? []).includes(u.index));
}

function logicalElements(v: Value): number {
  // MatMulNBits packs B as [N, blocks, blob]; its logical size is N * K.
  for (const u of v.uses) {
    if (u.node.qualifiedOp === 'com.microsoft::MatMulNBits' && u.index === 1) {
      return Number(u.node.attr('N', 0)) * Number(u.node.attr('K', 0));
    }
  }
  return v.const?.size ?? prod((v.shape ?? []).map((d) => (typeof d === 'number' ? d : 0)));
}

/**
 * Counts parameters and multiply-accumulates of a graph from its value shapes
 * (run shape inference first if the graph came without them).
 *
 * @example
 * ```ts
 * const cost = analyzeGraph(graph, { dims: { batch: 1 } });
 * console.log(`${(cost.params / 1e6).toFixed(2)}M params, ${(cost.flops / 1e6).toFixed(0)}M MACs`);
 * ```
 */
export function analyzeGraph(graph: Graph, options: AnalyzeOptions = {}): GraphCost {
  const dims = options.dims ?? {};
  for (const [k, n] of Object.entries(dims)) {
    if (!Number.isSafeInteger(n) || n < 0) throw new LeanformerError('INVALID_ARGUMENT', `analyzeGraph: dims.${k} must be a non-negative integer, got ${n}`);
  }
  let params = 0;
  let paramBytes = 0;
  for (const v of graph.initializers.values()) {
    if (!isParameter(v)) continue;
    params += logicalElements(v);
    paramBytes += v.const?.byteLength ?? 0;
  }
  // Graph inputs flagged as parameters (e.g. weights fed at run time for training).
  for (const v of graph.inputs) {
    if (v.meta.get('leanformer.param') === true && !v.const) {
      const s = resolveShape(v, dims);
      if (s) params += prod(s);
    }
  }
  const shape = (v: Value | null | undefined) => resolveShape(v, dims);
  let flops = 0;
  let elementwise = 0;
  const byOp: Record<string, OpCost> = {};
  const uncounted: string[] = [];
  const approximate: string[] = [];
  for (const node of graph.nodes) {
    const key = node.qualifiedOp;
    const entry = (byOp[key] ??= { count: 0, flops: 0 });
    entry.count++;
    const mac = MAC_OPS[key];
    if (mac) {
      const m = mac(node, shape);
      if (m === null) uncounted.push(`${node.describe()} (shapes unknown)`);
      else {
        entry.flops += m;
        flops += m;
        const pattern = key === 'leanformer::Attention' ? String(node.attr('pattern', 'dense')) : 'dense';
        if (pattern !== 'dense') approximate.push(`${node.describe()} (pattern '${pattern}' counted as dense)`);
      }
    } else if (HEAVY_UNMODELED.has(key)) {
      uncounted.push(`${node.describe()} (cost not modelled)`);
    } else if (!DATA_MOVEMENT.has(node.op)) {
      const out = shape(node.outputs[0]);
      if (out) elementwise += prod(out);
    }
  }
  return { params, paramBytes, flops, elementwise, byOp, uncounted, approximate };
}

/** Formats a count with an SI suffix (`2.16M`, `79.3M`, `1.2G`). */
export function formatCount(n: number, digits = 2): string {
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'K']];
  for (const [scale, unit] of units) if (Math.abs(n) >= scale) return `${(n / scale).toFixed(digits)}${unit}`;
  return String(n);
}
