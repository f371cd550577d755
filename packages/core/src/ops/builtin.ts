// The built-in schema set. Pure data: importing it registers nothing; schema.ts loads it lazily.
import { controlSchemas } from './onnx/control.js';
import { elementwiseSchemas } from './onnx/elementwise.js';
import { miscSchemas } from './onnx/misc.js';
import { nnSchemas } from './onnx/nn.js';
import { normalizationSchemas } from './onnx/normalization.js';
import { quantizationSchemas } from './onnx/quantization.js';
import { reductionSchemas } from './onnx/reduction.js';
import { shapeSchemas } from './onnx/shape.js';
import { microsoftSchemas } from './microsoft.js';
import type { OpSchema } from './schema.js';

/** Every built-in schema version (ONNX default domain, preview training, com.microsoft). */
export function builtinSchemas(): OpSchema[] {
  return [
    ...elementwiseSchemas, ...reductionSchemas, ...shapeSchemas, ...nnSchemas, ...normalizationSchemas,
    ...quantizationSchemas, ...controlSchemas, ...miscSchemas, ...microsoftSchemas,
  ];
}
