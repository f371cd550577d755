// Module names: ours (the weight initializer `<module>.weight`, laid out [in, out]) and
// Hugging Face's (the torch module path PEFT writes into adapter files). LLaMA-style models
// built by transformerDecoder already use HF's names; BERT-style encoders built by
// transformerEncoder use LLaMA-like block names that map onto BertModel's.

import { cloneGraph, findLinearLayers, LeanformerError, weightsAsInitializers, type Graph, type Node, type Value } from '@leanformer/core';

/** How our module names map to Hugging Face's. */
export interface ModuleNaming {
  /** 'llama' (identity) or 'bert' (BertModel's attention.self.query … output.dense). */
  readonly name: string;
  /** Our module name → HF module name (without PEFT's `base_model.model.` prefix). */
  toHf(module: string): string;
  /** HF module name → ours; throws NOT_SUPPORTED for a module this naming does not know. */
  fromHf(module: string): string;
}

const BERT_PAIRS: readonly (readonly [string, string])[] = [
  ['self_attn.q_proj', 'attention.self.query'],
  ['self_attn.k_proj', 'attention.self.key'],
  ['self_attn.v_proj', 'attention.self.value'],
  ['self_attn.o_proj', 'attention.output.dense'],
  ['mlp.fc1', 'intermediate.dense'],
  ['mlp.fc2', 'output.dense'],
];

/** LLaMA-style names: ours are HF's (`model.layers.0.self_attn.q_proj`). */
export const LLAMA_NAMING: ModuleNaming = Object.freeze({
  name: 'llama',
  toHf: (m: string) => m,
  fromHf: (m: string) => m,
});

/**
 * BERT-style names: `encoder.layer.0.self_attn.q_proj` ⇄ `encoder.layer.0.attention.self.query`
 * (k/v likewise, `o_proj` ⇄ `attention.output.dense`, `mlp.fc1` ⇄ `intermediate.dense`,
 * `mlp.fc2` ⇄ `output.dense`). `hfPrefix` is prepended on the HF side, e.g. `'bert.'` for
 * BertForSequenceClassification, whose encoder lives under `bert`.
 */
export function bertNaming(hfPrefix = ''): ModuleNaming {
  return Object.freeze({
    name: 'bert',
    toHf(m: string): string {
      const hit = /^encoder\.layer\.(\d+)\.(.+)$/.exec(m);
      const pair = hit && BERT_PAIRS.find(([ours]) => ours === hit[2]);
      if (!hit || !pair) return hfPrefix + m;
      return `${hfPrefix}encoder.layer.${hit[1]}.${pair[1]}`;
    },
    fromHf(m: string): string {
      const s = hfPrefix && m.startsWith(hfPrefix) ? m.slice(hfPrefix.length) : m;
      const hit = /^encoder\.layer\.(\d+)\.(.+)$/.exec(s);
      const pair = hit && BERT_PAIRS.find(([, hf]) => hf === hit[2]);
      if (!hit || !pair) throw new LeanformerError('NOT_SUPPORTED', `bert naming: no leanformer module for HF module '${m}'; known: ${BERT_PAIRS.map(([, hf]) => `encoder.layer.N.${hf}`).join(', ')}`);
      return `encoder.layer.${hit[1]}.${pair[0]}`;
    },
  });
}

/** Resolves a naming given by name ('llama' | 'bert') or as an object. */
export function resolveNaming(n: ModuleNaming | 'llama' | 'bert' | undefined): ModuleNaming {
  if (n === undefined || n === 'llama') return LLAMA_NAMING;
  if (n === 'bert') return bertNaming();
  if (typeof n === 'object' && typeof n.toHf === 'function') return n;
  throw new LeanformerError('INVALID_ARGUMENT', `naming must be 'llama', 'bert' or a ModuleNaming object, got ${String(n)}`);
}

/**
 * Which modules an adapter targets, as PEFT's `target_modules`: a list of names (a module
 * matches when its HF name equals one or ends with `.<name>`), a regular expression (as a
 * string, PEFT's convention: it must match the whole HF name), a RegExp, or 'all-linear'
 * (every linear layer except the output head).
 */
export type TargetModules = readonly string[] | string | RegExp;

/** A linear layer of a graph: `MatMul(x, W)` with `W` a 2-D float initializer (`<module>.weight`, or any name). */
export interface LinearModule {
  /** Our module name (the initializer name without `.weight`). */
  readonly module: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** The MatMul node. */
  readonly node: Node;
  /** The weight initializer `[in, out]`. */
  readonly weight: Value;
}

/**
 * Every linear layer of `graph` that LoRA can wrap: core's linear-layer finder (the one quant
 * uses), MatMul form (`[in, out]` weights). The module name is the weight's name without
 * `.weight` (or the whole name when it has no such suffix, e.g. paddle2onnx's `linear_0.w_0`).
 * Weights in Constant or Identity nodes are seen once {@link withInitializerWeights} (or core's
 * `weightsAsInitializers`) has run on the graph.
 */
export function findLinearModules(graph: Graph): LinearModule[] {
  return findLinearLayers(graph).filter((l) => l.kind === 'matmul').map((l) => ({
    module: l.weight.name.endsWith('.weight') ? l.weight.name.slice(0, -'.weight'.length) : l.weight.name,
    inFeatures: l.K, outFeatures: l.N, node: l.node, weight: l.weight,
  }));
}

/**
 * `graph` itself when every weight is already an initializer; else a copy with Constant and
 * Identity weights moved to initializers (so module names and shapes read the same as in the
 * copies that injection and merging rewrite).
 */
export function withInitializerWeights(graph: Graph): Graph {
  const hidden = graph.nodes.some((n) => n.domain === '' && (n.op === 'Constant' || (n.op === 'Identity' && n.inputs[0]?.isInitializer)));
  if (!hidden) return graph;
  const g = cloneGraph(graph);
  weightsAsInitializers(g);
  return g;
}

const HEAD_NAMES = /(^|\.)(lm_head|classifier|score|output_layer)$/;

/** True when `module` (our name) is selected by `targets` (see {@link TargetModules}). */
export function matchesTarget(module: string, targets: TargetModules, naming: ModuleNaming = LLAMA_NAMING): boolean {
  const hf = naming.toHf(module);
  if (targets instanceof RegExp) return targets.test(hf) || targets.test(module);
  if (typeof targets === 'string') {
    if (targets === 'all-linear') return !HEAD_NAMES.test(module);
    const re = new RegExp(`^(?:${targets})$`);
    return re.test(hf) || re.test(module);
  }
  return targets.some((t) => hf === t || hf.endsWith(`.${t}`) || module === t || module.endsWith(`.${t}`));
}

/** The linear modules of `graph` that `targets` selects; throws when none does. */
export function selectModules(graph: Graph, targets: TargetModules, naming: ModuleNaming = LLAMA_NAMING, where = 'selectModules'): LinearModule[] {
  const all = findLinearModules(graph);
  const picked = all.filter((m) => matchesTarget(m.module, targets, naming));
  if (!picked.length) {
    const sample = all.slice(0, 6).map((m) => naming.toHf(m.module)).join(', ');
    throw new LeanformerError('INVALID_ARGUMENT', `${where}: target modules ${describeTargets(targets)} match no linear layer of graph '${graph.name}' (linear layers: ${sample}${all.length > 6 ? ', …' : ''})`);
  }
  return picked;
}

/** A short text form of a target spec, for messages. */
export function describeTargets(t: TargetModules): string {
  if (t instanceof RegExp) return String(t);
  if (typeof t === 'string') return `'${t}'`;
  return `[${t.join(', ')}]`;
}
