import { describe, expect, it } from 'vitest';
import { buildRetrievalDecoder, decodeStep, makeRetrievalExamples, prefill, type KVProvider, type StepKV } from '@leanformer/attention';
import { evaluateKVMethods, retrievalQuestions } from './harness.js';
import { accumulatedAttention, buildNosaLayer, nosaProvider, type NosaConfig, type NosaLayer } from './nosa.js';

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!)); return m; };

function setup(length: number, N: number, cfg: NosaConfig, seed = 4) {
  const model = buildRetrievalDecoder({ maxLen: length + 16 });
  const [ex] = makeRetrievalExamples({ length, count: 1, seed });
  const pre = prefill(model, ex!.tokens.subarray(0, N), { probs: true });
  const layers = pre.kv.map((kv, l) => {
    const L = model.layers[l]!;
    return buildNosaLayer(kv, L, accumulatedAttention(pre.probs![l]!, L.numHeads, L.kvHeads, N), cfg);
  });
  return { model, ex: ex!, pre, layers };
}

describe('NOSA', () => {
  it('accumulatedAttention sums each key\'s attention over queries and the heads of its kv head', () => {
    // 2 heads → 1 kv head, 2 tokens: head 0 rows [1,0],[0.25,0.75]; head 1 rows [1,0],[0.5,0.5].
    const probs = Float32Array.from([1, 0, 0.25, 0.75, 1, 0, 0.5, 0.5]);
    expect([...accumulatedAttention(probs, 2, 1, 2)]).toEqual([2.75, 1.25]);
  });

  it('with every block fitting on the device it equals dense attention at every step, even with no transfer allowed', () => {
    const length = 72, N = 60;
    // 4 sinks + 8 local + 10 blocks of 8 ≥ 72 tokens; maxFetchBlocks 0: the prefill left everything resident.
    const { model, ex, layers } = setup(length, N, { blockSize: 8, local: 8, sinks: 4, agnosticBlocks: 3, awareBlocks: 7, maxFetchBlocks: 0 });
    const provider = nosaProvider(layers);
    for (let p = N; p < length; p++) {
      const got = decodeStep(model, ex.tokens[p]!, p, provider);
      const want = prefill(model, ex.tokens.subarray(0, p + 1)).logits;
      expect(maxDiff(got, want)).toBeLessThan(1e-4);
    }
    for (const L of layers) for (const h of L.history) expect(h.fetchedBlocks.every((b) => b === 0)).toBe(true);
  });

  it('moves at most maxFetchBlocks blocks per step, and the device view holds exactly the host KV of the selection', () => {
    const length = 256, N = 255;
    const cfg = { blockSize: 8, local: 8, sinks: 4, agnosticBlocks: 2, awareBlocks: 4, maxFetchBlocks: 1 };
    const { model, ex, pre, layers } = setup(length, N, cfg, 11);
    const inner = nosaProvider(layers);
    const steps: { s: StepKV; view: ReturnType<KVProvider> }[][] = model.layers.map(() => []);
    const provider: KVProvider = (s) => { const view = inner(s); steps[s.layer]!.push({ s, view }); return view; };
    const qs = retrievalQuestions(model, ex, 8);
    qs.forEach((q, i) => decodeStep(model, q.token, N + i, provider));
    let bindings = 0;
    layers.forEach((L: NosaLayer, l) => {
      const { kvHeads: G, headDim: D } = model.layers[l]!;
      // Reference KV by position: the prompt's from the (independent) dense prefill, decoded tokens' from their step.
      const ref = (g: number, p: number, which: 'k' | 'v'): Float32Array => p < N
        ? pre.kv[l]![which].subarray((g * N + p) * D, (g * N + p + 1) * D)
        : steps[l]![p - N]!.s[which].subarray(g * D, (g + 1) * D);
      L.history.forEach((h, t) => {
        const len = N + t + 1;
        const { view } = steps[l]![t]!;
        for (let g = 0; g < G; g++) {
          expect(h.fetchedBlocks[g]).toBeLessThanOrEqual(1);
          expect(h.fetchedTokens[g]).toBeLessThanOrEqual(8);
          if (h.wantedBlocks[g]! > 1) bindings++;
          const want = new Set<number>();
          for (let p = 0; p < Math.min(4, len); p++) want.add(p);
          for (let p = len - 8; p < len; p++) want.add(p);
          for (const b of h.selected[g]!) for (let p = b * 8; p < Math.min(len, b * 8 + 8); p++) want.add(p);
          const pos = view.keyPositions as Int32Array;
          const got = new Set<number>();
          for (let j = 0; j < view.kLen; j++) {
            const p = pos[g * view.kLen + j]!;
            if (p < 0) continue;
            expect(got.has(p)).toBe(false); // no token twice
            got.add(p);
            expect(view.k.subarray((g * view.kLen + j) * D, (g * view.kLen + j + 1) * D)).toEqual(ref(g, p, 'k'));
            expect(view.v.subarray((g * view.kLen + j) * D, (g * view.kLen + j + 1) * D)).toEqual(ref(g, p, 'v'));
          }
          expect([...got].sort((a, b) => a - b)).toEqual([...want].sort((a, b) => a - b));
          expect(h.selected[g]!.length).toBe(6);
        }
      });
    });
    expect(bindings).toBeGreaterThan(0); // the ranking wanted more than the bound allowed: the constraint was active
  });

  it('without the locality bound the same ranking moves more blocks per step', () => {
    const run = (maxFetchBlocks: number) => {
      const { model, ex, layers } = setup(256, 255, { blockSize: 8, local: 8, sinks: 4, agnosticBlocks: 2, awareBlocks: 4, maxFetchBlocks }, 11);
      retrievalQuestions(model, ex, 8).forEach((q, i) => decodeStep(model, q.token, 255 + i, nosaProvider(layers)));
      return Math.max(...layers.flatMap((L) => L.history.flatMap((h) => h.fetchedBlocks)));
    };
    expect(run(1)).toBe(1);
    expect(run(Infinity)).toBeGreaterThan(1);
  });

  it('the query-aware blocks follow each new question; query-agnostic blocks alone do not', () => {
    const model = buildRetrievalDecoder({ maxLen: 280 });
    const ex = makeRetrievalExamples({ length: 256, count: 3, seed: 31 });
    const base = { blockSize: 8, local: 8, sinks: 4 } as const;
    const [aware, agnostic] = evaluateKVMethods(model, ex, [
      { kind: 'nosa', ...base, agnosticBlocks: 2, awareBlocks: 4, maxFetchBlocks: 1 },
      { kind: 'nosa', ...base, agnosticBlocks: 6, awareBlocks: 0 },
    ], { questions: 6 });
    expect(aware!.accuracy).toBe(1);
    expect(agnostic!.accuracy).toBeLessThan(0.5);
    expect(aware!.extra.transferTokensMax).toBeLessThanOrEqual(8);
    expect(agnostic!.extra.transferTokensMax).toBe(0);
  });
});
