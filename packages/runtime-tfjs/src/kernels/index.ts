// The built-in kernel tables, registered once into the registry in ../kernel.ts.
import { registerHostKernel, registerKernel } from '../kernel.js';
import { contribKernels } from './contrib.js';
import { controlKernels } from './control.js';
import { elementwiseHostKernels, elementwiseKernels } from './elementwise.js';
import { nnKernels } from './nn.js';
import { quantKernels } from './quant.js';
import { resizeKernels } from './resize.js';
import { rnnKernels } from './rnn.js';
import { shapeHostKernels, shapeKernels } from './shape.js';

let done = false;

/** Registers the built-in kernels (idempotent). Called by the compiler before it looks kernels up. */
export function registerBuiltinKernels(): void {
  if (done) return;
  done = true;
  for (const table of [elementwiseKernels, shapeKernels, nnKernels, resizeKernels, quantKernels, rnnKernels, controlKernels]) {
    for (const [op, k] of Object.entries(table)) registerKernel(op, k);
  }
  for (const [op, k] of Object.entries(contribKernels)) registerKernel(op, k, 'com.microsoft');
  for (const table of [elementwiseHostKernels, shapeHostKernels]) {
    for (const [op, k] of Object.entries(table)) registerHostKernel(op, k);
  }
}
