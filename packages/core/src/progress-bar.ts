// The CLI's progress bar: one line on stderr redrawn in place (`\r` + text + erase-to-end-of-line),
// drawn only on a terminal and never with --json, so pipes, logs and JSON on stdout stay clean.
// Every long command draws its library's ProgressEvents through it (quant, models, peft, cli).
import type { CommandIo } from './command.js';
import type { ProgressCallback, ProgressEvent } from './progress.js';

/** Options of {@link createProgressBar}. */
export interface ProgressBarOptions {
  /** Writes to the terminal (stderr). */
  readonly write: (text: string) => void;
  /** Draw at all (stderr is a terminal and no --json). When false, only {@link ProgressBar.log} writes. */
  readonly enabled: boolean;
  /** Terminal width; frames are cut to one less so the line never wraps (default 80). */
  readonly columns?: number;
  /** Least time between two frames, in ms (default 100: at most ~10 redraws a second). */
  readonly intervalMs?: number;
}

/** A progress line: feed it events, print lines above it, clear it at the end. */
export interface ProgressBar {
  /** Takes one event (pass it as a library's `onProgress`). Draws now if the last frame is old enough. */
  readonly update: ProgressCallback;
  /** Prints `text` (ending in a newline) above the bar; the bar is redrawn below it. */
  log(text: string): void;
  /** Clears the bar's line and stops redrawing; later updates are ignored. Safe to call twice. */
  done(): void;
}

const CLEAR = '\r\x1b[K';
const SPINNER = '|/-\\';
const BAR_WIDTH = 20;

interface PhaseState { readonly event: ProgressEvent; readonly startMs: number; readonly startDone: number }

function amount(n: number, unit: ProgressEvent['unit']): string {
  return unit === 'bytes' ? (n / 1e6).toFixed(1) : String(n);
}

function unitName(unit: ProgressEvent['unit']): string { return unit === 'bytes' ? 'MB' : unit; }

function duration(s: number): string {
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * One frame's text (no `\r`): `quantize [######--------------] 4/12 layers  2.0 layers/s  ETA 4s  name`,
 * or with no total `pack | 37 tensors  5.0 tensors/s  7s  name`. Rate and ETA are measured from the
 * phase's first event and shown once there is something to measure.
 */
function frame(s: PhaseState, nowMs: number, spin: number, columns: number): string {
  const e = s.event;
  const elapsed = (nowMs - s.startMs) / 1000;
  const rate = elapsed >= 0.2 && e.done > s.startDone ? (e.done - s.startDone) / elapsed : 0;
  const perSecond = rate > 0 ? `${e.unit === 'bytes' ? (rate / 1e6).toFixed(1) : rate < 10 ? rate.toFixed(1) : Math.round(rate)} ${unitName(e.unit)}/s` : '';
  const head: string[] = [e.phase]; // joined by one space
  const tail: string[] = []; // rate, ETA or elapsed, item: joined by two
  if (e.total !== null && e.total > 0) {
    const filled = Math.min(BAR_WIDTH, Math.floor((e.done / e.total) * BAR_WIDTH));
    head.push(`[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`, `${amount(e.done, e.unit)}/${amount(e.total, e.unit)} ${unitName(e.unit)}`);
    if (perSecond) tail.push(perSecond, `ETA ${duration((e.total - e.done) / rate)}`);
  } else {
    head.push(SPINNER[spin % SPINNER.length]!);
    if (e.done > 0) head.push(`${amount(e.done, e.unit)} ${unitName(e.unit)}`);
    if (perSecond) tail.push(perSecond);
    tail.push(duration(elapsed));
  }
  if (e.item) tail.push(e.item);
  const line = [head.join(' '), ...tail].join('  ');
  return line.length < columns ? line : line.slice(0, Math.max(0, columns - 1));
}

/**
 * A progress bar that draws {@link ProgressEvent}s on one terminal line: the phase, a bar of `done`
 * over `total` (a spinner and a count when the total is unknown), the rate, the ETA and the last
 * item. It redraws at most once per `intervalMs` (an event that arrives sooner is drawn by a timer
 * that does not keep the process alive, or by the next event), and `done()` erases the line. When
 * `enabled` is false it draws nothing at all.
 *
 * @example
 * ```ts
 * const bar = createProgressBar({ write: (t) => process.stderr.write(t), enabled: Boolean(process.stderr.isTTY) });
 * try { await quantizeModel(graph, { method: 'rtn', bits: 4, onProgress: bar.update }); } finally { bar.done(); }
 * ```
 */
export function createProgressBar(o: ProgressBarOptions): ProgressBar {
  const interval = o.intervalMs ?? 100;
  const columns = o.columns ?? 80;
  let state: PhaseState | null = null;
  let shown = ''; // the frame on screen ('' when the line is clear)
  let lastDrawMs = -Infinity;
  let timer: ReturnType<typeof setInterval> | undefined;
  let finished = false;

  const draw = (): void => {
    if (!state) return;
    const now = Date.now();
    const text = frame(state, now, Math.floor(now / interval), columns); // the spinner turns with time
    if (text === shown) return;
    lastDrawMs = now;
    shown = text;
    o.write(`${CLEAR}${text}`);
  };
  // Redraws what changed since the last frame (a throttled event, the spinner, the elapsed time).
  const tick = (): void => { if (Date.now() - lastDrawMs >= interval) draw(); };

  return {
    update(e) {
      if (!o.enabled || finished) return;
      const now = Date.now();
      // A new phase (or a count that went back: the same phase run again) restarts the rate's clock.
      if (!state || state.event.phase !== e.phase || state.event.unit !== e.unit || e.done < state.event.done) state = { event: e, startMs: now, startDone: e.done };
      else state = { ...state, event: e };
      if (!timer) {
        timer = setInterval(tick, interval);
        (timer as { unref?: () => void }).unref?.();
      }
      tick();
    },
    log(text) {
      if (!o.enabled || finished || !shown) { o.write(text); return; }
      o.write(`${CLEAR}${text}${shown}`);
    },
    done() {
      if (finished) return;
      finished = true;
      if (timer) clearInterval(timer);
      if (shown) o.write(CLEAR);
      shown = '';
    },
  };
}

/**
 * The bar of a CLI command: drawn on stderr only when it is a terminal (`io.stderrIsTTY`) and the
 * command was not asked for `--json`, so scripted runs get exactly their output and nothing else.
 *
 * @example
 * ```ts
 * const bar = commandProgressBar(io, values);
 * try { r = await packModelStreaming(input, out, deps, { onProgress: bar.update }); } finally { bar.done(); }
 * ```
 */
export function commandProgressBar(io: CommandIo, values: Readonly<Record<string, unknown>>): ProgressBar {
  const columns = (globalThis as { process?: { stderr?: { columns?: number } } }).process?.stderr?.columns;
  return createProgressBar({ write: (t) => io.err(t), enabled: io.stderrIsTTY === true && !values['json'], ...(columns ? { columns } : {}) });
}
