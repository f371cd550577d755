import { LeanformerError, type CommandContext as CoreCommandContext, type CommandOption, type CommandSpec } from '@leanformer/core';
import type { Io } from './io.js';

/** One option of a command (core's CommandOption). */
export type OptionSpec = CommandOption;
/** What a command's `run` receives, with the CLI's Io (which also knows whether stderr is a terminal). */
export type CommandContext = CoreCommandContext<Io>;
/**
 * A CLI command. Each command is one file that exports one of these and is listed in `commands/index.ts`;
 * `main` does argument parsing, `--help`, and error reporting for all of them. Modules' commands
 * (core's CommandSpec) register as they are.
 */
export type Command = CommandSpec<Io>;

const commands = new Map<string, Command>();

/** Adds a command; a second command of the same name throws. */
export function registerCommand(cmd: Command): void {
  if (commands.has(cmd.name)) throw new LeanformerError('INVALID_ARGUMENT', `CLI command '${cmd.name}' is already registered`);
  commands.set(cmd.name, cmd);
}

/** The command of this name, if registered. */
export function getCommand(name: string): Command | undefined { return commands.get(name); }

/** All commands, in registration order. */
export function listCommands(): Command[] { return [...commands.values()]; }

/** The `--help` text of one command. */
export function commandHelp(cmd: Command): string {
  const lines = [`Usage: leanformer ${cmd.name} ${cmd.positionals.join(' ')} [options]`, '', cmd.summary, '', 'Options:'];
  const rows = Object.entries(cmd.options).map(([name, o]) => [`${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? ` ${o.arg}` : ''}`, o.description] as const);
  rows.push(['-h, --help', 'show this help']);
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [l, d] of rows) lines.push(`  ${l.padEnd(w)}  ${d}`);
  if (cmd.details) lines.push('', cmd.details.trim());
  return lines.join('\n') + '\n';
}
