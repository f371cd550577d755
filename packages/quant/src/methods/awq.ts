// AWQ: activation-aware input-channel scales searched per group of layers sharing an input.
import { quantizeAwq } from '../methods.js';
import type { QuantMethodEntry } from './registry.js';

/** Activation-aware weight quantization. */
export const awq: QuantMethodEntry<'awq'> = {
  name: 'awq', summary: 'activation-aware channel scaling per group of layers sharing an input', calibration: 'activations', bits: [4, 8], defaultBlockSize: 32,
  zeroPoints: 'optional', streams: true,
  quantizeGroup: ({ layers, rows, options }) => quantizeAwq(layers, rows, { bits: options.bits, blockSize: options.blockSize, symmetric: options.symmetric, clip: options.clip }),
};
