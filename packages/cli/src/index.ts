import { parseArgs } from 'node:util';
import { LeanformerError, UsageError } from '@leanformer/core';
import { takeRemovedStaleTemps } from '@leanformer/core/node';
import { version } from '../package.json';
import { builtinCommands } from './commands/index.js';
import { loadAllExtensions, loadExtensionFor } from './commands/extensions.js';
import { processIo, type Io } from './io.js';
import { fromNodeError } from './node-errors.js';
import { commandHelp, getCommand, listCommands, registerCommand, type Command } from './registry.js';

// Registered here, in the entry module: a side-effect-only import would be dropped by bundlers
// (the package is marked side-effect free).
for (const c of builtinCommands) registerCommand(c);

export { registerCommand, getCommand, listCommands, commandHelp } from './registry.js';
// A command's context type is core's CommandContext (cli's registry specialises it to its Io).
export type { Command, OptionSpec } from './registry.js';
export { registerCliBackend, cliBackend, cliBackendNames } from './backends.js';
export type { CliBackend, CliBackendEntry, CliBackendOptions } from './backends.js';
export type { Io } from './io.js';
export { processIo } from './io.js';
export { findCases, runConformanceCase, runConformance } from './conformance.js';
export type { ConformanceCase, CaseResult, ConformanceReport } from './conformance.js';
export { outputMetrics } from './compare.js';
export type { OutputMetrics } from './compare.js';
export { generateInputs, readTestDataSet, timeRuns, DEFAULT_SYMBOLIC_DIM } from './model.js';
export type { InputSpec, TestDataSet } from './model.js';
export { prepareModel, importModelFile } from './pipeline.js';
export type { Prepared } from './pipeline.js';
export { summarize, formatSummary } from './commands/inspect.js';
export { builtinCommands } from './commands/index.js';
export type { ModelSummary } from './commands/inspect.js';
export type { RunReport, RunOutput } from './commands/run.js';

/** Exit codes: 0 ran, 1 could not (bad file, bad model, runtime failure), 2 bad usage. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2 });

/** This CLI's version (`leanformer --version`). */
export const VERSION: string = version;

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
    "Run 'leanformer help <command>' or 'leanformer <command> --help' for a command's options;",
    "'leanformer --version' (-V) prints the version.",
    '',
    'Exit status: 0 done, 1 failed (bad file, bad model, runtime failure), 2 bad usage (unknown command or',
    'option, bad option value, missing or extra argument).',
    '',
  ].join('\n');
}

function oneLine(s: string): string { return s.replace(/\s*\n\s*/g, ' ').trim(); }

/**
 * `--bits -4` → `--bits=-4`: parseArgs calls a dash-led value ambiguous, but a negative number after a
 * string option is its value; the option's own parser then says what is allowed.
 */
function joinNegativeValues(args: readonly string[], options: Command['options']): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { out.push(...args.slice(i)); break; }
    const name = a.startsWith('--') ? a.slice(2) : /^-[^-]$/.test(a) ? Object.keys(options).find((k) => options[k]!.short === a[1]) : undefined;
    const next = args[i + 1];
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\.?\d/.test(next)) { out.push(`--${name}=${next}`); i++; }
    else out.push(a);
  }
  return out;
}

/** All commands, extensions included, for messages that list them. */
async function allCommandNames(): Promise<string> {
  await loadAllExtensions();
  return listCommands().map((c) => c.name).join(', ');
}

/**
 * Runs the `leanformer` command line. Never throws: errors become a one-line message on stderr and the
 * exit code {@link EXIT} (0 ok, 1 failed, 2 usage); set LEANFORMER_DEBUG=1 to also print the stack of
 * unexpected errors.
 *
 * @example
 * ```ts
 * const code = await main(['run', 'model.onnx', '--backend', 'ort-cpu', '--json']);
 * ```
 */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const [first, ...afterFirst] = argv;
  if (first === '--version' || first === '-V') { io.out(`${VERSION}\n`); return EXIT.ok; }
  // `help <command>` is `<command> --help`.
  const [name, ...rest] = first === 'help' && afterFirst.length ? [afterFirst[0]!, '--help'] : argv;
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
    if (!cmd) throw new UsageError(`unknown command '${name}'; commands: ${await allCommandNames()} (see leanformer --help)`);
    if (rest.includes('--help') || rest.includes('-h')) { io.out(commandHelp(cmd)); return EXIT.ok; }
    let parsed;
    try {
      parsed = parseArgs({ args: joinNegativeValues(rest, cmd.options), options: cmd.options as never, allowPositionals: true, strict: true });
    } catch (e) {
      throw new UsageError(`${e instanceof Error ? e.message : String(e)} (see leanformer ${cmd.name} --help)`);
    }
    if (parsed.positionals.length !== cmd.positionals.length) {
      throw new UsageError(`expected ${cmd.positionals.join(' ')}, got ${parsed.positionals.length ? parsed.positionals.map((p) => `'${p}'`).join(' ') : 'nothing'} (see leanformer ${cmd.name} --help)`);
    }
    return await cmd.run({ positionals: parsed.positionals, values: parsed.values as Record<string, string | boolean | string[] | undefined>, io });
  } catch (raw) {
    // By shape, not instanceof: a command module may have loaded its own copy of core (ESM and CJS builds).
    const e = raw instanceof Error && raw.name === 'LeanformerError' ? (raw as LeanformerError) : fromNodeError(raw);
    if (e) {
      io.err(`${prefix}: ${oneLine(e.message)}\n`);
      return (e as Partial<UsageError>).usage === true ? EXIT.usage : EXIT.failed;
    }
    io.err(`${prefix}: unexpected error: ${oneLine(raw instanceof Error ? raw.message : String(raw))}\n`);
    if (process.env['LEANFORMER_DEBUG']) io.err(`${raw instanceof Error ? raw.stack : ''}\n`);
    return EXIT.failed;
  } finally {
    // A write removes the temporaries a killed earlier run (SIGKILL) left beside its target: say so.
    for (const p of takeRemovedStaleTemps()) io.err(`note: removed ${p}, a temporary file left by an interrupted run\n`);
  }
}
