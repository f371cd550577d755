// The CLI's progress bar, driven by a fake clock: throttling, rate and ETA, unknown totals, lines
// printed above the bar, the final clear, and silence when it must not draw.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { commandProgressBar, createProgressBar } from './node.js';

const CLEAR = '\r\x1b[K';

function recorder() {
  const writes: string[] = [];
  return { writes, write: (t: string) => { writes.push(t); } };
}

beforeEach(() => { vi.useFakeTimers({ now: 1_000_000 }); });
afterEach(() => { vi.useRealTimers(); });

describe('createProgressBar', () => {
  it('redraws at most once per interval and draws the latest state when the interval ends', () => {
    const r = recorder();
    const bar = createProgressBar({ write: r.write, enabled: true });
    bar.update({ phase: 'quantize', done: 0, total: 12, unit: 'layers' });
    expect(r.writes).toHaveLength(1);
    for (let i = 1; i <= 5; i++) { vi.advanceTimersByTime(10); bar.update({ phase: 'quantize', done: i, total: 12, unit: 'layers' }); }
    expect(r.writes).toHaveLength(1); // five events in 50 ms: no frame
    vi.advanceTimersByTime(60); // the interval timer draws the latest one
    expect(r.writes).toHaveLength(2);
    expect(r.writes[1]).toMatch(/^\r\x1b\[Kquantize \[#{8}-{12}\] 5\/12 layers/);
    // 100 events over 1 s: about 10 frames, never more than one per 100 ms.
    const before = r.writes.length;
    for (let i = 0; i < 100; i++) { vi.advanceTimersByTime(10); bar.update({ phase: 'quantize', done: 5 + (i % 7), total: 12, unit: 'layers', item: `w${i}` }); }
    expect(r.writes.length - before).toBeGreaterThanOrEqual(9);
    expect(r.writes.length - before).toBeLessThanOrEqual(11);
    bar.done();
  });

  it('shows the rate since the phase began and the ETA of the rest', () => {
    const r = recorder();
    const bar = createProgressBar({ write: r.write, enabled: true });
    bar.update({ phase: 'quantize', done: 0, total: 12, unit: 'layers' });
    vi.advanceTimersByTime(2000);
    bar.update({ phase: 'quantize', done: 4, total: 12, unit: 'layers', item: 'l3.weight' });
    // 4 layers in 2 s = 2.0 layers/s; 8 left → 4 s.
    expect(r.writes.at(-1)).toBe(`${CLEAR}quantize [######--------------] 4/12 layers  2.0 layers/s  ETA 4s  l3.weight`);
    vi.advanceTimersByTime(1000);
    bar.update({ phase: 'write', done: 0, total: 40e6, unit: 'bytes' }); // a new phase restarts the clock
    vi.advanceTimersByTime(4000);
    bar.update({ phase: 'write', done: 10e6, total: 40e6, unit: 'bytes' });
    expect(r.writes.at(-1)).toBe(`${CLEAR}write [#####---------------] 10.0/40.0 MB  2.5 MB/s  ETA 12s`);
    vi.advanceTimersByTime(1000);
    bar.update({ phase: 'write', done: 0, total: 8e6, unit: 'bytes' }); // the same phase again, from 0
    vi.advanceTimersByTime(1000);
    bar.update({ phase: 'write', done: 4e6, total: 8e6, unit: 'bytes' });
    expect(r.writes.at(-1)).toBe(`${CLEAR}write [##########----------] 4.0/8.0 MB  4.0 MB/s  ETA 1s`);
    bar.done();
  });

  it('draws a spinner, the count and the elapsed time when the total is unknown', () => {
    const r = recorder();
    const bar = createProgressBar({ write: r.write, enabled: true });
    bar.update({ phase: 'pack', done: 0, total: null, unit: 'tensors' });
    expect(r.writes.at(-1)).toMatch(/^\r\x1b\[Kpack [|/\\-]  0s$/);
    vi.advanceTimersByTime(2000);
    bar.update({ phase: 'pack', done: 10, total: null, unit: 'tensors', item: 'w' });
    vi.advanceTimersByTime(100); // the spinner drew at 2 s, so this event waits for the next tick
    expect(r.writes.at(-1)).toMatch(/^\r\x1b\[Kpack [|/\\-] 10 tensors  4\.8 tensors\/s  2s  w$/);
    // With no events the timer keeps the spinner turning and the clock running.
    const n = r.writes.length;
    vi.advanceTimersByTime(1000);
    expect(r.writes.length).toBeGreaterThan(n);
    expect(r.writes.at(-1)).toMatch(/ 3s  w$/);
    bar.done();
  });

  it('clears its line at the end and stays quiet afterwards (no timer left drawing)', () => {
    const r = recorder();
    const bar = createProgressBar({ write: r.write, enabled: true });
    bar.update({ phase: 'finetune', done: 1, total: null, unit: 'steps' });
    bar.done();
    expect(r.writes.at(-1)).toBe(CLEAR);
    const n = r.writes.length;
    bar.update({ phase: 'finetune', done: 2, total: null, unit: 'steps' });
    vi.advanceTimersByTime(5000);
    bar.done();
    expect(r.writes).toHaveLength(n);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('prints log lines above the bar and redraws it below', () => {
    const r = recorder();
    const bar = createProgressBar({ write: r.write, enabled: true });
    bar.log('before any frame\n');
    bar.update({ phase: 'bench', done: 0, total: null, unit: 'runs' });
    const frameText = r.writes.at(-1)!.slice(CLEAR.length);
    bar.log('a note\n');
    expect(r.writes.slice(0, 1)).toEqual(['before any frame\n']);
    expect(r.writes.at(-1)).toBe(`${CLEAR}a note\n${frameText}`);
    bar.done();
  });

  it('cuts frames to the terminal width so the line never wraps', () => {
    const r = recorder();
    const bar = createProgressBar({ write: r.write, enabled: true, columns: 40 });
    bar.update({ phase: 'quantize', done: 1, total: 3, unit: 'layers', item: 'x'.repeat(200) });
    expect(r.writes.at(-1)!.length).toBe(CLEAR.length + 39);
    bar.done();
  });

  it('draws nothing when disabled (no terminal, or --json), but log text still passes through', () => {
    const r = recorder();
    const bar = createProgressBar({ write: r.write, enabled: false });
    bar.update({ phase: 'quantize', done: 0, total: 2, unit: 'layers' });
    vi.advanceTimersByTime(1000);
    bar.update({ phase: 'quantize', done: 2, total: 2, unit: 'layers' });
    bar.log('note: x\n');
    bar.done();
    expect(r.writes).toEqual(['note: x\n']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('commandProgressBar', () => {
  const event = { phase: 'quantize', done: 1, total: 2, unit: 'layers' } as const;
  const run = (stderrIsTTY: boolean | undefined, values: Record<string, unknown>): string[] => {
    const err: string[] = [];
    const bar = commandProgressBar({ out: () => {}, err: (t) => err.push(t), ...(stderrIsTTY === undefined ? {} : { stderrIsTTY }) }, values);
    bar.update(event);
    bar.done();
    return err;
  };
  it('draws on a terminal without --json', () => { expect(run(true, {})).toHaveLength(2); });
  it('is silent with --json, without a terminal, or when the Io does not say', () => {
    expect(run(true, { json: true })).toEqual([]);
    expect(run(false, {})).toEqual([]);
    expect(run(undefined, {})).toEqual([]);
  });
});
