// Device-resident greedy decoding: the decoder step becomes the body of an ONNX Loop whose
// loop-carried state is the KV cache, with the argmax inside, so one run produces N tokens and the KV
// cache never crosses host↔device (onnxruntime-node cannot keep outputs on the CUDA device between
// runs). Browser-safe: a graph transform plus a run helper over any Executor; checked against the host
// loop on the tiny Llama in packages/models/src/device-loop.test.ts (it needs convert and the fixture).
import { attr, DTypes, Graph, LeanformerError, Tensor, tensorType, type Executor, type Value } from '@leanformer/core';

/** The KV-cache step graph's shape facts {@link greedyLoopGraph} needs. */
export interface LoopDecoderSpec {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/** Names of the loop graph's inputs and output. */
export const GREEDY_LOOP_IO = Object.freeze({ tokens: 'tokens', maxNewTokens: 'max_new_tokens', generated: 'generated' });

const KV_NAMES = (l: number) => [`past_key_${l}`, `past_value_${l}`, `present_key_${l}`, `present_value_${l}`] as const;

/**
 * Wraps a KV-cache decoder step (inputs `tokens` int64 `[1, S]`, `past_key_<l>`/`past_value_<l>`;
 * outputs `logits` `[1, S, V]`, `present_key_<l>`/`present_value_<l>`, as `buildCausalLM` and
 * `convert` write it, lowered or not) into one graph: inputs `tokens` (the prompt) and
 * `max_new_tokens` (int64 scalar N), output `generated` int64 `[1, N]`. An ONNX Loop runs the step N
 * times: the first iteration is the prefill on the prompt (empty KV made inside the graph), each
 * later one feeds back the previous argmax token; KV is loop-carried state. Greedy only, no EOS stop
 * (the caller truncates at EOS). The step graph is consumed: its nodes move into the loop body and
 * its initializers to the outer graph.
 *
 * @example
 * ```ts
 * const exe = await backend.compile(greedyLoopGraph(await loadModel('llama-int4/model.onnx'), info));
 * const ids = await generateInGraph(exe, [1, 20, 30], 16);
 * ```
 */
export function greedyLoopGraph(step: Graph, spec: LoopDecoderSpec): Graph {
  const byName = new Map([...step.inputs, ...step.outputs].map((v) => [v.name, v]));
  const need = ['tokens', 'logits', ...Array.from({ length: spec.layers }, (_, l) => KV_NAMES(l)).flat()];
  const missing = need.filter((n) => !byName.has(n));
  if (missing.length) throw new LeanformerError('INVALID_GRAPH', `greedyLoopGraph: the step graph lacks ${missing.join(', ')} (a KV-cache decoder as convert writes it has tokens, past_key_<l>/past_value_<l> in and logits, present_key_<l>/present_value_<l> out)`);
  const kvDtype = byName.get('past_key_0')!.dtype ?? DTypes.float32;
  // Subgraph nodes name the step's values, which the body renames: refuse rather than emit dangling names.
  const nested = step.nodes.find((n) => [...n.attrs.values()].some((a) => a.type === 'graph' || a.type === 'graphs'));
  if (nested) throw new LeanformerError('NOT_SUPPORTED', `greedyLoopGraph: the step graph has a subgraph (${nested.describe()}); lower it for a target whose forms have none (e.g. convert for ort-cuda or ort-cpu)`);

  const outer = new Graph(`${step.name}_greedy_loop`);
  for (const [d, v] of step.opsets) outer.opsets.set(d, v);
  if (!outer.opsets.has('')) outer.opsets.set('', 17);
  outer.model = step.model;
  for (const [k, v] of step.metadataProps) outer.metadataProps.set(k, v);
  const tokens = outer.addInput(GREEDY_LOOP_IO.tokens, tensorType(DTypes.int64, [1, 'prompt']));
  const maxNew = outer.addInput(GREEDY_LOOP_IO.maxNewTokens, tensorType(DTypes.int64, []));
  const map = new Map<Value, Value>();
  for (const [name, v] of step.initializers) map.set(v, outer.addInitializer(name, v.const!));
  const trueConst = outer.addInitializer(outer.uniqueName('loop_cond'), Tensor.from('bool', [], [true]));
  const emptyKv = outer.addInitializer(outer.uniqueName('empty_kv'), Tensor.zeros(kvDtype, [1, spec.kvHeads, 0, spec.headDim]));

  // Body: (iteration, cond, token(s), KV…) → (cond, next token, KV…, next token as scan output).
  const body = new Graph('greedy_step', outer);
  body.addInput(body.uniqueName('iteration'), tensorType(DTypes.int64, []));
  const condIn = body.addInput(body.uniqueName('cond_in'), tensorType(DTypes.bool, []));
  map.set(byName.get('tokens')!, body.addInput(body.uniqueName('step_tokens'), tensorType(DTypes.int64, [1, 'step'])));
  for (let l = 0; l < spec.layers; l++) {
    for (const n of KV_NAMES(l).slice(0, 2)) map.set(byName.get(n)!, body.addInput(body.uniqueName(`step_${n}`), byName.get(n)!.type));
  }
  for (const v of step.inputs) if (!map.has(v)) throw new LeanformerError('INVALID_GRAPH', `greedyLoopGraph: step input '${v.name}' is not tokens or a past KV tensor; the loop cannot feed it`);
  for (const n of step.nodes) {
    const copy = body.addNode({
      op: n.op, domain: n.domain, name: n.name, overload: n.overload, attrs: n.attrs,
      inputs: n.inputs.map((v) => (v ? map.get(v) ?? outer.lookup(v.name) ?? fail(v.name) : null)),
      outputs: n.outputs.map((v) => (v ? body.uniqueName(`s_${v.name}`) : null)),
    });
    n.outputs.forEach((v, i) => { if (v) { const c = copy.outputs[i]!; c.type = v.type; map.set(v, c); } });
  }
  const out = (name: string): Value => map.get(byName.get(name)!) ?? fail(name);
  const condOut = body.addNode({ op: 'Identity', inputs: [condIn], outputs: [body.uniqueName('cond_out')] }).output();
  const last = body.addNode({ op: 'Gather', inputs: [out('logits'), body.addNode({ op: 'Constant', attrs: { value: attr.tensor(Tensor.from('int64', [], [-1n])) }, outputs: [body.uniqueName('last_pos')] }).output()], attrs: { axis: attr.int(1) }, outputs: [body.uniqueName('last_logits')] }).output();
  const next = body.addNode({ op: 'ArgMax', inputs: [last], attrs: { axis: attr.int(-1), keepdims: attr.int(1) }, outputs: [body.uniqueName('next_token')] }).output();
  next.type = tensorType(DTypes.int64, [1, 1]);
  const scan = body.addNode({ op: 'Identity', inputs: [next], outputs: [body.uniqueName('scan_token')] }).output();
  scan.type = tensorType(DTypes.int64, [1, 1]);
  condOut.type = tensorType(DTypes.bool, []);
  body.addOutput(condOut);
  body.addOutput(next);
  for (let l = 0; l < spec.layers; l++) for (const n of KV_NAMES(l).slice(2)) body.addOutput(out(n));
  body.addOutput(scan);

  const carried = 1 + 2 * spec.layers;
  const loop = outer.addNode({
    op: 'Loop', name: 'greedy_decode',
    inputs: [maxNew, trueConst, tokens, ...Array.from({ length: 2 * spec.layers }, () => emptyKv)],
    attrs: { body: attr.graph(body) },
    outputs: [...Array.from({ length: carried }, (_, i) => outer.uniqueName(`loop_final_${i}`)), outer.uniqueName('loop_tokens')],
  });
  const shape = outer.addInitializer(outer.uniqueName('generated_shape'), Tensor.from('int64', [2], [1n, -1n]));
  const gen = outer.addNode({ op: 'Reshape', inputs: [loop.output(carried), shape], outputs: [GREEDY_LOOP_IO.generated] }).output();
  gen.type = tensorType(DTypes.int64, [1, 'new']);
  outer.addOutput(gen);
  return outer;
}

function fail(name: string): never {
  throw new LeanformerError('INVALID_GRAPH', `greedyLoopGraph: value '${name}' of the step graph has no producer, input or initializer`);
}

/**
 * Runs a compiled {@link greedyLoopGraph}: one `run` for all `maxNewTokens` tokens (prefill included).
 * Host↔device traffic is the prompt in and the token ids out; the KV cache stays where the runtime
 * keeps it (on the GPU with ORT's CUDA EP).
 *
 * @example
 * ```ts
 * const ids = await generateInGraph(exe, promptIds, 32);
 * ```
 */
export async function generateInGraph(exe: Executor, prompt: ArrayLike<number>, maxNewTokens: number): Promise<number[]> {
  if (prompt.length === 0) throw new LeanformerError('INVALID_ARGUMENT', 'generateInGraph: prompt must not be empty');
  if (!(Number.isInteger(maxNewTokens) && maxNewTokens >= 1)) throw new LeanformerError('INVALID_ARGUMENT', `generateInGraph: maxNewTokens must be a positive integer, got ${maxNewTokens}`);
  const r = await exe.run({
    [GREEDY_LOOP_IO.tokens]: new Tensor('int64', [1, prompt.length], BigInt64Array.from(Array.from(prompt), (t) => BigInt(t))),
    [GREEDY_LOOP_IO.maxNewTokens]: Tensor.from('int64', [], [BigInt(maxNewTokens)]),
  });
  const g = r[GREEDY_LOOP_IO.generated];
  if (!g) throw new LeanformerError('EXECUTION_FAILED', `generateInGraph: the graph returned no '${GREEDY_LOOP_IO.generated}'`);
  return Array.from(g.data as BigInt64Array, (t) => Number(t));
}
