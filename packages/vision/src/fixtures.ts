// Where the package's fixtures live (timm weights and logits; the timm ONNX peer when made). Node only.
import { fileURLToPath } from 'node:url';

/**
 * The package's fixtures folder (timm weights and logits, the timm ONNX peer when made), resolved
 * from this module's URL: `../fixtures/` of `src/` or `dist/`, in the ESM and the CJS build alike.
 *
 * @example
 * ```ts
 * readFileSync(join(visionFixturesDir(), 'efficientvit_m0.safetensors'));
 * ```
 */
export function visionFixturesDir(): string {
  return fileURLToPath(new URL('../fixtures/', import.meta.url));
}
