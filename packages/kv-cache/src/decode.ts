import { LeanformerError, rng, Tensor, type Executor } from '@leanformer/core';
import { KVCachePolicyState, type CachePolicy } from './policy.js';

/** How the next token is picked from the last position's logits. */
export type Sampling =
  | { readonly kind: 'greedy' }
  | { readonly kind: 'top-k'; readonly k: number; readonly temperature?: number }
  | { readonly kind: 'top-p'; readonly p: number; readonly temperature?: number };

/**
 * Picks a token id from `logits` (greedy, top-k or nucleus/top-p, with temperature), drawing
 * uniform numbers from `random` (seed it for reproducibility).
 *
 * @example
 * ```ts
 * const r = rng(1); // core's seeded generator
 * sampleToken(logits, { kind: 'top-p', p: 0.9, temperature: 0.8 }, () => r.uniform());
 * ```
 */
export function sampleToken(logits: ArrayLike<number>, s: Sampling, random: () => number = Math.random): number {
  const n = logits.length;
  if (n === 0) throw new LeanformerError('INVALID_ARGUMENT', 'sampleToken: empty logits');
  if (s.kind === 'greedy') {
    let b = 0;
    for (let i = 1; i < n; i++) if (logits[i]! > logits[b]!) b = i;
    return b;
  }
  const t = s.temperature ?? 1;
  if (!(t > 0)) throw new LeanformerError('INVALID_ARGUMENT', `sampleToken: temperature must be > 0, got ${t}`);
  const order = [...Array(n).keys()].sort((a, b) => logits[b]! - logits[a]! || a - b);
  let keep: number;
  if (s.kind === 'top-k') {
    if (!Number.isInteger(s.k) || s.k < 1) throw new LeanformerError('INVALID_ARGUMENT', `sampleToken: top-k needs an integer k ≥ 1, got ${s.k}`);
    keep = Math.min(s.k, n);
  } else {
    if (!(s.p > 0 && s.p <= 1)) throw new LeanformerError('INVALID_ARGUMENT', `sampleToken: top-p needs 0 < p ≤ 1, got ${s.p}`);
    keep = n;
  }
  const max = logits[order[0]!]!;
  const w = order.slice(0, keep).map((i) => Math.exp((logits[i]! - max) / t));
  let z = w.reduce((a, b) => a + b, 0);
  if (s.kind === 'top-p') {
    // Smallest prefix of the sorted distribution whose mass reaches p.
    let acc = 0, cut = 0;
    while (cut < w.length) { acc += w[cut]! / z; cut++; if (acc >= s.p) break; }
    w.length = cut;
    z = w.reduce((a, b) => a + b, 0);
  }
  let u = random() * z;
  for (let i = 0; i < w.length; i++) { u -= w[i]!; if (u <= 0) return order[i]!; }
  return order[w.length - 1]!;
}

/** Geometry of the decoder graph's KV inputs/outputs (`past_key_<l>` `[1, kvHeads, P, headDim]`). */
export interface DecoderKVSpec {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Element type of the graph's past/present tensors (default float32; float16 for fp16-compute GPU graphs). */
  readonly kvDtype?: 'float32' | 'float16';
}

/** Options of {@link generateIds}. */
export interface GenerateOptions {
  readonly maxNewTokens: number;
  readonly sampling?: Sampling;
  readonly seed?: number;
  /** Stop after producing this token. */
  readonly eos?: number;
  /**
   * KV capacity in tokens; buffers are allocated once with it. Default: what the runs write at most,
   * prompt + maxNewTokens − 1 (the last token is never fed), or under a cache budget max(prompt, budget + 1).
   */
  readonly capacity?: number;
  /**
   * Repetition penalty as in transformers (CTRL): every token already in the prompt or generated has
   * its logit divided by this when positive, multiplied when negative. Default 1 (off).
   */
  readonly repetitionPenalty?: number;
  /** KV format and eviction budget (default: fp32, every position kept); see {@link CachePolicy}. */
  readonly cache?: CachePolicy;
}

/** What {@link generateIds} returns. */
export interface GenerateResult {
  readonly tokens: number[];
  /** Milliseconds of the prefill run and of each decode step. */
  readonly prefillMs: number;
  readonly stepMs: number[];
}

/** One token from {@link decodeStream}, with the milliseconds of the run that produced it. */
export interface DecodedToken {
  readonly token: number;
  /** The prefill run for the first token, one decode step for the others. */
  readonly ms: number;
  /** Positions held in the KV cache after this run (at most the cache policy's budget). */
  readonly kvLength: number;
}

/**
 * The decode loop over any `Executor` compiled from a KV-cache decoder graph (inputs `tokens` int64
 * `[1, S]`, `past_key_<l>`/`past_value_<l>`; outputs `logits` `[1, S, V]`, `present_key_<l>`/
 * `present_value_<l>`), yielding each token as soon as it is picked: one prefill run on the prompt,
 * then one run per token. KV lives in two preallocated buffers per layer and tensor; each run reads
 * the past from one and writes the present into the other through `RunOptions.outputs` (ping-pong,
 * no allocation per step). Works with ORT (preallocated CPU fetches are written into) and tfjs
 * (results are copied into them). Stops after `maxNewTokens` or after `eos`. A `cache` policy rounds
 * stored K/V through its format and keeps at most its budget of positions between runs (the graph's
 * positions continue from the kept length; see {@link CachePolicy}).
 *
 * @example
 * ```ts
 * for await (const { token } of decodeStream(exe, prompt, { layers: 2, kvHeads: 2, headDim: 64 }, { maxNewTokens: 16 })) process.stdout.write(`${token} `);
 * ```
 */
export async function* decodeStream(exe: Executor, prompt: ArrayLike<number>, kv: DecoderKVSpec, o: GenerateOptions & { readonly eosSet?: ReadonlySet<number> }): AsyncGenerator<DecodedToken> {
  if (prompt.length === 0) throw new LeanformerError('INVALID_ARGUMENT', 'generate: prompt must not be empty');
  if (!(Number.isInteger(o.maxNewTokens) && o.maxNewTokens >= 1)) throw new LeanformerError('INVALID_ARGUMENT', `generate: maxNewTokens must be a positive integer, got ${o.maxNewTokens}`);
  const policy = o.cache ? new KVCachePolicyState(o.cache, kv) : undefined;
  // Positions a run writes at most: the prompt, then the kept past + 1 (≤ budget + 1 under a budget).
  const full = prompt.length + o.maxNewTokens - 1;
  const need = o.cache?.budget !== undefined ? Math.max(prompt.length, Math.min(full, o.cache.budget + 1)) : full;
  const cap = o.capacity ?? need;
  if (cap < need) throw new LeanformerError('SIZE_LIMIT', `generate: capacity ${cap} cannot hold the prompt (${prompt.length}) and ${o.maxNewTokens} new tokens${o.cache?.budget !== undefined ? ` under a budget of ${o.cache.budget}` : ''}`);
  const { layers, kvHeads: G, headDim: D } = kv;
  const per = G * cap * D;
  // buf[l][side][0 = key, 1 = value]
  const kvDt = kv.kvDtype ?? 'float32';
  if (kvDt !== 'float32' && kvDt !== 'float16') throw new LeanformerError('INVALID_ARGUMENT', `generate: kvDtype must be float32 or float16, got '${String(kvDt)}'`);
  if (policy && kvDt !== 'float32') throw new LeanformerError('NOT_SUPPORTED', 'generate: KV cache policies (kv format, window, eviction) work on a float32 KV cache; this model keeps float16 KV (fp16 compute): convert it with compute fp32, or drop the cache options', { details: { field: 'cache' } });
  // float16 KV is held as its bit patterns (what ORT's float16 tensors take and return).
  const alloc = (): Float32Array | Uint16Array => (kvDt === 'float16' ? new Uint16Array(per) : new Float32Array(per));
  const buf = Array.from({ length: layers }, () => [0, 1].map(() => [alloc(), alloc()]));
  const view = (a: Float32Array | Uint16Array, len: number): Tensor => new Tensor(kvDt, [1, G, len, D], a.subarray(0, G * len * D));
  const seeded = rng(o.seed ?? 1);
  const random = (): number => seeded.uniform();
  const sampling = o.sampling ?? { kind: 'greedy' };
  const penalty = o.repetitionPenalty ?? 1;
  if (!(penalty > 0 && Number.isFinite(penalty))) throw new LeanformerError('INVALID_ARGUMENT', `generate: repetitionPenalty must be a finite number > 0, got ${penalty}`);
  const seen = new Set<number>(Array.from(prompt));
  let side = 0, past = 0;
  let input = Array.from(prompt);
  for (let step = 0; step < o.maxNewTokens; step++) {
    const S = input.length;
    const feeds: Record<string, Tensor> = { tokens: new Tensor('int64', [1, S], BigInt64Array.from(input, (t) => BigInt(t))) };
    const outputs: Record<string, Tensor> = {};
    for (let l = 0; l < layers; l++) {
      feeds[`past_key_${l}`] = view(buf[l]![side]![0]!, past);
      feeds[`past_value_${l}`] = view(buf[l]![side]![1]!, past);
      outputs[`present_key_${l}`] = view(buf[l]![1 - side]![0]!, past + S);
      outputs[`present_value_${l}`] = view(buf[l]![1 - side]![1]!, past + S);
    }
    const t0 = performance.now();
    const res = await exe.run(feeds, { outputs });
    const ms = performance.now() - t0;
    // Backends that return fresh tensors instead of writing into ours: copy (same layout).
    for (let l = 0; l < layers; l++) {
      for (const [name, dst] of [[`present_key_${l}`, outputs[`present_key_${l}`]!], [`present_value_${l}`, outputs[`present_value_${l}`]!]] as const) {
        const got = res[name];
        if (got && got !== dst && got.data !== dst.data) {
          if (kvDt === 'float16') (dst.data as Uint16Array).set(got.data as Uint16Array);
          else (dst.data as Float32Array).set(got.toFloat32());
        }
      }
    }
    let kept = past + S;
    if (policy) {
      const side2 = 1 - side;
      kept = policy.afterRun(buf.map((b) => b[side2]![0]! as Float32Array), buf.map((b) => b[side2]![1]! as Float32Array), past, S, policy.needsQueries ? buf.map((_, l) => res[`query_${l}`]?.toFloat32()) : undefined);
    }
    const logits = res.logits;
    if (!logits) throw new LeanformerError('EXECUTION_FAILED', "generate: the graph returned no 'logits'");
    const V = logits.shape[logits.shape.length - 1]!;
    const all = logits.toFloat32();
    let last = all.subarray((S - 1) * V, S * V);
    if (penalty !== 1) {
      last = last.slice();
      for (const t of seen) if (t < V) last[t] = last[t]! > 0 ? last[t]! / penalty : last[t]! * penalty;
    }
    const tok = sampleToken(last, sampling, random);
    seen.add(tok);
    past = kept;
    side = 1 - side;
    input = [tok];
    yield { token: tok, ms, kvLength: kept };
    if ((o.eos !== undefined && tok === o.eos) || o.eosSet?.has(tok)) break;
  }
}

/**
 * {@link decodeStream} collected: all tokens, the prefill time and each decode step's time.
 *
 * @example
 * ```ts
 * const exe = await backend.compile(buildDecoderGraph(model, { kvCache: true }));
 * const { tokens } = await generateIds(exe, prompt, { layers: 2, kvHeads: 2, headDim: 64 }, { maxNewTokens: 16 });
 * ```
 */
export async function generateIds(exe: Executor, prompt: ArrayLike<number>, kv: DecoderKVSpec, o: GenerateOptions): Promise<GenerateResult> {
  const tokens: number[] = [];
  const stepMs: number[] = [];
  let prefillMs = 0;
  for await (const t of decodeStream(exe, prompt, kv, o)) {
    if (tokens.length === 0) prefillMs = t.ms; else stepMs.push(t.ms);
    tokens.push(t.token);
  }
  return { tokens, prefillMs, stepMs };
}

/**
 * Reference for {@link generateIds}: no cache — every step reruns the whole sequence through an executor
 * of the plain decoder graph (inputs `tokens`, output `logits`). Greedy only (it checks exactness).
 */
export async function generateByRecomputation(exe: Executor, prompt: ArrayLike<number>, maxNewTokens: number): Promise<number[]> {
  const seq = Array.from(prompt);
  const out: number[] = [];
  for (let i = 0; i < maxNewTokens; i++) {
    const { logits } = await exe.run({ tokens: new Tensor('int64', [1, seq.length], BigInt64Array.from(seq, (t) => BigInt(t))) });
    const V = logits!.shape[2]!;
    const tok = sampleToken(logits!.toFloat32().subarray((seq.length - 1) * V), { kind: 'greedy' });
    out.push(tok);
    seq.push(tok);
  }
  return out;
}
