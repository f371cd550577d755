// The attention package's benchmark suites (`leanformer bench <name>`; `leanformer bench list` shows all).
import type { BenchSuite } from '@leanformer/core';
import { attentionSuite } from './attention.js';
import { gqaCheckSuite, interleaveSuite, microSuite, profileSuite, swaSuite } from './forms.js';

export { runAttentionBench, measureWindowSpeedup, measureMoA, timeGraph, MOA_CANDIDATES } from './attention.js';

/** Every suite of this package, in the order `leanformer bench list` shows them. */
export const benches: readonly BenchSuite[] = [attentionSuite, swaSuite, interleaveSuite, microSuite, profileSuite, gqaCheckSuite];
