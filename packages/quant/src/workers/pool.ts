// createQuantWorkerPool: RTN quantization on worker_threads (Node only). A weight is copied once
// into shared memory (staging buffers are reused), split by output channels N into slices that
// the workers quantize and pack with the main entry's own quantizeRtn / packMatMulNBits, and the
// slices are concatenated: every output array is N-major, so the bytes equal the single-thread ones.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LeanformerError, type LeanformerErrorCode } from '@leanformer/core';
import type { MatMulNBitsTensors, QuantizedWeight } from '../blockwise.js';
import type { SliceReply, SliceRequest } from './protocol.js';
import type { QuantWorkerPool, RtnJob, RtnJobResult } from './types.js';

/** Options of {@link createQuantWorkerPool}. */
export interface QuantWorkerPoolOptions {
  /** Worker threads (default `os.availableParallelism()`). */
  readonly threads?: number;
  /**
   * The worker script (default: dist/workers/rtn-worker.js of this package, found next to the
   * built entry). Tests running from sources pass a bundle of src/workers/rtn-worker.ts.
   */
  readonly workerUrl?: URL | string;
  /** A weight is split into at most `threads` slices of at least this many values (default 131072). */
  readonly minSliceElements?: number;
}

interface Slice { readonly job: Job; readonly index: number; readonly n0: number; readonly n1: number }

interface Job {
  readonly spec: RtnJob;
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly release: () => void;
  readonly slices: Slice[];
  readonly parts: (Extract<SliceReply, { type: 'done' }> | null)[];
  remaining: number;
  settled: boolean;
  resolve(r: RtnJobResult): void;
  reject(e: unknown): void;
}

interface Slot { worker: Worker; busy: Slice | null; ready: boolean; dead: boolean }

/** Where the built worker script lies relative to this module: dist/ (bundled), dist/workers/, or src/workers/ under vitest. */
function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  const candidates = ['./workers/rtn-worker.js', './rtn-worker.js', '../../dist/workers/rtn-worker.js'].map((p) => new URL(p, here));
  for (const c of candidates) if (existsSync(fileURLToPath(c))) return c;
  throw new LeanformerError('BACKEND_UNAVAILABLE', `createQuantWorkerPool: the worker script rtn-worker.js was not found (looked at ${candidates.map((c) => fileURLToPath(c)).join(', ')}); build @leanformer/quant (npx nx run @leanformer/quant:build) or pass workerUrl`);
}

function toError(e: Extract<SliceReply, { type: 'error' }>['error']): LeanformerError {
  if (e.code) return new LeanformerError(e.code as LeanformerErrorCode, e.message, { details: e.details ?? {} });
  const cause = Object.assign(new Error(e.message), { name: e.name, stack: e.stack });
  return new LeanformerError('EXECUTION_FAILED', `quant worker: ${e.name}: ${e.message}`, { cause });
}

/**
 * A {@link QuantWorkerPool} on Node worker_threads. Idle workers do not keep the process alive,
 * but call `dispose()` when done to free their memory.
 *
 * @example
 * ```ts
 * import { quantizeModel } from '@leanformer/quant';
 * import { createQuantWorkerPool } from '@leanformer/quant/node';
 * const pool = createQuantWorkerPool({ threads: 8 });
 * try {
 *   const { graph: q } = await quantizeModel(graph, { method: 'rtn', bits: 4, blockSize: 32, pool });
 * } finally { await pool.dispose(); }
 * ```
 */
export function createQuantWorkerPool(options: QuantWorkerPoolOptions = {}): QuantWorkerPool {
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new LeanformerError('INVALID_ARGUMENT', `createQuantWorkerPool: threads must be a positive integer, got ${threads}`, { details: { argument: 'threads' } });
  const minSlice = options.minSliceElements ?? 1 << 17;
  if (!Number.isInteger(minSlice) || minSlice < 1) throw new LeanformerError('INVALID_ARGUMENT', `createQuantWorkerPool: minSliceElements must be a positive integer, got ${minSlice}`, { details: { argument: 'minSliceElements' } });
  let url: URL;
  if (options.workerUrl === undefined) url = defaultWorkerUrl();
  else {
    const u = options.workerUrl;
    url = u instanceof URL ? u : /^[a-z][a-z0-9+.-]*:/i.test(u) && !/^[a-z]:[\\/]/i.test(u) ? new URL(u) : pathToFileURL(u);
    if (url.protocol === 'file:' && !existsSync(fileURLToPath(url))) throw new LeanformerError('INVALID_ARGUMENT', `createQuantWorkerPool: workerUrl ${fileURLToPath(url)} does not exist`, { details: { argument: 'workerUrl' } });
  }

  const queue: Slice[] = [];
  const slots: Slot[] = [];
  let nextId = 1;
  let disposed = false;
  let broken: LeanformerError | null = null;
  /** Staging buffers no job uses right now, reused to skip page-faulting fresh memory per layer. */
  const spare: SharedArrayBuffer[] = [];
  const MAX_SPARE = 4;

  const fail = (job: Job, e: unknown): void => {
    if (job.settled) return;
    job.settled = true;
    job.release();
    job.reject(e);
  };

  const spawn = (): Slot => {
    const worker = new Worker(url);
    worker.unref();
    const slot: Slot = { worker, busy: null, ready: false, dead: false };
    worker.on('message', (m: SliceReply) => {
      if (m.type === 'ready') { slot.ready = true; return; }
      const s = slot.busy;
      slot.busy = null;
      worker.unref();
      if (s && !s.job.settled) {
        if (m.type === 'error') fail(s.job, toError(m.error));
        else {
          s.job.parts[s.index] = m;
          if (--s.job.remaining === 0) finish(s.job);
        }
      }
      pump();
    });
    /** `reason` completes "the worker died: …"; `cause` is the worker's own error, if any. */
    const died = (reason: string, cause?: Error): void => {
      if (slot.dead) return;
      slot.dead = true;
      const s = slot.busy;
      slot.busy = null;
      const i = slots.indexOf(slot);
      if (i >= 0) slots.splice(i, 1);
      if (disposed) return;
      if (!slot.ready) {
        // The script itself cannot start: every job would fail the same way.
        broken = new LeanformerError('BACKEND_UNAVAILABLE', `quant worker ${url.href} failed to start: ${cause?.message ?? reason}`, { cause });
        for (const q of queue.splice(0)) fail(q.job, broken);
        if (s) fail(s.job, broken);
        for (const o of slots) if (o.busy) fail(o.busy.job, broken);
        return;
      }
      if (s) {
        const { K, N } = s.job.spec;
        fail(s.job, new LeanformerError('EXECUTION_FAILED', `quant worker thread died while quantizing columns ${s.n0}…${s.n1 - 1} of a [${K}, ${N}] weight: ${reason}; the pool replaced the worker`, { cause, details: { K, N, n0: s.n0, n1: s.n1 } }));
      }
      slots.push(spawn());
      pump();
    };
    // A throw nobody caught, or the heap limit (ERR_WORKER_OUT_OF_MEMORY), arrives as 'error' (then 'exit');
    // process.exit as 'exit' alone. The verdict waits for 'exit': Node emits every message the worker sent
    // before 'exit', so `slot.ready` is final there, while an 'error' may overtake a queued 'ready' and make a
    // crash in a job look like a script that cannot start.
    let crash: { reason: string; cause: Error } | undefined;
    worker.on('error', (e) => {
      crash = { reason: (e as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? `it ran out of memory (${e.message})` : `uncaught ${e.name}: ${e.message}`, cause: e };
    });
    worker.on('exit', (code) => (crash ? died(crash.reason, crash.cause) : died(`it exited with code ${code}`)));
    return slot;
  };
  for (let i = 0; i < threads; i++) slots.push(spawn());

  function pump(): void {
    for (const slot of slots) {
      if (slot.busy) continue;
      let s: Slice | undefined;
      while ((s = queue.shift()) && s.job.settled) { /* skip slices of failed jobs */ }
      if (!s) return;
      const id = nextId++;
      slot.busy = s;
      slot.worker.ref();
      const j = s.job;
      const msg: SliceRequest = {
        id, buffer: j.buffer, byteOffset: j.byteOffset, K: j.spec.K, N: j.spec.N, n0: s.n0, n1: s.n1,
        options: { bits: j.spec.options.bits, blockSize: j.spec.options.blockSize, symmetric: j.spec.options.symmetric, clip: j.spec.options.clip },
        weight: (j.spec.output ?? 'both') !== 'packed', packed: (j.spec.output ?? 'both') !== 'weight',
        forceUint8ZeroPoints: j.spec.forceUint8ZeroPoints ?? false,
      };
      slot.worker.postMessage(msg);
    }
  }

  function finish(job: Job): void {
    job.settled = true;
    job.release();
    const { K, N, options } = job.spec;
    const parts = job.parts as Extract<SliceReply, { type: 'done' }>[];
    const kBlocks = parts[0]!.kBlocks;
    const bs = options.blockSize;
    const kPad = kBlocks * bs;
    const one = parts.length === 1;
    /** Concatenates the slices' arrays: column n of the whole is row n of the N-major layout. */
    const cat = <T extends Uint8Array | Float32Array>(get: (p: (typeof parts)[number]) => T | null, perColumn: number, make: (n: number) => T): T | null => {
      const first = get(parts[0]!);
      if (!first) return null;
      if (one) return first;
      const out = make(N * perColumn);
      parts.forEach((p, i) => out.set(get(p)!, job.slices[i]!.n0 * perColumn));
      return out;
    };
    let weight: QuantizedWeight | null = null;
    if (parts[0]!.codes) {
      weight = {
        bits: options.bits, blockSize: bs, K, N, kBlocks,
        codes: cat((p) => p.codes, kPad, (n) => new Uint8Array(n))!,
        scales: cat((p) => p.scales, kBlocks, (n) => new Float32Array(n))!,
        zeroPoints: cat((p) => p.zeroPoints, kBlocks, (n) => new Float32Array(n)),
      };
    }
    let packed: MatMulNBitsTensors | null = null;
    if (parts[0]!.B) {
      const blob = (bs * options.bits) / 8;
      const z0 = parts[0]!.packedZeroPoints;
      const zpPerCol = z0 === null ? 0 : z0 instanceof Float32Array ? kBlocks : Math.ceil((kBlocks * options.bits) / 8);
      packed = {
        B: cat((p) => p.B, kBlocks * blob, (n) => new Uint8Array(n))!,
        bShape: [N, kBlocks, blob],
        scales: cat((p) => p.packedScales, kBlocks, (n) => new Float32Array(n))!,
        zeroPoints: z0 === null ? null : z0 instanceof Float32Array
          ? cat((p) => p.packedZeroPoints as Float32Array, zpPerCol, (n) => new Float32Array(n))
          : cat((p) => p.packedZeroPoints as Uint8Array, zpPerCol, (n) => new Uint8Array(n)),
      };
    }
    job.resolve({ weight, packed });
  }

  /** The weight in shared memory: in place when it already is, else copied into a (reused) staging buffer. */
  function stage(w: Float32Array): { buffer: SharedArrayBuffer; byteOffset: number; release: () => void } {
    if (w.buffer instanceof SharedArrayBuffer) return { buffer: w.buffer, byteOffset: w.byteOffset, release: () => {} };
    const i = spare.findIndex((b) => b.byteLength >= w.byteLength && b.byteLength <= 2 * w.byteLength);
    const buffer = i >= 0 ? spare.splice(i, 1)[0]! : new SharedArrayBuffer(w.byteLength);
    new Float32Array(buffer, 0, w.length).set(w);
    let released = false;
    return {
      buffer, byteOffset: 0,
      release: () => {
        if (released || disposed) return;
        released = true;
        spare.push(buffer);
        if (spare.length > MAX_SPARE) spare.shift();
      },
    };
  }

  const pool: QuantWorkerPool = {
    threads,
    quantizeRtn(spec: RtnJob): Promise<RtnJobResult> {
      if (disposed) return Promise.reject(new LeanformerError('INVALID_ARGUMENT', 'QuantWorkerPool.quantizeRtn: the pool was disposed'));
      if (broken) return Promise.reject(broken);
      const { w, K, N } = spec;
      if (!(w instanceof Float32Array)) return Promise.reject(new LeanformerError('INVALID_DTYPE', 'QuantWorkerPool.quantizeRtn: w must be a Float32Array'));
      if (!Number.isInteger(K) || !Number.isInteger(N) || K <= 0 || N <= 0) return Promise.reject(new LeanformerError('SHAPE_MISMATCH', `weight must be a non-empty [K, N] matrix, got [${K}, ${N}]`));
      if (w.length !== K * N) return Promise.reject(new LeanformerError('SHAPE_MISMATCH', `quantizeRtn: weight has ${w.length} values, expected K·N = ${K}·${N}`));
      const out = spec.output ?? 'both';
      if (out !== 'weight' && out !== 'packed' && out !== 'both') return Promise.reject(new LeanformerError('INVALID_ARGUMENT', `QuantWorkerPool.quantizeRtn: output must be 'weight', 'packed' or 'both', got '${String(out)}'`, { details: { argument: 'output', allowed: ['weight', 'packed', 'both'] } }));
      const count = Math.max(1, Math.min(threads, N, Math.ceil((K * N) / minSlice)));
      const staged = stage(w);
      return new Promise<RtnJobResult>((resolve, reject) => {
        const slices: Slice[] = [];
        const job: Job = { spec, ...staged, slices, parts: new Array(count).fill(null), remaining: count, settled: false, resolve, reject };
        for (let i = 0; i < count; i++) slices.push({ job, index: i, n0: Math.round((i * N) / count), n1: Math.round(((i + 1) * N) / count) });
        queue.push(...slices);
        pump();
      });
    },
    async warmUp(): Promise<void> {
      // 128 columns per thread: one slice reaches every worker.
      const K = 1024, N = 128 * threads;
      const w = new Float32Array(K * N).map((_, i) => Math.sin(i) * 0.02);
      await pool.quantizeRtn({ w, K, N, options: { bits: 4, blockSize: 32 }, output: 'packed' });
    },
    async dispose(): Promise<void> {
      if (disposed) return;
      disposed = true;
      const gone = new LeanformerError('INVALID_ARGUMENT', 'QuantWorkerPool was disposed while a job was running');
      for (const s of queue.splice(0)) fail(s.job, gone);
      for (const s of slots) if (s.busy) fail(s.busy.job, gone);
      spare.length = 0;
      await Promise.all(slots.splice(0).map((s) => s.worker.terminate()));
    },
  };
  return pool;
}
