// The kv-cache package's benchmark suites (`leanformer bench <name>`; `leanformer bench list` shows all).
import type { BenchSuite } from '@leanformer/core';
import { kvSuite } from './kv.js';
import { gqaInt8KvSuite } from './gqa-int8-kv-check.js';

export { runKvBench, measureInt4KV, mixedWorkload, type KvBenchResult } from './kv.js';

/** Every suite of this package, in the order `leanformer bench list` shows them. */
export const benches: readonly BenchSuite[] = [kvSuite, gqaInt8KvSuite];
