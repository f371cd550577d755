// The models package's benchmark suites (`leanformer bench <name>`; `leanformer bench list` shows all).
import type { BenchSuite } from '@leanformer/core';
import { convert7bSuite } from './convert-7b.js';

export { writeSyntheticLlama, type SyntheticLlamaConfig } from './convert-7b.js';

/** Every suite of this package, in the order `leanformer bench list` shows them. */
export const benches: readonly BenchSuite[] = [convert7bSuite];
