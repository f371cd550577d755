// Registration respects gradients already in the user's tfjs-core (e.g. the @tensorflow/tfjs umbrella's):
// ours fill only kernels without one, so tfjs never logs "Overriding the gradient for …".
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import { GRADIENTS, registerTfjsGradients } from './index.js';

describe('registerTfjsGradients', () => {
  it('keeps a gradient the user registered first, adds the rest, warns about nothing, and is idempotent', () => {
    // Before anything of runtime-tfjs registered (this file's process imports no backend setup).
    expect(tf.getGradient('Erf')).toBeUndefined();
    const theirs: tf.GradConfig = { kernelName: 'Erf', inputsToSave: ['x'], gradFunc: (dy) => ({ x: () => dy as tf.Tensor }) };
    tf.registerGradient(theirs);
    const warn = vi.spyOn(console, 'warn');
    try {
      registerTfjsGradients();
      registerTfjsGradients();
      expect(tf.getGradient('Erf')).toBe(theirs);
      for (const g of GRADIENTS.filter((x) => x.kernelName !== 'Erf')) expect(tf.getGradient(g.kernelName), g.kernelName).toBe(g);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });
});
