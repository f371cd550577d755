// The quant package's benchmark suites (`leanformer bench <name>`; `leanformer bench list` shows all).
import type { BenchSuite } from '@leanformer/core';
import { quantSuite } from './quant.js';
import { rtnSpeedSuite } from './rtn-speed.js';
import { int8SpeedSuite } from './int8-speed.js';
import { exportModelsSuite } from './export-models.js';
import { methodTableSuite } from './method-table.js';
import { stream8gbSuite } from './stream-8gb.js';

export { runQuantBench, type QuantBenchOptions, type QuantBenchResult } from './quant.js';

/** Every suite of this package, in the order `leanformer bench list` shows them. */
export const benches: readonly BenchSuite[] = [quantSuite, rtnSpeedSuite, int8SpeedSuite, methodTableSuite, exportModelsSuite, stream8gbSuite];
