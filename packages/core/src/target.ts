import { LeanformerError } from './errors.js';

/** ONNX Runtime execution providers leanformer lowers for. */
export type OrtEp = 'cpu' | 'cuda' | 'tensorrt' | 'webgpu' | 'wasm';
/** TensorFlow.js backends leanformer compiles for. */
export type TfjsBackendName = 'cpu' | 'wasm' | 'webgpu' | 'tensorflow';

/** Where a graph will run; lowering picks op forms per target. */
export type Target =
  | { readonly runtime: 'ort'; readonly ep: OrtEp }
  | { readonly runtime: 'tfjs'; readonly backend: TfjsBackendName };

/** The CLI spellings of targets: `ort-cpu`, `ort-webgpu`, `tfjs-cpu`, … */
export const TARGET_NAMES = ['ort-cpu', 'ort-cuda', 'ort-tensorrt', 'ort-webgpu', 'ort-wasm', 'tfjs-cpu', 'tfjs-wasm', 'tfjs-webgpu', 'tfjs-tensorflow'] as const;
/** A target in its CLI spelling (`ort-cpu`, `tfjs-webgpu`, …). */
export type TargetName = (typeof TARGET_NAMES)[number];

/** Parses `ort-cpu`-style names; throws INVALID_ARGUMENT listing the allowed names. */
export function parseTarget(name: string): Target {
  if (!(TARGET_NAMES as readonly string[]).includes(name)) {
    throw new LeanformerError('INVALID_ARGUMENT', `Unknown target '${name}'; allowed: ${TARGET_NAMES.join(', ')}`);
  }
  const [runtime, rest] = name.split('-') as [string, string];
  return runtime === 'ort' ? { runtime: 'ort', ep: rest as OrtEp } : { runtime: 'tfjs', backend: rest as TfjsBackendName };
}

/** Inverse of `parseTarget`. */
export function targetName(t: Target): TargetName {
  return (t.runtime === 'ort' ? `ort-${t.ep}` : `tfjs-${t.backend}`) as TargetName;
}
