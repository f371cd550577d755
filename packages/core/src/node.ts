// Node-only entry '@leanformer/core/node': the one way leanformer writes files. Every output goes
// through a dot-prefixed temporary file beside its target (`.<base>.tmp-<pid>-<rand>`) that is
// renamed into place when complete; live temporaries are registered process-wide so that an error
// (try/finally), SIGINT, SIGTERM or process.exit() removes them. SIGKILL cannot be caught: its
// leftovers are only ever temporaries (never a target name), reported and removable by name.
// Commands check their output paths before any slow work: the folder exists and is writable, and
// no output is (or aliases, through `..`, symlinks or hard links) one of the inputs.
import { accessSync, constants, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { LeanformerError } from './errors.js';
export { readSource, sourcePath } from './node-source.js';
export { runMeasuredChild } from './node-child.js';

export { commandProgressBar, createProgressBar, type ProgressBar, type ProgressBarOptions } from './progress-bar.js';

// One registry per process, shared by every loaded copy of this module (ESM and CJS builds, or two
// installs): one set of handlers, and the lone-listener test in onSignal stays true.
interface TempRegistry { readonly live: Set<string>; installed: boolean; removedStale: string[] }
const REGISTRY = Symbol.for('@leanformer/core/node:temp-registry');
const registry: TempRegistry = ((globalThis as Record<symbol, TempRegistry | undefined>)[REGISTRY] ??= { live: new Set(), installed: false, removedStale: [] });
registry.removedStale ??= []; // a registry made by an older copy of this module
const live = registry.live;

/** Removes every live temporary; never throws (runs from signal and exit handlers). */
function removeLiveTemps(): void {
  for (const p of live) {
    // recursive: a temporary may be a folder (models' convert writes a whole output folder).
    try { rmSync(p, { force: true, recursive: true }); } catch { /* best effort: the process is going away */ }
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeLiveTemps();
  // Exit only when no one else handles the signal: a host application with its own handler decides
  // when to stop (and its process.exit() still removes the temporaries through the 'exit' hook).
  if (process.listenerCount(signal) === 1) process.exit(signal === 'SIGINT' ? 130 : 143);
}

/** Installed on the first registered temporary and kept for the process's life (see yieldForSignals). */
function installHandlers(): void {
  if (registry.installed) return;
  registry.installed = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', removeLiveTemps);
}

/**
 * A new temporary path beside `target` (`<dir>/.<base>.tmp-<pid>-<8 hex>`), registered as live:
 * it is removed on SIGINT/SIGTERM/exit until {@link commitTemp} or {@link discardTemp} is called.
 * The file itself is created by the caller.
 *
 * @example
 * ```ts
 * const tmp = createTempPath('out/model.onnx'); // out/.model.onnx.tmp-4242-9f3a0c1d
 * try { writeFileSync(tmp, bytes); commitTemp(tmp, 'out/model.onnx'); } finally { discardTemp(tmp); }
 * ```
 */
export function createTempPath(target: string): string {
  removeStaleTemps(target);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  installHandlers();
  live.add(tmp);
  return tmp;
}

function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/**
 * Removes the temporaries of `target` left by processes that no longer run (a SIGKILL, a power
 * cut) and returns their paths. Called by {@link createTempPath}, so the next write of the same
 * target cleans up; a temporary whose process is alive is never touched.
 *
 * @example
 * ```ts
 * for (const p of removeStaleTemps('out/model.onnx')) console.error(`removed leftover ${p}`);
 * ```
 */
export function removeStaleTemps(target: string): string[] {
  const dir = dirname(target);
  const prefix = `.${basename(target)}.tmp-`;
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  const removed: string[] = [];
  for (const n of names) {
    const m = n.startsWith(prefix) ? /^(\d+)-[0-9a-f]{8}$/.exec(n.slice(prefix.length)) : null;
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    try { rmSync(join(dir, n), { force: true }); removed.push(join(dir, n)); } catch { /* not ours to fight over */ }
  }
  registry.removedStale.push(...removed);
  return removed;
}

/**
 * The leftovers of killed runs that {@link removeStaleTemps} removed since the last call (each
 * reported once), so a command can tell its user what it cleaned up.
 *
 * @example
 * ```ts
 * for (const p of takeRemovedStaleTemps()) console.error(`note: removed ${p}, left by an interrupted run`);
 * ```
 */
export function takeRemovedStaleTemps(): string[] {
  return registry.removedStale.splice(0);
}

/**
 * Renames a complete temporary onto its target (atomic within one folder) and stops tracking it.
 *
 * @example
 * ```ts
 * commitTemp(tmp, 'out/model.onnx');
 * ```
 */
export function commitTemp(tmp: string, target: string): void {
  renameSync(tmp, target);
  live.delete(tmp);
}

/**
 * Removes a temporary file or folder (if it still exists) and stops tracking it. Never throws; a no-op after
 * {@link commitTemp}, so it fits a `finally`.
 *
 * @example
 * ```ts
 * try { …; commitTemp(tmp, out); } finally { discardTemp(tmp); }
 * ```
 */
export function discardTemp(tmp: string): void {
  if (!live.delete(tmp)) return;
  try { rmSync(tmp, { force: true, recursive: true }); } catch { /* nothing more to do */ }
}

/** The temporaries this process has created and not yet committed or discarded. */
export function liveTempPaths(): string[] {
  return [...live];
}

/**
 * Lets pending SIGINT/SIGTERM handlers run. A signal that arrives during synchronous work is
 * handled only when the event loop turns, so long loops that hold temporaries await this between
 * steps (a few microseconds each) to stop promptly when interrupted.
 *
 * @example
 * ```ts
 * for (const layer of layers) { quantizeLayer(layer); await yieldForSignals(); }
 * ```
 */
export function yieldForSignals(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/**
 * Writes `bytes` to `path` atomically: to a registered temporary beside it, then renamed, so
 * readers never see half a file and an interrupted write leaves no file under `path`. Node errors
 * become IO_ERROR naming the path.
 *
 * @example
 * ```ts
 * writeFileAtomic('model.lfpack', packModel(graph, codec));
 * ```
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = createTempPath(path);
  try {
    writeFileSync(tmp, bytes);
    commitTemp(tmp, path);
  } catch (e) {
    throw new LeanformerError('IO_ERROR', `Cannot write '${path}': ${(e as Error).message}`, { cause: e, details: { path } });
  } finally {
    discardTemp(tmp);
  }
}

function statOrNull(p: string): Stats | null {
  try { return statSync(p); } catch { return null; }
}

/**
 * Checks, before any slow work, that `path` can be written: its folder exists and is writable and
 * `path` is not a folder. Throws IO_ERROR naming the path.
 *
 * @example
 * ```ts
 * checkOutputPath('out/model.onnx'); // IO_ERROR "Output folder 'out' does not exist" when it is missing
 * ```
 */
export function checkOutputPath(path: string): void {
  const abs = resolve(path);
  if (statOrNull(abs)?.isDirectory()) throw new LeanformerError('IO_ERROR', `Output '${path}' is a folder; give a file path`, { details: { path } });
  const dir = dirname(abs);
  const d = statOrNull(dir);
  if (!d) throw new LeanformerError('IO_ERROR', `Output folder '${dir}' of '${path}' does not exist; create it first`, { details: { path } });
  if (!d.isDirectory()) throw new LeanformerError('IO_ERROR', `Output '${path}': '${dir}' is not a folder`, { details: { path } });
  try { accessSync(dir, constants.W_OK); } catch {
    throw new LeanformerError('IO_ERROR', `Output folder '${dir}' of '${path}' is not writable`, { details: { path } });
  }
}

/** A file's identity: its real path and, when it exists, device + inode (catches hard links). */
interface FileId { readonly path: string; readonly real: string; readonly inode: string | null }

function fileId(path: string): FileId {
  const abs = resolve(path);
  let real: string;
  try { real = realpathSync(abs); } catch {
    // Not there (yet), or a dangling link: the real parent folder plus the name.
    let dir: string;
    try { dir = realpathSync(dirname(abs)); } catch { dir = dirname(abs); }
    real = join(dir, basename(abs));
  }
  const s = statOrNull(real);
  return { path, real, inode: s ? `${s.dev}:${s.ino}` : null };
}

function sameFile(a: FileId, b: FileId): boolean {
  return a.real === b.real || (a.inode !== null && a.inode === b.inode);
}

/**
 * Refuses, before any work, outputs that would replace a file the command reads: an output that is
 * an input through the same path, `..` segments, symlinks or hard links; an output's external-data
 * sidecar (`<out>.data`) that is an input or an input's sidecar (`<in>.data`, when present); or two
 * outputs that are one file. Throws OUTPUT_IS_INPUT (or INVALID_ARGUMENT for two outputs) naming
 * both paths.
 *
 * @example
 * ```ts
 * assertOutputsDistinct({ inputs: ['model.onnx'], outputs: ['./x/../model.onnx'] }); // throws OUTPUT_IS_INPUT
 * ```
 */
export function assertOutputsDistinct(paths: { readonly inputs: readonly string[]; readonly outputs: readonly string[]; readonly sidecars?: boolean }): void {
  const sidecars = paths.sidecars ?? true;
  const inputs: FileId[] = [];
  for (const p of paths.inputs) {
    inputs.push(fileId(p));
    if (sidecars && statOrNull(`${p}.data`)?.isFile()) inputs.push(fileId(`${p}.data`));
  }
  const outputs: FileId[] = [];
  for (const p of paths.outputs) {
    const o = fileId(p);
    for (const prev of outputs) {
      if (sameFile(prev, o)) throw new LeanformerError('INVALID_ARGUMENT', `Outputs '${prev.path}' and '${p}' are the same file; give each output its own path`, { details: { paths: [prev.path, p] } });
    }
    outputs.push(o);
    if (sidecars) outputs.push(fileId(`${p}.data`));
  }
  for (const o of outputs) {
    const hit = inputs.find((i) => sameFile(i, o));
    if (hit) {
      throw new LeanformerError('OUTPUT_IS_INPUT', `Output '${o.path}' is the input '${hit.path}' (same file: ${o.real}); writing it would destroy the input, so choose another output path`, {
        details: { output: o.path, input: hit.path },
      });
    }
  }
}

