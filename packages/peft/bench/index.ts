// The peft package's benchmark suites (`leanformer bench <name>`; `leanformer bench list` shows all).
import type { BenchSuite } from '@leanformer/core';
import { peftSuite } from './peft.js';
import { pacaProfileSuite } from './paca-profile.js';

export { runPeftBench, type PeftBenchOptions, type PeftBenchResult, type PeftBenchSection } from './peft.js';

/** Every suite of this package, in the order `leanformer bench list` shows them. */
export const benches: readonly BenchSuite[] = [peftSuite, pacaProfileSuite];
