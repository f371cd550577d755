import { describe, expect, it } from 'vitest';
import { createTfjsBackend } from '@leanformer/runtime-tfjs';
import { backendEvaluator, profileMoA, referenceEvaluator, windowForDensity } from './moa.js';
import { patternDensity, type HeadSpan } from './pattern.js';
import { buildRetrievalDecoder, makeRetrievalExamples, retrievalAccuracy } from './retrieval.js';

const model = buildRetrievalDecoder({ maxLen: 256 });
const candidates: HeadSpan[] = [{ alpha: 4, beta: 0 }, { alpha: 16, beta: 0 }, { alpha: 8, beta: 0.25 }, { alpha: 8, beta: 0.5 }];

describe('MoA profiler', () => {
  it('gives local heads short spans and retrieval heads long ones; beats a uniform window of equal density', async () => {
    const lengths = [48, 64];
    const calib = new Map(lengths.map((L) => [L, makeRetrievalExamples({ length: L, count: 4, seed: L })] as const));
    const prof = await profileMoA({ heads: [2, 2], candidates, lengths, density: 0.45, evaluate: referenceEvaluator(model, calib) });
    // Layer 0 (previous-token heads) loses nothing with the shortest span; layer 1 (induction) does.
    expect(prof.sensitivity[0]![0]![0]).toBeLessThan(1e-3);
    expect(prof.sensitivity[1]![0]![0]).toBeGreaterThan(0.1);
    expect(prof.spans[0]!.every((s) => s.alpha === 4 && s.beta === 0)).toBe(true);
    expect(prof.spans[1]!.some((s) => s.beta === 1)).toBe(true);
    expect(prof.density).toBeLessThanOrEqual(0.45 + 1e-9);

    const L = 96;
    const test = makeRetrievalExamples({ length: L, count: 8, seed: 99 });
    const moa = prof.spans.map((spans) => ({ kind: 'moa' as const, spans }));
    const moaDensity = prof.spans.flat().reduce((s, sp) => s + patternDensity({ kind: 'moa', spans: [sp] }, L, 1), 0) / 4;
    const w = windowForDensity(moaDensity, [L]);
    const uniform = retrievalAccuracy(model, test, [{ kind: 'window', window: w }, { kind: 'window', window: w }]);
    const moaAcc = retrievalAccuracy(model, test, moa);
    expect(moaAcc).toBe(1);
    expect(moaAcc).toBeGreaterThan(uniform);
  });

  it('the Backend evaluator (decoder graph on tfjs-cpu) agrees with the reference evaluator', async () => {
    const L = 48;
    const calib = new Map([[L, makeRetrievalExamples({ length: L, count: 3, seed: 5 })] as const]);
    const spans = [[{ alpha: 2, beta: 0 }, { alpha: 2, beta: 0 }], [{ alpha: 0, beta: 1 }, { alpha: 8, beta: 0 }]];
    const ref = await referenceEvaluator(model, calib)(spans, L);
    const viaBackend = await backendEvaluator(createTfjsBackend('cpu'), model, calib)(spans, L);
    expect(Math.abs(ref - viaBackend)).toBeLessThan(1e-3 + 1e-3 * Math.abs(ref));
  });
});
