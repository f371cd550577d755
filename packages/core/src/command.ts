// The shape of a `leanformer` CLI command. It lives in core so that modules (quant, peft, vision…)
// can define their commands as plain objects without depending on the CLI package; the CLI
// registers them as they are.

/** One option of a command, in `node:util` parseArgs terms plus help text. */
export interface CommandOption {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** Placeholder shown in help, e.g. '<dir>'. */
  readonly arg?: string;
  readonly description: string;
}

/** Where a command writes: stdout and stderr. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

/** What a command's `run` receives. */
export interface CommandContext<IO extends CommandIo = CommandIo> {
  readonly positionals: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly io: IO;
}

/**
 * A CLI command: the CLI parses arguments, prints `--help` and reports errors for all of them.
 *
 * @example
 * ```ts
 * const hello: CommandSpec = {
 *   name: 'hello', summary: 'Say hello', positionals: ['<name>'], options: {},
 *   async run({ positionals, io }) { io.out(`hello ${positionals[0]}\n`); return 0; },
 * };
 * ```
 */
export interface CommandSpec<IO extends CommandIo = CommandIo> {
  readonly name: string;
  /** One line for `leanformer --help`. */
  readonly summary: string;
  /** Positional arguments, e.g. `['<model.onnx>']` (all required). */
  readonly positionals: readonly string[];
  readonly options: Readonly<Record<string, CommandOption>>;
  /** Extra help text (what it prints, defaults). */
  readonly details?: string;
  /** Returns the exit code. Throw LeanformerError for anything the user must fix. */
  run(ctx: CommandContext<IO>): Promise<number>;
}
