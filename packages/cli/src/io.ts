/** Where a command writes. Injected so tests can capture output without spawning a process. */
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

/**
 * A one-line progress bar on stderr, drawn only when stderr is a TTY (never in pipes, CI logs or --json runs
 * captured by scripts). `tick` advances by one; `done` clears the line.
 */
export function progress(io: Io, total: number, label: string): { tick(what?: string): void; done(): void } {
  if (!io.stderrIsTTY || total < 2) return { tick() {}, done() {} };
  let n = 0;
  let last = 0;
  const width = 24;
  const draw = (what: string) => {
    const filled = Math.round((n / total) * width);
    const line = `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${n}/${total} ${what}`;
    io.err(`\r${line.slice(0, 100).padEnd(100)}`);
  };
  return {
    tick(what = '') {
      n++;
      const now = Date.now();
      if (now - last > 100 || n === total) { last = now; draw(what); }
    },
    done() { io.err(`\r${' '.repeat(100)}\r`); },
  };
}
