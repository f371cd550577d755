import { parseArgs } from 'node:util';
import { LeanformerError } from '@leanformer/core';
import { builtinCommands } from './commands/index.js';
import { loadAllExtensions, loadExtensionFor } from './commands/extensions.js';
import { processIo, type Io } from './io.js';
import { commandHelp, getCommand, listCommands, registerCommand } from './registry.js';

// Registered here, in the entry module: a side-effect-only import would be dropped by bundlers
// (the package is marked side-effect free).
for (const c of builtinCommands) registerCommand(c);

export { registerCommand, getCommand, listCommands, commandHelp } from './registry.js';
export type { Command, CommandContext, OptionSpec } from './registry.js';
export { registerCliBackend, cliBackend, cliBackendNames } from './backends.js';
export type { CliBackend, CliBackendEntry, CliBackendOptions } from './backends.js';
export type { Io } from './io.js';
export { processIo, progress } from './io.js';
export { findCases, runConformanceCase, runConformance } from './conformance.js';
export type { ConformanceCase, CaseResult, ConformanceReport } from './conformance.js';
export { outputMetrics } from './compare.js';
export type { OutputMetrics } from './compare.js';
export { generateInputs, readTestDataSet, timeRuns, DEFAULT_SYMBOLIC_DIM } from './model.js';
export type { InputSpec, TestDataSet } from './model.js';
export { prepareModel, importModel } from './pipeline.js';
export type { Prepared } from './pipeline.js';
export { summarize, formatSummary } from './commands/inspect.js';
export { builtinCommands } from './commands/index.js';
export type { ModelSummary } from './commands/inspect.js';
export type { RunReport, RunOutput } from './commands/run.js';

/** Exit codes: 0 ran, 1 could not (bad file, bad model, runtime failure), 2 bad usage. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2 });

function globalHelp(unavailable: readonly string[]): string {
  const cmds = listCommands();
  const w = Math.max(...cmds.map((c) => c.name.length));
  return [
    'Usage: leanformer <command> [options]',
    '',
    'Commands:',
    ...cmds.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    ...(unavailable.length ? ['', 'Not available in this build:', ...unavailable.map((u) => `  ${u}`)] : []),
    '',
    "Run 'leanformer <command> --help' for a command's options.",
    '',
  ].join('\n');
}

/** A usage error: reported with exit code 2. */
class UsageError extends LeanformerError {
  constructor(message: string) { super('INVALID_ARGUMENT', message); }
}

function oneLine(s: string): string { return s.replace(/\s*\n\s*/g, ' ').trim(); }

/**
 * Runs the `leanformer` command line. Never throws: errors become a one-line message on stderr and a
 * non-zero exit code (set LEANFORMER_DEBUG=1 to also print the stack of unexpected errors).
 *
 * @example
 * ```ts
 * const code = await main(['run', 'model.onnx', '--backend', 'ort-cpu', '--json']);
 * ```
 */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.err : io.out)(globalHelp(await loadAllExtensions()));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  let cmd = getCommand(name);
  let prefix = cmd ? `leanformer ${cmd.name}` : 'leanformer';
  try {
    if (!cmd) {
      await loadExtensionFor(name);
      cmd = getCommand(name);
      if (cmd) prefix = `leanformer ${cmd.name}`;
    }
    if (!cmd) throw new UsageError(`unknown command '${name}'; commands: ${listCommands().map((c) => c.name).join(', ')} (see leanformer --help)`);
    if (rest.includes('--help') || rest.includes('-h')) { io.out(commandHelp(cmd)); return EXIT.ok; }
    let parsed;
    try {
      parsed = parseArgs({ args: [...rest], options: cmd.options as never, allowPositionals: true, strict: true });
    } catch (e) {
      throw new UsageError(`${e instanceof Error ? e.message : String(e)} (see leanformer ${cmd.name} --help)`);
    }
    if (parsed.positionals.length !== cmd.positionals.length) {
      throw new UsageError(`expected ${cmd.positionals.join(' ')}, got ${parsed.positionals.length ? parsed.positionals.map((p) => `'${p}'`).join(' ') : 'nothing'} (see leanformer ${cmd.name} --help)`);
    }
    return await cmd.run({ positionals: parsed.positionals, values: parsed.values as Record<string, string | boolean | string[] | undefined>, io });
  } catch (e) {
    if (e instanceof LeanformerError) {
      io.err(`${prefix}: ${oneLine(e.message)}\n`);
      return e instanceof UsageError || (e.code === 'INVALID_ARGUMENT' && /^Unknown backend/.test(e.message)) ? EXIT.usage : EXIT.failed;
    }
    io.err(`${prefix}: unexpected error: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
    if (process.env['LEANFORMER_DEBUG']) io.err(`${e instanceof Error ? e.stack : ''}\n`);
    return EXIT.failed;
  }
}
