import { LeanformerError } from '../errors.js';
import { normalizeDomain, type Graph, type Node, type Value } from '../ir/graph.js';
import { Tensor } from '../tensor.js';
import { GraphBuilder } from '../builder/builder.js';
import type { Pass, PassContext } from './pass.js';
import { allGraphs } from './util.js';

/**
 * A pattern over values. `var` matches any value, `const` a value with constant content
 * (an initializer or a Constant node's output), `node` a value produced by an op whose inputs
 * match the input patterns, `alt` the first of several patterns that matches.
 * A name used twice must bind the same value (or, for `node` patterns with `bind`, the same node),
 * which is how a pattern says "the same x feeds both branches".
 */
export type Pattern = VarPattern | ConstPattern | NodePattern | AltPattern;

/** Matches any value; binds it to `name`. */
export interface VarPattern { readonly kind: 'var'; readonly name: string }
/** Matches a value with constant content; binds it to `name`. */
export interface ConstPattern { readonly kind: 'const'; readonly name: string }
/** Matches the first of `options` that matches. */
export interface AltPattern { readonly kind: 'alt'; readonly options: readonly Pattern[] }
/** Matches a value produced by `domain::op` whose inputs match `inputs`. */
export interface NodePattern {
  readonly kind: 'node';
  readonly op: string;
  readonly domain: string;
  readonly inputs: readonly Pattern[];
  /** Name under which the matched node is bound (required when the pattern object is reused). */
  readonly bind?: string;
  /** Try both input orders (two-input ops). Default: true for Add, Mul, Max, Min, Sum, Equal, And, Or, Xor. */
  readonly commutative: boolean;
  /** Accept nodes with more inputs than `inputs` lists (e.g. ReduceMean's optional axes). */
  readonly extraInputs: boolean;
  /** Which output of the node the value must be (default 0). */
  readonly output: number;
}

const COMMUTATIVE = new Set(['Add', 'Mul', 'Max', 'Min', 'Sum', 'Equal', 'And', 'Or', 'Xor']);

/**
 * Builders of {@link Pattern}s.
 *
 * @example
 * ```ts
 * // x * sigmoid(x)
 * const x = pat.v('x');
 * const silu = pat.op('Mul', [x, pat.op('Sigmoid', [x])]);
 * ```
 */
export const pat = {
  /** Any value, bound to `name`. */
  v: (name: string): VarPattern => ({ kind: 'var', name }),
  /** A value with constant content, bound to `name` (read it with `match.const(name)`). */
  c: (name: string): ConstPattern => ({ kind: 'const', name }),
  /** A value produced by `op`. */
  op: (op: string, inputs: readonly Pattern[], options: { bind?: string; domain?: string; commutative?: boolean; extraInputs?: boolean; output?: number } = {}): NodePattern => ({
    kind: 'node', op, domain: normalizeDomain(options.domain ?? ''), inputs, bind: options.bind,
    commutative: options.commutative ?? (COMMUTATIVE.has(op) && inputs.length === 2),
    extraInputs: options.extraInputs ?? false, output: options.output ?? 0,
  }),
  /** The first of `options` that matches. */
  alt: (...options: Pattern[]): AltPattern => ({ kind: 'alt', options }),
};

/** A successful structural match: bound values and nodes, and every node the pattern covers. */
export class Match {
  /** @internal */
  constructor(
    /** The node that produces the matched root value. */
    readonly root: Node,
    /** The matched root value (what the rewrite replaces). */
    readonly rootValue: Value,
    private readonly values: ReadonlyMap<string, Value>,
    private readonly boundNodes: ReadonlyMap<string, Node>,
    /** All nodes covered by the pattern, root included. */
    readonly nodes: readonly Node[],
  ) {}

  /** The value bound to `name` (var, const, or the output of a bound node). */
  value(name: string): Value {
    const v = this.values.get(name) ?? this.boundNodes.get(name)?.outputs[0];
    if (!v) throw new LeanformerError('INVALID_ARGUMENT', `Pattern has no value named '${name}'; bound: ${[...this.values.keys(), ...this.boundNodes.keys()].join(', ')}`);
    return v;
  }

  /** True when `name` is bound (useful with `alt`). */
  has(name: string): boolean { return this.values.has(name) || this.boundNodes.has(name); }

  /** The node bound to `name`. */
  node(name: string): Node {
    const n = this.boundNodes.get(name);
    if (!n) throw new LeanformerError('INVALID_ARGUMENT', `Pattern has no node named '${name}'; bound: ${[...this.boundNodes.keys()].join(', ')}`);
    return n;
  }

  /** The constant content of the value bound to `name`. */
  const(name: string): Tensor {
    const t = constantOf(this.value(name));
    if (!t) throw new LeanformerError('INVALID_ARGUMENT', `Pattern value '${name}' is not a constant`);
    return t;
  }
}

/**
 * A rewrite rule as data: the pattern to find, a check that says why a structural match is
 * not rewritten (return a reason string, or nothing to accept), and the rewrite that builds the
 * replacement of the matched root value (with a builder that inserts before the root node).
 * Matched nodes other than the root must feed only the pattern; the engine checks that.
 */
export interface RewriteRule {
  readonly name: string;
  readonly pattern: NodePattern;
  readonly check?: (m: Match) => string | null | undefined;
  readonly rewrite: (m: Match, b: GraphBuilder) => Value;
}

/** Outcome of trying one rule at one node (see {@link tryRule}). */
export type RuleResult = { readonly match: Match } | { readonly match?: undefined; readonly reason: string };

/**
 * The constant content of `v`: an initializer's tensor or a Constant node's value
 * (`value`, `value_float(s)`, `value_int(s)`), else undefined.
 */
export function constantOf(v: Value | null | undefined): Tensor | undefined {
  if (!v) return undefined;
  if (v.const) return v.const;
  const p = v.producer;
  if (!p || p.op !== 'Constant' || p.domain !== '') return undefined;
  const a = p.attrs.get('value') ?? p.attrs.get('value_float') ?? p.attrs.get('value_floats') ?? p.attrs.get('value_int') ?? p.attrs.get('value_ints');
  if (!a) return undefined;
  switch (a.type) {
    case 'tensor': return a.value;
    case 'float': return Tensor.from('float32', [], [a.value]);
    case 'floats': return Tensor.from('float32', [a.value.length], a.value);
    case 'int': return Tensor.from('int64', [], [BigInt(a.value)]);
    case 'ints': return Tensor.from('int64', [a.value.length], a.value.map((x) => BigInt(x)));
    default: return undefined;
  }
}

/** The single number held by a one-element constant tensor, else undefined. */
export function scalarOf(t: Tensor | undefined): number | undefined {
  if (!t || t.size !== 1 || t.dtype.storage === 'string') return undefined;
  return Number(t.toArray()[0]);
}

interface Bindings {
  readonly values: Map<string, Value>;
  readonly nodes: Map<string, Node>;
  readonly covered: Node[];
}

function fork(b: Bindings): Bindings {
  return { values: new Map(b.values), nodes: new Map(b.nodes), covered: [...b.covered] };
}

function* matchValue(p: Pattern, v: Value | null, b: Bindings): Generator<Bindings> {
  if (!v) return;
  switch (p.kind) {
    case 'var':
    case 'const': {
      if (p.kind === 'const' && !constantOf(v)) return;
      const prev = b.values.get(p.name);
      if (prev) { if (prev === v) yield b; return; }
      const nb = fork(b);
      nb.values.set(p.name, v);
      yield nb;
      return;
    }
    case 'alt':
      for (const o of p.options) yield* matchValue(o, v, b);
      return;
    case 'node': {
      const n = v.producer;
      if (!n || n.op !== p.op || n.domain !== p.domain || v.producerIndex !== p.output || n.graph !== v.graph) return;
      if (p.bind) {
        const prev = b.nodes.get(p.bind);
        if (prev) { if (prev === n) yield b; return; }
      }
      const ins = n.inputs;
      if (ins.length < p.inputs.length || (!p.extraInputs && ins.length > p.inputs.length)) return;
      const orders = p.commutative && p.inputs.length === 2 ? [[0, 1], [1, 0]] : [p.inputs.map((_, i) => i)];
      for (const order of orders) {
        const nb = fork(b);
        if (p.bind) nb.nodes.set(p.bind, n);
        if (!nb.covered.includes(n)) nb.covered.push(n);
        yield* matchInputs(p.inputs, order.map((i) => ins[i]!), 0, nb);
      }
    }
  }
}

function* matchInputs(ps: readonly Pattern[], vs: readonly (Value | null)[], i: number, b: Bindings): Generator<Bindings> {
  if (i === ps.length) { yield b; return; }
  for (const nb of matchValue(ps[i]!, vs[i]!, b)) yield* matchInputs(ps, vs, i + 1, nb);
}

/** Why a covered node other than the root cannot be removed (it feeds something outside the pattern), or null. */
function escapingUse(covered: readonly Node[], root: Node, rootValue: Value): string | null {
  const inside = new Set(covered);
  for (const n of covered) {
    if (n.graph !== root.graph) return `${n.describe()} belongs to enclosing graph '${n.graph.name}'`;
    for (const out of n.outputs) {
      if (!out || out === rootValue) continue;
      if (n.graph.outputs.includes(out)) return `intermediate %${out.name} is a graph output`;
      const ext = out.uses.find((u) => !inside.has(u.node));
      if (ext) return `intermediate %${out.name} is also used by ${ext.node.describe()} outside the pattern`;
    }
  }
  return null;
}

/**
 * Tries `rule` at the value `node.outputs[rule.pattern.output]`: the first structural match
 * that passes the escape check and `rule.check` is returned; otherwise the last reason seen
 * ('no structural match' when the pattern never matched).
 */
export function tryRule(rule: RewriteRule, node: Node): RuleResult {
  const p = rule.pattern;
  const v = node.outputs[p.output];
  if (!v || node.op !== p.op || node.domain !== p.domain) return { reason: 'no structural match' };
  let reason = 'no structural match';
  for (const b of matchValue(p, v, { values: new Map(), nodes: new Map(), covered: [] })) {
    const esc = escapingUse(b.covered, node, v);
    if (esc) { reason = esc; continue; }
    const m = new Match(node, v, b.values, b.nodes, b.covered);
    const why = rule.check?.(m);
    if (why) { reason = why; continue; }
    return { match: m };
  }
  return { reason };
}

/** Applies a rewrite at a match: builds the replacement, rewires uses, removes the covered nodes, keeps the root value's name. */
export function applyRewrite(rule: RewriteRule, m: Match): Value {
  const graph = m.root.graph;
  const b = GraphBuilder.editing(graph, m.root);
  const old = m.rootValue;
  const oldName = old.name;
  let repl = rule.rewrite(m, b);
  if (repl === old) throw new LeanformerError('PASS_FAILED', `Rule '${rule.name}' returned the value it was meant to replace`);
  const fresh = repl.producer !== null && repl.graph === graph && !m.nodes.includes(repl.producer);
  if (!fresh && graph.outputs.includes(old)) {
    // The output name is the model's interface: keep it through an Identity.
    repl = b.op('Identity', [repl]);
  }
  if (!repl.type && old.type) repl.type = old.type;
  old.replaceAllUsesWith(repl);
  // Remove covered nodes consumers-first; each is unused once its consumers are gone.
  const pending = new Set(m.nodes);
  for (let progress = true; progress && pending.size;) {
    progress = false;
    for (const n of [...pending]) {
      if (n.outputs.every((o) => !o || (!o.uses.length && !graph.outputs.includes(o)))) {
        graph.removeNode(n);
        pending.delete(n);
        progress = true;
      }
    }
  }
  if (pending.size) throw new LeanformerError('PASS_FAILED', `Rule '${rule.name}': covered nodes ${[...pending].map((n) => n.describe()).join(', ')} are still used after the rewrite`);
  if (repl.producer && repl.graph === graph && !graph.lookup(oldName)) repl.name = oldName;
  return repl;
}

/** Options of {@link patternRewrite}. */
export interface PatternRewriteOptions {
  /** Upper bound on sweeps over the graph (default 8); each sweep applies every rule it can. */
  readonly maxSweeps?: number;
  /** Pass name (default `pattern-rewrite(<rule names>)`). */
  readonly name?: string;
}

/**
 * A pass that applies rewrite rules until none matches. Nodes are visited last to first, so a
 * larger pattern rooted later in the graph is tried before a smaller one inside it; rules are
 * tried in the order given. Reasons a structural match was rejected go to `ctx.log`.
 * Runs in subgraph bodies too.
 *
 * @example
 * ```ts
 * const { modified } = patternRewrite([...layerNormFusion, ...geluFusion]).run(graph, { log: console.log });
 * ```
 */
export function patternRewrite(rules: readonly RewriteRule[], options: PatternRewriteOptions = {}): Pass {
  const maxSweeps = options.maxSweeps ?? 8;
  return {
    name: options.name ?? `pattern-rewrite(${rules.map((r) => r.name).join(', ')})`,
    run(graph: Graph, ctx: PassContext) {
      let modified = false;
      for (let sweep = 0; sweep < maxSweeps; sweep++) {
        let changed = false;
        for (const g of allGraphs(graph)) changed = rewriteGraph(g, rules, ctx) || changed;
        modified ||= changed;
        if (!changed) break;
      }
      return { graph, modified };
    },
  };
}

function rewriteGraph(graph: Graph, rules: readonly RewriteRule[], ctx: PassContext): boolean {
  let changed = false;
  const removed = new Set<Node>();
  const nodes = [...graph.nodes];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (removed.has(node)) continue;
    for (const rule of rules) {
      if (rule.pattern.op !== node.op || rule.pattern.domain !== node.domain) continue;
      const r = tryRule(rule, node);
      if (!r.match) {
        if (r.reason !== 'no structural match') ctx.log?.(`${rule.name}: ${node.describe()} not rewritten: ${r.reason}`);
        continue;
      }
      for (const n of r.match.nodes) removed.add(n);
      applyRewrite(rule, r.match);
      changed = true;
      break;
    }
  }
  return changed;
}
