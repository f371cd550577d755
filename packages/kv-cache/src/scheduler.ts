import { LeanformerError } from '@leanformer/core';
import { forwardChunk, type TinyDecoder } from '@leanformer/attention';
import { cacheProvider, type KVCacheManager } from './managers.js';

/** One request of a serving workload: a prompt, how many tokens to generate, and when it arrives (iteration index). */
export interface ServeRequest {
  readonly prompt: ArrayLike<number>;
  readonly maxNewTokens: number;
  readonly arrival: number;
}

/** Scheduling policy: `prefill-first` runs a whole new prompt in one iteration (decodes stall, vLLM's default without chunking); `chunked` splits prefills into `chunkTokens` pieces and piggybacks every running decode on each iteration (Sarathi-Serve, stall-free). */
export type SchedulePolicy = { readonly kind: 'prefill-first' } | { readonly kind: 'chunked'; readonly chunkTokens: number };

/** What {@link serve} measured. */
export interface ServeStats {
  /** Inter-token latencies (ms) of every decode token after a request's first. */
  readonly itlMs: number[];
  readonly p50ItlMs: number;
  readonly p99ItlMs: number;
  /** Prompt + generated tokens per second of wall time. */
  readonly tokensPerSecond: number;
  readonly iterations: number;
  readonly wallMs: number;
  /** Generated tokens per request (greedy), for checking that policies agree. */
  readonly outputs: number[][];
}

/** p-th percentile (0–100) by nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

function argmax(x: Float32Array): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[b]!) b = i;
  return b;
}

/**
 * Runs a mixed workload through the tiny decoder with real computation, iteration by iteration, and
 * measures wall-clock inter-token latency and throughput. Each iteration runs (per policy) prefill work
 * and one decode step for every running request; a request's ITL is the time between its tokens.
 * Greedy decoding, so both policies must produce identical outputs.
 *
 * @example
 * ```ts
 * const a = serve(model, () => new PagedKVCache(shape, { numBlocks: 512 }), reqs, { kind: 'prefill-first' });
 * const b = serve(model, () => new PagedKVCache(shape, { numBlocks: 512 }), reqs, { kind: 'chunked', chunkTokens: 64 });
 * b.p99ItlMs / a.p99ItlMs; // < 1
 * ```
 */
export function serve(model: TinyDecoder, makeCache: () => KVCacheManager, requests: readonly ServeRequest[], policy: SchedulePolicy): ServeStats {
  if (policy.kind === 'chunked' && !(Number.isInteger(policy.chunkTokens) && policy.chunkTokens > 0)) throw new LeanformerError('INVALID_ARGUMENT', `serve: chunkTokens must be a positive integer, got ${policy.chunkTokens}`);
  const cache = makeCache();
  interface Live { id: number; seq: number; done: number; generated: number[]; lastTokenAt: number; last: number }
  const pending = requests.map((r, id) => ({ r, id })).sort((a, b) => a.r.arrival - b.r.arrival || a.id - b.id);
  const prefilling: Live[] = [];
  const decoding: Live[] = [];
  const outputs: number[][] = requests.map(() => []);
  const itl: number[] = [];
  let it = 0, tokens = 0;
  const t0 = performance.now();
  while (pending.length || prefilling.length || decoding.length) {
    while (pending.length && pending[0]!.r.arrival <= it) {
      const { id } = pending.shift()!;
      prefilling.push({ id, seq: cache.createSequence(), done: 0, generated: [], lastTokenAt: 0, last: 0 });
    }
    // Prefill work of this iteration.
    const finishedPrefill: Live[] = [];
    if (policy.kind === 'prefill-first') {
      const p = prefilling.shift();
      if (p) {
        const prompt = requests[p.id]!.prompt;
        const logits = forwardChunk(model, Array.from(prompt), 0, cacheProvider(cache, p.seq));
        p.done = prompt.length; tokens += prompt.length;
        p.last = argmax(logits);
        finishedPrefill.push(p);
      }
    } else {
      let budget = policy.chunkTokens;
      while (budget > 0 && prefilling.length) {
        const p = prefilling[0]!;
        const prompt = requests[p.id]!.prompt;
        const n = Math.min(budget, prompt.length - p.done);
        const logits = forwardChunk(model, Array.from(prompt).slice(p.done, p.done + n), p.done, cacheProvider(cache, p.seq));
        p.done += n; budget -= n; tokens += n;
        if (p.done === prompt.length) { p.last = argmax(logits); finishedPrefill.push(prefilling.shift()!); }
      }
    }
    // Decode step for running requests (prefill-first: only when no prefill ran this iteration).
    const decodeNow = policy.kind === 'chunked' || finishedPrefill.length === 0;
    if (decodeNow) {
      for (const d of [...decoding]) {
        const logits = forwardChunk(model, [d.last], cache.length(d.seq), cacheProvider(cache, d.seq));
        tokens++;
        d.last = argmax(logits);
        const now = performance.now();
        itl.push(now - d.lastTokenAt);
        d.lastTokenAt = now;
        d.generated.push(d.last);
        if (d.generated.length >= requests[d.id]!.maxNewTokens) { decoding.splice(decoding.indexOf(d), 1); outputs[d.id] = d.generated; cache.free(d.seq); }
      }
    }
    // A finished prefill produced the first token.
    for (const p of finishedPrefill) {
      p.generated.push(p.last);
      p.lastTokenAt = performance.now();
      if (p.generated.length >= requests[p.id]!.maxNewTokens) { outputs[p.id] = p.generated; cache.free(p.seq); } else decoding.push(p);
    }
    it++;
  }
  const wallMs = performance.now() - t0;
  return { itlMs: itl, p50ItlMs: percentile(itl, 50), p99ItlMs: percentile(itl, 99), tokensPerSecond: (tokens / wallMs) * 1000, iterations: it, wallMs, outputs };
}
