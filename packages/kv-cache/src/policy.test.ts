// The decode loop's cache policy on hand-made buffers: what each policy keeps, compared with the
// package's prefill selectors (snapkvKeep, h2oKeep, streamingKeep) and RoPE computed from scratch.
import { describe, expect, it } from 'vitest';
import { LeanformerError, rng } from '@leanformer/core';
import { applyRope, ropeInvFreq } from '@leanformer/attention';
import { h2oKeep, snapkvKeep, streamingKeep } from './eviction.js';
import { checkCachePolicy, KVCachePolicyState, type CachePolicy } from './policy.js';

const G = 2, H = 4, D = 8, L = 12;
const r = rng(5);
const rand = (n: number): Float32Array => r.normalTensor([n], 1).data as Float32Array;

/** Rows `keep[g]` of a `[G, L, D]` buffer, as `[G, n, D]`. */
function rows(buf: Float32Array, keep: readonly (readonly number[])[]): Float32Array {
  const n = keep[0]!.length;
  const out = new Float32Array(G * n * D);
  keep.forEach((ks, g) => ks.forEach((j, t) => out.set(buf.subarray((g * L + j) * D, (g * L + j + 1) * D), (g * n + t) * D)));
  return out;
}

function run(policy: CachePolicy, k: Float32Array, v: Float32Array, q?: Float32Array): { k: Float32Array; v: Float32Array; n: number } {
  const ks = k.slice(), vs = v.slice();
  const n = new KVCachePolicyState(policy, { layers: 1, kvHeads: G, headDim: D }).afterRun([ks], [vs], 0, L, q ? [q] : undefined);
  return { k: ks.subarray(0, G * n * D), v: vs.subarray(0, G * n * D), n };
}

describe('KV cache policy', () => {
  const raw = rand(G * L * D), v = rand(G * L * D);
  const inv = ropeInvFreq(D);
  const roped = applyRope(raw.slice(), G, L, D, inv); // keys as the graph stores them: rotated at their positions

  it('streaming: keeps the sinks and the latest, re-rotating each kept key to its new position (= RoPE at that slot from scratch)', () => {
    const got = run({ budget: 6, evict: 'streaming', sinks: 2, ropeInvFreq: inv }, roped, v);
    const keep = streamingKeep(L, 6, 2); // [0, 1, 8, 9, 10, 11]
    expect(got.n).toBe(6);
    const want = applyRope(rows(raw, [keep, keep]), G, 6, D, inv); // the same raw keys placed at 0..5
    for (let i = 0; i < want.length; i++) expect(got.k[i]).toBeCloseTo(want[i]!, 5);
    expect(got.v).toEqual(rows(v, [keep, keep])); // values carry no position
  });

  it('a plain window keeps the latest budget positions; without RoPE frequencies keys are only moved', () => {
    const got = run({ budget: 5 }, roped, v);
    const keep = [7, 8, 9, 10, 11];
    expect(got.k).toEqual(rows(roped, [keep, keep]));
    expect(got.v).toEqual(rows(v, [keep, keep]));
  });

  it('under the budget nothing moves', () => {
    const got = run({ budget: L, ropeInvFreq: inv }, roped, v);
    expect(got.n).toBe(L);
    expect(got.k).toEqual(roped);
  });

  // Queries as the graph outputs them: [1, S, H·D].
  const q = rand(L * H * D);
  const qHeadMajor = new Float32Array(H * L * D); // snapkvKeep's [H, len, D]
  for (let h = 0; h < H; h++) for (let t = 0; t < L; t++) qHeadMajor.set(q.subarray((t * H + h) * D, (t * H + h + 1) * D), (h * L + t) * D);

  it('snapkv on a prefill keeps exactly what snapkvKeep selects from the same queries and keys', () => {
    const keep = snapkvKeep(qHeadMajor, roped, { numHeads: H, kvHeads: G, headDim: D, len: L, budget: 5, window: 2 });
    expect(keep[0]).not.toEqual(keep[1]); // per-head choices (checks the test can see a head mix-up)
    const got = run({ budget: 5, evict: 'snapkv', observation: 2 }, roped, v, q);
    expect(got.k).toEqual(rows(roped, keep));
    expect(got.v).toEqual(rows(v, keep));
  });

  it('h2o on a prefill keeps exactly what h2oKeep selects from the causal attention probabilities (float64 softmax here)', () => {
    const probs = new Float32Array(H * L * L);
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / G));
      for (let i = 0; i < L; i++) {
        const s = Array.from({ length: i + 1 }, (_, j) => { let d = 0; for (let x = 0; x < D; x++) d += q[(i * H + h) * D + x]! * roped[(g * L + j) * D + x]!; return d / Math.sqrt(D); });
        const m = Math.max(...s), e = s.map((x) => Math.exp(x - m)), z = e.reduce((a, b) => a + b, 0);
        e.forEach((x, j) => { probs[(h * L + i) * L + j] = x / z; });
      }
    }
    const keep = h2oKeep(probs, H, G, L, 6);
    const got = run({ budget: 6, evict: 'h2o' }, roped, v, q);
    expect(got.k).toEqual(rows(roped, keep));
  });

  it('int8 / int4 / fp16: new tokens are rounded within the format\'s half step; tokens already stored are left alone', () => {
    for (const [format, levels] of [['int8', 255], ['int4', 15]] as const) {
      const ks = roped.slice(), vs = v.slice();
      new KVCachePolicyState({ format }, { layers: 1, kvHeads: G, headDim: D }).afterRun([ks], [vs], 4, L - 4);
      for (let g = 0; g < G; g++) {
        expect(ks.subarray(g * L * D, (g * L + 4) * D)).toEqual(roped.subarray(g * L * D, (g * L + 4) * D));
        for (let t = 4; t < L; t++) {
          const row = roped.subarray((g * L + t) * D, (g * L + t + 1) * D);
          const step = (Math.max(...row) - Math.min(...row)) / levels;
          let changed = false;
          for (let x = 0; x < D; x++) {
            const e = Math.abs(ks[(g * L + t) * D + x]! - row[x]!);
            expect(e).toBeLessThanOrEqual(step / 2 + 2e-3 * Math.abs(row[x]!) + 1e-6); // + fp16 scale/minimum rounding
            if (e > 0) changed = true;
          }
          expect(changed).toBe(true);
        }
      }
    }
    const ks = roped.slice();
    new KVCachePolicyState({ format: 'fp16' }, { layers: 1, kvHeads: G, headDim: D }).afterRun([ks], [v.slice()], 0, L);
    for (let i = 0; i < ks.length; i++) expect(Math.abs(ks[i]! - roped[i]!)).toBeLessThanOrEqual(Math.abs(roped[i]!) * 2 ** -11);
  });

  it('bad policies: INVALID_ARGUMENT naming the field; h2o without query outputs: NOT_SUPPORTED', () => {
    const code = (p: CachePolicy): string | undefined => { try { checkCachePolicy(p); return undefined; } catch (e) { return `${(e as LeanformerError).code}:${(e as LeanformerError).details?.field}`; } };
    expect(code({ evict: 'h2o' })).toBe('INVALID_ARGUMENT:budget');
    expect(code({ budget: 4, evict: 'streaming' })).toBe('INVALID_ARGUMENT:budget');
    expect(code({ budget: 0 })).toBe('INVALID_ARGUMENT:budget');
    expect(code({ format: 'int3' as 'int4' })).toBe('INVALID_ARGUMENT:format');
    expect(code({ budget: 8, evict: 'lru' as 'h2o' })).toBe('INVALID_ARGUMENT:evict');
    expect(code({ budget: 8, evict: 'snapkv', format: 'int4' })).toBeUndefined();
    expect(() => run({ budget: 6, evict: 'h2o' }, roped, v)).toThrow(/query_0/);
  });
});
