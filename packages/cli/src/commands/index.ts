// The built-in commands, one file each. A new command (quantize, sparsify, pack, bench, …) is a file
// exporting a `Command` plus one entry here; src/index.ts registers the list.
import type { Command } from '../registry.js';
import { attentionCommand } from './attention.js';
import { benchCommand } from './bench.js';
import { conformanceCommand } from './conformance.js';
import { inspectCommand } from './inspect.js';
import { runCommand } from './run.js';

/** The commands `leanformer` ships with, in help order. */
export const builtinCommands: readonly Command[] = [inspectCommand, runCommand, conformanceCommand, benchCommand, attentionCommand];

export { attentionCommand, benchCommand, conformanceCommand, inspectCommand, runCommand };
