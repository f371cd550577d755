// The runtime-ort package's benchmark suites (`leanformer bench <name>`; `leanformer bench list` shows all).
import type { BenchSuite } from '@leanformer/core';
import { decoderSuite } from './decoder.js';

/** Every suite of this package, in the order `leanformer bench list` shows them. */
export const benches: readonly BenchSuite[] = [decoderSuite];
