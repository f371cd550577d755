// Loading and activating a tfjs backend. Every backend package is an optional peer
// dependency: it is imported on first use, and a missing one fails with the package to install.

import { LeanformerError, type TfjsBackendName } from '@leanformer/core';
import * as tf from '@tensorflow/tfjs-core';
import { registerTfjsGradients } from './gradients/index.js';

/** Options that pick and configure the tfjs backend. */
export interface TfjsSetupOptions {
  /**
   * wasm only: where the `.wasm` binaries are (a URL/path prefix ending in `/`, or a map from
   * file name to URL). In Node the default is the installed `@tensorflow/tfjs-backend-wasm/dist/`
   * folder, so nothing is downloaded; in browsers pass where your app serves those files.
   */
  readonly wasmPaths?: string | Record<string, string>;
  /** wasm only: worker threads (needs cross-origin isolation in browsers). Default: tfjs' choice. */
  readonly wasmThreads?: number;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;
const ready = new Map<string, Promise<void>>();

async function importOr(pkg: string, what: string): Promise<unknown> {
  try {
    return await import(/* @vite-ignore */ pkg);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)|Could not resolve|Failed to (load|resolve)/.test(String(e))) {
      throw new LeanformerError('BACKEND_UNAVAILABLE', `the tfjs '${what}' backend needs the '${pkg}' package; install it with: npm install ${pkg}`, { cause: e, details: { package: pkg } });
    }
    throw new LeanformerError('BACKEND_UNAVAILABLE', `loading '${pkg}' failed: ${(e as Error).message}`, { cause: e, details: { package: pkg } });
  }
}

async function nodeWasmDir(): Promise<string> {
  const { createRequire } = await import('node:module');
  const { dirname, join } = await import('node:path');
  const req = createRequire(import.meta.url);
  return join(dirname(req.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
}

async function register(name: TfjsBackendName, options: TfjsSetupOptions): Promise<void> {
  switch (name) {
    case 'cpu':
      await importOr('@tensorflow/tfjs-backend-cpu', 'cpu');
      return;
    case 'wasm': {
      const wasm = (await importOr('@tensorflow/tfjs-backend-wasm', 'wasm')) as { setWasmPaths(p: string | Record<string, string>, usePlatformFetch?: boolean): void; setThreadsCount?(n: number): void };
      const paths = options.wasmPaths ?? (isNode ? await nodeWasmDir() : undefined);
      if (paths !== undefined) wasm.setWasmPaths(paths);
      if (options.wasmThreads !== undefined) wasm.setThreadsCount?.(options.wasmThreads);
      return;
    }
    case 'webgpu': {
      const g = globalThis as { navigator?: { gpu?: unknown } };
      if (!g.navigator?.gpu) {
        if (!isNode) throw new LeanformerError('BACKEND_UNAVAILABLE', 'this browser has no WebGPU (navigator.gpu is missing); choose tfjs-wasm or tfjs-cpu');
        // Node: dawn.node from the 'webgpu' npm package provides navigator.gpu.
        const webgpu = (await importOr('webgpu', 'webgpu')) as { create(flags: string[]): unknown; globals: Record<string, unknown> };
        Object.assign(globalThis, webgpu.globals);
        const nav = (g.navigator ?? {}) as Record<string, unknown>;
        Object.defineProperty(globalThis, 'navigator', { value: { ...nav, gpu: webgpu.create([]), userAgent: 'node' }, configurable: true, writable: true });
      }
      await importOr('@tensorflow/tfjs-backend-webgpu', 'webgpu');
      return;
    }
    case 'tensorflow': {
      if (!isNode) throw new LeanformerError('BACKEND_UNAVAILABLE', "the 'tensorflow' backend (tfjs-node) runs only in Node");
      try {
        await importOr('@tensorflow/tfjs-node-gpu', 'tensorflow');
      } catch (gpuErr) {
        try {
          await importOr('@tensorflow/tfjs-node', 'tensorflow');
        } catch (cpuErr) {
          throw new LeanformerError('BACKEND_UNAVAILABLE', "the tfjs 'tensorflow' backend needs TensorFlow's native bindings; install one of: npm install @tensorflow/tfjs-node (CPU) or npm install @tensorflow/tfjs-node-gpu (CUDA)", { cause: cpuErr, details: { package: '@tensorflow/tfjs-node', gpuError: String(gpuErr) } });
        }
      }
      if (!tf.findBackendFactory('tensorflow')) {
        throw new LeanformerError('BACKEND_UNAVAILABLE', "tfjs-node loaded but registered its backend in another copy of @tensorflow/tfjs-core; install versions that share one @tensorflow/tfjs-core");
      }
      return;
    }
    default:
      throw new LeanformerError('INVALID_ARGUMENT', `unknown tfjs backend '${String(name)}'; allowed: cpu, wasm, webgpu, tensorflow`);
  }
}

/**
 * Loads the backend package (once), then makes it tfjs' active backend. tfjs has one active
 * backend per process; executors call this before each run, so several may coexist.
 *
 * @example
 * ```ts
 * const tf = await useTfjsBackend('wasm');
 * ```
 */
export async function useTfjsBackend(name: TfjsBackendName, options: TfjsSetupOptions = {}): Promise<typeof tf> {
  let p = ready.get(name);
  if (!p) {
    p = register(name, options);
    ready.set(name, p);
    p.catch(() => ready.delete(name));
  }
  await p;
  // tfjs-core's bundles carry no gradients (the @tensorflow/tfjs umbrella adds its own): training needs ours.
  registerTfjsGradients();
  if (tf.getBackend() !== name) {
    // tfjs reports a failed backend init with console.warn (message and stack) and returns false; keep
    // that out of the user's terminal and carry it in the error's details instead.
    const warned: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => { warned.push(args.map(String).join(' ')); };
    let ok: boolean;
    try { ok = await tf.setBackend(name); } finally { console.warn = warn; }
    if (!ok) {
      const hint = name === 'webgpu' ? ' (no WebGPU adapter was found on this machine)' : '';
      throw new LeanformerError('BACKEND_UNAVAILABLE', `tfjs could not initialize the '${name}' backend${hint}`, { details: { tfjs: warned.join('\n') } });
    }
    for (const w of warned) warn(w);
  }
  await tf.ready();
  if (name === 'cpu' && isNode) quietCpuBanner();
  return tf;
}

/**
 * tfjs-backend-cpu prints "looks like you are running TensorFlow.js in Node.js … install our node
 * backend" on its first tensor write in Node. Here tfjs-cpu was chosen by name (tfjs-node is the
 * 'tensorflow' backend), so that advice is noise on every run's stderr: mark the backend's first
 * use as done. A tfjs version without the flag is left as it is.
 */
function quietCpuBanner(): void {
  const b = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (b && b.firstUse === true) b.firstUse = false;
}

/** The tfjs-core module leanformer computes with. */
export { tf };
