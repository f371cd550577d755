// The built-in commands, one file each. A new command (quantize, sparsify, pack, bench, …) is a file
// exporting a `Command` plus one line here.
import { registerCommand } from '../registry.js';
import { conformanceCommand } from './conformance.js';
import { inspectCommand } from './inspect.js';
import { runCommand } from './run.js';

for (const c of [inspectCommand, runCommand, conformanceCommand]) registerCommand(c);

export { conformanceCommand, inspectCommand, runCommand };
