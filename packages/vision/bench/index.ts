// The vision package's benchmark suites (`leanformer bench <name>`; `leanformer bench list` shows all).
import type { BenchSuite } from '@leanformer/core';
import { visionSuite } from './vision.js';
import { profileSuite } from './profile.js';

export { runVisionBench, type VisionBenchOptions, type VisionBenchResult } from './run.js';

/** Every suite of this package, in the order `leanformer bench list` shows them. */
export const benches: readonly BenchSuite[] = [visionSuite, profileSuite];
