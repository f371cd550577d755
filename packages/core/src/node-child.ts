// Benchmarks that measure a process's peak memory run the work in a child: Node's own RSS would
// include the parent's. One runner for them (Node only).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { LeanformerError } from './errors.js';

/**
 * Runs `code` as an ES module in a child Node process (`node --input-type=module -e code …args`),
 * under `/usr/bin/time -v` when present, and returns the JSON object on its last stdout line, plus
 * `timeMaxRssMB` (peak resident set size as time(1) measured it) when time ran. A non-zero exit is
 * EXECUTION_FAILED: `<what> failed (<status>): <end of stderr>`.
 *
 * @example
 * ```ts
 * const r = runMeasuredChild('bench quant-stream: the ort child', code, [modelPath]);
 * r.timeMaxRssMB; // e.g. 1319
 * ```
 */
export function runMeasuredChild(what: string, code: string, args: readonly string[]): Record<string, unknown> {
  const argv = ['--input-type=module', '-e', code, ...args];
  const r = existsSync('/usr/bin/time')
    ? spawnSync('/usr/bin/time', ['-v', process.execPath, ...argv], { encoding: 'utf8', maxBuffer: 1 << 24 })
    : spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new LeanformerError('EXECUTION_FAILED', `${what} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  if (m) out['timeMaxRssMB'] = Math.round(Number(m[1]) / 1024);
  return out;
}
