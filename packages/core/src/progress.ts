// The one progress event of every long-running library function (quantize, pack/unpack, convert,
// finetune, conformance). Browser-safe plain data: a caller may draw a bar (the CLI's renderer in
// '@leanformer/core/node'), post it from a worker, or log it.

/** What a progress count counts. `bytes` are shown as MB by the CLI's bar. */
export type ProgressUnit = 'layers' | 'tensors' | 'bytes' | 'steps' | 'cases' | 'runs' | 'files';

/**
 * One progress report. Emitters send `done: 0` when a phase starts (so a rate can be measured from
 * there), then the running count after each unit of work; `done` never exceeds `total`.
 *
 * @example
 * ```ts
 * const e: ProgressEvent = { phase: 'quantize', done: 3, total: 12, unit: 'layers', item: 'model.layers.2.mlp.down_proj.weight' };
 * ```
 */
export interface ProgressEvent {
  /** What is running, one short word or two: 'quantize', 'calibrate', 'pack', 'write', 'finetune'. */
  readonly phase: string;
  /** Units finished so far in this phase. */
  readonly done: number;
  /** Units in this phase; null when not known in advance (a bar then shows a count and a spinner). */
  readonly total: number | null;
  readonly unit: ProgressUnit;
  /** What was just finished (a layer's weight name, a case name), for display only. */
  readonly item?: string;
}

/**
 * The `onProgress` option of long-running functions. Called synchronously from the work loop, so
 * it should be cheap (the CLI's bar redraws at most ~10 times a second).
 *
 * @example
 * ```ts
 * const onProgress: ProgressCallback = (e) => { if (e.done === e.total) console.log(`${e.phase}: ${e.done} ${e.unit}`); };
 * await quantizeModel(graph, { method: 'rtn', bits: 4, onProgress });
 * ```
 */
export type ProgressCallback = (event: ProgressEvent) => void;
