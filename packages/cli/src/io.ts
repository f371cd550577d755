/**
 * Where a command writes. Injected so tests can capture output without spawning a process. Progress
 * bars are core's (`commandProgressBar` in '@leanformer/core/node'), drawn only when `stderrIsTTY`.
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is an interactive terminal (progress bars are drawn only then). */
  readonly stderrIsTTY: boolean;
}

/** The process's own streams. */
export function processIo(): Io {
  return {
    out: (t) => { process.stdout.write(t); },
    err: (t) => { process.stderr.write(t); },
    stderrIsTTY: Boolean(process.stderr.isTTY),
  };
}
